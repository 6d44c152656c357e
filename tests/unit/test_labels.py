"""Label planning for every simulated server model and for every conflict case.

Scenarios: auto detection from resources per model file in hack/nodes/models;
fallback to the chip-name label; undetectable node; --accelerator override;
--server-model sets accelerator-type and extras (every table row); master role;
conflicts (foreign value) vs additions; reruns are no-ops; the model/family
mismatch; label-node's whole-run refusal leaves no patch sent.
"""
from __future__ import annotations


import pytest

from kubectl_ascend import errors
from kubectl_ascend.labelnode import label_nodes
from kubectl_ascend.labels import SERVER_MODELS, plan_node

from tests.labeldata import BASE, EXPECTED_AUTO, MODELS, node_of

pytestmark = pytest.mark.unit



def test_every_model_file_is_covered():
    files = {p.stem for p in MODELS.glob("*.yaml")} - {"management"}
    assert files == set(EXPECTED_AUTO)


@pytest.mark.parametrize("model", sorted(EXPECTED_AUTO))
def test_auto_detection_per_model(model):
    plan = plan_node(node_of(model))
    assert plan.error is None
    assert plan.desired == {**BASE, **EXPECTED_AUTO[model]}
    assert plan.conflicts == {}


def test_chip_label_fallback_when_no_resources():
    node = node_of("atlas-300i-duo")
    del node["status"]["capacity"]["huawei.com/Ascend310P"]
    assert plan_node(node).desired["accelerator"] == "huawei-Ascend310P"


def test_virtual_npu_resources_count_as_family():
    node = node_of("management")
    node["status"]["capacity"]["huawei.com/Ascend910-4c"] = "2"
    assert plan_node(node).desired["accelerator"] == "huawei-Ascend910"


def test_undetectable_node_names_it_and_the_flag():
    plan = plan_node(node_of("management", "mgmt-0"))
    assert plan.error and "mgmt-0" in plan.error and "--accelerator" in plan.error


def test_accelerator_override():
    plan = plan_node(node_of("management"), accelerator="310")
    assert plan.desired["accelerator"] == "huawei-Ascend310"
    assert "accelerator-type" not in plan.desired


@pytest.mark.parametrize("key", sorted(SERVER_MODELS))
def test_every_server_model_row(key):
    m = SERVER_MODELS[key]
    fam_model = {"910": "atlas-800t-a2", "310": "atlas-300i", "310P": "atlas-300i-duo", "npu": "atlas-950"}[m.family]
    plan = plan_node(node_of(fam_model), server_model=key)
    assert plan.error is None
    if m.accelerator_type:
        assert plan.desired["accelerator-type"] == m.accelerator_type
    else:
        assert "accelerator-type" not in plan.desired
    for k, v in m.extra:
        assert plan.desired[k] == v


def test_server_model_table_facts():
    assert SERVER_MODELS["atlas-800i-a2"].extra == (("server-usage", "infer"),)
    assert SERVER_MODELS["atlas-900-a3-superpod"].accelerator_type == "module-a3-16-super-pod"
    assert SERVER_MODELS["atlas-200i-soc-a1"].extra == (("servertype", "soc"),)


def test_the_two_newer_910_node_types_have_server_models():
    """Atlas 9000 A3 SuperPoD and Atlas 300I A2 (mind-cluster v26.1.0 ascend-for-volcano
    common/util/constants.go Module910A3x8SuperPodAcceleratorType; ascend-common api/default_name.go A300IA2Label)."""
    plan = plan_node(node_of("atlas-800i-a3"), server_model="atlas-9000-a3-superpod")
    assert plan.error is None and plan.desired["accelerator-type"] == "module-a3-8-super-pod"
    plan = plan_node(node_of("atlas-800t-a2"), server_model="atlas-300i-a2")
    assert plan.error is None and plan.desired["accelerator-type"] == "card-910b-infer"


def test_auto_keeps_the_type_the_device_plugin_wrote():
    """The 26.1 device plugin labels Atlas 300I A2 nodes card-910b-infer from the board id
    (component/ascend-device-plugin/pkg/server/manager.go getNewNodeLabel): a node of eight
    such cards is not turned into module-910b-8, and no size guesses card-910b-infer."""
    node = node_of("atlas-800t-a2")
    node["metadata"]["labels"]["accelerator-type"] = "card-910b-infer"
    plan = plan_node(node)
    assert plan.error is None and plan.conflicts == {}
    assert plan.desired["accelerator-type"] == "card-910b-infer"
    bare = node_of("atlas-800t-a2")
    assert plan_node(bare).desired["accelerator-type"] == "module-910b-8"
    for n in range(1, 17):
        bare["status"]["capacity"]["huawei.com/Ascend910"] = str(n)
        assert plan_node(bare).desired.get("accelerator-type") != "card-910b-infer"


