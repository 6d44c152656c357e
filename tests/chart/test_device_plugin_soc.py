"""The Atlas 200I SoC A1 device plugin variant (daemonset-310p-soc.yaml) under every MindCluster release.

Facts (Ascend/mind-cluster, component/ascend-device-plugin/build/ at v26.0.0 and v26.1.0):
ascendplugin-310P-1usoc-volcano.yaml selects accelerator=huawei-Ascend310P + servertype=soc at
v26.0.0 and workerselector=dls-worker-node + servertype=soc at v26.1.0; run_for_310P_1usoc.sh
passes -useAscendDocker=false at both tags although main.go defines that flag at v26.0.0 only.
The release differences are read from charts/ascend-common/facts/mindcluster.json.

Scenarios:
- the SoC DaemonSet renders under every release (both layouts), with the release's selector, and
  from 26.1.0 a start command of its own whose arguments equal the ordinary plugin's (no
  -useAscendDocker), health probe and MOUNT_BY_RUNTIME_FOR_DP as upstream's 26.1.0 SoC yaml;
- plugin and chart agree: for every server model of charts/ascend-common/facts/labels.json, the
  labels `kubectl ascend label-node` writes (kubectl_ascend.labels.plan_node with the release's
  plugin_sets), before and after the 26.1.0 plugin adds its own, are selected by exactly one
  device-plugin DaemonSet in the release's layout and by at most one in a forced layout;
- NOTES warn about unserved SoC nodes exactly when a DaemonSet excludes them and the variant is off.
"""
from __future__ import annotations

import json
import os
from typing import Any

import pytest

from kubectl_ascend import labels as labelmod
from kubectl_ascend import releases
from tests.chart.helmutil import find, render
from tests.tooling import CHARTS, need_tool, run

pytestmark = pytest.mark.chart

CHART = "ascend-device-plugin"
SOC_DS = "ascend-device-plugin-daemonset-310p-soc"
FACTS = json.loads((CHARTS / "ascend-common" / "facts" / "mindcluster.json").read_text())
RELEASES: dict[str, Any] = FACTS["releases"]
LABELS = json.loads((CHARTS / "ascend-common" / "facts" / "labels.json").read_text())
FAMILY_KEYS = ["ascend910", "ascend310", "ascend310p", "npu"]


def values(version: str, layout: str = "", soc: bool = True) -> dict[str, Any]:
    vals: dict[str, Any] = {
        "global": {"mindcluster": {"version": version}},
        "layout": layout,
        "families": {k: {"enabled": True} for k in FAMILY_KEYS},
    }
    if soc:
        vals["families"]["ascend310p"]["soc"] = {"enabled": True, "image": {
            "repository": "ascendhub/ascend-k8sdeviceplugin", "tag": "soc-build"}}
    return vals


def daemonsets(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in find(objs, "DaemonSet")}


