"""MindCluster node labels: server models, accelerator detection, label plans. Pure logic.

Facts from DESIGN.md §3.2. `plan_labels` turns a Node (as the API returns it)
plus the user's choices into the labels we own; `diff` compares them with
what the node carries so the command can refuse on conflicts, print a dry
run, or patch only what changes.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

ACCELERATOR = "accelerator"
ACCELERATOR_TYPE = "accelerator-type"
HOST_ARCH = "host-arch"
WORKER_ROLE = "node-role.kubernetes.io/worker"
WORKER_SELECTOR = "workerselector"
MASTER_SELECTOR = "masterselector"
SERVER_USAGE = "server-usage"
SERVER_TYPE = "servertype"
#: NodeD's switch: with "on" NodeD judges node faults (mind-cluster v26.1.0 docs/en/scheduling/api/k8s.md).
NODED_ENABLE = "nodeDEnable"
CHIP_LABELS = ("huawei.com/npu.chip.name", "node.kubernetes.io/npu.chip.name")

#: Every label key label-node may write; nothing else is ever patched.
OWNED_KEYS = (ACCELERATOR, ACCELERATOR_TYPE, HOST_ARCH, WORKER_ROLE, WORKER_SELECTOR,
              MASTER_SELECTOR, SERVER_USAGE, SERVER_TYPE, NODED_ENABLE)
#: Labels still written by hand although the release's device plugin sets the key: the plugin sets
#: servertype only where it is absent on 910/310/310P nodes, and the SoC DaemonSet selects
#: servertype=soc (mind-cluster v26.1.0 component/ascend-device-plugin/pkg/server/manager.go
#: getNewNodeLabel; build/ascendplugin-310P-1usoc-volcano.yaml).
MANUAL_ANYWAY = {(SERVER_TYPE, "soc")}

#: --accelerator value -> accelerator label value.
FAMILIES = {
    "910": "huawei-Ascend910",
    "310": "huawei-Ascend310",
    "310P": "huawei-Ascend310P",
    "npu": "huawei-npu",
}
#: Extended resource prefix -> family (checked in order: 310P before 310).
RESOURCE_FAMILIES = (
    ("huawei.com/Ascend910", "910"),
    ("huawei.com/Ascend310P", "310P"),
    ("huawei.com/Ascend310", "310"),
    ("huawei.com/npu", "npu"),
)
ARCH = {"arm64": "huawei-arm", "aarch64": "huawei-arm", "amd64": "huawei-x86", "x86_64": "huawei-x86"}


@dataclass(frozen=True)
class ServerModel:
    """A row of the MindCluster server-model table."""

    key: str
    name: str
    family: str
    accelerator_type: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


SERVER_MODELS: dict[str, ServerModel] = {m.key: m for m in (
    ServerModel("atlas-800-training", "Atlas 800 training server (full)", "910", "module"),
    ServerModel("atlas-800-training-half", "Atlas 800 training server (half)", "910", "half"),
    ServerModel("atlas-800t-a2", "Atlas 800T A2", "910", "module-910b-8"),
    ServerModel("atlas-900-a2-pod", "Atlas 900 A2 PoD", "910", "module-910b-8"),
    ServerModel("atlas-800i-a2", "Atlas 800I A2", "910", "module-910b-8", ((SERVER_USAGE, "infer"),)),
    ServerModel("atlas-200t-a2-box16", "Atlas 200T A2 Box16", "910", "module-910b-16"),
    ServerModel("atlas-200i-a2-box16", "Atlas 200I A2 Box16", "910", "module-910b-16"),
    ServerModel("atlas-800t-a3", "Atlas 800T A3", "910", "module-a3-16"),
    ServerModel("atlas-800i-a3", "Atlas 800I A3", "910", "module-a3-16", ((SERVER_USAGE, "infer"),)),
    ServerModel("a200t-a3-box8", "A200T A3 Box8", "910", "module-a3-16"),
    ServerModel("atlas-900-a3-superpod", "Atlas 900 A3 SuperPoD", "910", "module-a3-16-super-pod"),
    ServerModel("atlas-300t", "Atlas 300T training card", "910", "card"),
    ServerModel("atlas-300t-a2", "Atlas 300T A2 training card", "910", "card-910b-2"),
    ServerModel("atlas-300i", "Atlas 300I inference card", "310"),
    ServerModel("atlas-300i-duo", "Atlas 300I Duo / other 310P inference cards", "310P"),
    ServerModel("atlas-200i-soc-a1", "Atlas 200I SoC A1", "310P", None, ((SERVER_TYPE, "soc"),)),
    ServerModel("ascend-950", "Ascend 950 servers", "npu"),
)}


@functools.lru_cache(maxsize=1)
def accelerator_table() -> dict[str, Any]:
    """NPU facts per family and accelerator-type: the mindie-service chart's files/accelerators.json.

    One table for the chart (its validations refuse NPU counts a node type cannot give a pod)
    and for this module: ``types[<accelerator-type>]`` has ``family``, ``npusPerNode`` and
    ``allowedPerPod``.
    """
    from kubectl_ascend.helm import charts_root

    with open(charts_root() / "mindie-service" / "files" / "accelerators.json", encoding="utf-8") as f:
        table: dict[str, Any] = json.load(f)
    return table


def type_for_node_size(prefix: str, npus: int) -> str | None:
    """The accelerator-type named PREFIX* whose nodes have NPUS NPUs, when exactly one has."""
    found = [name for name, t in accelerator_table()["types"].items()
             if name.startswith(prefix) and int(t["npusPerNode"]) == npus]
    return found[0] if len(found) == 1 else None


class DetectionError(ValueError):
    """The accelerator family of a node cannot be told from what it advertises."""


def npu_resources(node: dict[str, Any]) -> dict[str, int]:
    """Whole-chip NPU resources a node advertises (capacity), e.g. {'huawei.com/Ascend910': 8}."""
    cap = (node.get("status") or {}).get("capacity") or {}
    out = {}
    for key, val in cap.items():
        if key.startswith("huawei.com/"):
            try:
                out[key] = int(str(val))
            except ValueError:
                continue
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
        base = key.split("-")[0] if key.startswith("huawei.com/Ascend") else key
        for prefix, fam in RESOURCE_FAMILIES:
            if base == prefix:
                found.add(fam)
                break
    if len(found) == 1:
        return found.pop()
    if len(found) > 1:
        raise DetectionError(f"advertises several NPU families ({', '.join(sorted(found))})")
    chip = (chip_name(node) or "").upper().replace("ASCEND", "")
    if chip.startswith("910"):
        return "910"
    if chip.startswith("310P"):
        return "310P"
    if chip.startswith("310"):
        return "310"
    if chip.startswith("950"):
        return "npu"
    raise DetectionError("advertises no huawei.com/* NPU resource and has no chip-name label")


def auto_accelerator_type(node: dict[str, Any], family: str) -> str | None:
    """accelerator-type only where chip name and NPU count leave one answer.

    910B with 8 chips is module-910b-8 (800T A2, 800I A2 and 900 A2 PoD agree),
    16 is module-910b-16, 2 is card-910b-2; first-generation 910 with 8 chips is
    `module`. A3 (910_93) and everything else is ambiguous: pass --server-model.
    """
    if family != "910":
        return None
    chip = (chip_name(node) or "").upper().replace("ASCEND", "")
    count = npu_resources(node).get("huawei.com/Ascend910")
    if chip.startswith("910B"):
        # module-910b-8, module-910b-16, card-910b-2: told apart by NPUs per node (accelerators.json)
        return type_for_node_size("module-910b-", count or 0) or type_for_node_size("card-910b-", count or 0)
    if chip in ("910", "910A", "910PROA", "910PROB", "910PREMIUMA") and count == accelerator_table()["types"][
            "module"]["npusPerNode"]:
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
        desired = {MASTER_SELECTOR: "dls-master-node"}
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
        WORKER_ROLE: "worker",
        WORKER_SELECTOR: "dls-worker-node",
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
        desired[NODED_ENABLE] = "on"
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
