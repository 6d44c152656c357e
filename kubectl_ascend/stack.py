"""install / uninstall / status / doctor for the MindCluster stack (umbrella chart `ascend-stack`).

The workloads are found by the labels every chart puts on them:
`app.kubernetes.io/part-of=mindcluster` and `app.kubernetes.io/component`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from kubectl_ascend import errors
from kubectl_ascend.labels import ACCELERATOR, ACCELERATOR_TYPE, MASTER_SELECTOR, detect_family, DetectionError, \
    FAMILIES, npu_resources
from kubectl_ascend.profile import Profile, decide

PART_OF = "app.kubernetes.io/part-of=mindcluster"
COMPONENT = "app.kubernetes.io/component"
DEFAULT_RELEASE = "ascend-stack"
DEFAULT_NAMESPACE = "mindx-dl"
#: Kubernetes range MindCluster 7.3-26.1 claims (DESIGN.md §3.3); 1.19+ recommended.
KUBE_MIN, KUBE_RECOMMENDED_MIN, KUBE_MAX = (1, 17), (1, 19), (1, 34)
CRDS = ("jobs.batch.volcano.sh", "commands.bus.volcano.sh", "podgroups.scheduling.volcano.sh",
        "queues.scheduling.volcano.sh", "numatopologies.nodeinfo.volcano.sh", "ascendjobs.mindxdl.gitee.com")
VOLCANO_CM = ("volcano-system", "volcano-scheduler-configmap", "volcano-scheduler.conf")
#: component label -> what operators call it
COMPONENT_NAMES = {
    "device-plugin": "Ascend Device Plugin",
    "volcano-scheduler": "Volcano scheduler",
    "volcano-controllers": "Volcano controllers",
    "ascend-operator": "Ascend Operator",
    "docker-runtime": "Ascend Docker Runtime installer",
    "clusterd": "ClusterD",
    "noded": "NodeD",
    "npu-exporter": "NPU Exporter",
}


# -- workload readiness -------------------------------------------------------

def workload_ready(obj: dict[str, Any]) -> tuple[int, int, bool]:
    """(ready, desired, rolled-out) for a Deployment or DaemonSet."""
    st = obj.get("status") or {}
    gen_ok = st.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
    if obj.get("kind") == "DaemonSet" or "desiredNumberScheduled" in st:
        desired = st.get("desiredNumberScheduled", 0)
        ready = st.get("numberReady", 0)
        updated = st.get("updatedNumberScheduled", 0)
        return ready, desired, gen_ok and ready == desired and updated == desired
    desired = (obj.get("spec") or {}).get("replicas", 1)
    ready = st.get("readyReplicas", 0)
    updated = st.get("updatedReplicas", 0)
    return ready, desired, gen_ok and ready == desired and updated == desired and st.get("replicas", 0) == desired


def image_version(obj: dict[str, Any]) -> str:
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    if not containers:
        return "?"
    image = containers[0].get("image", "")
    tail = image.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else (image.split("@")[-1] if "@" in image else "?")


def components(kube: Any) -> list[dict[str, Any]]:
    """Every MindCluster workload in the cluster, as plain rows."""
    objs = []
    for kind, items in (("DaemonSet", kube.list_daemonsets(PART_OF)), ("Deployment", kube.list_deployments(PART_OF))):
        for o in items:
            o["kind"] = kind
            objs.append(o)
    rows = []
    for o in sorted(objs, key=lambda o: (o["metadata"]["labels"].get(COMPONENT, ""), o["metadata"]["name"])):
        ready, desired, done = workload_ready(o)
        rows.append({"component": o["metadata"]["labels"].get(COMPONENT, "?"), "kind": o["kind"],
                     "namespace": o["metadata"]["namespace"], "name": o["metadata"]["name"],
                     "ready": ready, "desired": desired, "rolledOut": done, "version": image_version(o),
                     "nodeSelector": ((o["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}})
    return rows


# -- install ------------------------------------------------------------------

#: (values key of the component, its default namespace)
COMPONENT_NAMESPACES = (("ascend-volcano", "volcano-system"), ("ascend-operator", "mindx-dl"))
#: optional components (off by default): (values key, key of a namespace, its default namespace)
OPTIONAL_NAMESPACES = (("ascend-clusterd", "namespace", "mindx-dl"),
                       ("ascend-clusterd", "clusterInfoNamespace", "cluster-system"),
                       ("ascend-noded", "namespace", "mindx-dl"), ("ascend-npu-exporter", "namespace", "npu-exporter"))


def _component_namespaces(values: dict[str, Any]) -> list[str]:
    """Namespaces of the enabled components, in order, without duplicates."""
    from kubectl_ascend.profile import enabled

    out = [(values.get(key) or {}).get("namespace") or default
           for key, default in COMPONENT_NAMESPACES if enabled(values, key)]
    out += [(values.get(key) or {}).get(field) or default
            for key, field, default in OPTIONAL_NAMESPACES if enabled(values, key, default=False)]
    return list(dict.fromkeys(out))


def adopt_existing_namespaces(kube: Any, profile: Profile, release: str, namespace: str) -> None:
    """Namespaces made by hand (the old runbook) cannot be adopted by Helm: reuse them instead.

    When a component namespace exists without this release's Helm ownership, the umbrella
    must not template it (namespaces.create=false); the missing ones are then created by
    `create_missing_namespaces` right before the install.
    """
    if (profile.values.get("namespaces") or {}).get("create") is False:
        return
    foreign = []
    for ns in _component_namespaces(profile.values):
        if ns == namespace:
            continue
        obj = kube.get_namespace(ns)
        owner = ((obj or {}).get("metadata", {}).get("annotations") or {}).get("meta.helm.sh/release-name")
        if obj is not None and owner != release:
            foreign.append(ns)
    if foreign:
        profile.values.setdefault("namespaces", {})["create"] = False
        profile.decisions.append(f"namespace(s) {', '.join(foreign)} already exist outside this release: "
                                 "reusing them (namespaces.create=false)")


def create_missing_namespaces(kube: Any, values: dict[str, Any], release_ns: str) -> list[str]:
    """Create the release namespace, and with namespaces.create=false every component namespace, if missing.

    They get `pod-security.kubernetes.io/enforce: privileged`: the components mount host
    paths (logs, driver, device-plugin sockets), which any stricter Pod Security level
    rejects. (`helm --create-namespace` would create the release namespace without it.)
    """
    wanted = [release_ns]
    if (values.get("namespaces") or {}).get("create") is False:
        wanted += _component_namespaces(values)
    created = []
    for ns in dict.fromkeys(wanted):
        if kube.get_namespace(ns) is None and kube.create_cluster_object(f"namespace {ns}", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}):
            created.append(ns)
    return created


@dataclass
class InstallPlan:
    profile: Profile
    chart_ref: str
    release: str
    namespace: str
    existing: dict[str, Any] | None
    objects: list[dict[str, Any]]


def plan_install(kube: Any, helm: Any, *, chart: str | None, release: str, namespace: str,
                 user_values: dict[str, Any]) -> InstallPlan:
    """Everything is decided and validated (chart renders with these values) before any change."""
    profile = decide(kube.list_nodes(), user_values)
    adopt_existing_namespaces(kube, profile, release, namespace)
    ref = helm.prepare_chart(chart)
    # render first: a schema violation or a failed validation stops us before anything is applied
    objects = helm.template(ref, release, namespace, profile.values)
    return InstallPlan(profile, ref, release, namespace, helm.release(release, namespace), objects)


def wait_ready(kube: Any, expect_components: list[str], timeout: float,
               report: Callable[[list[dict[str, Any]]], None], interval: float = 0.5) -> list[dict[str, Any]]:
    """Poll the stack's workloads until all are rolled out (or raise on timeout). Reports each change."""
    deadline = time.monotonic() + timeout
    last: list[tuple[Any, ...]] | None = None
    while True:
        rows = components(kube)
        present = {r["component"] for r in rows}
        summary = [(r["name"], r["ready"], r["desired"], r["rolledOut"]) for r in rows]
        if summary != last:
            report(rows)
            last = summary
        missing = [c for c in expect_components if c not in present]
        if rows and not missing and all(r["rolledOut"] for r in rows):
            return rows
        if time.monotonic() > deadline:
            waiting = [f"{r['name']} {r['ready']}/{r['desired']}" for r in rows if not r["rolledOut"]] + \
                      [f"{c} (no workload yet)" for c in missing]
            raise errors.AscendError(f"timed out waiting for: {', '.join(waiting)}; "
                                     "run `kubectl ascend doctor` to see why")
        time.sleep(interval)


