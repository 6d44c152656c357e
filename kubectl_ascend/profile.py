"""The cluster-aware install profile: chart values decided from the nodes in front of us. Pure logic.

`decide` looks at the Nodes (as the API returns them) and returns the umbrella
values it would set plus a sentence per decision, so `install` can show what
it decided before applying. User values (-f/--set) are merged on top: the
user always wins.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubectl_ascend import errors
from kubectl_ascend.facts import labels as label_facts
from kubectl_ascend.labels import ACCELERATOR, MASTER_NODE, MASTER_SELECTOR, SERVER_TYPE, WORKER_NODE, \
    WORKER_SELECTOR, npu_resources
from kubectl_ascend.releases import SINGLE, VERSION_PATH, Release, default_version, release as release_facts

#: accelerator label value -> device-plugin family key in the chart values (facts/labels.json).
FAMILY_KEYS: dict[str, str] = {f["accelerator"]: f["devicePluginKey"] for f in label_facts()["families"].values()}
DP, VOLCANO, OPERATOR, RUNTIME, MINDIE = (
    "ascend-device-plugin", "ascend-volcano", "ascend-operator", "ascend-docker-runtime", "mindie-service")
#: optional components (off unless enabled)
CLUSTERD, NODED, NPU_EXPORTER = "ascend-clusterd", "ascend-noded", "ascend-npu-exporter"


@dataclass
class ClusterFacts:
    nodes: int
    npu_nodes: dict[str, int]            # accelerator label value -> labelled node count
    unlabelled_npu_nodes: list[str]
    masters: list[str]
    workers: list[str] = field(default_factory=list)   # workerselector=dls-worker-node
    #: nodes that advertise NPUs or carry an accelerator label but no workerselector
    unselected_npu_nodes: list[str] = field(default_factory=list)
    #: Atlas 200I SoC A1 nodes (servertype=soc): only the opt-in SoC DaemonSet serves them
    soc_nodes: list[str] = field(default_factory=list)

    @property
    def single_node(self) -> bool:
        return self.nodes == 1


@dataclass
class Profile:
    facts: ClusterFacts
    values: dict[str, Any]
    decisions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def facts_from_nodes(nodes: list[dict[str, Any]]) -> ClusterFacts:
    npu: dict[str, int] = {}
    unlabelled, masters, workers, unselected, soc = [], [], [], [], []
    for n in nodes:
        labels = n["metadata"].get("labels") or {}
        name = n["metadata"]["name"]
        acc = labels.get(ACCELERATOR)
        if acc:
            npu[acc] = npu.get(acc, 0) + 1
        elif npu_resources(n):
            unlabelled.append(name)
        if labels.get(MASTER_SELECTOR) == MASTER_NODE:
            masters.append(name)
        if labels.get(SERVER_TYPE) == "soc":
            soc.append(name)
        if labels.get(WORKER_SELECTOR) == WORKER_NODE:
            workers.append(name)
        elif acc or npu_resources(n):
            unselected.append(name)
    return ClusterFacts(len(nodes), npu, sorted(unlabelled), sorted(masters), sorted(workers), sorted(unselected),
                        sorted(soc))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    """`a.b.c=value` pairs (values parsed as YAML scalars: true, 3, "x") into nested dicts."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise errors.InvalidInput(f"--set {item!r}: want KEY=VALUE (e.g. ascend-volcano.enabled=false)")
        key, raw = item.split("=", 1)
        parts = [p for p in key.split(".")]
        if not key or any(not p for p in parts):
            raise errors.InvalidInput(f"--set {item!r}: empty key segment")
        try:
            val = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            val = raw
        cur = out
        for p in parts[:-1]:
            nxt = cur.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise errors.InvalidInput(f"--set {item!r}: {p} is already set to a scalar")
            cur = nxt
        cur[parts[-1]] = val
    return out


def enabled(values: dict[str, Any], chart: str, default: bool = True) -> bool:
    v = values.get(chart, {})
    return bool(v.get("enabled", default)) if isinstance(v, dict) else default


