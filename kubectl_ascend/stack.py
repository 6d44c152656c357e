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
    return component_rows(kube.list_daemonsets(PART_OF), kube.list_deployments(PART_OF))


def component_rows(daemonsets: list[dict[str, Any]], deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    objs = []
    for kind, items in (("DaemonSet", daemonsets), ("Deployment", deployments)):
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


#: Where install keeps the user's own -f/--set values inside the release (a JSON string under
#: `global`, which every chart of the stack accepts), so a rerun can tell them from the profile.
USER_VALUES_KEY = "kubectlAscendUserValues"


def previous_user_values(release_values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The -f/--set values of the installed revision; None if there is no release or no record of them."""
    import json

    if release_values is None:
        return None
    raw = (release_values.get("global") or {}).get(USER_VALUES_KEY) if isinstance(
        release_values.get("global"), dict) else None
    if not isinstance(raw, str):
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def with_user_record(user: dict[str, Any]) -> dict[str, Any]:
    """user plus the record of itself that the next install reads back."""
    import json

    from kubectl_ascend.profile import deep_merge

    return deep_merge(user, {"global": {USER_VALUES_KEY: json.dumps(user, sort_keys=True)}})


def value_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the leaves: {"a": {"b": 1}} -> ["a.b"]."""
    out: list[str] = []
    for k, v in values.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += value_keys(v, path + ".")
        else:
            out.append(path)
    return out


def wait_ready(kube: Any, expect_components: list[str], timeout: float,
               report: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    """Watch the stack's workloads until all are rolled out (or raise on timeout). Reports each change."""
    last: list[tuple[Any, ...]] | None = None
    rows: list[dict[str, Any]] = []
    missing = list(expect_components)
    sources = {"DaemonSet": ("/apis/apps/v1/daemonsets", {"labelSelector": PART_OF}),
               "Deployment": ("/apis/apps/v1/deployments", {"labelSelector": PART_OF})}
    for snapshot in kube.observe("wait for the stack's workloads", sources, timeout):
        rows = component_rows(snapshot["DaemonSet"], snapshot["Deployment"])
        present = {r["component"] for r in rows}
        summary = [(r["name"], r["ready"], r["desired"], r["rolledOut"]) for r in rows]
        if summary != last:
            report(rows)
            last = summary
        missing = [c for c in expect_components if c not in present]
        if rows and not missing and all(r["rolledOut"] for r in rows):
            return rows
    waiting = [f"{r['name']} {r['ready']}/{r['desired']}" for r in rows if not r["rolledOut"]] + \
              [f"{c} (no workload yet)" for c in missing]
    raise errors.AscendError(f"timed out waiting for: {', '.join(waiting)}; "
                             "run `kubectl ascend doctor` to see why")


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
MINDIE_INDEX = "mindie.huawei.com/instance-index"
ROLE_ORDER = ("single", "coordinator", "controller", "prefill", "decode")


# -- gang scheduling (Volcano PodGroups) ------------------------------------------

#: pod annotation naming the pod's PodGroup (Volcano and the mindie-service chart)
GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
VOLCANO_SCHEDULER = "volcano"
#: PodGroup phases in which the gang is placed
PLACED_PHASES = ("Running", "Completed")


def _condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def _unbound(pod: dict[str, Any]) -> bool:
    return not (pod.get("spec") or {}).get("nodeName") and not pod["metadata"].get("deletionTimestamp")


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _latest_event(events: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    return max(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", default=None)


def volcano_reason(pg: dict[str, Any] | None, pods: list[dict[str, Any]],
                   events: list[dict[str, Any]] | None = None) -> str:
    """Why a gang waits, in Volcano's own words and one line.

    A PodGroup still Pending was not admitted by Volcano's enqueue action: its
    newest Normal `Unschedulable` event says why ("queue resource quota
    insufficient"), to which the queue and the gang's minResources are added.
    Otherwise: the per-node fit errors vc-scheduler writes into each waiting
    pod's PodScheduled condition, else the PodGroup's Unschedulable condition
    ("2/2 tasks in gang unschedulable: ..."), else nothing has looked at it.
    """
    if pg is None:
        return "no PodGroup"
    spec = pg.get("spec") or {}
    needs = ", ".join(f"{k}: {v}" for k, v in sorted((spec.get("minResources") or {}).items()))
    context = f"queue {spec.get('queue') or 'default'}" + (f", needs {needs}" if needs else "")
    phase = (pg.get("status") or {}).get("phase") or "Pending"
    cond = _condition(pg, "Unschedulable")
    if phase == "Pending":
        ev = _latest_event([e for e in events or [] if e.get("type") == "Normal"], pg["metadata"]["name"])
        if ev and ev.get("message"):
            return _one_line(f"{ev['message']} ({context})")
    for p in pods:
        pcond = _condition(p, "PodScheduled")
        if _unbound(p) and pcond and pcond.get("status") == "False" and pcond.get("message") and \
                not (cond and pcond["message"] == cond.get("message")):
            return _one_line(pcond["message"])
    if cond and cond.get("status") == "True" and cond.get("message"):
        return _one_line(f"{cond['message']} ({context})")
    return "no scheduler has looked at it yet"


def _podgroup_events(kube: Any) -> Callable[[str], list[dict[str, Any]]]:
    """Volcano's Unschedulable events on PodGroups, per namespace, listed once on first use."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def get(ns: str) -> list[dict[str, Any]]:
        if ns not in cache:
            cache[ns] = kube.list_events(ns, "involvedObject.kind=PodGroup,reason=Unschedulable")
        return cache[ns]
    return get


def gang_instances(pods: list[dict[str, Any]], podgroups: dict[tuple[str, str], dict[str, Any]],
                   events: Callable[[str], list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Per MindIE instance with a PodGroup: phase, pods, pods pending, Volcano's reason when stuck."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in pods:
        name = (p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION)
        # PD instances only: vc-controller-manager also gives the controller, the
        # coordinator and single-mode Deployments one-pod / per-ReplicaSet PodGroups.
        if name and (p["metadata"].get("labels") or {}).get(MINDIE_ROLE) in ("prefill", "decode"):
            groups.setdefault(name, []).append(p)
    out = []
    for name, members in groups.items():
        labels = members[0]["metadata"].get("labels") or {}
        ns = members[0]["metadata"]["namespace"]
        pg = podgroups.get((ns, name))
        phase = ((pg or {}).get("status") or {}).get("phase") or ("Pending" if pg else "-")
        pending = sum(_unbound(p) for p in members)
        row = {"instance": f"{labels.get(MINDIE_ROLE, '?')}-{labels.get(MINDIE_INDEX, '?')}", "podGroup": name,
               "phase": phase, "minMember": ((pg or {}).get("spec") or {}).get("minMember"),
               "pods": len(members), "pending": pending, "unschedulable": False, "reason": None}
        if pending:
            cond = _condition(pg or {}, "Unschedulable")
            row["unschedulable"] = bool(cond and cond.get("status") == "True")
            row["reason"] = volcano_reason(pg, members, events(ns) if events else None)
        out.append(row)
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    return sorted(out, key=lambda r: (order.get(r["instance"].rsplit("-", 1)[0], 99),
                                      int(r["instance"].rsplit("-", 1)[1]) if r["instance"].rsplit("-", 1)[1].isdigit()
                                      else 0, r["podGroup"]))


#: seconds a PodGroup may wait with pods unplaced before `doctor` warns
STUCK_AFTER = 300.0
#: seconds a volcano pod may wait before `doctor` expects a Volcano scheduler to have looked at it
UNATTENDED_AFTER = 60.0
#: vc-scheduler refreshes the conditions of a waiting PodGroup at least every 90 s
#: (v1.7.0 pkg/scheduler/framework/job_updater.go: 1 min + up to 30 s jitter)
CONDITION_REFRESH = 180.0


def _timestamp(ts: str | None) -> float | None:
    from datetime import datetime, timezone

    if not ts:
        return None
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _age(obj: dict[str, Any], now: float) -> float:
    created = _timestamp(obj["metadata"].get("creationTimestamp"))
    return now - created if created is not None else 0.0


def _attended(pod: dict[str, Any], pg: dict[str, Any] | None, now: float) -> bool:
    """Has a Volcano scheduler looked at this waiting pod recently?

    A running vc-scheduler writes, every session, a PodScheduled=False
    condition into each pod it could not place, and Unschedulable
    conditions into its PodGroup, refreshing their time at least every
    90 s. No PodScheduled condition and no fresh PodGroup condition means
    nothing is scheduling it.
    """
    if pg is None:  # vc-controller-manager gives every volcano pod a PodGroup; until then, the pod's condition
        return _condition(pod, "PodScheduled") is not None
    times = [_timestamp(c.get("lastTransitionTime")) for c in (pg.get("status") or {}).get("conditions") or []]
    return any(t is not None and now - t < CONDITION_REFRESH for t in times)


def gang_checks(kube: Any, scheduler_ready: bool | None, now: float | None = None) -> list[Check]:
    """Doctor checks of gang scheduling: stuck PodGroups, volcano pods no Volcano scheduler attends."""
    now = time.time() if now is None else now
    waiting = [p for p in kube.list_pods(field_selector=f"spec.schedulerName={VOLCANO_SCHEDULER},spec.nodeName=")
               if _unbound(p)]
    podgroups = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in kube.list_podgroups()}
    checks = []

    def pg_of(p: dict[str, Any]) -> dict[str, Any] | None:
        name = (p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION)
        return podgroups.get((p["metadata"]["namespace"], name)) if name else None

    old = [p for p in waiting if _age(p, now) > UNATTENDED_AFTER]
    unattended = [p for p in old if not _attended(p, pg_of(p), now)]
    if unattended:
        names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in unattended[:5])
        deploy = {True: "", False: "; the volcano-scheduler Deployment is not ready",
                  None: "; no volcano-scheduler Deployment is installed"}[scheduler_ready]
        checks.append(Check("volcano-scheduling", "WARN",
                            f"{len(unattended)} pod(s) with schedulerName volcano waited over "
                            f"{int(UNATTENDED_AFTER)}s and no Volcano scheduler has looked at them (no PodScheduled "
                            f"condition, no PodGroup condition in {int(CONDITION_REFRESH)}s): {names}{deploy}",
                            "make vc-scheduler run: kubectl -n volcano-system get deploy,pods; its log is in "
                            "/var/log/mindx-dl/volcano-scheduler (local cluster: logs/addon-volcano.log and "
                            "logs/volcano-scheduler.log under the cluster dir)"))
    elif old:
        checks.append(Check("volcano-scheduling", "PASS", f"a Volcano scheduler is attending the {len(old)} "
                            f"volcano pod(s) waiting over {int(UNATTENDED_AFTER)}s"))
    elif waiting:
        checks.append(Check("volcano-scheduling", "PASS", f"{len(waiting)} volcano pod(s) waiting, none longer "
                            f"than {int(UNATTENDED_AFTER)}s"))
    else:
        checks.append(Check("volcano-scheduling", "PASS", "no pod waits for Volcano"))

    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in waiting:
        name = (p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION)
        if name:
            by_group.setdefault((p["metadata"]["namespace"], name), []).append(p)
    stuck = []
    events = _podgroup_events(kube)
    for key, pg in sorted(podgroups.items()):
        phase = (pg.get("status") or {}).get("phase") or "Pending"
        if phase in PLACED_PHASES or key not in by_group or _age(pg, now) <= STUCK_AFTER:
            continue
        stuck.append(f"{key[0]}/{key[1]} ({phase}, {len(by_group[key])} pod(s) pending: "
                     f"{volcano_reason(pg, by_group[key], events(key[0]))})")
    if stuck:
        checks.append(Check("podgroups", "WARN", f"{len(stuck)} PodGroup(s) waiting over {int(STUCK_AFTER)}s: "
                            + "; ".join(stuck[:5]),
                            "free NPUs or lower the instance count (kubectl ascend status shows who holds them); "
                            "for a queue at its capability, raise it or use another queue"))
    elif podgroups:
        checks.append(Check("podgroups", "PASS", f"no PodGroup waits longer than {int(STUCK_AFTER)}s"))
    return checks


def gang_line(row: dict[str, Any]) -> str:
    """`prefill-1: Inqueue, Unschedulable, 2/2 pods pending: <Volcano's reason>` (or `prefill-0: Running`)."""
    line = f"{row['instance']}: {row['phase']}"
    if row["unschedulable"]:
        line += ", Unschedulable"
    if row["pending"]:
        line += f", {row['pending']}/{row['pods']} pods pending: {row['reason']}"
    return line


def mindie_services(kube: Any, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MindIE releases (mindie-service chart) found from their pods: ready pods per role, ranktable state."""
    import json

    services: dict[tuple[str, str], dict[str, Any]] = {}
    members: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in pods:
        labels = p["metadata"].get("labels") or {}
        role = labels.get(MINDIE_ROLE)
        if not role or labels.get("app.kubernetes.io/part-of") != "mindie-service":
            continue
        key = (p["metadata"]["namespace"], labels.get("app.kubernetes.io/instance", "?"))
        svc = services.setdefault(key, {"namespace": key[0], "release": key[1], "roles": {}, "npus": 0,
                                        "ranktable": None, "instances": []})
        members.setdefault(key, []).append(p)
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or [])
        r = svc["roles"].setdefault(role, {"ready": 0, "pods": 0})
        r["pods"] += 1
        r["ready"] += int(ready)
        svc["npus"] += sum(pod_npu_requests(p).values())
    if any((p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION) for ps in members.values() for p in ps):
        podgroups = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in kube.list_podgroups()}
        events = _podgroup_events(kube)
        for key, ps in members.items():
            services[key]["instances"] = gang_instances(ps, podgroups, events)
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

    check_volcano_scheduling(kube, r, nodes)
    check_volcano_plugin_log(kube, r)
    sched_rows = by_comp.get("volcano-scheduler")
    r.checks.extend(gang_checks(kube, all(x["rolledOut"] for x in sched_rows) if sched_rows else None))

    present = {c["metadata"]["name"] for c in kube.list_crds()}
    missing_crds = [c for c in CRDS if c not in present]
    if missing_crds:
        r.add("crds", "FAIL", f"missing CRDs: {', '.join(missing_crds)}", "kubectl ascend install")
    else:
        r.add("crds", "PASS", f"all {len(CRDS)} CRDs present")
    return r


# -- Volcano and the device plugin (mind-cluster v26.0.0) ------------------------

def _volcano_type(pod: dict[str, Any]) -> bool:
    """True when a device-plugin pod's command line has -volcanoType=true."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        words = " ".join(str(x) for x in (c.get("command") or []) + (c.get("args") or [])).split()
        if any(w.lstrip("-") == "volcanoType=true" for w in words):
            return True
    return False


def check_volcano_scheduling(kube: Any, r: DoctorReport, nodes: list[dict[str, Any]]) -> None:
    """FAIL on NPU pods the device plugin will not serve: with -volcanoType=true it allocates a request
    for fewer NPUs than the node has only to pods Volcano's NPU plugin annotated (ascend-device-plugin
    plugin.go Allocate, doWithVolcanoSchedule), i.e. pods scheduled by Volcano."""
    dp_pods = kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}=device-plugin")
    vt_nodes = {(p.get("spec") or {}).get("nodeName") for p in dp_pods if _volcano_type(p)} - {None}
    if not vt_nodes:
        return
    capacity: dict[str, dict[str, int]] = {}
    for n in nodes:
        if n["metadata"]["name"] in vt_nodes:
            capacity[n["metadata"]["name"]] = {k: v for k, v in npu_resources(n).items() if "-" not in k}
    offenders = []
    for pod in kube.list_pods():
        meta, spec = pod["metadata"], pod.get("spec") or {}
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        scheduler = spec.get("schedulerName") or "default-scheduler"
        if scheduler == "volcano":
            continue
        node = spec.get("nodeName")
        for res, want in pod_npu_requests(pod).items():
            if node:
                has = capacity.get(node, {}).get(res, 0) if node in vt_nodes else 0
            else:  # not placed yet: the largest node that could take it
                has = max((c.get(res, 0) for c in capacity.values()), default=0)
            if 0 < want < has:
                where = f"on {node}" if node else "pending"
                offenders.append(f"{meta.get('namespace')}/{meta['name']} ({want} of {has} {res}, {where}, "
                                 f"schedulerName {scheduler})")
                break
    if offenders:
        r.add("npu-pods-via-volcano", "FAIL",
              f"{len(offenders)} pod(s) request fewer NPUs than their node has but are not scheduled by "
              f"Volcano, while the device plugin runs with -volcanoType=true (it gives such pods no NPUs): "
              + ", ".join(offenders[:10]),
              "schedule them with Volcano: schedulerName: volcano (mindie-service: --set schedulerName=volcano), "
              "or request whole nodes")
    else:
        r.add("npu-pods-via-volcano", "PASS", "every pod requesting part of a node's NPUs is scheduled by Volcano "
              f"(device plugin with -volcanoType=true on {len(vt_nodes)} node(s))")


def check_volcano_plugin_log(kube: Any, r: DoctorReport, tail_lines: int = 5000) -> None:
    """FAIL when the Volcano scheduler logged "Failed to get plugin": its NPU plugin name does not match
    the name the plugin registers (v26.0.0: volcano-npu_<version>), so it schedules without NPU awareness."""
    pods = [p for p in kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}=volcano-scheduler")
            if pod_state(p) == "Running"]
    if not pods:
        return
    failed = []
    for p in pods:
        ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
        try:
            text = kube.pod_log(ns, name, tail_lines=tail_lines)
        except errors.AscendError as e:
            r.add("volcano-npu-plugin", "WARN", f"cannot read the Volcano scheduler's log: {e}",
                  f"kubectl logs -n {ns} {name} | grep 'Failed to get plugin'")
            return
        lines = [ln.strip() for ln in text.splitlines() if "Failed to get plugin" in ln]
        if lines:
            failed.append(f"{ns}/{name}: {lines[-1][:300]}")
    if failed:
        r.add("volcano-npu-plugin", "FAIL", "the Volcano scheduler cannot load a plugin of its configuration: "
              + "; ".join(failed), "set ascend-volcano.scheduler.npuPluginName to the name the NPU plugin in the "
              "image registers (MindCluster v26.0.0: volcano-npu_v26.0.0, no architecture suffix) and restart "
              "the scheduler")
    else:
        r.add("volcano-npu-plugin", "PASS", f"no 'Failed to get plugin' in the Volcano scheduler's last "
              f"{tail_lines} log lines")