DEFAULT_QUEUE = {
    "apiVersion": "scheduling.volcano.sh/v1beta1",
    "kind": "Queue",
    "metadata": {"name": "default", "labels": {"app.kubernetes.io/managed-by": "kubectl-ascend"}},
    "spec": {"weight": 1, "reclaimable": True},
}


def ensure_default_queue(kube: Any, timeout: float = 60.0) -> bool:
    """Create Volcano's `default` Queue once its CRD serves (True if created, False if it existed).

    The chart cannot ship it: Helm 4 cannot map a custom resource whose CRD the same
    release creates. vc-scheduler would create it too, but only once it runs.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bool(kube.create_cluster_object("queue default", "/apis/scheduling.volcano.sh/v1beta1/queues",
                                                   DEFAULT_QUEUE))
        except errors.NotFound:  # the CRD is not established yet
            if time.monotonic() > deadline:
                raise errors.AscendError("the Volcano Queue CRD did not become available; "
                                         "check `kubectl get crd queues.scheduling.volcano.sh`") from None
            time.sleep(0.5)


def expected_components(values: dict[str, Any]) -> list[str]:
    from kubectl_ascend.profile import CLUSTERD, DP, NODED, NPU_EXPORTER, OPERATOR, RUNTIME, VOLCANO, enabled

    out = []
    if enabled(values, DP):
        out.append("device-plugin")
    if enabled(values, VOLCANO):
        out += ["volcano-scheduler", "volcano-controllers"]
    if enabled(values, OPERATOR):
        out.append("ascend-operator")
    if enabled(values, RUNTIME, default=False):
        out.append("docker-runtime")
    out += [label for key, label in ((CLUSTERD, "clusterd"), (NODED, "noded"), (NPU_EXPORTER, "npu-exporter"))
            if enabled(values, key, default=False)]
    return out


# -- status ---------------------------------------------------------------------

def pod_npu_requests(pod: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            if k.startswith("huawei.com/"):
                out[k] = out.get(k, 0) + int(str(v))
    return out


def pod_state(pod: dict[str, Any]) -> str:
    st = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for cs in st.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"]
    return st.get("phase", "Unknown")


def cluster_status(kube: Any) -> dict[str, Any]:
    nodes = kube.list_nodes()
    pods = kube.list_pods(field_selector="status.phase!=Succeeded,status.phase!=Failed")
    requested: dict[str, int] = {}
    dp_pods: dict[str, str] = {}
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName")
        if not node:
            continue
        requested[node] = requested.get(node, 0) + sum(pod_npu_requests(p).values())
        if (p["metadata"].get("labels") or {}).get(COMPONENT) == "device-plugin" and \
                (p["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") == "mindcluster":
            dp_pods[node] = pod_state(p)
    rows = []
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        labels = n["metadata"].get("labels") or {}
        name = n["metadata"]["name"]
        cap = sum(npu_resources(n).values())
        alloc = sum(int(str(v)) for k, v in ((n.get("status") or {}).get("allocatable") or {}).items()
                    if k.startswith("huawei.com/") and str(v).isdigit())
        role = "master" if labels.get(MASTER_SELECTOR) == "dls-master-node" else ""
        if labels.get(ACCELERATOR):
            role = f"{role},worker" if role else "worker"
        rows.append({"node": name, "role": role or "-", "accelerator": labels.get(ACCELERATOR),
                     "acceleratorType": labels.get(ACCELERATOR_TYPE), "npuCapacity": cap,
                     "npuAllocatable": alloc, "npuRequested": requested.get(name, 0),
                     "devicePlugin": dp_pods.get(name)})
    return {"nodes": rows, "components": components(kube), "services": mindie_services(kube, pods)}


MINDIE_ROLE = "mindie.huawei.com/role"
ROLE_ORDER = ("single", "coordinator", "controller", "prefill", "decode")


def mindie_services(kube: Any, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MindIE releases (mindie-service chart) found from their pods: ready pods per role, ranktable state."""
    import json

    services: dict[tuple[str, str], dict[str, Any]] = {}
    for p in pods:
        labels = p["metadata"].get("labels") or {}
        role = labels.get(MINDIE_ROLE)
        if not role or labels.get("app.kubernetes.io/part-of") != "mindie-service":
            continue
        key = (p["metadata"]["namespace"], labels.get("app.kubernetes.io/instance", "?"))
        svc = services.setdefault(key, {"namespace": key[0], "release": key[1], "roles": {}, "npus": 0,
                                        "ranktable": None})
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or [])
        r = svc["roles"].setdefault(role, {"ready": 0, "pods": 0})
        r["pods"] += 1
        r["ready"] += int(ready)
        svc["npus"] += sum(pod_npu_requests(p).values())
    if services:
        for cm in kube.list_configmaps(None, "mindie.huawei.com/ranktable=global"):
            key = (cm["metadata"]["namespace"], (cm["metadata"].get("labels") or {}).get("app.kubernetes.io/instance"))
            if key in services:
                try:
                    text = next(iter((cm.get("data") or {}).values()), "{}")
                    services[key]["ranktable"] = json.loads(text).get("status")
                except (ValueError, AttributeError):
                    services[key]["ranktable"] = "unreadable"
    out = []
    for svc in sorted(services.values(), key=lambda s: (s["namespace"], s["release"])):
        svc["mode"] = "single" if "single" in svc["roles"] else "pd"
        svc["roles"] = {k: svc["roles"][k] for k in ROLE_ORDER if k in svc["roles"]}
        out.append(svc)
    return out


