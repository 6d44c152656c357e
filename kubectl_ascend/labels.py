"""MindCluster node labels: server models, accelerator detection, label plans. Pure logic.

Facts from charts/ascend-common/facts/labels.json (the charts read the same
file; docs/domain.md, "Node labels MindCluster expects" and the upstream files named in it).
`plan_node` (`plan_nodes` for several) turns a Node (as the API returns it) plus the
user's choices into a `NodePlan`: the labels we own, and how they differ from what the
node carries (`changes`, `conflicts`), so the command can refuse on conflicts, print a
dry run, or patch only what changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from kubectl_ascend import facts
from kubectl_ascend.workloads import npu_count

_FACTS = facts.labels()
_KEYS = _FACTS["keys"]

ACCELERATOR = _KEYS["accelerator"]
ACCELERATOR_TYPE = _KEYS["acceleratorType"]
HOST_ARCH = _KEYS["hostArch"]
WORKER_ROLE = _KEYS["workerRole"]
WORKER_SELECTOR = _KEYS["workerSelector"]
MASTER_SELECTOR = _KEYS["masterSelector"]
SERVER_USAGE = _KEYS["serverUsage"]
SERVER_TYPE = _KEYS["serverType"]
#: NodeD's switch: with "on" NodeD judges node faults (mind-cluster v26.1.0 docs/en/scheduling/api/k8s.md).
NODED_ENABLE = _KEYS["nodeDEnable"]
CHIP_LABELS = tuple(_KEYS["chipName"])
#: Fixed label values: masterselector=dls-master-node, workerselector=dls-worker-node, worker role, nodeDEnable=on.
MASTER_NODE = _FACTS["values"]["masterSelector"]
WORKER_NODE = _FACTS["values"]["workerSelector"]
WORKER_ROLE_VALUE = _FACTS["values"]["workerRole"]
NODED_ON = _FACTS["values"]["nodeDEnable"]

#: Every label key label-node may write; nothing else is ever patched.
OWNED_KEYS = (ACCELERATOR, ACCELERATOR_TYPE, HOST_ARCH, WORKER_ROLE, WORKER_SELECTOR,
              MASTER_SELECTOR, SERVER_USAGE, SERVER_TYPE, NODED_ENABLE)
#: Labels still written by hand although the release's device plugin sets the key: the plugin sets
#: servertype only where it is absent on 910/310/310P nodes, and the SoC DaemonSet selects
#: servertype=soc (mind-cluster v26.1.0 component/ascend-device-plugin/pkg/server/manager.go
#: getNewNodeLabel; build/ascendplugin-310P-1usoc-volcano.yaml).
MANUAL_ANYWAY = {(SERVER_TYPE, "soc")}

#: --accelerator value (family) -> accelerator label value.
FAMILIES: dict[str, str] = {fam: f["accelerator"] for fam, f in _FACTS["families"].items()}
#: Extended resource name -> family.
RESOURCE_FAMILIES: dict[str, str] = {f["resource"]: fam for fam, f in _FACTS["families"].items()}
#: status.nodeInfo.architecture -> host-arch label value.
ARCH: dict[str, str] = dict(_FACTS["hostArch"])


@dataclass(frozen=True)
class ServerModel:
    """A row of the MindCluster server-model table."""

    key: str
    name: str
    family: str
    accelerator_type: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


SERVER_MODELS: dict[str, ServerModel] = {
    key: ServerModel(key, m["name"], m["family"], m.get("acceleratorType"),
                     tuple((m.get("extraLabels") or {}).items()))
    for key, m in _FACTS["serverModels"].items()}


def accelerator_table() -> dict[str, Any]:
    """NPU facts per accelerator-type (facts/accelerators.json, which mindie-service validates with).

    ``types[<accelerator-type>]`` has ``family``, ``npusPerNode``, ``allowedPerPod`` (a pod that is
    its whole Volcano job) and ``allowedPerPodMulti`` (each pod of a multi-pod job).
    """
    return facts.accelerators()


def type_for_node_size(prefix: str, npus: int) -> str | None:
    """The accelerator-type named PREFIX* whose nodes have NPUS NPUs, when exactly one has.

    Types the device plugin tells by board id (``writtenByDevicePlugin``) are never guessed from a size.
    """
    found = [name for name, t in accelerator_table()["types"].items()
             if name.startswith(prefix) and int(t["npusPerNode"]) == npus and not t.get("writtenByDevicePlugin")]
    return found[0] if len(found) == 1 else None


class DetectionError(ValueError):
    """The accelerator family of a node cannot be told from what it advertises."""


def npu_resources(node: dict[str, Any]) -> dict[str, int]:
    """Whole-chip NPU resources a node advertises (capacity), e.g. {'huawei.com/Ascend910': 8}."""
    cap = (node.get("status") or {}).get("capacity") or {}
    out = {}
    for key, val in cap.items():
        count = npu_count(val) if key.startswith("huawei.com/") else None
        if count is not None:  # a capacity that is not a whole number is no NPU count (npu_count)
            out[key] = count
    return out


def chip_name(node: dict[str, Any]) -> str | None:
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key in CHIP_LABELS:
        if labels.get(key):
            return str(labels[key])
    return None


def detect_family(node: dict[str, Any]) -> str:
    """The family ('910', '310', '310P', 'npu') from resources, else from the chip-name label."""
    res = npu_resources(node)
    found = set()
    for key in res:
        # virtual NPUs: huawei.com/Ascend910-2c belongs to huawei.com/Ascend910
        base = key.split("-")[0] if key.startswith("huawei.com/Ascend") else key
        if base in RESOURCE_FAMILIES:
            found.add(RESOURCE_FAMILIES[base])
    if len(found) == 1:
        return found.pop()
    if len(found) > 1:
        raise DetectionError(f"advertises several NPU families ({', '.join(sorted(found))})")
    chip = (chip_name(node) or "").upper().replace("ASCEND", "")
    # the longest chip-name prefix wins (310P before 310)
    prefixes = sorted(((p.upper(), fam) for fam, f in _FACTS["families"].items() for p in f["chipPrefixes"]),
                      key=lambda pf: -len(pf[0]))
    for prefix, fam in prefixes:
        if chip.startswith(prefix):
            return str(fam)
    raise DetectionError("advertises no huawei.com/* NPU resource and has no chip-name label")


def auto_accelerator_type(node: dict[str, Any], family: str) -> str | None:
    """accelerator-type only where chip name and NPU count leave one answer.

    910B with 8 chips is module-910b-8 (800T A2, 800I A2 and 900 A2 PoD agree),
    16 is module-910b-16, 2 is card-910b-2; first-generation 910 with 8 chips is
    `module`. A3 (910_93) and everything else is ambiguous: pass --server-model.
    A type the device plugin writes itself from the board id (card-910b-infer for
    Atlas 300I A2 cards, mind-cluster v26.1.0 component/ascend-device-plugin/pkg/server/
    manager.go getNewNodeLabel) is kept when the node already carries it.
    """
    if family != "910":
        return None
    table = accelerator_table()["types"]
    have = ((node.get("metadata") or {}).get("labels") or {}).get(ACCELERATOR_TYPE)
    if have in table and table[have].get("writtenByDevicePlugin") and table[have]["family"] == family:
        return str(have)
    f910 = _FACTS["families"]["910"]
    chip = (chip_name(node) or "").upper().replace("ASCEND", "")
    count = npu_resources(node).get(f910["resource"])
    if chip.startswith(f910["bChipPrefix"]):
        # module-910b-8, module-910b-16, card-910b-2: told apart by NPUs per node (accelerators.json)
        return type_for_node_size("module-910b-", count or 0) or type_for_node_size("card-910b-", count or 0)
    if chip in f910["moduleChips"] and count == table["module"]["npusPerNode"]:
        return "module"
    return None


@dataclass
class NodePlan:
    """What label-node will do to one node."""

    node: str
    desired: dict[str, str]
    current: dict[str, str]
    error: str | None = None
    #: shows no NPU at all (no huawei.com/* resource, no chip-name label): --all / -l skip it
    undetectable: bool = False
    #: keys not written because the release's device plugin sets them itself
    left_to_plugin: tuple[str, ...] = ()
    changes: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    conflicts: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def noop(self) -> bool:
        return not self.changes and self.error is None


def plan_node(node: dict[str, Any], *, role: str = "worker", accelerator: str = "auto",
              server_model: str | None = None, plugin_sets: tuple[str, ...] = (), noded: bool = False) -> NodePlan:
    """Desired labels for one node and how they differ from its current ones.

    plugin_sets: label keys the MindCluster release's device plugin writes itself
    (releases.Release.plugin_sets_labels; 26.1.0: accelerator, servertype); they are left
    out (but `MANUAL_ANYWAY`), and the accelerator family need not be detectable then.
    noded: NodeD is in use, so workers also get nodeDEnable=on.
    """
    meta = node.get("metadata") or {}
    name = meta.get("name", "?")
    current = {k: str(v) for k, v in (meta.get("labels") or {}).items()}
    if role == "master":
        desired = {MASTER_SELECTOR: MASTER_NODE}
        return _diff(NodePlan(name, desired, current))
    model = SERVER_MODELS[server_model] if server_model else None
    no_npu_seen = not npu_resources(node) and not chip_name(node)
    family: str | None
    undetected = False
    try:
        if accelerator != "auto":
            family = accelerator
        elif model:
            try:
                family = detect_family(node)
            except DetectionError:
                family = model.family  # nothing advertised yet: trust the operator's model
        else:
            family = detect_family(node)
    except DetectionError as e:
        if ACCELERATOR not in plugin_sets:
            return NodePlan(name, {}, current, error=f"node {name}: cannot detect the accelerator: {e}; "
                            "pass --accelerator 910|310|310P|npu or --server-model", undetectable=no_npu_seen)
        family = None  # the device plugin finds the chip itself
        undetected = no_npu_seen
    if model and family and model.family != family:
        return NodePlan(name, {}, current, error=f"node {name}: --server-model {model.key} is an Ascend "
                        f"{model.family} server but the accelerator is {family}")
    desired = {
        WORKER_ROLE: WORKER_ROLE_VALUE,
        WORKER_SELECTOR: WORKER_NODE,
    }
    if family:
        desired[ACCELERATOR] = FAMILIES[family]
    arch = ((node.get("status") or {}).get("nodeInfo") or {}).get("architecture", "")
    if arch in ARCH:
        desired[HOST_ARCH] = ARCH[arch]
    else:
        return NodePlan(name, {}, current, error=f"node {name}: unknown architecture {arch!r} in "
                        "status.nodeInfo (want arm64 or amd64)")
    acc_type = model.accelerator_type if model else auto_accelerator_type(node, family) if family else None
    if acc_type:
        desired[ACCELERATOR_TYPE] = acc_type
    for k, v in (model.extra if model else ()):
        desired[k] = v
    if noded:
        desired[NODED_ENABLE] = NODED_ON
    left = tuple(k for k in plugin_sets if k in OWNED_KEYS and (k, desired.get(k)) not in MANUAL_ANYWAY)
    for k in left:
        desired.pop(k, None)
    return _diff(NodePlan(name, desired, current, undetectable=undetected, left_to_plugin=left))


def _diff(plan: NodePlan) -> NodePlan:
    for key, want in plan.desired.items():
        have = plan.current.get(key)
        if have == want:
            continue
        plan.changes[key] = (have, want)
        if have is not None:
            plan.conflicts[key] = (have, want)
    return plan


def plan_nodes(nodes: Iterable[dict[str, Any]], **kw: Any) -> list[NodePlan]:
    return [plan_node(n, **kw) for n in nodes]