def pod_spec(ds: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = ds["spec"]["template"]["spec"]
    return spec


def main(ds: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod_spec(ds)["containers"] if c["name"] == "device-plugin")


# --- the SoC DaemonSet per release --------------------------------------------------------------

@pytest.mark.parametrize("layout", ["", "perFamily", "single"])
@pytest.mark.parametrize("version", sorted(RELEASES))
def test_soc_variant_renders_with_the_release_selector(version: str, layout: str) -> None:
    rel = RELEASES[version]
    ds = daemonsets(render(CHART, values(version, layout)))[SOC_DS]
    sel = pod_spec(ds)["nodeSelector"]
    if "accelerator" in rel["devicePluginSetsLabels"]:
        # upstream v26.1.0 ascendplugin-310P-1usoc-volcano.yaml
        assert sel == {"workerselector": "dls-worker-node", "servertype": "soc"}
    else:
        assert sel == {"accelerator": "huawei-Ascend310P", "servertype": "soc"}
    assert ds["spec"]["selector"]["matchLabels"]["ascend.huawei.com/family"] == "310p-soc"
    assert "app.kubernetes.io/version" not in ds["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_soc_start_command_is_valid_for_the_release_binary(version: str) -> None:
    feats = RELEASES[version]["features"]
    objs = render(CHART, values(version))
    dss = daemonsets(objs)
    c = main(dss[SOC_DS])
    words = " ".join([*c["command"], *c.get("args", [])])
    if feats["useAscendDockerFlag"]:
        # the image's script: valid for this binary (it defines -useAscendDocker)
        assert c["command"] == ["/bin/bash", "-c", "/run_for_310P_1usoc.sh"]
        assert "args" not in c
    else:
        # the image's script would pass -useAscendDocker=false: the binary would stop on it
        assert "run_for_310P_1usoc.sh" not in words
        assert "useAscendDocker" not in words
        script = c["command"][2]
        for step in ("/var/slogd -d", "/var/dmp_daemon -I -M -U 8087", 'exec /usr/local/bin/device-plugin "$@"'):
            assert step in script, step
        assert c["command"][:2] == ["/bin/bash", "-c"] and c["command"][3] == "device-plugin"
        ordinary = next(d for n, d in dss.items() if n != SOC_DS)
        assert c["args"] == main(ordinary)["args"]
    assert ("--enable-healthz=true" in words) == feats["healthz"]
    assert ("livenessProbe" in c) == feats["healthz"]
    assert ({"name": "MOUNT_BY_RUNTIME_FOR_DP", "value": "true"} in c["env"]) == feats["mountByRuntimeForDP"]
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:soc-build"


def test_soc_extra_args_follow_the_310p_family() -> None:
    version = next(v for v, r in RELEASES.items() if not r["features"]["useAscendDockerFlag"])
    vals = values(version)
    vals["families"]["ascend310p"]["extraArgs"] = ["-use310PMixedInsert=true"]
    vals["extraArgs"] = ["-listWatchPeriod=7"]
    c = main(daemonsets(render(CHART, vals))[SOC_DS])
    assert c["args"][-2:] == ["-listWatchPeriod=7", "-use310PMixedInsert=true"]


# --- no node is selected by two DaemonSets (plugin and chart agree) ------------------------------

def _expr_matches(expr: dict[str, Any], node_labels: dict[str, str]) -> bool:
    key, op, vals = expr["key"], expr["operator"], expr.get("values") or []
    if op == "In":
        return key in node_labels and node_labels[key] in vals
    if op == "NotIn":
        return key not in node_labels or node_labels[key] not in vals
    if op == "Exists":
        return key in node_labels
    if op == "DoesNotExist":
        return key not in node_labels
    raise AssertionError(f"operator {op} not modelled")


def selects(ds: dict[str, Any], node_labels: dict[str, str]) -> bool:
    """The scheduler's node selection of a DaemonSet pod: nodeSelector and required node affinity."""
    spec = pod_spec(ds)
    if any(node_labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not req:
        return True
    return any(all(_expr_matches(e, node_labels) for e in term.get("matchExpressions") or [])
               for term in req["nodeSelectorTerms"])


def node_states(model: str, version: str) -> list[dict[str, str]]:
    """Labels of a node of `model` after `kubectl ascend label-node --server-model`, and after the release's
    device plugin added its own (mind-cluster v26.1.0 pkg/server/manager.go getNewNodeLabel: accelerator,
    servertype only where absent, never "soc")."""
    rel = releases.release(version)
    fam = LABELS["serverModels"][model]["family"]
    node = {"metadata": {"name": f"n-{model}", "labels": {}},
            "status": {"nodeInfo": {"architecture": "arm64"}}}
    plan = labelmod.plan_node(node, accelerator=fam, server_model=model, plugin_sets=rel.plugin_sets_labels)
    assert plan.error is None, plan.error
    before = dict(plan.desired)
    after = dict(before)
    if "accelerator" in rel.plugin_sets_labels:
        after["accelerator"] = LABELS["families"][fam]["accelerator"]
    if "servertype" in rel.plugin_sets_labels:
        after.setdefault("servertype", f"Ascend{fam}-8")
    return [before, after]


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_label_node_keeps_servertype_soc_the_soc_daemonset_selects(version: str) -> None:
    before, _ = node_states("atlas-200i-soc-a1", version)
    sel = pod_spec(daemonsets(render(CHART, values(version)))[SOC_DS])["nodeSelector"]
    assert all(before.get(k) == v for k, v in sel.items()), (before, sel)
    assert before["servertype"] == "soc"


@pytest.mark.parametrize("layout", ["", "perFamily", "single"])
@pytest.mark.parametrize("version", sorted(RELEASES))
def test_no_node_is_selected_by_two_device_plugin_daemonsets(version: str, layout: str) -> None:
    dss = daemonsets(render(CHART, values(version, layout)))
    assert SOC_DS in dss
    for model in LABELS["serverModels"]:
        for state, node_labels in zip(("labelled", "after the plugin"), node_states(model, version)):
            got = sorted(n for n, ds in dss.items() if selects(ds, node_labels))
            assert len(got) <= 1, f"{model} ({state}, {version}, layout {layout or 'default'}): {got}"
            if not layout:
                # the release's own layout serves every model as soon as label-node labelled it
                assert len(got) == 1, f"{model} ({state}, {version}): no device plugin DaemonSet"
            if model == "atlas-200i-soc-a1" and got:
                assert got == [SOC_DS]


# --- NOTES ----------------------------------------------------------------------------------------

def _notes(version: str, *sets: str) -> str:
    helm = need_tool("helm")
    args = [a for kv in (f"global.mindcluster.version={version}", *sets) for a in ("--set", kv)]
    proc = run([helm, "install", "rel", str(CHARTS / CHART), "--dry-run=client", *args],
               env={"KUBECONFIG": os.devnull})
    return proc.stdout.split("NOTES:", 1)[1]


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_notes_warn_when_soc_nodes_get_no_plugin(version: str) -> None:
    assert "Atlas 200I SoC A1 nodes" in _notes(version)
    on = _notes(version, "families.ascend310p.soc.enabled=true", "families.ascend310p.soc.image.repository=a/b",
                "families.ascend310p.soc.image.tag=v1")
    assert "Atlas 200I SoC A1 nodes" not in on