# -- doctor ---------------------------------------------------------------------

@dataclass
class Check:
    name: str
    status: str  # PASS | WARN | FAIL
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "message": self.message, "fix": self.fix}


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status == "FAIL" for c in self.checks)

    def add(self, *a: Any) -> None:
        self.checks.append(Check(*a))


def _parse_version(v: dict[str, Any]) -> tuple[int, int]:
    import re

    major = int(re.sub(r"\D", "", str(v.get("major", "0"))) or 0)
    minor = int(re.sub(r"\D", "", str(v.get("minor", "0"))) or 0)
    return major, minor


def init_params(kube: Any) -> dict[str, str] | None:
    ns, name, key = VOLCANO_CM
    cm = kube.get_configmap(ns, name)
    if not cm:
        return None
    try:
        conf = yaml.safe_load((cm.get("data") or {}).get(key, "")) or {}
    except yaml.YAMLError:
        return {}
    for c in conf.get("configurations") or []:
        if c.get("name") == "init-params":
            return {k: str(v) for k, v in (c.get("arguments") or {}).items()}
    return {}


def doctor(kube: Any) -> DoctorReport:
    r = DoctorReport()
    ver = kube.server_version()
    mm = _parse_version(ver)
    git = ver.get("gitVersion", f"{mm[0]}.{mm[1]}")
    lo, rec, hi = KUBE_MIN, KUBE_RECOMMENDED_MIN, KUBE_MAX
    if mm < lo:
        r.add("kubernetes-version", "FAIL", f"Kubernetes {git} is older than MindCluster supports (1.17+)",
              "upgrade the cluster to 1.19 or newer")
    elif mm < rec:
        r.add("kubernetes-version", "WARN", f"Kubernetes {git} is supported but 1.19+ is recommended",
              "plan an upgrade to 1.19+")
    elif mm > hi:
        r.add("kubernetes-version", "WARN", f"Kubernetes {git} is newer than MindCluster claims (up to 1.34)",
              "check Huawei's release notes for support of this version")
    else:
        r.add("kubernetes-version", "PASS", f"Kubernetes {git} is in the supported range 1.19-1.34")

    nodes = kube.list_nodes()
    single = len(nodes) == 1
    masters = [n["metadata"]["name"] for n in nodes
               if (n["metadata"].get("labels") or {}).get(MASTER_SELECTOR) == "dls-master-node"]
    if masters:
        r.add("management-node", "PASS", f"management node(s): {', '.join(masters)}")
    else:
        r.add("management-node", "FAIL", "no node carries masterselector=dls-master-node; Volcano and the "
              "Ascend Operator cannot be scheduled", "kubectl ascend label-node NODE --role master")

    unlabelled, inconsistent, labelled = [], [], []
    for n in nodes:
        name = n["metadata"]["name"]
        acc = (n["metadata"].get("labels") or {}).get(ACCELERATOR)
        try:
            fam = detect_family(n) if npu_resources(n) else None
        except DetectionError:
            fam = None
        if acc:
            labelled.append(n)
            if fam and FAMILIES[fam] != acc:
                inconsistent.append(f"{name} (label {acc}, resources say {FAMILIES[fam]})")
        elif fam:
            unlabelled.append(name)
    if unlabelled:
        r.add("npu-nodes-labelled", "FAIL", f"{len(unlabelled)} NPU node(s) without MindCluster labels: "
              f"{', '.join(unlabelled[:10])}", "kubectl ascend label-node " + " ".join(unlabelled[:10]))
    elif inconsistent:
        r.add("npu-nodes-labelled", "FAIL", "accelerator label disagrees with advertised NPUs: "
              + ", ".join(inconsistent[:10]), "kubectl ascend label-node NODE --overwrite")
    elif labelled:
        r.add("npu-nodes-labelled", "PASS", f"{len(labelled)} NPU node(s) labelled and consistent")
    else:
        r.add("npu-nodes-labelled", "FAIL", "no NPU nodes found (no accelerator labels, no huawei.com/* resources)",
              "join Ascend servers (kubectl ascend join-cmd) and label them (kubectl ascend label-node --all)")

    comps = components(kube)
    by_comp: dict[str, list[dict[str, Any]]] = {}
    for c in comps:
        by_comp.setdefault(c["component"], []).append(c)

    # device plugin: a Running pod on every labelled NPU node and NPUs allocatable there
    if "device-plugin" not in by_comp:
        r.add("device-plugin", "FAIL", "the Ascend Device Plugin is not installed", "kubectl ascend install")
    else:
        pods = kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}=device-plugin")
        state = {(p.get("spec") or {}).get("nodeName"): pod_state(p) for p in pods}
        pending = [p for p in pods if not (p.get("spec") or {}).get("nodeName")]
        missing, not_running, no_npus = [], [], []
        for n in labelled:
            name = n["metadata"]["name"]
            s = state.get(name)
            if s is None:
                missing.append(name)
            elif s != "Running":
                not_running.append(f"{name} ({s})")
            allocatable = sum(int(str(v)) for k, v in ((n.get("status") or {}).get("allocatable") or {}).items()
                              if k.startswith("huawei.com/") and str(v).isdigit())
            if allocatable == 0:
                no_npus.append(name)
        if missing or not_running or pending:
            detail = []
            if missing:
                detail.append(f"no device-plugin pod on {', '.join(missing[:10])}")
            if not_running:
                detail.append(f"not running on {', '.join(not_running[:10])}")
            if pending:
                detail.append(f"{len(pending)} pod(s) unscheduled")
            r.add("device-plugin", "FAIL", "; ".join(detail),
                  "check the DaemonSet's nodeSelector/tolerations against the node labels and taints "
                  "(kubectl ascend status); a pod stuck in ContainerCreating usually lacks /etc/vnpu.cfg "
                  "or the driver under /usr/local/Ascend/driver on that node")
        else:
            r.add("device-plugin", "PASS", f"device plugin running on all {len(labelled)} NPU node(s)")
        if no_npus:
            r.add("npus-allocatable", "FAIL", f"no allocatable NPUs on {', '.join(no_npus[:10])}",
                  "check the device plugin log on those nodes (/var/log/mindx-dl/devicePlugin) and the NPU driver")
        elif labelled:
            r.add("npus-allocatable", "PASS", "every labelled NPU node advertises allocatable NPUs")

    for comp, label in (("volcano-scheduler", "volcano"), ("volcano-controllers", "volcano"),
                        ("ascend-operator", "ascend-operator")):
        rows = by_comp.get(comp)
        if not rows:
            r.add(comp, "FAIL", f"{COMPONENT_NAMES[comp]} is not installed", "kubectl ascend install")
        elif all(x["rolledOut"] for x in rows):
            r.add(comp, "PASS", f"{COMPONENT_NAMES[comp]} ready ({rows[0]['ready']}/{rows[0]['desired']})")
        else:
            x = rows[0]
            r.add(comp, "FAIL", f"{COMPONENT_NAMES[comp]} not ready ({x['ready']}/{x['desired']})",
                  f"kubectl -n {x['namespace']} describe deployment {x['name']}; it runs on the management node "
                  "(masterselector=dls-master-node)")

    params = init_params(kube)
    clusterd = bool(kube.list_deployments("app=clusterd")) or bool(kube.list_deployments(
        "app.kubernetes.io/component=clusterd"))
    if params is None:
        r.add("use-cluster-info-manager", "WARN", "Volcano scheduler ConfigMap not found", "kubectl ascend install")
    else:
        ucim = params.get("useClusterInfoManager", "").lower()
        if ucim == "true" and (single or not clusterd):
            why = "this is a single-node cluster" if single else "ClusterD is not installed"
            r.add("use-cluster-info-manager", "FAIL", f"useClusterInfoManager is \"true\" but {why}: Volcano "
                  "would wait for ClusterD's ConfigMaps and never see NPUs",
                  "kubectl ascend install --set ascend-volcano.scheduler.initParams.useClusterInfoManager=false")
        elif ucim == "false" and clusterd and not single:
            r.add("use-cluster-info-manager", "WARN", "ClusterD runs but Volcano ignores it "
                  "(useClusterInfoManager \"false\")", "set it to \"true\" to use ClusterD's fault information")
        else:
            r.add("use-cluster-info-manager", "PASS", f"useClusterInfoManager \"{ucim}\" fits this cluster")

    present = {c["metadata"]["name"] for c in kube.list_crds()}
    missing_crds = [c for c in CRDS if c not in present]
    if missing_crds:
        r.add("crds", "FAIL", f"missing CRDs: {', '.join(missing_crds)}", "kubectl ascend install")
    else:
        r.add("crds", "PASS", f"all {len(CRDS)} CRDs present")
    return r
