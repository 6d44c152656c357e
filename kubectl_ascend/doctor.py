"""`kubectl ascend doctor`: is the cluster ready for MindCluster? One function per check, in `CHECKS`.

Each check takes the API door and the facts gathered once per run (`Cluster`) and returns its
`Check` rows (PASS / WARN / FAIL, with the fix); `doctor` runs them in order. A check that
has nothing to look at (no Volcano device plugin, no running scheduler) returns no row.

Checks against the MindCluster release profile (`Cluster.release`, releases.py: the
installed release's version, else the default): node labels the layout needs, the
device-plugin topology, the Volcano version and the Kubernetes range of that Volcano.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import yaml

from kubectl_ascend import errors, pymotor
from kubectl_ascend.gang import CONDITION_REFRESH, GROUP_ANNOTATION, PLACED_PHASES, STUCK_AFTER, UNATTENDED_AFTER, \
    VOLCANO_SCHEDULER, age, attended, podgroup_events, unbound, volcano_reason
from kubectl_ascend.install import CRDS
from kubectl_ascend.clusterd import find_clusterd
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.labels import ACCELERATOR, FAMILIES, MASTER_NODE, MASTER_SELECTOR, SERVER_TYPE, WORKER_NODE, \
    WORKER_SELECTOR, DetectionError, chip_name, detect_family, npu_resources
from kubectl_ascend.releases import PER_FAMILY, SINGLE, Release, default_version, release as release_facts, \
    volcano_kubernetes
from kubectl_ascend.workloads import COMPONENT, COMPONENT_NAMES, PART_OF, allocatable_npus, components, npu_count, \
    npu_request_values, pod_npu_requests, pod_state

#: Kubernetes range MindCluster 7.3-26.1 claims (docs/domain.md, "MindCluster components"); 1.19+ recommended.
KUBE_MIN, KUBE_RECOMMENDED_MIN, KUBE_MAX = (1, 17), (1, 19), (1, 34)
VOLCANO_CM = ("volcano-system", "volcano-scheduler-configmap", "volcano-scheduler.conf")


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


class Cluster:
    """What several checks look at, read from the API once and on first use."""

    def __init__(self, kube: KubeAPI, release: Release | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.kube = kube
        #: the MindCluster release the cluster is checked against
        self.release = release or release_facts(default_version())
        #: seconds since the epoch, for the age rules (injected by tests instead of waiting)
        self.clock = clock

    @cached_property
    def nodes(self) -> list[dict[str, Any]]:
        return self.kube.list_nodes()

    @cached_property
    def pods(self) -> list[dict[str, Any]]:
        return self.kube.list_pods()

    @property
    def single(self) -> bool:
        return len(self.nodes) == 1

    @cached_property
    def labelled(self) -> list[dict[str, Any]]:
        """Nodes with a MindCluster accelerator label."""
        return [n for n in self.nodes if (n["metadata"].get("labels") or {}).get(ACCELERATOR)]

    @cached_property
    def npu_nodes(self) -> list[dict[str, Any]]:
        """Nodes that show NPUs: huawei.com/* resources, a chip-name label or an accelerator label."""
        return [n for n in self.nodes if npu_resources(n) or chip_name(n)
                or (n["metadata"].get("labels") or {}).get(ACCELERATOR)]

    @cached_property
    def workers(self) -> list[dict[str, Any]]:
        """Nodes labelled workerselector=dls-worker-node."""
        return [n for n in self.nodes
                if (n["metadata"].get("labels") or {}).get(WORKER_SELECTOR) == WORKER_NODE]

    @property
    def plugin_nodes(self) -> list[dict[str, Any]]:
        """Nodes the release's device plugin runs on: accelerator-labelled (per family), workers (single)."""
        return self.workers if self.release.layout == SINGLE else self.labelled

    @cached_property
    def by_component(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for c in components(self.kube):
            out.setdefault(c["component"], []).append(c)
        return out


def _parse_version(v: dict[str, Any]) -> tuple[int, int]:
    major = int(re.sub(r"\D", "", str(v.get("major", "0"))) or 0)
    minor = int(re.sub(r"\D", "", str(v.get("minor", "0"))) or 0)
    return major, minor


def init_params(kube: KubeAPI) -> dict[str, str] | None:
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




def check_kubernetes_version(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    ver = kube.server_version()
    mm = _parse_version(ver)
    git = ver.get("gitVersion", f"{mm[0]}.{mm[1]}")
    if mm < KUBE_MIN:
        return [Check("kubernetes-version", "FAIL", f"Kubernetes {git} is older than MindCluster supports (1.17+)",
                      "upgrade the cluster to 1.19 or newer")]
    if mm < KUBE_RECOMMENDED_MIN:
        return [Check("kubernetes-version", "WARN", f"Kubernetes {git} is supported but 1.19+ is recommended",
                      "plan an upgrade to 1.19+")]
    if mm > KUBE_MAX:
        return [Check("kubernetes-version", "WARN", f"Kubernetes {git} is newer than MindCluster claims (up to 1.34)",
                      "check Huawei's release notes for support of this version")]
    return [Check("kubernetes-version", "PASS", f"Kubernetes {git} is in the supported range 1.19-1.34")]


def check_management_node(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    masters = [n["metadata"]["name"] for n in cluster.nodes
               if (n["metadata"].get("labels") or {}).get(MASTER_SELECTOR) == MASTER_NODE]
    if masters:
        return [Check("management-node", "PASS", f"management node(s): {', '.join(masters)}")]
    return [Check("management-node", "FAIL", f"no node carries {MASTER_SELECTOR}={MASTER_NODE}; Volcano and the "
                  "Ascend Operator cannot be scheduled", "kubectl ascend label-node NODE --role master")]


def check_npu_nodes_labelled(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """NPU nodes exist and their accelerator labels agree with the NPUs they advertise.
    (Which labels the release needs on them: check_labels_profile.)"""
    inconsistent = []
    for n in cluster.nodes:
        name = n["metadata"]["name"]
        acc = (n["metadata"].get("labels") or {}).get(ACCELERATOR)
        try:
            fam = detect_family(n) if npu_resources(n) else None
        except DetectionError:
            fam = None
        if acc and fam and FAMILIES[fam] != acc:
            inconsistent.append(f"{name} (label {acc}, resources say {FAMILIES[fam]})")
    if inconsistent:
        return [Check("npu-nodes-labelled", "FAIL", "accelerator label disagrees with advertised NPUs: "
                      + ", ".join(inconsistent[:10]), "kubectl ascend label-node NODE --overwrite")]
    if cluster.npu_nodes:
        return [Check("npu-nodes-labelled", "PASS", f"{len(cluster.npu_nodes)} NPU node(s); their accelerator "
                      "labels agree with the NPUs they advertise")]
    return [Check("npu-nodes-labelled", "FAIL", "no NPU nodes found (no accelerator labels, no huawei.com/* resources)",
                  "join Ascend servers (kubectl ascend join-cmd) and label them (kubectl ascend label-node --all)")]


def check_labels_profile(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """NPU nodes carry the label the release's device plugin selects: `accelerator` for the per-family
    DaemonSets (mind-cluster v26.0.0 build/ascendplugin-volcano.yaml), `workerselector=dls-worker-node`
    for 26.1's single one (v26.1.0 build/ascendplugin-volcano.yaml), which sets `accelerator` itself."""
    rel = cluster.release
    if not cluster.npu_nodes:
        return []
    if rel.layout == SINGLE:
        want = f"{WORKER_SELECTOR}=dls-worker-node"
        missing = [n["metadata"]["name"] for n in cluster.npu_nodes
                   if (n["metadata"].get("labels") or {}).get(WORKER_SELECTOR) != WORKER_NODE]
    else:
        want = ACCELERATOR
        missing = [n["metadata"]["name"] for n in cluster.npu_nodes
                   if not (n["metadata"].get("labels") or {}).get(ACCELERATOR)]
    if missing:
        return [Check("labels-profile", "FAIL", f"{len(missing)} NPU node(s) without {want}, which the {rel.name} "
                      f"device plugin selects (they get none): {', '.join(missing[:10])}",
                      f"kubectl ascend label-node --mindcluster-version {rel.version} " + " ".join(missing[:10]))]
    return [Check("labels-profile", "PASS", f"all {len(cluster.npu_nodes)} NPU node(s) carry {want} ({rel.name})")]


def check_device_plugin(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """A Running device-plugin pod on every labelled NPU node, and NPUs allocatable there."""
    if "device-plugin" not in cluster.by_component:
        return [Check("device-plugin", "FAIL", "the Ascend Device Plugin is not installed", "kubectl ascend install")]
    out = []
    labelled = cluster.plugin_nodes
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
        if allocatable_npus(n) == 0:
            no_npus.append(name)
    if missing or not_running or pending:
        detail = []
        if missing:
            detail.append(f"no device-plugin pod on {', '.join(missing[:10])}")
        if not_running:
            detail.append(f"not running on {', '.join(not_running[:10])}")
        if pending:
            detail.append(f"{len(pending)} pod(s) unscheduled")
        out.append(Check("device-plugin", "FAIL", "; ".join(detail),
                         "check the DaemonSet's nodeSelector/tolerations against the node labels and taints "
                         "(kubectl ascend status); a pod stuck in ContainerCreating usually lacks /etc/vnpu.cfg "
                         "or the driver under /usr/local/Ascend/driver on that node"))
    else:
        out.append(Check("device-plugin", "PASS", f"device plugin running on all {len(labelled)} "
                         + ("worker node(s)" if cluster.release.layout == SINGLE else "NPU node(s)")))
    if no_npus:
        out.append(Check("npus-allocatable", "FAIL", f"no allocatable NPUs on {', '.join(no_npus[:10])}",
                         "check the device plugin log on those nodes (/var/log/mindx-dl/devicePlugin) and the NPU "
                         "driver"))
    elif labelled:
        out.append(Check("npus-allocatable", "PASS", "every labelled NPU node advertises allocatable NPUs"))
    return out


def check_control_plane(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """The Deployments on the management node: Volcano scheduler and controllers, Ascend Operator."""
    out = []
    for comp in ("volcano-scheduler", "volcano-controllers", "ascend-operator"):
        rows = cluster.by_component.get(comp)
        if not rows:
            out.append(Check(comp, "FAIL", f"{COMPONENT_NAMES[comp]} is not installed", "kubectl ascend install"))
        elif all(x["rolledOut"] for x in rows):
            out.append(Check(comp, "PASS", f"{COMPONENT_NAMES[comp]} ready ({rows[0]['ready']}/{rows[0]['desired']})"))
        else:
            x = rows[0]
            out.append(Check(comp, "FAIL", f"{COMPONENT_NAMES[comp]} not ready ({x['ready']}/{x['desired']})",
                             f"kubectl -n {x['namespace']} describe deployment {x['name']}; it runs on the management "
                             f"node ({MASTER_SELECTOR}={MASTER_NODE})"))
    return out


def check_use_cluster_info_manager(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    params = init_params(kube)
    clusterd = bool(find_clusterd(kube))
    if params is None:
        return [Check("use-cluster-info-manager", "WARN", "Volcano scheduler ConfigMap not found",
                      "kubectl ascend install")]
    ucim = params.get("useClusterInfoManager", "").lower()
    if ucim == "true" and (cluster.single or not clusterd):
        why = "this is a single-node cluster" if cluster.single else "ClusterD is not installed"
        return [Check("use-cluster-info-manager", "FAIL", f"useClusterInfoManager is \"true\" but {why}: Volcano "
                      "would wait for ClusterD's ConfigMaps and never see NPUs",
                      "kubectl ascend install --set ascend-volcano.scheduler.initParams.useClusterInfoManager=false")]
    if ucim == "false" and clusterd and not cluster.single:
        return [Check("use-cluster-info-manager", "WARN", "ClusterD runs but Volcano ignores it "
                      "(useClusterInfoManager \"false\")", "set it to \"true\" to use ClusterD's fault information")]
    return [Check("use-cluster-info-manager", "PASS", f"useClusterInfoManager \"{ucim}\" fits this cluster")]


def _volcano_type(pod: dict[str, Any]) -> bool:
    """True when a device-plugin pod's command line has -volcanoType=true."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        words = " ".join(str(x) for x in (c.get("command") or []) + (c.get("args") or [])).split()
        if any(w.lstrip("-") == "volcanoType=true" for w in words):
            return True
    return False


def check_npu_pods_via_volcano(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """FAIL on NPU pods the device plugin will not serve: with -volcanoType=true it allocates a request
    for fewer NPUs than the node has only to pods Volcano's NPU plugin annotated (ascend-device-plugin
    plugin.go Allocate, doWithVolcanoSchedule), i.e. pods scheduled by Volcano."""
    dp_pods = kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}=device-plugin")
    vt_nodes = {(p.get("spec") or {}).get("nodeName") for p in dp_pods if _volcano_type(p)} - {None}
    if not vt_nodes:
        return []
    capacity: dict[str, dict[str, int]] = {}
    for n in cluster.nodes:
        if n["metadata"]["name"] in vt_nodes:
            capacity[n["metadata"]["name"]] = {k: v for k, v in npu_resources(n).items() if "-" not in k}
    offenders = []
    for pod in cluster.pods:
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
        return [Check("npu-pods-via-volcano", "FAIL",
              f"{len(offenders)} pod(s) request fewer NPUs than their node has but are not scheduled by "
              f"Volcano, while the device plugin runs with -volcanoType=true (it gives such pods no NPUs): "
              + ", ".join(offenders[:10]),
              "schedule them with Volcano: schedulerName: volcano (mindie-service: --set schedulerName=volcano), "
              "or request whole nodes")]
    else:
        return [Check("npu-pods-via-volcano", "PASS", "every pod requesting part of a node's NPUs is scheduled by Volcano "
              f"(device plugin with -volcanoType=true on {len(vt_nodes)} node(s))")]


def check_npu_requests(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """WARN on pods whose huawei.com/* request no node can serve: not a whole number of NPUs, or more
    than the largest node advertises ("1k" is a valid quantity: 1000). Any pod creator writes these;
    the kubelet refuses such a pod (OutOf<resource>) and the scheduler never places it."""
    largest: dict[str, int] = {}
    for n in cluster.nodes:
        for res, have in npu_resources(n).items():
            largest[res] = max(largest.get(res, 0), have)
    odd = []
    for pod in cluster.pods:
        meta = pod["metadata"]
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for res, value in npu_request_values(pod):
            count = npu_count(value)
            if count is None:
                odd.append(f"{meta.get('namespace')}/{meta['name']} ({res}: {value!s}, not a whole number)")
            elif count > largest.get(res, 0):
                odd.append(f"{meta.get('namespace')}/{meta['name']} ({res}: {value!s} = {count}, the largest node "
                           f"has {largest.get(res, 0)})")
            else:
                continue
            break
    if odd:
        return [Check("npu-requests", "WARN", f"{len(odd)} pod(s) request NPUs no node can give: " + ", ".join(odd[:10]),
                      "fix the pod's resources (a whole number of NPUs, at most a node's count) or delete it")]
    return [Check("npu-requests", "PASS", "every NPU request is a whole number a node can serve")]


def check_volcano_plugin_log(kube: KubeAPI, cluster: Cluster, tail_lines: int = 5000) -> list[Check]:
    """FAIL when the Volcano scheduler logged "Failed to get plugin": its NPU plugin name does not match
    the name the plugin registers (v26.0.0: volcano-npu_<version>), so it schedules without NPU awareness."""
    pods = [p for p in kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}=volcano-scheduler")
            if pod_state(p) == "Running"]
    if not pods:
        return []
    failed = []
    for p in pods:
        ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
        try:
            text = kube.pod_log(ns, name, tail_lines=tail_lines)
        except errors.AscendError as e:
            return [Check("volcano-npu-plugin", "WARN", f"cannot read the Volcano scheduler's log: {e}",
                  f"kubectl logs -n {ns} {name} | grep 'Failed to get plugin'")]
        lines = [ln.strip() for ln in text.splitlines() if "Failed to get plugin" in ln]
        if lines:
            failed.append(f"{ns}/{name}: {lines[-1][:300]}")
    if failed:
        return [Check("volcano-npu-plugin", "FAIL", "the Volcano scheduler cannot load a plugin of its configuration: "
              + "; ".join(failed), "set ascend-volcano.scheduler.npuPluginName to the name the NPU plugin in the "
              "image registers (MindCluster v26.0.0: volcano-npu_v26.0.0, no architecture suffix) and restart "
              "the scheduler")]
    else:
        return [Check("volcano-npu-plugin", "PASS", f"no 'Failed to get plugin' in the Volcano scheduler's last "
              f"{tail_lines} log lines")]


def gang_checks(kube: KubeAPI, scheduler_ready: bool | None, now: float | None = None) -> list[Check]:
    """Doctor checks of gang scheduling: stuck PodGroups, volcano pods no Volcano scheduler attends."""
    now = time.time() if now is None else now
    waiting = [p for p in kube.list_pods(field_selector=f"spec.schedulerName={VOLCANO_SCHEDULER},spec.nodeName=")
               if unbound(p)]
    podgroups = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in kube.list_podgroups()}
    checks = []

    def pg_of(p: dict[str, Any]) -> dict[str, Any] | None:
        name = (p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION)
        return podgroups.get((p["metadata"]["namespace"], name)) if name else None

    old = [p for p in waiting if age(p, now) > UNATTENDED_AFTER]
    unattended = [p for p in old if not attended(p, pg_of(p), now)]
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
    events = podgroup_events(kube)
    for key, pg in sorted(podgroups.items()):
        phase = (pg.get("status") or {}).get("phase") or "Pending"
        if phase in PLACED_PHASES or key not in by_group or age(pg, now) <= STUCK_AFTER:
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




def check_gang_scheduling(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    rows = cluster.by_component.get("volcano-scheduler")
    return gang_checks(kube, all(x["rolledOut"] for x in rows) if rows else None, now=cluster.clock())


def check_crds(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    present = {c["metadata"]["name"] for c in kube.list_crds()}
    missing = [c for c in CRDS if c not in present]
    if missing:
        return [Check("crds", "FAIL", f"missing CRDs: {', '.join(missing)}", "kubectl ascend install")]
    return [Check("crds", "PASS", f"all {len(CRDS)} CRDs present")]


def check_device_plugin_layout(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """The device-plugin DaemonSets have the release's topology: one per chip family selecting
    `accelerator=...` (<= 26.0) or one for every worker (26.1+). The Atlas 200I SoC variant
    (nodeSelector servertype=soc) is its own DaemonSet in both and is not counted."""
    rows = [r for r in cluster.by_component.get("device-plugin", [])
            if r["kind"] == "DaemonSet" and r["nodeSelector"].get(SERVER_TYPE) != "soc"]
    if not rows:
        return []
    rel = cluster.release
    found = SINGLE if len(rows) == 1 and ACCELERATOR not in rows[0]["nodeSelector"] else PER_FAMILY
    names = ", ".join(r["name"] for r in rows)
    shape = {SINGLE: "one DaemonSet for every worker", PER_FAMILY: "one DaemonSet per chip family"}
    if found != rel.layout:
        return [Check("device-plugin-layout", "FAIL", f"{shape[found]} ({names}), but {rel.name} runs "
                      f"{shape[rel.layout]}",
                      f"kubectl ascend install --mindcluster-version {rel.version} (and drop any "
                      "ascend-device-plugin.layout override)")]
    return [Check("device-plugin-layout", "PASS", f"{shape[found]} ({names}), as {rel.name} runs it")]


VOLCANO_TAG = re.compile(r"^(v\d+\.\d+\.\d+)")


def _volcano_version(cluster: Cluster) -> tuple[str | None, str] | None:
    """(Volcano version, image tag) of the volcano-scheduler Deployment; None when it is not installed.
    The tag is "<volcano>-<mindcluster>[-<os>]", e.g. v1.9.0-v26.1.0 (v26.1.0 helm-deploy-tool/app/values.yaml)."""
    rows = cluster.by_component.get("volcano-scheduler")
    if not rows:
        return None
    tag = str(rows[0]["version"])
    m = VOLCANO_TAG.match(tag)
    return (m.group(1) if m else None), tag


def check_volcano_version(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """The Volcano the scheduler image carries is one the release ships (docs/domain.md, "MindCluster releases")."""
    found = _volcano_version(cluster)
    if found is None:
        return []
    version, tag = found
    rel = cluster.release
    if version is None:
        return [Check("volcano-version", "WARN", f"cannot tell the Volcano version from the scheduler image tag "
                      f"{tag!r} (want v<volcano>-v<mindcluster>, e.g. {rel.volcano_default}-{rel.tag})",
                      "set ascend-volcano's image tags to a published one")]
    if version not in rel.volcano_versions:
        return [Check("volcano-version", "FAIL", f"Volcano {version} (image tag {tag}) is not one {rel.name} ships "
                      f"({', '.join(rel.volcano_versions)})",
                      f"kubectl ascend install --set ascend-volcano.volcanoVersion={rel.volcano_default}")]
    return [Check("volcano-version", "PASS", f"Volcano {version} (image tag {tag}) is one {rel.name} ships")]


def check_volcano_kubernetes(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """The Kubernetes server is inside the range the installed Volcano supports
    (mindcluster.json volcanoKubernetes, from Volcano's compatibility matrix); outside is a WARN."""
    found = _volcano_version(cluster)
    if found is None or found[0] is None:
        return []
    version = found[0]
    rng = volcano_kubernetes(version)
    if rng is None:
        return [Check("volcano-kubernetes", "WARN", f"no Kubernetes range is known for Volcano {version}",
                      "check Volcano's compatibility matrix")]
    ver = kube.server_version()
    mm = _parse_version(ver)
    git = ver.get("gitVersion", f"{mm[0]}.{mm[1]}")
    lo, hi = (tuple(int(x) for x in r.split(".")) for r in rng)
    if lo <= mm <= hi:
        return [Check("volcano-kubernetes", "PASS", f"Kubernetes {git} is inside Volcano {version}'s range "
                      f"{rng[0]}-{rng[1]}")]
    fits = [v for v in cluster.release.volcano_versions
            if (r := volcano_kubernetes(v)) and tuple(int(x) for x in r[0].split(".")) <= mm
            <= tuple(int(x) for x in r[1].split("."))]
    fix = (f"use Volcano {' or '.join(fits)} (--set ascend-volcano.volcanoVersion=...)" if fits else
           f"no Volcano {cluster.release.name} ships supports it; run Kubernetes {rng[0]}-{rng[1]} or accept "
           "the risk")
    return [Check("volcano-kubernetes", "WARN", f"Kubernetes {git} is outside Volcano {version}'s supported range "
                  f"{rng[0]}-{rng[1]}", fix)]


def _pymotor_check(name: str, rows: list[tuple[str, str, str]]) -> list[Check]:
    return [Check(name, status, message, fix) for status, message, fix in rows]


def check_pymotor_job_names(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """mindie-service mode pymotor: one JOB_NAME per instance, shared by its pods (pymotor.job_name_rows)."""
    return _pymotor_check("pymotor-job-names", pymotor.job_name_rows(cluster.pods))


def check_pymotor_metaserver(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """mindie-service mode pymotor: decode pods reach the coordinator's worker metaserver (pymotor.metaserver_rows)."""
    if not any((p["metadata"].get("labels") or {}).get(pymotor.ENGINE_LABEL) == "pymotor" for p in cluster.pods):
        return []
    try:
        policies = (kube.get_object("/apis/networking.k8s.io/v1/networkpolicies") or {}).get("items") or []
    except errors.AscendError as e:
        return [Check("pymotor-metaserver", "WARN", f"cannot list NetworkPolicies to check the coordinator's worker "
                      f"metaserver: {e}", "run doctor with permission to list networkpolicies")]
    return _pymotor_check("pymotor-metaserver", pymotor.metaserver_rows(
        cluster.pods, kube.list_configmaps(None, pymotor.CONFIG_LABEL), policies))


def check_pymotor_controller_stdin(kube: KubeAPI, cluster: Cluster) -> list[Check]:
    """mindie-service mode pymotor: the controller container keeps stdin open (pymotor.stdin_rows)."""
    return _pymotor_check("pymotor-controller-stdin", pymotor.stdin_rows(cluster.pods))


#: The checks in the order `doctor` runs and prints them.
CHECKS: list[Callable[[KubeAPI, Cluster], list[Check]]] = [
    check_kubernetes_version,
    check_management_node,
    check_npu_nodes_labelled,
    check_labels_profile,
    check_device_plugin,
    check_device_plugin_layout,
    check_control_plane,
    check_volcano_version,
    check_volcano_kubernetes,
    check_use_cluster_info_manager,
    check_npu_pods_via_volcano,
    check_npu_requests,
    check_volcano_plugin_log,
    check_gang_scheduling,
    check_crds,
    check_pymotor_job_names,
    check_pymotor_metaserver,
    check_pymotor_controller_stdin,
]


def doctor(kube: KubeAPI, release: Release | None = None, clock: Callable[[], float] = time.time) -> DoctorReport:
    """Run every check of `CHECKS` against the cluster, for MindCluster `release` (None: the default).

    CLOCK (seconds since the epoch) is what the age rules (UNATTENDED_AFTER, STUCK_AFTER) measure against."""
    cluster = Cluster(kube, release, clock)
    report = DoctorReport()
    for check in CHECKS:
        report.checks.extend(check(kube, cluster))
    return report