def test_soc_node_gets_servertype_from_label_node():
    """The emulated SoC node arrives unlabelled (no device plugin runs there before servertype=soc);
    --server-model writes it, with 26.0.0 and with 26.1.0 (whose plugin sets other servertype values)."""
    node = node_of("atlas-200i-soc-a1")
    assert "servertype" not in node["metadata"]["labels"]
    assert "servertype" not in plan_node(node).desired
    for plugin_sets in ((), ("accelerator", "servertype")):
        plan = plan_node(node, server_model="atlas-200i-soc-a1", plugin_sets=plugin_sets)
        assert plan.changes["servertype"] == (None, "soc") and not plan.conflicts


def test_server_model_family_mismatch():
    plan = plan_node(node_of("atlas-300i-duo"), server_model="atlas-800i-a2")
    assert plan.error and "910" in plan.error


def test_master_role():
    plan = plan_node(node_of("management"), role="master")
    assert plan.desired == {"masterselector": "dls-master-node"}


def test_conflict_vs_addition_vs_noop():
    node = node_of("atlas-800i-a2")
    node["metadata"]["labels"]["accelerator"] = "huawei-Ascend310"   # foreign value: conflict
    node["metadata"]["labels"]["workerselector"] = "dls-worker-node"   # already right
    plan = plan_node(node)
    assert plan.conflicts == {"accelerator": ("huawei-Ascend310", "huawei-Ascend910")}
    assert "workerselector" not in plan.changes
    assert plan.changes["host-arch"] == (None, "huawei-arm")
    node["metadata"]["labels"].update(plan.desired)
    assert plan_node(node).noop


class FakeKube:
    def __init__(self):
        self.patches = []

    def patch_node_labels(self, name, labels):
        self.patches.append((name, labels))
        if name == "bad":
            raise errors.Forbidden("label node bad: forbidden")
        return {}


def test_conflict_refuses_whole_run_without_patching():
    good, bad = node_of("atlas-800i-a2", "a"), node_of("atlas-800t-a2", "b")
    bad["metadata"]["labels"].update(plan_node(bad).desired)
    bad["metadata"]["labels"]["host-arch"] = "huawei-x86"
    kube = FakeKube()
    with pytest.raises(errors.Conflict) as e:
        label_nodes(kube, [good, bad], role="worker", accelerator="auto", server_model=None,
                    overwrite=False, dry_run=False)
    assert "b: host-arch=huawei-x86 (want huawei-arm)" in str(e.value)
    assert kube.patches == []
    res = label_nodes(kube, [good, bad], role="worker", accelerator="auto", server_model=None,
                      overwrite=True, dry_run=False)
    assert sorted(res.applied) == ["a", "b"]
    assert dict(kube.patches)["b"] == {"host-arch": "huawei-arm"}  # only what changes


def test_detection_error_refuses_whole_run():
    kube = FakeKube()
    with pytest.raises(errors.InvalidInput, match="mgmt"):
        label_nodes(kube, [node_of("atlas-800i-a2", "a"), node_of("management", "mgmt")], role="worker",
                    accelerator="auto", server_model=None, overwrite=False, dry_run=False)
    assert kube.patches == []


def test_per_node_failures_are_reported():
    kube = FakeKube()
    res = label_nodes(kube, [node_of("atlas-800i-a2", "ok"), node_of("atlas-800i-a2", "bad")], role="worker",
                      accelerator="auto", server_model=None, overwrite=False, dry_run=False)
    assert res.applied == ["ok"] and list(res.failed) == ["bad"]
    assert res.as_dict()["summary"]["failed"] == 1


def test_dry_run_sends_nothing():
    kube = FakeKube()
    res = label_nodes(kube, [node_of("atlas-800i-a2", "a")], role="worker", accelerator="auto",
                      server_model=None, overwrite=False, dry_run=True)
    assert kube.patches == [] and res.as_dict()["summary"]["wouldLabel"] == 1


def test_all_skips_npu_less_nodes_but_names_them():
    kube = FakeKube()
    res = label_nodes(kube, [node_of("atlas-800i-a2", "a"), node_of("management", "mgmt")], role="worker",
                      accelerator="auto", server_model=None, overwrite=False, dry_run=False,
                      skip_undetectable=True)
    assert res.applied == ["a"] and res.skipped == ["mgmt"]
    assert [n for n, _ in kube.patches] == ["a"]
