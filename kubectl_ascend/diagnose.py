"""`kubectl ascend diagnose RELEASE`: walk a mindie-service release layer by layer, name the first that fails.

The layers, in the order a request meets them (and with these names in `-o json`):

``scheduling``  did Volcano place every pod (PodGroups, Volcano's own reason, free nodes vs gang, queue);
``devices``     did the device plugin allocate NPUs to each NPU pod, and does the pod's env agree;
``network``     is the parameter-plane set-up the engine needs there (hccn.conf, HCCL_IF_IP, host ports);
``ranktable``   are the per-instance and the global ranktables complete and about the live pods;
``service``     are the MindIE pods Ready, and do their logs carry a known failure signature.

Everything here but `gather` is pure: each layer is a function of a `Snapshot` (plain API dicts)
returning a `Layer`, so every rule is tested on hand-built objects (tests/unit/test_diagnose.py).
Sources of each rule are cited where it is written.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from kubectl_ascend import errors
from kubectl_ascend.gang import GROUP_ANNOTATION, MINDIE_INDEX, MINDIE_ROLE, gang_instances, timestamp, unbound
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.labels import ACCELERATOR, ACCELERATOR_TYPE
from kubectl_ascend.ranktable import COMPLETED, DEVICE_ANNOS, GLOBAL_KEY, HCCL_KEY, UIDS_KEY, RanktableError, \
    build_global_ranktable
from kubectl_ascend.workloads import COMPONENT, PART_OF, allocatable_npus, pod_npu_requests, pod_state

LAYERS = ("scheduling", "devices", "network", "ranktable", "service")
PASS, WARN, FAIL = "PASS", "WARN", "FAIL"

INSTANCE = "app.kubernetes.io/instance"
PART_OF_MINDIE = ("app.kubernetes.io/part-of", "mindie-service")
PYMOTOR_LABEL = "mindie.huawei.com/engine"
RANKTABLE_LABEL = "mindie.huawei.com/ranktable"
JOB_ID_LABEL = "jobID"  # on rings-config-* only with clusterd.enabled (mindie.JOB_ID_LABEL)
SERVER_ROLES = ("single", "prefill", "decode")

#: The env var the Ascend Docker Runtime hook mounts devices from (component/ascend-docker-runtime/hook/process/
#: process.go DoPrestartHook; name in ascend-common/api/default_name.go AscendVisibleDevicesEnv). The device
#: plugin puts it in its Allocate answer (ascend-device-plugin pkg/common/common.go SetAscendRuntimeEnv).
VISIBLE_DEVICES = "ASCEND_VISIBLE_DEVICES"
#: The CANN runtime's choice among the devices the container sees, as logical ids 0..n-1 (MindIE-LLM
#: docs/zh/user_guide/user_manual/environment_variable.md; an id >= n fails "set ASCEND_RT_VISIBLE_DEVICES:4
#: error, input data rang[0-2)", gpustack/gpustack#3352).
RT_VISIBLE_DEVICES = "ASCEND_RT_VISIBLE_DEVICES"
#: The only downward-API source the device plugin accepts for ASCEND_VISIBLE_DEVICES (ascend-device-plugin
#: pkg/server/plugin.go, fieldPath metadata.annotations['huawei.com/<type>']; else it logs that the
#: mounting of devices may be affected).
ANNOTATION_FIELD = "metadata.annotations['{resource}']"
#: Where upstream's MindIE server pods get the node's NPU network config (MindIE-Motor
#: mindie_motor/src/example/deploy_scripts/deployment/server_init.yaml, volume hccn-conf, hostPath).
HCCN_CONF = "/etc/hccn.conf"
#: HCCL's host-NIC IP; HCCL fails to initialise when it is not an IP of the environment
#: (mind-cluster v26.1.0 ascend-faultdiag kg-config.json AISW_CANN_HCCL_001).
HCCL_IF_IP = "HCCL_IF_IP"
#: Seconds the kubelet may take to show a changed ConfigMap in a mounted volume: its sync period (1 min)
#: plus the ConfigMap cache's TTL (kubernetes.io/docs/concepts/configuration/configmap/
#: "Mounted ConfigMaps are updated automatically"; kubelet defaults syncFrequency 1m, TTL cache).
KUBELET_SYNC = 120.0
#: Log lines read per container for the signatures.
LOG_TAIL = 2000


@dataclass
class Finding:
    what: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"what": self.what, "fix": self.fix}


@dataclass
class Layer:
    layer: str
    verdict: str
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "verdict": self.verdict, "findings": [f.as_dict() for f in self.findings]}


def _layer(name: str, fails: list[Finding], warns: list[Finding], ok: str) -> Layer:
    if fails:
        return Layer(name, FAIL, fails + warns)
    if warns:
        return Layer(name, WARN, warns)
    return Layer(name, PASS, [Finding(ok)])


@dataclass
class Snapshot:
    """What `diagnose` read from the cluster for one release (plain API dicts)."""

    release: str
    namespace: str
    pods: list[dict[str, Any]]                 # the release's pods (every role)
    configmaps: list[dict[str, Any]] = field(default_factory=list)    # the release's ConfigMaps
    podgroups: list[dict[str, Any]] = field(default_factory=list)     # PodGroups of the namespace
    events: list[dict[str, Any]] = field(default_factory=list)        # Events of the namespace
    nodes: list[dict[str, Any]] = field(default_factory=list)
    cluster_pods: list[dict[str, Any]] = field(default_factory=list)  # every pod not finished, all namespaces
    queues: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # Volcano Queue by name (None: absent)
    vcjobs: list[dict[str, Any]] = field(default_factory=list)        # the release's Volcano Jobs
    device_plugin_pods: list[dict[str, Any]] = field(default_factory=list)
    clusterd: list[str] = field(default_factory=list)                 # clusterd.find_clusterd
    logs: dict[str, str] = field(default_factory=dict)                # "pod/container" -> log text
    now: float = 0.0

    @property
    def mode(self) -> str:
        """single | pd | clusterd | pymotor, from what the chart rendered."""
        labels = [(p["metadata"].get("labels") or {}) for p in self.pods] + \
                 [(c["metadata"].get("labels") or {}) for c in self.configmaps]
        if any(lab.get(PYMOTOR_LABEL) == "pymotor" for lab in labels):
            return "pymotor"
        if any(lab.get(MINDIE_ROLE) == "single" for lab in labels):
            return "single"
        if any(lab.get(RANKTABLE_LABEL) == "global" for lab in labels):
            return "pd"
        if self.rings_configs() and all(JOB_ID_LABEL in (c["metadata"].get("labels") or {})
                                        for c in self.rings_configs()):
            return "clusterd"
        return "single" if not self.rings_configs() else "pd"

    def rings_configs(self) -> list[dict[str, Any]]:
        return sorted((c for c in self.configmaps
                       if (c["metadata"].get("labels") or {}).get(RANKTABLE_LABEL) == "instance"),
                      key=lambda c: c["metadata"]["name"])

    def live_pods(self) -> list[dict[str, Any]]:
        return [p for p in self.pods if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("name", "?"))


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def _few(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


# -- scheduling -----------------------------------------------------------------

def _node_free(snap: Snapshot) -> dict[str, tuple[int, int]]:
    """(allocatable NPUs, NPUs not requested by any running or pending-bound pod) per node."""
    used: dict[str, int] = {}
    for p in snap.cluster_pods:
        node = (p.get("spec") or {}).get("nodeName")
        if node and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            used[node] = used.get(node, 0) + sum(pod_npu_requests(p).values())
    out = {}
    for n in snap.nodes:
        alloc = allocatable_npus(n)
        out[n["metadata"]["name"]] = (alloc, max(alloc - used.get(n["metadata"]["name"], 0), 0))
    return out


def _selector_of(snap: Snapshot, role: str, index: str) -> dict[str, str]:
    """The nodeSelector of an instance's pods: from a pod, else from its Volcano Job's template."""
    for p in snap.pods:
        lab = _labels(p)
        if lab.get(MINDIE_ROLE) == role and lab.get(MINDIE_INDEX, index) == index:
            return dict((p.get("spec") or {}).get("nodeSelector") or {})
    for j in snap.vcjobs:
        lab = _labels(j)
        if lab.get(MINDIE_ROLE) == role and lab.get(MINDIE_INDEX) == index:
            for t in (j.get("spec") or {}).get("tasks") or []:
                return dict(((t.get("template") or {}).get("spec") or {}).get("nodeSelector") or {})
    return {}


def capacity_line(snap: Snapshot, selector: dict[str, str], per_pod: int, pods: int) -> str:
    """`needs 2 pods x 8 NPUs on accelerator-type=module-910b-8 nodes: 1 of 2 such nodes has 8 free
    (0 whole free nodes)`: the gang against the nodes it may use."""
    free = _node_free(snap)
    fits = [n for n in snap.nodes if all(_labels(n).get(k) == v for k, v in selector.items())]
    where = f"{ACCELERATOR_TYPE}={selector[ACCELERATOR_TYPE]}" if ACCELERATOR_TYPE in selector else \
        f"{ACCELERATOR}={selector[ACCELERATOR]}" if ACCELERATOR in selector else "any"
    room = sum(free[_name(n)][1] // per_pod for n in fits if per_pod and free[_name(n)][1] >= per_pod)
    whole = sum(1 for n in fits if free[_name(n)][0] and free[_name(n)][1] == free[_name(n)][0])
    return (f"the gang needs {pods} pod(s) x {per_pod} NPU(s) on {where} nodes; those {len(fits)} node(s) "
            f"have room for {room} such pod(s) now ({whole} whole free node(s))")


def _queue_findings(snap: Snapshot, pg: dict[str, Any] | None) -> list[Finding]:
    """Volcano admits a gang only into an Open queue whose capability holds its minResources
    (volcano v1.9 pkg/scheduler/plugins/proportion proportion.go JobEnqueueable, capability check;
    queue state: pkg/scheduler/actions/enqueue)."""
    if pg is None:
        return []
    name = (pg.get("spec") or {}).get("queue") or "default"
    if name not in snap.queues:
        return []
    queue = snap.queues[name]
    if queue is None:
        return [Finding(f"PodGroup {_name(pg)} names Volcano queue {name!r}, which does not exist",
                        "create the queue or set the release's gang queue to an existing one")]
    out = []
    state = (queue.get("status") or {}).get("state")
    if state and state != "Open":
        out.append(Finding(f"Volcano queue {name} is {state}: it admits no new gang",
                           f"reopen it: kubectl patch queue {name} --type merge -p '{{\"spec\":{{\"state\":\"Open\"}}}}'"
                           " (or vcctl queue operate -n NAME -a open)"))
    cap = (queue.get("spec") or {}).get("capability") or {}
    from kubectl_ascend.kube import quantity  # pure helper; the kubernetes client is not imported by it

    for res, want in ((pg.get("spec") or {}).get("minResources") or {}).items():
        if res in cap:
            try:
                short = quantity(want) > quantity(cap[res])
            except (ValueError, ArithmeticError, errors.AscendError):
                continue
            if short:
                out.append(Finding(f"Volcano queue {name} caps {res} at {cap[res]}, below the gang's {want} "
                                   f"(PodGroup {_name(pg)}): it is never admitted",
                                   f"raise the queue's spec.capability.{res} or use another queue"))
    return out


def scheduling(snap: Snapshot) -> Layer:
    """Every pod placed; per waiting gang, Volcano's reason (gang.volcano_reason: PodGroup events and
    conditions, pods' PodScheduled) and the room on the nodes it may use; the queue it waits in."""
    fails: list[Finding] = []
    by_name = {(pg["metadata"]["namespace"], _name(pg)): pg for pg in snap.podgroups}
    events = {snap.namespace: snap.events}
    rows = gang_instances(snap.live_pods(), by_name, lambda ns: [e for e in events.get(ns, [])
                                                                if e.get("reason") == "Unschedulable"],
                          (snap.namespace, snap.release))
    gang_pods: set[str] = set()
    for row in rows:
        pg = by_name.get((snap.namespace, row["podGroup"]))
        role, _, index = row["instance"].rpartition("-")
        members = [p for p in snap.live_pods() if _annotations(p).get(GROUP_ANNOTATION) == row["podGroup"]]
        gang_pods.update(_name(p) for p in members)
        fails += _queue_findings(snap, pg) if row["pending"] else []
        if not row["pending"]:
            continue
        per_pod = max((sum(pod_npu_requests(p).values()) for p in members), default=0)
        if not per_pod and pg is not None:
            mins = (pg.get("spec") or {}).get("minResources") or {}
            total = sum(int(v) for k, v in mins.items() if k.startswith("huawei.com/") and str(v).isdigit())
            per_pod = total // max(int((pg.get("spec") or {}).get("minMember") or 1), 1)
        cap = capacity_line(snap, _selector_of(snap, role, index), per_pod, row["pending"]) if per_pod else ""
        fails.append(Finding(
            f"{row['instance']} (PodGroup {row['podGroup']}, {row['phase']}): {row['pending']}/{row['pods']} pod(s) "
            f"not placed; Volcano: {row['reason']}" + (f"; {cap}" if cap else ""),
            "free NPUs on the nodes it may use (kubectl ascend status shows NPUs requested per node), or shrink "
            "the release (fewer instances, podsPerInstance or npusPerPod); a gang is placed whole or not at all"))
    for p in snap.live_pods():
        if _name(p) in gang_pods or not unbound(p):
            continue
        cond: dict[str, Any] = next((c for c in (p.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"),
                    {})
        per_pod = sum(pod_npu_requests(p).values())
        role, index = _labels(p).get(MINDIE_ROLE, "?"), _labels(p).get(MINDIE_INDEX, "0")
        cap = capacity_line(snap, _selector_of(snap, role, index), per_pod, 1) if per_pod else ""
        why = cond.get("message") or "no scheduler has looked at it yet"
        fails.append(Finding(f"pod {_name(p)} is not placed: {' '.join(str(why).split())}"
                             + (f"; {cap}" if cap else ""),
                             "free NPUs on matching nodes or lower the release's NPUs per instance; "
                             f"kubectl -n {snap.namespace} describe pod {_name(p)}"))
    placed = sum(1 for p in snap.live_pods() if not unbound(p))
    return _layer("scheduling", fails, [], f"all {placed} pod(s) placed"
                  + (f"; {len(rows)} gang(s) admitted by Volcano" if rows else ""))


# -- devices ------------------------------------------------------------------

def _device_ids(pod: dict[str, Any]) -> list[str] | None:
    """Device ids in the device plugin's allocation annotation; None without one (or unreadable)."""
    anno = _annotations(pod)
    raw = next((anno[k] for k in DEVICE_ANNOS if k in anno), None)
    if raw is None:
        return None
    try:
        devices = json.loads(raw).get("devices") or []
        return [str(d.get("device_id")) for d in devices]
    except (ValueError, AttributeError, TypeError):
        return []


def _env(container: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((e for e in container.get("env") or [] if e.get("name") == name), None)


def _container_npus(c: dict[str, Any]) -> int:
    res = c.get("resources") or {}
    total = 0
    for part in ("limits", "requests"):
        vals = {k: v for k, v in (res.get(part) or {}).items() if k.startswith("huawei.com/")}
        if vals:
            total = sum(int(v) for v in vals.values() if str(v).isdigit())
            break
    return total


#: Seconds after placement a pod whose containers have not started may still wait for its allocation.
ALLOCATION_GRACE = 60.0


def _allocation_due(pod: dict[str, Any], now: float) -> bool:
    """Should the device plugin have annotated this placed pod by now? It does so in Allocate, which the
    kubelet calls before it creates the containers: yes once a container started, or ALLOCATION_GRACE
    seconds after the pod was placed (its PodScheduled condition)."""
    status = pod.get("status") or {}
    if any((cs.get("state") or {}).get("running") or (cs.get("state") or {}).get("terminated")
           or (cs.get("lastState") or {}).get("terminated") for cs in status.get("containerStatuses") or []):
        return True
    placed = next((timestamp(c.get("lastTransitionTime")) for c in status.get("conditions") or []
                   if c.get("type") == "PodScheduled" and c.get("status") == "True"), None)
    return placed is None or now - placed >= ALLOCATION_GRACE


def devices(snap: Snapshot) -> Layer:
    """Each placed NPU pod has the device plugin's allocation annotation with as many devices as it
    requests (ascend-device-plugin pkg/device/ascendcommon.go AddPodAnnotation writes
    ascend.kubectl.kubernetes.io/ascend-910-configuration, name in ascend-common/api/default_name.go
    Pod910DeviceAnno; the Ascend Operator counts a pod as allocated only with it), and no container
    overrides or contradicts the runtime's device env."""
    fails: list[Finding] = []
    warns: list[Finding] = []
    dp_state = {(p.get("spec") or {}).get("nodeName"): pod_state(p) for p in snap.device_plugin_pods}
    npu_pods = 0
    for p in snap.live_pods():
        npus = sum(pod_npu_requests(p).values())
        node = (p.get("spec") or {}).get("nodeName")
        if not npus or not node:
            continue
        npu_pods += 1
        ids = _device_ids(p)
        if ids is None and not _allocation_due(p, snap.now):
            warns.append(Finding(f"pod {_name(p)} on {node} was placed moments ago and has no device-plugin "
                                 "allocation annotation yet", "rerun diagnose in a minute"))
        elif ids is None:
            plugin = dp_state.get(node)
            fails.append(Finding(
                f"pod {_name(p)} on {node} requests {npus} NPU(s) but carries no device-plugin allocation "
                f"annotation ({DEVICE_ANNOS[0]}); device plugin on {node}: {plugin or 'no pod'}",
                "the Ascend Device Plugin writes it when it allocates (a pod patch): check its pod on that node "
                "and its RBAC (patch on pods), e.g. kubectl -n kube-system logs -l app.kubernetes.io/component="
                "device-plugin --all-containers | grep -i annotation; then recreate the pod"))
        elif len(ids) != npus:
            fails.append(Finding(f"pod {_name(p)} requests {npus} NPU(s) but its allocation annotation lists "
                                 f"{len(ids)} device(s) ({', '.join(ids) or 'none readable'})",
                                 "recreate the pod so the device plugin allocates again; if it repeats, check the "
                                 "device plugin's log on " + node))
        for c in (p.get("spec") or {}).get("containers") or []:
            n = _container_npus(c)
            if not n:
                continue
            vis = _env(c, VISIBLE_DEVICES)
            if vis is not None:
                ref = ((vis.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                resources = [k for k in ((c.get("resources") or {}).get("limits") or {}) if k.startswith("huawei.com/")]
                allowed = {ANNOTATION_FIELD.format(resource=r) for r in resources}
                if ref is None:
                    fails.append(Finding(
                        f"pod {_name(p)} container {c.get('name')} sets {VISIBLE_DEVICES}={vis.get('value', '')!r} "
                        "itself: the kubelet puts the pod's own env after the device plugin's Allocate env, so the "
                        "Ascend Docker Runtime mounts these devices instead of the allocated ones",
                        f"remove {VISIBLE_DEVICES} from the container's env (values extraEnv); the device plugin sets it"))
                elif ref not in allowed:
                    fails.append(Finding(
                        f"pod {_name(p)} container {c.get('name')} takes {VISIBLE_DEVICES} from {ref}, which the "
                        "device plugin does not accept (only " + " or ".join(sorted(allowed)) + ")",
                        f"remove the env var or point it at {sorted(allowed)[0] if allowed else 'the NPU annotation'}"))
            rt = _env(c, RT_VISIBLE_DEVICES)
            if rt is not None and "value" in rt:
                parts = [x.strip() for x in str(rt.get("value") or "").split(",") if x.strip()]
                bad = [x for x in parts if not x.isdigit() or int(x) >= n]
                if bad or len(set(parts)) != len(parts):
                    fails.append(Finding(
                        f"pod {_name(p)} container {c.get('name')} sets {RT_VISIBLE_DEVICES}={rt.get('value')!r}, "
                        f"but it sees {n} NPU(s), numbered 0..{n - 1} inside the container"
                        + (f" ({', '.join(bad)} out of range)" if bad else " (an id repeats)")
                        + ": the runtime refuses it (\"Invalid device ID\")",
                        f"use logical ids below {n} (e.g. {','.join(str(i) for i in range(n))}) or drop the variable"))
    return _layer("devices", fails, warns, f"{npu_pods} NPU pod(s) carry their device allocation and a consistent "
                  "device env" if npu_pods else "no NPU pod is placed yet")


# -- network --------------------------------------------------------------------

def _mounts_path(pod: dict[str, Any], c: dict[str, Any], path: str) -> bool:
    return any(m.get("mountPath") == path or path.startswith(str(m.get("mountPath", "")).rstrip("/") + "/")
               for m in c.get("volumeMounts") or [] if m.get("mountPath"))


def network(snap: Snapshot) -> Layer:
    """hccn.conf where the engine needs it (PD KV transfer and multi-pod instances run over the NPUs'
    parameter-plane NICs; upstream mounts /etc/hccn.conf into every server pod, MindIE-Motor
    server_init.yaml), HCCL_IF_IP equal to the pod's own address, and no two host-network pods of a
    node on one port."""
    fails: list[Finding] = []
    warns: list[Finding] = []
    cross = snap.mode in ("pd", "clusterd", "pymotor")
    missing_conf = []
    for p in snap.live_pods():
        spec = p.get("spec") or {}
        status = p.get("status") or {}
        own_ip = status.get("hostIP") if spec.get("hostNetwork") else status.get("podIP")
        for c in spec.get("containers") or []:
            if cross and _container_npus(c) and _labels(p).get(MINDIE_ROLE) in SERVER_ROLES \
                    and not _mounts_path(p, c, HCCN_CONF):
                missing_conf.append(_name(p))
            ifip = _env(c, HCCL_IF_IP)
            if ifip is not None and "value" in ifip and own_ip and ifip.get("value") != own_ip:
                fails.append(Finding(
                    f"pod {_name(p)} sets {HCCL_IF_IP}={ifip.get('value')!r}, not its own address {own_ip}"
                    + (" (host network: the node's IP)" if spec.get("hostNetwork") else " (the pod IP)")
                    + ": HCCL fails to find that NIC and does not initialise",
                    f"drop {HCCL_IF_IP} or set it from status.{'hostIP' if spec.get('hostNetwork') else 'podIP'} "
                    "(valueFrom.fieldRef)"))
    if missing_conf:
        warns.append(Finding(
            f"{HCCN_CONF} is not mounted in server pod(s) {_few(sorted(set(missing_conf)))}: KV transfer and "
            "multi-pod instances use the NPUs' own NICs, whose addresses the node's hccn.conf holds",
            f"mount the node's {HCCN_CONF} read-only (values extraVolumes: hostPath {HCCN_CONF}, type File; "
            f"extraVolumeMounts: mountPath {HCCN_CONF}) as upstream's MindIE deployment does"))
    by_node_port: dict[tuple[str, int], list[str]] = {}
    for p in snap.cluster_pods:
        spec = p.get("spec") or {}
        if not spec.get("hostNetwork") or not spec.get("nodeName") or p["metadata"].get("deletionTimestamp"):
            continue
        for c in spec.get("containers") or []:
            for port in c.get("ports") or []:
                number = port.get("hostPort") or port.get("containerPort")
                if number:
                    key = (spec["nodeName"], int(number))
                    by_node_port.setdefault(key, []).append(f"{p['metadata'].get('namespace')}/{_name(p)}")
    mine = {f"{snap.namespace}/{_name(p)}" for p in snap.live_pods()}
    for (node, port), owners in sorted(by_node_port.items()):
        if len(set(owners)) > 1 and mine & set(owners):
            fails.append(Finding(f"host-network pods {', '.join(sorted(set(owners)))} on {node} all use port {port}: "
                                 "only one can bind it",
                                 "give the release other ports (values ports.*) or keep these pods on other nodes"))
    return _layer("network", fails, warns,
                  "no HCCL interface override, host ports free" + (f", {HCCN_CONF} mounted in every server pod"
                                                                   if cross else " (single mode: no KV transfer)"))


# -- ranktable ----------------------------------------------------------------

def _status_of(cm: dict[str, Any], key: str) -> str | None:
    try:
        data = json.loads((cm.get("data") or {}).get(key) or "null")
        return str(data.get("status")) if isinstance(data, dict) else None
    except ValueError:
        return None


def _written_at(cm: dict[str, Any]) -> float | None:
    """When the ConfigMap's data last changed: the newest managedFields entry touching data."""
    times = [timestamp(m.get("time")) for m in cm["metadata"].get("managedFields") or []
             if "f:data" in json.dumps(m.get("fieldsV1") or {})]
    return max((t for t in times if t is not None), default=None)


def ranktable(snap: Snapshot) -> Layer:
    """Every per-instance rings-config-* `completed` (the Ascend Operator writes it once every pod of the
    instance has its devices: ascend-operator pkg/controllers/v1/pod.go; ranktable.py), the global table
    written from the live pods (ranktable.build_global_ranktable, compared with the ConfigMap's table and
    pod_uids), or ClusterD running to serve it; a table written moments ago still has to reach the pods'
    volumes (KUBELET_SYNC)."""
    mode = snap.mode
    if mode == "single":
        return Layer("ranktable", PASS, [Finding("single mode: the instances use no ranktable")])
    fails: list[Finding] = []
    warns: list[Finding] = []
    for cm in snap.rings_configs():
        status = _status_of(cm, HCCL_KEY)
        if status != COMPLETED:
            fails.append(Finding(
                f"{_name(cm)} is {status or 'unreadable'!s}, not completed",
                "the Ascend Operator completes it once every pod of the instance is placed with its device "
                "annotation: is it installed and running (kubectl ascend doctor, check ascend-operator)? "
                "its log: kubectl -n mindx-dl logs deploy/ascend-operator-manager"))
    if mode == "clusterd":
        if not snap.clusterd:
            fails.append(Finding("the release takes its global ranktable from ClusterD (clusterd.enabled=true), "
                                 "but ClusterD is not installed",
                                 "kubectl ascend install --set ascend-clusterd.enabled=true"))
        return _layer("ranktable", fails, warns, "every rings-config completed; ClusterD serves the global "
                      f"ranktable ({', '.join(snap.clusterd)})")
    if mode == "pymotor":
        return _layer("ranktable", fails, warns, f"{len(snap.rings_configs())} rings-config table(s) completed")
    try:
        result = build_global_ranktable(snap.release, snap.configmaps, snap.pods)
    except (RanktableError, errors.AscendError) as e:
        fails.append(Finding(f"cannot build the global ranktable: {e}", "see the finding above"))
        return _layer("ranktable", fails, warns, "")
    glob: dict[str, Any] = next((c for c in snap.configmaps if _name(c) == result.configmap), {"metadata": {}})
    data = glob.get("data") or {}
    status = _status_of(glob, GLOBAL_KEY)
    fix = f"kubectl ascend -n {snap.namespace} mindie ranktable {snap.release}"
    if not result.ready:
        if not fails:  # the rings-config findings already say why
            fails.append(Finding(f"the global ranktable cannot be built yet: {'; '.join(result.missing)}",
                                 f"once the above is fixed: {fix}"))
    elif status != COMPLETED:
        fails.append(Finding(f"configmap/{result.configmap} is still {status or 'unreadable'}: nobody wrote the "
                             "global ranktable the server pods wait for", fix))
    elif result.differs_from(data.get(GLOBAL_KEY), data.get(UIDS_KEY)):
        fails.append(Finding(f"configmap/{result.configmap} describes other pods than the live ones (a pod was "
                             "recreated or its IP changed since it was written): the new pods wait for it for ever",
                             fix))
    else:
        written = _written_at(glob)
        waiting = [_name(p) for p in snap.live_pods() if not _ready(p) and _labels(p).get(MINDIE_ROLE) in SERVER_ROLES]
        if written is not None and snap.now - written < KUBELET_SYNC and waiting:
            warns.append(Finding(f"the global ranktable was written {int(snap.now - written)}s ago; the kubelet may "
                                 f"take up to {int(KUBELET_SYNC)}s to update the pods' ConfigMap volume "
                                 f"({_few(waiting)} not Ready yet)", "wait a minute and rerun diagnose"))
    return _layer("ranktable", fails, warns, "every rings-config completed; the global ranktable is completed and "
                  "lists the live pods")


# -- service --------------------------------------------------------------------

@dataclass(frozen=True)
class Signature:
    pattern: str
    meaning: str
    fix: str
    source: str

    def search(self, text: str) -> str | None:
        m = re.search(self.pattern, text)
        if not m:
            return None
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        return " ".join(text[start:end if end >= 0 else len(text)].split())[:200]


#: Known failure lines in MindIE / CANN logs: what each means and where that is written upstream.
SIGNATURES = (
    Signature(r"\bEI0013\b", "HCCL saw an error completion (CQE) on a RoCE link of the parameter plane while running",
              "check the NPU links between the named device IPs: hccn_tool -i N -link -g and -net_health -g on both "
              "nodes (kubectl ascend preflight --hccl)",
              "CANN error code reference EI0013 Execution_Error_ROCE_CQE; raised in CANN HCCL heartbeat.cpp"),
    Signature(r"\bEJ0002\b", "HCCP (the NPU network process) reports an environment error",
              "check the node's NPU network set-up: /etc/hccn.conf address_N against hccn_tool -i N -ip -g, and no "
              "other process holding the NPUs (npu-smi info)",
              "CANN error code reference, HCCP errors EJ0001-EJ0004 (EJ0002 Environment_Error)"),
    Signature(r"HcclCommPrepare", "setting up the KV-transfer link between prefill and decode NPUs failed or timed out",
              "prefill and decode device IPs must reach each other (hccn_tool -i N -ping -g address IP) with the same "
              "TLS switch (hccn_tool -i N -tls -g) on both nodes",
              "CANN HCCL API HcclCommPrepare (LLM-DataDist builds each P/D channel with it)"),
    Signature(r"(?<![\w.])-8005(?!\d)", "the NPU driver's management interface (DCMI) returned -8005, \"Internal errors\"",
              "check the chip on that node: npu-smi info (health, other processes on the chip); "
              "kubectl ascend preflight NODE",
              "mind-cluster ascend-common/devmanager/dcmi/common.go dcmiErrMap"),
    Signature(r"Invalid device ID", "a device id given to the runtime is not one the container sees",
              f"device ids inside the pod are logical, 0..n-1 for n NPUs: fix {RT_VISIBLE_DEVICES} or npuDeviceIds",
              "mind-cluster ascend-faultdiag kg-config.json (set_device with an invalid or out-of-range id); "
              "MindIE-LLM docs service_parameter_configuration.md npuDeviceIds (logical ids)"),
    Signature(r"KV transfer failed", "MindIE's engine could not pull the KV cache from the prefill instance",
              "check the P/D device network (the network layer, hccn_tool -ping between the device IPs) and the "
              "prefill pod's log",
              "MindIE-LLM src/engine/llm_engine.cpp (\"The KV transfer failed\")"),
)


def service(snap: Snapshot) -> Layer:
    """The MindIE pods Ready (the coordinator/controller first: they front the service), and in every
    log read, the first line of each known signature."""
    fails: list[Finding] = []
    order = {r: i for i, r in enumerate(("coordinator", "controller", "single", "prefill", "decode"))}
    pods = sorted(snap.live_pods(), key=lambda p: (order.get(_labels(p).get(MINDIE_ROLE, ""), 9), _name(p)))
    placed = [p for p in pods if not unbound(p)]
    for p in placed:
        if not _ready(p):
            restarts = sum(int(cs.get("restartCount") or 0) for cs in (p.get("status") or {}).get("containerStatuses")
                           or [])
            fails.append(Finding(f"{_labels(p).get(MINDIE_ROLE, 'pod')} pod {_name(p)} is not Ready "
                                 f"({pod_state(p)}{f', {restarts} restarts' if restarts else ''})",
                                 f"kubectl -n {snap.namespace} logs {_name(p)} --all-containers; "
                                 f"kubectl -n {snap.namespace} describe pod {_name(p)}"))
    for where, text in sorted(snap.logs.items()):
        for sig in SIGNATURES:
            line = sig.search(text)
            if line:
                fails.append(Finding(f"{where}: {sig.meaning} (log: {line!r}; source: {sig.source})", sig.fix))
    if not placed:
        return _layer("service", fails or [Finding("no pod of the release is placed", "see the scheduling layer")],
                      [], "")
    return _layer("service", fails, [], f"all {len(placed)} pod(s) Ready; no known failure signature in "
                  f"{len(snap.logs)} log(s)")


CHECKS: tuple[Callable[[Snapshot], Layer], ...] = (scheduling, devices, network, ranktable, service)


def diagnose(snap: Snapshot) -> dict[str, Any]:
    """The report: every layer in order, and the first that FAILs (None when none does)."""
    layers = [check(snap) for check in CHECKS]
    first = next((lay.layer for lay in layers if lay.verdict == FAIL), None)
    return {"release": snap.release, "namespace": snap.namespace,
            "layers": [lay.as_dict() for lay in layers], "firstFailing": first}


# -- reading the cluster ------------------------------------------------------------

def _mine(objs: Iterable[dict[str, Any]], release: str) -> list[dict[str, Any]]:
    return [o for o in objs if _labels(o).get(INSTANCE) == release]


def gather(kube: KubeAPI, namespace: str, release: str, read_logs: bool = True) -> Snapshot:
    """Read what the layers look at; errors.NotFound when the namespace or the release is not there."""
    from kubectl_ascend.clusterd import find_clusterd

    if kube.get_namespace(namespace) is None:
        raise errors.NotFound(f"namespace {namespace!r} not found")
    pods = [p for p in kube.list_pods(namespace, label_selector=f"{INSTANCE}={release}")
            if _labels(p).get(PART_OF_MINDIE[0]) == PART_OF_MINDIE[1]]
    configmaps = [c for c in kube.list_configmaps(namespace, f"{INSTANCE}={release}")]
    podgroups = kube.list_podgroups(namespace)
    jobs = (kube.get_object(f"/apis/batch.volcano.sh/v1alpha1/namespaces/{namespace}/jobs") or {}).get("items") \
        if podgroups or any((p.get("spec") or {}).get("schedulerName") == "volcano" for p in pods) else []
    vcjobs = [j for j in _mine(jobs or [], release) if _labels(j).get(PART_OF_MINDIE[0]) == PART_OF_MINDIE[1]]
    if not pods and not vcjobs and not any(_labels(c).get(PART_OF_MINDIE[0]) == PART_OF_MINDIE[1]
                                           for c in configmaps):
        raise errors.NotFound(f"no mindie-service release {release!r} in namespace {namespace} (no pods, Volcano "
                              f"Jobs or ConfigMaps labelled {INSTANCE}={release}, part-of mindie-service); "
                              "check the name (helm list -n NAMESPACE) and pass -n NAMESPACE")
    mine_pg = [pg for pg in podgroups if _labels(pg).get(INSTANCE) == release
               or any(_annotations(p).get(GROUP_ANNOTATION) == _name(pg) for p in pods)]
    queues: dict[str, dict[str, Any] | None] = {}
    for pg in mine_pg:
        q = (pg.get("spec") or {}).get("queue") or "default"
        if q not in queues:
            queues[q] = kube.get_object(f"/apis/scheduling.volcano.sh/v1beta1/queues/{q}")
    snap = Snapshot(
        release=release, namespace=namespace, pods=pods, configmaps=configmaps, podgroups=mine_pg,
        events=kube.list_events(namespace), nodes=kube.list_nodes(),
        cluster_pods=kube.list_pods(field_selector="status.phase!=Succeeded,status.phase!=Failed"),
        queues=queues, vcjobs=vcjobs,
        device_plugin_pods=kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}=device-plugin"),
        clusterd=find_clusterd(kube) if any(JOB_ID_LABEL in _labels(c) for c in configmaps) else [],
        now=datetime.now(timezone.utc).timestamp())
    if read_logs:
        snap.logs = read_pod_logs(kube, snap)
    return snap


def read_pod_logs(kube: KubeAPI, snap: Snapshot) -> dict[str, str]:
    """The last LOG_TAIL lines of every started container of the release's pods ("pod/container" keys)."""
    out: dict[str, str] = {}
    for p in snap.live_pods():
        started = {cs.get("name") for cs in (p.get("status") or {}).get("containerStatuses") or []
                   if (cs.get("state") or {}).get("running") or (cs.get("state") or {}).get("terminated")
                   or (cs.get("lastState") or {}).get("terminated")}
        for c in (p.get("spec") or {}).get("containers") or []:
            if c.get("name") not in started:
                continue
            try:
                out[f"{_name(p)}/{c['name']}"] = kube.pod_log(snap.namespace, _name(p), c["name"], LOG_TAIL)
            except errors.AscendError:
                continue  # no kubelet answer (node down, or a simulated node): nothing to read
    return out


# -- --bundle ---------------------------------------------------------------------

#: Where FaultDiag (`ascend-fd parse -i DIR`) looks for each kind of log: mind-cluster v26.1.0
#: component/ascend-faultdiag/README.md ("日志清洗", the collection directory) and
#: src/ascend_fd/pkg/parse/parser_saver.py (MindieLogSaver: every file under a directory named
#: mindie_cluster_log; DlLogSaver: dl_log/<devicePlugin|volcano-scheduler|volcano-controller>, files whose
#: names start with that key and end in .log, walked recursively; the parsers keep the default names
#: devicePlugin.log etc. when there are several).
BUNDLE_MINDIE_LOGS = ("mindie", "log", "mindie_cluster_log")
BUNDLE_DL_LOGS = {"device-plugin": "devicePlugin", "volcano-scheduler": "volcano-scheduler",
                  "volcano-controllers": "volcano-controller"}


def _safe_file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200] or "_"


def bundle_objects(snap: Snapshot) -> dict[str, Any]:
    """The API objects the layers read, by file name under kubernetes/ (no Secret is ever read)."""
    return {"pods.json": snap.pods, "podgroups.json": snap.podgroups, "volcano-jobs.json": snap.vcjobs,
            "events.json": snap.events, "nodes.json": snap.nodes,
            "queues.json": {k: v for k, v in snap.queues.items()}}


def write_bundle(directory: str, snap: Snapshot, report: dict[str, Any],
                 component_logs: dict[str, dict[str, str]]) -> list[str]:
    """Write what diagnose read into DIRECTORY in FaultDiag's collection layout; return the files written.

    component_logs: {"device-plugin" | "volcano-scheduler" | "volcano-controllers": {pod name: log}}.
    Refuses a DIRECTORY that exists and is not empty (nothing is overwritten or mixed).
    """
    import os

    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise errors.InvalidInput(f"--bundle {directory}: exists and is not an empty directory; name a new one")
    written: list[str] = []

    def put(parts: tuple[str, ...], text: str) -> None:
        path = os.path.join(directory, *parts)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        written.append(os.path.relpath(path, directory))

    put(("diagnose.json",), json.dumps(report, indent=2) + "\n")
    for name, objs in bundle_objects(snap).items():
        put(("kubernetes", name), json.dumps(objs, indent=2) + "\n")
    for cm in snap.configmaps:  # rendered configs, rings-config-* and the global ranktable
        put(("kubernetes", "configmaps", _safe_file_name(_name(cm)) + ".json"), json.dumps(cm, indent=2) + "\n")
    for where, text in sorted(snap.logs.items()):
        put((*BUNDLE_MINDIE_LOGS, _safe_file_name(where.replace("/", "_")) + ".log"), text)
    for component, logs in component_logs.items():
        key = BUNDLE_DL_LOGS[component]
        for pod, text in sorted(logs.items()):
            put(("dl_log", key, _safe_file_name(pod), f"{key}.log"), text)
    return sorted(written)


def read_component_logs(kube: KubeAPI, snap: Snapshot) -> dict[str, dict[str, str]]:
    """Logs of the device-plugin pods on the release's nodes and of the Volcano scheduler and controllers."""
    nodes = {(p.get("spec") or {}).get("nodeName") for p in snap.pods} - {None}
    out: dict[str, dict[str, str]] = {}
    for component in BUNDLE_DL_LOGS:
        pods = snap.device_plugin_pods if component == "device-plugin" else \
            kube.list_pods(label_selector=f"{PART_OF},{COMPONENT}={component}")
        for p in pods:
            if component == "device-plugin" and (p.get("spec") or {}).get("nodeName") not in nodes:
                continue
            try:
                out.setdefault(component, {})[_name(p)] = kube.pod_log(p["metadata"]["namespace"], _name(p),
                                                                       tail_lines=LOG_TAIL)
            except errors.AscendError:
                continue
    return out
