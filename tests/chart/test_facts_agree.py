"""Plugin and charts agree on the node facts (charts/ascend-common/facts/*.json).

Scenarios:
- for every server model and host architecture, the labels label-node plans
  (kubectl_ascend.labels) select exactly the device plugin DaemonSet of the
  model's family in the perFamily layout (nodeSelector, SoC affinity; the SoC
  model gets the SoC variant instead), the single-layout DaemonSet's affinity,
  and the DaemonSets tolerate the resource the family advertises;
- NoDe and the NPU Exporter (workerselector) land on every planned compute
  node, Volcano, the Ascend Operator and ClusterD (masterselector) on the
  planned management node: their values.yaml defaults equal the facts;
- mindie-service accepts exactly the NPU counts per pod accelerators.json allows
  for every accelerator-type (one-pod jobs and each pod of a multi-pod instance), and its pods' nodeSelector and resource match
  what label-node plans for the server models of that type;
- profile.FAMILY_KEYS and the device plugin's families values and schema name
  the same keys; mindie-service's schema allows exactly the families
  accelerators.json has rules for; the docker-runtime installer tolerates
  every family's resource.
"""
from __future__ import annotations

from typing import Any

import json

import pytest
import yaml

from kubectl_ascend import facts
from kubectl_ascend.labels import SERVER_MODELS, plan_node
from kubectl_ascend.profile import FAMILY_KEYS
from tests.chart.helmutil import find, render, template
from tests.chart.mindie_values import CHART as MINDIE, values as mindie_values
from tests.tooling import CHARTS

pytestmark = pytest.mark.chart

LABELS = facts.labels()
TYPES = facts.accelerators()["types"]
FAMILIES = LABELS["families"]
ALL_ON = {FAMILIES[f]["devicePluginKey"]: {"enabled": True} for f in FAMILIES}


def node(model_key: str, arch: str) -> dict[str, Any]:
    """A bare node of MODEL as the device plugin would show it: its family's resource, the model's size."""
    m = LABELS["serverModels"][model_key]
    size = TYPES[m["acceleratorType"]]["npusPerNode"] if m.get("acceleratorType") else 4
    return {"metadata": {"name": f"n-{model_key}", "labels": {}},
            "status": {"capacity": {FAMILIES[m["family"]]["resource"]: str(size)},
                       "nodeInfo": {"architecture": arch}}}


def planned(model_key: str, arch: str = "arm64") -> dict[str, str]:
    plan = plan_node(node(model_key, arch), server_model=model_key)
    assert plan.error is None, plan.error
    return plan.desired


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def affinity_admits(pod_spec: dict[str, Any], labels: dict[str, str]) -> bool:
    terms = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    if not terms:
        return True
    for term in terms:
        ok = True
        for e in term.get("matchExpressions", []):
            have = labels.get(e["key"])
            if e["operator"] == "In":
                ok &= have in e["values"]
            elif e["operator"] == "NotIn":
                ok &= have not in e["values"]
            else:
                raise AssertionError(f"operator {e['operator']} not modelled")
        if ok:
            return True
    return False


def schedulable(ds: dict[str, Any], labels: dict[str, str]) -> bool:
    spec = ds["spec"]["template"]["spec"]
    return selects(spec.get("nodeSelector") or {}, labels) and affinity_admits(spec, labels)


@pytest.fixture(scope="module")
def per_family() -> list[dict[str, Any]]:
    soc = {"enabled": True, "image": {"repository": "r/soc", "tag": "v1"}}
    fams = {**ALL_ON, "ascend310p": {"enabled": True, "soc": soc}}
    return find(render("ascend-device-plugin", {"families": fams}), "DaemonSet")


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    (ds,) = find(render("ascend-device-plugin", {"layout": "single", "families": ALL_ON}), "DaemonSet")
    return ds


def test_the_tables_are_not_empty():
    assert len(SERVER_MODELS) == len(LABELS["serverModels"]) >= 17
    assert set(LABELS["familyOrder"]) == set(FAMILIES) == {m.family for m in SERVER_MODELS.values()}


@pytest.mark.parametrize("arch", ["arm64", "amd64"])
@pytest.mark.parametrize("model", sorted(LABELS["serverModels"]))
def test_device_plugin_daemonsets_select_the_planned_labels(model, arch, per_family, single):
    labels = planned(model, arch)
    fam = FAMILIES[LABELS["serverModels"][model]["family"]]
    assert labels[LABELS["keys"]["hostArch"]] == LABELS["hostArch"][arch]
    chosen = [d["metadata"]["name"] for d in per_family if schedulable(d, labels)]
    is_soc = LABELS["serverModels"][model].get("extraLabels", {}).get(LABELS["keys"]["serverType"]) == "soc"
    want = "ascend-device-plugin-daemonset-310p-soc" if is_soc else \
        f"ascend-device-plugin-daemonset-{fam['devicePluginSuffix']}"
    assert chosen == [want], f"{model}: planned {labels} is selected by {chosen}"
    ds = next(d for d in per_family if d["metadata"]["name"] == want)
    tolerated = {t.get("key") for t in ds["spec"]["template"]["spec"]["tolerations"]}
    assert fam["resource"] in tolerated
    assert schedulable(single, labels), f"{model}: the single-layout DaemonSet does not admit {labels}"
    assert fam["resource"] in {t.get("key") for t in single["spec"]["template"]["spec"]["tolerations"]}