def set_path(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    cur = values
    for key in path[:-1]:
        nxt = cur.get(key)
        if not isinstance(nxt, dict):
            nxt = cur[key] = {}
        cur = nxt
    cur[path[-1]] = value


def _plural(n: int, word: str = "node") -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def decide(nodes: list[dict[str, Any]], user: dict[str, Any], release: Release | None = None) -> Profile:
    """Values for the umbrella from the cluster, with user values on top. Refuses unusable clusters.

    `release` (default: the default MindCluster release) decides the device-plugin layout the
    decisions follow: per family, the DaemonSets select `accelerator=...` and need labelled
    nodes; single (26.1+), one DaemonSet runs on `workerselector=dls-worker-node` and sets
    `accelerator` itself, so only that label is needed. The version ends up in
    global.mindcluster.version whatever the user values say (install chose it already).
    """
    rel = release or release_facts(default_version())
    facts = facts_from_nodes(nodes)
    user_dp: dict[str, Any] = user[DP] if isinstance(user.get(DP), dict) else {}
    layout = str(user_dp.get("layout") or rel.layout)
    if layout == SINGLE:
        if not facts.workers:
            hint = (f" ({_plural(len(facts.unselected_npu_nodes))} with NPUs lack it)"
                    if facts.unselected_npu_nodes else "")
            raise errors.InvalidInput(
                f"no node carries workerselector=dls-worker-node{hint}: the {rel.name} device plugin runs only "
                "there; run `kubectl ascend label-node --all` (and `kubectl ascend label-node NODE --role master` "
                "for the management node) first")
    elif not facts.npu_nodes:
        hint = (f" ({len(facts.unlabelled_npu_nodes)} node(s) advertise NPUs but are unlabelled)"
                if facts.unlabelled_npu_nodes else "")
        raise errors.InvalidInput(
            f"no node carries MindCluster labels{hint}; run `kubectl ascend label-node --all` "
            "(and `kubectl ascend label-node NODE --role master` for the management node) first")
    values: dict[str, Any] = {}
    p = Profile(facts, values)
    volcano_on = enabled(user, VOLCANO)
    if layout == SINGLE:
        values[DP] = {"volcanoType": volcano_on}
        p.decisions.append(f"device plugin: one DaemonSet on workerselector=dls-worker-node "
                           f"({_plural(len(facts.workers))}); it sets the accelerator label itself ({rel.name})")
    else:
        families = {FAMILY_KEYS[a]: n for a, n in facts.npu_nodes.items() if a in FAMILY_KEYS}
        fam_values = {key: {"enabled": key in families} for key in FAMILY_KEYS.values()}
        values[DP] = {"families": fam_values, "volcanoType": volcano_on}
        p.decisions.append("device plugin DaemonSets for: " + ", ".join(
            f"{k} ({_plural(n)})" for k, n in sorted(families.items())))
    p.decisions.append(f"device plugin -volcanoType={'true' if volcano_on else 'false'} "
                       f"(Volcano {'enabled' if volcano_on else 'disabled'})")
    if volcano_on:
        user_vc: dict[str, Any] = user[VOLCANO] if isinstance(user.get(VOLCANO), dict) else {}
        wanted = str(user_vc.get("volcanoVersion") or "")
        if wanted and wanted not in rel.volcano_versions:
            raise errors.InvalidInput(
                f"ascend-volcano.volcanoVersion={wanted}: {rel.name} ships Volcano "
                f"{', '.join(rel.volcano_versions)} only")
        others = [v for v in rel.volcano_versions if v != (wanted or rel.volcano_default)]
        p.decisions.append(f"Volcano {wanted or rel.volcano_default} ("
                           + ("ascend-volcano.volcanoVersion" if wanted else f"{rel.name} default")
                           + (f"; it also ships {', '.join(others)}" if others else "") + ")")
    values[VOLCANO] = {"scheduler": {"initParams": {"useClusterInfoManager": "false"}}}
    if enabled(user, CLUSTERD, default=False):
        # ClusterD on switches Volcano to it (the umbrella refuses the mismatch)
        values[VOLCANO] = {"scheduler": {"initParams": {"useClusterInfoManager": "true"}},
                           "clusterd": {"installed": True}}
        p.decisions.append("ClusterD enabled: Volcano useClusterInfoManager=\"true\" (reads ClusterD's ConfigMaps)")
        # ClusterD builds MindIE's global ranktable; a PD release rendered without it waits for a
        # ConfigMap ClusterD never writes (see kubectl_ascend/mindie.py clusterd_plan)
        p.decisions.append("ClusterD builds MindIE's global ranktable: install mindie-service PD releases with "
                           "--set clusterd.enabled=true (mindie-service.clusterd.enabled=true in ascend-stack)")
        if facts.single_node:
            p.warnings.append("single-node cluster with ClusterD: MindCluster requires useClusterInfoManager "
                              "\"false\" on one node; set ascend-clusterd.enabled=false")
    elif facts.single_node:
        p.decisions.append("single-node cluster: Volcano useClusterInfoManager=\"false\" "
                           "(required on one node), one replica per component")
    else:
        p.decisions.append("Volcano useClusterInfoManager=\"false\" (ClusterD is not enabled)")
    if layout == SINGLE:
        if facts.unselected_npu_nodes:
            p.warnings.append(f"{len(facts.unselected_npu_nodes)} node(s) with NPUs carry no "
                              "workerselector=dls-worker-node label and get no device plugin: "
                              f"{', '.join(facts.unselected_npu_nodes[:10])} (run `kubectl ascend label-node --all`)")
    elif facts.unlabelled_npu_nodes:
        p.warnings.append(f"{len(facts.unlabelled_npu_nodes)} node(s) advertise NPUs but carry no accelerator "
                          f"label and get no device plugin: {', '.join(facts.unlabelled_npu_nodes[:10])}"
                          " (run `kubectl ascend label-node --all`)")
    soc_on = bool(((user_dp.get("families") or {}).get("ascend310p") or {}).get("soc", {}).get("enabled"))
    if facts.soc_nodes and not soc_on:
        p.warnings.append(f"no device plugin serves the {_plural(len(facts.soc_nodes))} labelled servertype=soc "
                          f"(Atlas 200I SoC A1): {', '.join(facts.soc_nodes[:10])}; its SoC variant is opt-in: "
                          "--set ascend-device-plugin.families.ascend310p.soc.enabled=true with "
                          "soc.image.repository/tag of your SoC build")
    merged = deep_merge(values, user)
    set_path(merged, VERSION_PATH, rel.version)
    needs_master = enabled(merged, VOLCANO) or enabled(merged, OPERATOR) or enabled(merged, CLUSTERD, default=False)
    if needs_master and not facts.masters:
        raise errors.InvalidInput(
            f"no management node is labelled {MASTER_SELECTOR}={MASTER_NODE}, so Volcano and the Ascend "
            "Operator could not be scheduled; run `kubectl ascend label-node NODE --role master` first")
    p.values = merged
    return p