def test_component_node_selectors_are_the_planned_labels():
    worker = planned("atlas-800i-a2")
    master = plan_node({"metadata": {"name": "m"}}, role="master").desired
    for chart in ("ascend-noded", "ascend-npu-exporter"):
        sel = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())["nodeSelector"]
        assert sel == {LABELS["keys"]["workerSelector"]: LABELS["values"]["workerSelector"]}, chart
        assert selects(sel, worker) and not selects(sel, master), chart
    for chart in ("ascend-clusterd", "ascend-operator", "ascend-volcano"):
        sel = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())["nodeSelector"]
        assert sel == {LABELS["keys"]["masterSelector"]: LABELS["values"]["masterSelector"]}, chart
        assert selects(sel, master) and not selects(sel, worker), chart


def test_family_keys_agree():
    dp_values = yaml.safe_load((CHARTS / "ascend-device-plugin" / "values.yaml").read_text())
    assert set(dp_values["families"]) == set(FAMILY_KEYS.values()) == {f["devicePluginKey"] for f in FAMILIES.values()}
    assert set(FAMILY_KEYS) == {f["accelerator"] for f in FAMILIES.values()}
    dp_schema = json.loads((CHARTS / "ascend-device-plugin" / "values.schema.json").read_text())
    assert set(dp_schema["properties"]["families"]["properties"]) == set(FAMILY_KEYS.values())
    mindie_schema = json.loads((CHARTS / MINDIE / "values.schema.json").read_text())
    family = mindie_schema["properties"]["accelerator"]["properties"]["family"]
    allowed = {str(v) for alt in family["anyOf"] for v in alt["enum"]}
    assert allowed == set(facts.accelerators()["families"]) and allowed <= set(FAMILIES)
    rt = find(render("ascend-docker-runtime", {"image": {"repository": "r/rt", "tag": "1"}}), "DaemonSet")[0]
    tolerated = {t.get("key") for t in rt["spec"]["template"]["spec"]["tolerations"]}
    assert {f["resource"] for f in FAMILIES.values()} <= tolerated


@pytest.mark.parametrize("acc_type", sorted(TYPES))
def test_mindie_accepts_exactly_the_allowed_npus_per_pod(acc_type):
    t = TYPES[acc_type]
    accepted = []
    for n in range(1, int(t["npusPerNode"]) + 2):
        vals = mindie_values(accelerator={"family": t["family"], "type": acc_type}, single={"npusPerInstance": n})
        if template(MINDIE, vals, check=False).returncode == 0:
            accepted.append(n)
    assert accepted == sorted(t["allowedPerPod"])


@pytest.mark.parametrize("acc_type", sorted(TYPES))
def test_mindie_multi_pod_instances_accept_exactly_the_allowed_npus_per_pod(acc_type):
    """Each pod of a PD instance of two pods (one Volcano PodGroup) asks for a count of allowedPerPodMulti."""
    t = TYPES[acc_type]
    accepted = []
    for n in range(1, int(t["npusPerNode"]) + 2):
        vals = mindie_values(mode="pd", accelerator={"family": t["family"], "type": acc_type},
                             prefill={"podsPerInstance": 2, "npusPerPod": n}, decode={"npusPerPod": n})
        if template(MINDIE, vals, check=False).returncode == 0:
            accepted.append(n)
    assert accepted == sorted(t["allowedPerPodMulti"])


@pytest.mark.parametrize("model", sorted(k for k, m in LABELS["serverModels"].items() if m.get("acceleratorType")))
def test_mindie_pods_land_on_the_planned_nodes(model):
    m = LABELS["serverModels"][model]
    labels = planned(model)
    npus = max(TYPES[m["acceleratorType"]]["allowedPerPod"])
    objs = render(MINDIE, mindie_values(accelerator={"family": m["family"], "type": m["acceleratorType"]},
                                        single={"npusPerInstance": npus}))
    (dep,) = find(objs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    assert selects(spec["nodeSelector"], labels), f"{model}: {spec['nodeSelector']} vs planned {labels}"
    limits = spec["containers"][0]["resources"]["limits"]
    assert limits[FAMILIES[m["family"]]["resource"]] == npus
