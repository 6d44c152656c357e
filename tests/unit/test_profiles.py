"""MindCluster release profiles in the plugin (kubectl_ascend.releases and its consumers), without a cluster.

Scenarios:
- releases: the facts come from charts/ascend-common/facts/mindcluster.json; which release a
  command uses (flag > -f/--set > installed release > default) and the line saying why; an
  installed release without a record is 26.0.0; unknown versions and a flag that disagrees
  with the values are refused; changing an installed version is called an upgrade/downgrade;
- install's profile: 26.1.0 decides one device-plugin DaemonSet on workerselector (no per-family
  values, no accelerator needed), refuses a cluster without workers; 26.0.0 as before; the
  version is forced into global.mindcluster.version over kept user values; a Volcano version
  the release does not ship is refused;
- label-node's plan: 26.1.0 leaves accelerator and servertype to the device plugin (but keeps
  servertype=soc), labels a named node without NPUs as a worker and --all skips it; NodeD adds
  nodeDEnable=on, with the usual conflict rule; OWNED_KEYS has it (uninstall lists it);
- doctor's profile checks on a fake API: labels-profile, device-plugin-layout, volcano-version,
  volcano-kubernetes (PASS / FAIL / WARN each);
- find_clusterd: our Deployment, upstream's unlabelled Deployment mindx-dl/clusterd, or its pods;
- mindie ranktable defers to ClusterD only for a release rendered with clusterd.enabled, and refuses
  an unknown release;
- CLI wiring: an unknown --mindcluster-version is a usage error before the cluster is
  contacted; --help of install, label-node, doctor and images names every known version;
- images: with a release added to the facts (kubectl_ascend.releases.load patched), list_images
  renders it (flag or default), refuses an unknown one naming all, and --mindcluster-version's
  help and usage check list it: one source, no list of its own.
"""
from __future__ import annotations

import copy

import json
from typing import Any

import pytest

from kubectl_ascend import cli, doctor, errors, releases
from kubectl_ascend.commands import _common
from kubectl_ascend.helm import charts_root
from kubectl_ascend.labelnode import label_nodes
from kubectl_ascend.labels import OWNED_KEYS, plan_node
from kubectl_ascend.clusterd import find_clusterd
from kubectl_ascend.mindie import CLUSTERD, CONFIGMAP, clusterd_plan, ranktable_source
from kubectl_ascend.profile import decide
from tests.labeldata import BASE, EXPECTED_AUTO, node_of

pytestmark = pytest.mark.unit

R260, R261 = releases.release("26.0.0"), releases.release("26.1.0")


# --- releases -------------------------------------------------------------------------------------------

def test_facts_come_from_the_shared_data_file():
    doc = json.loads((charts_root() / "ascend-common" / "facts" / "mindcluster.json").read_text())
    assert releases.versions() == list(doc["releases"]) and releases.default_version() == doc["default"]
    assert R261.layout == releases.SINGLE and R260.layout == releases.PER_FAMILY
    assert R261.plugin_sets_labels == ("accelerator", "servertype") and R260.plugin_sets_labels == ()
    assert R261.volcano_default == "v1.9.0" and "v1.12.0" in R261.volcano_versions
    assert releases.volcano_kubernetes("v1.9.0") == ("1.21", "1.29") and releases.volcano_kubernetes("v9") is None


def rel_values(version: str | None) -> dict[str, Any]:
    return {"global": {"mindcluster": {"version": version}}} if version else {"global": {}}


def test_choose_order_and_why():
    c = releases.choose("26.1.0", {}, rel_values("26.0.0"), "ascend-stack")
    assert (c.version, c.source, c.previous) == ("26.1.0", "flag", "26.0.0")
    assert c.line() == ("MindCluster 26.1.0 (from --mindcluster-version); the installed release runs 26.0.0: "
                        "this is an upgrade to 26.1.0")
    assert c.summary() == "MindCluster 26.1.0 (from --mindcluster-version)"
    c = releases.choose(None, rel_values("26.1.0"), None, "r")
    assert (c.version, c.why) == ("26.1.0", "from -f/--set global.mindcluster.version")
    c = releases.choose(None, {}, rel_values("26.1.0"), "ascend-stack")
    assert c.line() == "MindCluster 26.1.0 (kept from release ascend-stack)" and not c.changes
    # a release installed before profiles existed records nothing: it is 26.0.0
    c = releases.choose(None, {}, rel_values(None), "ascend-stack")
    assert (c.version, c.source) == ("26.0.0", "release")
    c = releases.choose(None, None, None, "ascend-stack")
    assert (c.version, c.line()) == ("26.0.0", "MindCluster 26.0.0 (default)")
    down = releases.choose("26.0.0", None, rel_values("26.1.0"), "x")
    assert down.line().endswith("this is a downgrade to 26.0.0")
    assert down.as_dict()["previous"] == "26.1.0" and down.as_dict()["layout"] == "perFamily"


def test_choose_refusals():
    with pytest.raises(errors.InvalidInput, match=r"--mindcluster-version: MindCluster '27.0.0' has no profile; "
                       r"known: 26.0.0, 26.1.0; nothing was changed"):
        releases.choose("27.0.0", None, None, "r")
    with pytest.raises(errors.InvalidInput, match="disagree"):
        releases.choose("26.1.0", rel_values("26.0.0"), None, "r")
    with pytest.raises(errors.InvalidInput, match="global.mindcluster.version: MindCluster '1' has no profile"):
        releases.choose(None, rel_values("1"), None, "r")
    with pytest.raises(errors.InvalidInput, match="release r records"):
        releases.choose(None, None, rel_values("25.0.0"), "r")


# --- install's profile ----------------------------------------------------------------------------------

def k8s_node(name: str, labels: dict[str, str], npus: int = 0) -> dict[str, Any]:
    cap = {"huawei.com/Ascend910": str(npus)} if npus else {}
    return {"metadata": {"name": name, "labels": labels},
            "status": {"capacity": cap, "allocatable": cap, "nodeInfo": {"architecture": "arm64"}}}


MASTER = k8s_node("mgmt-0", {"masterselector": "dls-master-node"})
WORKER_ONLY = k8s_node("npu-0", {"workerselector": "dls-worker-node"}, npus=8)  # 26.1 labels: no accelerator


def test_single_layout_needs_workers_not_accelerator():
    p = decide([MASTER, WORKER_ONLY], {}, R261)
    dp = p.values["ascend-device-plugin"]
    assert "families" not in dp and dp["volcanoType"] is True
    assert p.values["global"]["mindcluster"]["version"] == "26.1.0"
    assert p.decisions[0] == ("device plugin: one DaemonSet on workerselector=dls-worker-node (1 node); it sets "
                              "the accelerator label itself (MindCluster 26.1.0)")
    assert "Volcano v1.9.0 (MindCluster 26.1.0 default; it also ships v1.7.0, v1.12.0)" in p.decisions
    # the same nodes under 26.0.0: the per-family DaemonSets need accelerator labels
    with pytest.raises(errors.InvalidInput, match="no node carries MindCluster labels"):
        decide([MASTER, WORKER_ONLY], {}, R260)
    with pytest.raises(errors.InvalidInput, match=r"no node carries workerselector=dls-worker-node \(1 node with "
                       r"NPUs lack"):
        decide([MASTER, k8s_node("npu-0", {}, npus=8)], {}, R261)


def test_unselected_npu_nodes_warn_under_26_1():
    p = decide([MASTER, WORKER_ONLY, k8s_node("npu-1", {"accelerator": "huawei-Ascend910"}, npus=8)], {}, R261)
    assert p.warnings == ["1 node(s) with NPUs carry no workerselector=dls-worker-node label and get no device "
                          "plugin: npu-1 (run `kubectl ascend label-node --all`)"]


@pytest.mark.parametrize("rel", [R260, R261], ids=["26.0.0", "26.1.0"])
def test_soc_nodes_warn_until_the_soc_daemonset_is_on(rel):
    soc = k8s_node("soc-0", {"workerselector": "dls-worker-node", "accelerator": "huawei-Ascend310P",
                             "servertype": "soc"}, npus=1)
    p = decide([MASTER, soc], {}, rel)
    assert [w for w in p.warnings if "servertype=soc" in w] == [
        "no device plugin serves the 1 node labelled servertype=soc (Atlas 200I SoC A1): soc-0; its SoC variant is "
        "opt-in: --set ascend-device-plugin.families.ascend310p.soc.enabled=true with soc.image.repository/tag "
        "of your SoC build"]
    on = {"ascend-device-plugin": {"families": {"ascend310p": {"soc": {"enabled": True}}}}}
    assert not [w for w in decide([MASTER, soc], on, rel).warnings if "servertype=soc" in w]


def test_per_family_layout_as_before_and_user_layout_wins():
    labelled = k8s_node("npu-0", {"workerselector": "dls-worker-node", "accelerator": "huawei-Ascend910"}, 8)
    p = decide([MASTER, labelled], {}, R260)
    assert p.values["ascend-device-plugin"]["families"]["ascend910"] == {"enabled": True}
    assert p.decisions[0] == "device plugin DaemonSets for: ascend910 (1 node)"
    assert p.values["global"]["mindcluster"]["version"] == "26.0.0"
    # a user layout override is what the decisions follow
    p = decide([MASTER, labelled], {"ascend-device-plugin": {"layout": "perFamily"}}, R261)
    assert p.decisions[0].startswith("device plugin DaemonSets for: ascend910")
    assert decide([MASTER, labelled], {}).values["global"]["mindcluster"]["version"] == "26.0.0"  # the default


def test_version_is_forced_over_kept_user_values_and_volcano_checked():
    user = {"global": {"mindcluster": {"version": "26.0.0"}, "imageRegistry": "r.local"}}
    p = decide([MASTER, WORKER_ONLY], user, R261)
    assert p.values["global"] == {"mindcluster": {"version": "26.1.0"}, "imageRegistry": "r.local"}
    p = decide([MASTER, WORKER_ONLY], {"ascend-volcano": {"volcanoVersion": "v1.12.0"}}, R261)
    assert "Volcano v1.12.0 (ascend-volcano.volcanoVersion; it also ships v1.7.0, v1.9.0)" in p.decisions
    with pytest.raises(errors.InvalidInput, match=r"volcanoVersion=v1.12.0: MindCluster 26.0.0 ships Volcano "
                       r"v1.7.0, v1.9.0 only"):
        decide([MASTER, k8s_node("n", {"accelerator": "huawei-Ascend910"}, 8)],
               {"ascend-volcano": {"volcanoVersion": "v1.12.0"}}, R260)


# --- label-node -----------------------------------------------------------------------------------------

def test_26_1_leaves_accelerator_and_servertype_to_the_device_plugin():
    plan = plan_node(node_of("atlas-800i-a2"), plugin_sets=R261.plugin_sets_labels)
    want = {k: v for k, v in {**BASE, **EXPECTED_AUTO["atlas-800i-a2"]}.items() if k != "accelerator"}
    assert plan.desired == want and plan.left_to_plugin == ("accelerator", "servertype")
    # accelerator-type stays manual (the plugin sets it for Atlas 300I A2 cards only)
    assert plan.desired["accelerator-type"] == "module-910b-8"
    # SoC nodes still need servertype=soc by hand: the SoC DaemonSet selects it
    soc = plan_node(node_of("atlas-200i-soc-a1"), server_model="atlas-200i-soc-a1", plugin_sets=("accelerator",
                                                                                                 "servertype"))
    assert soc.desired["servertype"] == "soc" and "accelerator" not in soc.desired
    assert soc.left_to_plugin == ("accelerator",)
    # 26.0.0 as before
    assert plan_node(node_of("atlas-800i-a2")).desired == {**BASE, **EXPECTED_AUTO["atlas-800i-a2"]}


def no_npu_node(name: str) -> dict[str, Any]:
    node = node_of("atlas-800i-a2", name)
    node["status"]["capacity"] = {k: v for k, v in node["status"]["capacity"].items() if "huawei" not in k}
    node["metadata"]["labels"] = {k: v for k, v in node["metadata"]["labels"].items() if "chip" not in k}
    return node


class PatchKube:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def patch_node_labels(self, name: str, labels: dict[str, Any]) -> None:
        self.patches.append((name, labels))


def test_26_1_named_node_without_npus_becomes_a_worker_and_all_skips_it():
    # under 26.0.0 a named node the family cannot be told of is an error
    assert plan_node(no_npu_node("fresh")).error is not None
    plan = plan_node(no_npu_node("fresh"), plugin_sets=R261.plugin_sets_labels)
    assert plan.error is None and plan.desired == {**BASE, "host-arch": "huawei-arm"} and plan.undetectable
    kube = PatchKube()
    res = label_nodes(kube, [no_npu_node("fresh"), node_of("atlas-800i-a2", "npu")], role="worker",
                      accelerator="auto", server_model=None, overwrite=False, dry_run=False,
                      skip_undetectable=True, plugin_sets=R261.plugin_sets_labels)
    assert res.skipped == ["fresh"] and [n for n, _ in kube.patches] == ["npu"]
    assert "accelerator" not in kube.patches[0][1]
    assert res.as_dict()["leftToDevicePlugin"] == ["accelerator", "servertype"]


def test_noded_adds_nodedenable_with_the_usual_rules():
    assert "nodeDEnable" in OWNED_KEYS
    node = node_of("atlas-800i-a2")
    plan = plan_node(node, noded=True)
    assert plan.desired["nodeDEnable"] == "on" and plan.changes["nodeDEnable"] == (None, "on")
    assert "nodeDEnable" not in plan_node(node).desired
    node["metadata"]["labels"].update(plan.desired)
    assert plan_node(node, noded=True).noop
    node["metadata"]["labels"]["nodeDEnable"] = "off"
    kube = PatchKube()
    with pytest.raises(errors.Conflict, match=r"nodeDEnable=off \(want on\)"):
        label_nodes(kube, [node], role="worker", accelerator="auto", server_model=None, overwrite=False,
                    dry_run=False, noded=True)
    res = label_nodes(kube, [node], role="worker", accelerator="auto", server_model=None, overwrite=True,
                      dry_run=False, noded=True)
    assert res.applied == ["n1"] and kube.patches == [("n1", {"nodeDEnable": "on"})]
    # masters never get it
    assert plan_node(node, role="master", noded=True).desired == {"masterselector": "dls-master-node"}


# --- doctor ---------------------------------------------------------------------------------------------

def workload(kind: str, name: str, component: str, selector: dict[str, str], image: str = "x:v1") -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": "ns", "generation": 1,
                                       "labels": {"app.kubernetes.io/component": component}},
            "spec": {"replicas": 1, "template": {"spec": {"nodeSelector": selector,
                                                          "containers": [{"image": image}]}}},
            "status": {"observedGeneration": 1}}


class DoctorKube:
    def __init__(self, nodes: list[dict[str, Any]], daemonsets=(), deployments=(), k8s="34") -> None:
        self.nodes, self.ds, self.deploy, self.k8s = nodes, list(daemonsets), list(deployments), k8s

    def list_nodes(self, label_selector=None):
        return self.nodes

    def list_daemonsets(self, label_selector=None):
        return self.ds

    def list_deployments(self, label_selector=None):
        return self.deploy

    def server_version(self):
        return {"major": "1", "minor": self.k8s, "gitVersion": f"v1.{self.k8s}.4"}


def run(check, kube, rel) -> dict[str, doctor.Check]:
    return {c.name: c for c in check(kube, doctor.Cluster(kube, rel))}


def test_labels_profile():
    acc_only = k8s_node("a", {"accelerator": "huawei-Ascend910"}, 8)
    kube = DoctorKube([MASTER, WORKER_ONLY, acc_only])
    c = run(doctor.check_labels_profile, kube, R260)["labels-profile"]
    assert c.status == "FAIL" and "1 NPU node(s) without accelerator" in c.message and c.message.endswith(": npu-0")
    assert c.fix == "kubectl ascend label-node --mindcluster-version 26.0.0 npu-0"
    c = run(doctor.check_labels_profile, kube, R261)["labels-profile"]
    assert c.status == "FAIL" and "without workerselector=dls-worker-node" in c.message and c.message.endswith(": a")
    ok = DoctorKube([MASTER, WORKER_ONLY])
    assert run(doctor.check_labels_profile, ok, R261)["labels-profile"].status == "PASS"
    assert run(doctor.check_labels_profile, DoctorKube([MASTER]), R261) == {}


PER_FAMILY_DS = [workload("DaemonSet", "ascend-device-plugin-daemonset-910", "device-plugin",
                          {"accelerator": "huawei-Ascend910"}),
                 workload("DaemonSet", "ascend-device-plugin-daemonset-310p-soc", "device-plugin",
                          {"accelerator": "huawei-Ascend310P", "servertype": "soc"})]
SINGLE_DS = [workload("DaemonSet", "ascend-device-plugin-daemonset", "device-plugin",
                      {"workerselector": "dls-worker-node"})]


def test_device_plugin_layout():
    c = run(doctor.check_device_plugin_layout, DoctorKube([], PER_FAMILY_DS), R260)["device-plugin-layout"]
    assert c.status == "PASS" and "(ascend-device-plugin-daemonset-910)" in c.message  # the SoC one is not counted
    c = run(doctor.check_device_plugin_layout, DoctorKube([], PER_FAMILY_DS), R261)["device-plugin-layout"]
    assert c.status == "FAIL" and c.message.endswith("but MindCluster 26.1.0 runs one DaemonSet for every worker")
    assert c.fix.startswith("kubectl ascend install --mindcluster-version 26.1.0")
    assert run(doctor.check_device_plugin_layout, DoctorKube([], SINGLE_DS), R261)["device-plugin-layout"].status \
        == "PASS"
    assert run(doctor.check_device_plugin_layout, DoctorKube([], SINGLE_DS), R260)["device-plugin-layout"].status \
        == "FAIL"
    assert run(doctor.check_device_plugin_layout, DoctorKube([]), R260) == {}


def scheduler(tag: str) -> dict[str, Any]:
    return workload("Deployment", "volcano-scheduler", "volcano-scheduler", {},
                    f"swr.cn-south-1.myhuaweicloud.com/ascendhub/vc-scheduler:{tag}")


def test_volcano_version():
    c = run(doctor.check_volcano_version, DoctorKube([], deployments=[scheduler("v1.12.0-v26.1.0")]), R260)
    assert c["volcano-version"].status == "FAIL"
    assert c["volcano-version"].message == ("Volcano v1.12.0 (image tag v1.12.0-v26.1.0) is not one MindCluster "
                                            "26.0.0 ships (v1.7.0, v1.9.0)")
    assert c["volcano-version"].fix == "kubectl ascend install --set ascend-volcano.volcanoVersion=v1.7.0"
    ok = run(doctor.check_volcano_version, DoctorKube([], deployments=[scheduler("v1.12.0-v26.1.0-openeuler24.03")]),
             R261)
    assert ok["volcano-version"].status == "PASS"
    odd = run(doctor.check_volcano_version, DoctorKube([], deployments=[scheduler("latest")]), R261)
    assert odd["volcano-version"].status == "WARN" and "v1.9.0-v26.1.0" in odd["volcano-version"].message
    assert run(doctor.check_volcano_version, DoctorKube([]), R261) == {}


def test_volcano_kubernetes_range():
    kube = DoctorKube([], deployments=[scheduler("v1.7.0-v26.0.0")], k8s="34")
    c = run(doctor.check_volcano_kubernetes, kube, R260)["volcano-kubernetes"]
    assert (c.status, c.message) == ("WARN", "Kubernetes v1.34.4 is outside Volcano v1.7.0's supported range "
                                             "1.19-1.28")
    assert "no Volcano MindCluster 26.0.0 ships supports it" in c.fix
    kube = DoctorKube([], deployments=[scheduler("v1.7.0-v26.1.0")], k8s="30")
    c = run(doctor.check_volcano_kubernetes, kube, R261)["volcano-kubernetes"]
    assert c.status == "WARN" and c.fix == "use Volcano v1.12.0 (--set ascend-volcano.volcanoVersion=...)"
    kube = DoctorKube([], deployments=[scheduler("v1.9.0-v26.1.0")], k8s="29")
    assert run(doctor.check_volcano_kubernetes, kube, R261)["volcano-kubernetes"].status == "PASS"
    assert run(doctor.check_volcano_kubernetes, DoctorKube([]), R261) == {}


def test_the_checks_run_in_doctor():
    names = [f.__name__ for f in doctor.CHECKS]
    for f in ("check_labels_profile", "check_device_plugin_layout", "check_volcano_version",
              "check_volcano_kubernetes"):
        assert f in names


# --- mindie ranktable and ClusterD ----------------------------------------------------------------------

GLOBAL_CM = {"metadata": {"name": "qwen-global-ranktable", "namespace": "llm",
                          "labels": {"mindie.huawei.com/ranktable": "global", "app.kubernetes.io/instance": "qwen"},
                          "annotations": {f"mindie.huawei.com/{role}-{what}": "1" for role in ("prefill", "decode")
                                          for what in ("instances", "pods-per-instance")}},
             "data": {"global_ranktable.json": '{"status":"initializing"}'}}


INSTANCE_CM = {"metadata": {"name": "rings-config-qwen-prefill-0", "namespace": "llm",
                            "labels": {"mindie.huawei.com/ranktable": "instance", "app.kubernetes.io/instance": "qwen"}},
               "data": {"hccl.json": '{"status":"initializing"}'}}
CD_INSTANCE_CM = copy.deepcopy(INSTANCE_CM)
CD_INSTANCE_CM["metadata"]["labels"]["jobID"] = "qwen-mindie-service"
UPSTREAM_DEPLOYMENT = {"metadata": {"namespace": "mindx-dl", "name": "clusterd"}}  # clusterd.yaml: no labels


class RanktableKube:
    def __init__(self, deployments=(), pods=(), cms=(GLOBAL_CM, INSTANCE_CM), objects=None) -> None:
        self.deployments, self.pods, self.cms = list(deployments), list(pods), list(cms)
        self.objects = dict(objects or {})
        self.asked: list[str | None] = []

    def list_configmaps(self, namespace, label_selector=None):
        return self.cms

    def list_deployments(self, label_selector=None):
        self.asked.append(label_selector)
        return self.deployments

    def get_object(self, path):
        self.asked.append(path)
        return self.objects.get(path)

    def list_pods(self, namespace=None, label_selector=None, field_selector=None):
        assert label_selector == "app=clusterd"
        return self.pods


def test_find_clusterd_ours_upstream_by_name_or_by_pods():
    ours = {"metadata": {"namespace": "mindx-dl", "name": "clusterd"}}
    kube = RanktableKube(deployments=[ours])
    assert find_clusterd(kube) == ["deployment mindx-dl/clusterd"]
    assert kube.asked == ["app.kubernetes.io/part-of=mindcluster,app.kubernetes.io/component=clusterd"]
    path = "/apis/apps/v1/namespaces/mindx-dl/deployments/clusterd"
    upstream = RanktableKube(objects={path: UPSTREAM_DEPLOYMENT})
    assert find_clusterd(upstream) == ["deployment mindx-dl/clusterd"] and path in upstream.asked
    by_pod = RanktableKube(pods=[{"metadata": {"namespace": "mindx-dl", "name": "clusterd-5d9f-abc"}},
                                 {"metadata": {"namespace": "mindx-dl", "name": "clusterd-old",
                                               "deletionTimestamp": "2026-11-30T00:00:00Z"}}])
    assert find_clusterd(by_pod) == ["pod mindx-dl/clusterd-5d9f-abc"]
    assert find_clusterd(RanktableKube()) == []


def test_ranktable_source():
    assert ranktable_source(RanktableKube(), "llm", "qwen") == CONFIGMAP
    assert ranktable_source(RanktableKube(cms=[CD_INSTANCE_CM]), "llm", "qwen") == CLUSTERD
    with pytest.raises(errors.NotFound, match="release nope in namespace llm"):
        ranktable_source(RanktableKube(cms=()), "llm", "nope")
    with pytest.raises(errors.NotFound):  # per-instance ConfigMaps without jobID and no global one
        ranktable_source(RanktableKube(cms=[INSTANCE_CM]), "llm", "qwen")


def test_clusterd_plan_defers_only_when_both_sides_agree():
    ours = {"metadata": {"namespace": "mindx-dl", "name": "clusterd"}}
    # rendered for ClusterD and ClusterD runs: defer
    assert clusterd_plan(RanktableKube(deployments=[ours], cms=[CD_INSTANCE_CM]), "llm", "qwen", False) == \
        ["deployment mindx-dl/clusterd"]
    # rendered for ClusterD, none runs: nothing could give the controller a table
    with pytest.raises(errors.AscendError, match="ClusterD is not installed.*ascend-clusterd.enabled=true"):
        clusterd_plan(RanktableKube(cms=[CD_INSTANCE_CM]), "llm", "qwen", False)
    with pytest.raises(errors.AscendError, match="not installed"):
        clusterd_plan(RanktableKube(cms=[CD_INSTANCE_CM]), "llm", "qwen", True)
    # ClusterD runs, release rendered without it: its pods wait for our ConfigMap; say how to fix
    with pytest.raises(errors.AscendError) as e:
        clusterd_plan(RanktableKube(deployments=[ours]), "llm", "qwen", False)
    assert "qwen-global-ranktable" in str(e.value) and "--set clusterd.enabled=true" in str(e.value)
    assert "--set mindie-service.clusterd.enabled=true" in str(e.value) and "--force" in str(e.value)
    assert clusterd_plan(RanktableKube(deployments=[ours]), "llm", "qwen", True) == []  # --force: we write it
    assert clusterd_plan(RanktableKube(), "llm", "qwen", False) == []  # no ClusterD: we write it


class UcimKube(RanktableKube):
    """Two nodes, Volcano's scheduler ConfigMap with useClusterInfoManager UCIM, ClusterD as given."""

    def __init__(self, ucim: str, **kw) -> None:
        super().__init__(**kw)
        self.ucim = ucim

    def list_nodes(self, label_selector=None):
        return [{"metadata": {"name": "n1"}}, {"metadata": {"name": "n2"}}]

    def get_configmap(self, namespace, name):
        assert (namespace, name) == doctor.VOLCANO_CM[:2]
        conf = {"configurations": [{"name": "init-params", "arguments": {"useClusterInfoManager": self.ucim}}]}
        return {"data": {doctor.VOLCANO_CM[2]: json.dumps(conf)}}


def test_use_cluster_info_manager_finds_hand_installed_clusterd():
    path = "/apis/apps/v1/namespaces/mindx-dl/deployments/clusterd"

    def check(kube):
        [c] = doctor.check_use_cluster_info_manager(kube, doctor.Cluster(kube))
        return c.status, c.message

    # upstream's Deployment carries no labels: found by name, so "true" passes and "false" warns
    assert check(UcimKube("true", objects={path: UPSTREAM_DEPLOYMENT}))[0] == "PASS"
    assert check(UcimKube("false", objects={path: UPSTREAM_DEPLOYMENT})) == \
        ("WARN", 'ClusterD runs but Volcano ignores it (useClusterInfoManager "false")')
    # ... or by its pods (app=clusterd) elsewhere
    assert check(UcimKube("true", pods=[{"metadata": {"namespace": "ops", "name": "clusterd-1"}}]))[0] == "PASS"
    status, message = check(UcimKube("true"))
    assert status == "FAIL" and "ClusterD is not installed" in message


# --- CLI wiring -----------------------------------------------------------------------------------------

def _run(capsys, argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


@pytest.mark.parametrize("argv", [["install"], ["label-node", "--all"], ["doctor"], ["images"]])
def test_unknown_version_is_a_usage_error_before_the_cluster(monkeypatch, capsys, argv):
    def no_cluster(*a, **kw):
        raise AssertionError("the cluster was contacted")

    monkeypatch.setattr(_common.Settings, "kube", no_cluster)
    monkeypatch.setattr("kubectl_ascend.helm.Helm.__init__", no_cluster)
    code, out, err = _run(capsys, [*argv, "--mindcluster-version", "26.9.0"])
    assert code == 2 and out == ""
    assert err.startswith("error: --mindcluster-version '26.9.0': this plugin installs 26.0.0 or 26.1.0\n")


@pytest.mark.parametrize("command", ["install", "label-node", "doctor", "images"])
def test_help_names_every_known_version(capsys, command):
    code, out, _ = _run(capsys, [command, "--help"])
    assert code == 0 and "--mindcluster-version" in out
    flat = " ".join(out.split())
    for v in releases.versions():
        assert v in flat


class WiringHelm:
    """Helm as install uses it before applying: the installed release's values only."""

    recorded: dict[str, Any] | None = rel_values("26.0.0")

    def __init__(self, *a: Any, **kw: Any) -> None:
        pass

    def user_values(self, release: str, namespace: str) -> dict[str, Any] | None:
        return self.recorded


@pytest.mark.parametrize("flag, recorded, want, line", [
    (["--mindcluster-version", "26.1.0"], rel_values("26.0.0"), "26.1.0",
     "  - profile: MindCluster 26.1.0 (from --mindcluster-version); the installed release runs 26.0.0: this is an "
     "upgrade to 26.1.0"),
    ([], rel_values("26.1.0"), "26.1.0", "  - profile: MindCluster 26.1.0 (kept from release ascend-stack)"),
    ([], None, "26.0.0", "  - profile: MindCluster 26.0.0 (default)"),
])
def test_install_passes_the_chosen_release_and_says_why(monkeypatch, capsys, flag, recorded, want, line):
    from kubectl_ascend import install
    from kubectl_ascend.profile import Profile, facts_from_nodes

    seen = {}

    def plan(kube, helm, **kw):
        seen.update(kw)
        p = Profile(facts_from_nodes([]), {"global": {"mindcluster": {"version": kw["mindcluster"].version}}})
        return install.InstallPlan(p, "chart", kw["release"], kw["namespace"], recorded, [])

    monkeypatch.setattr(WiringHelm, "recorded", recorded)
    monkeypatch.setattr("kubectl_ascend.helm.Helm", WiringHelm)
    monkeypatch.setattr("kubectl_ascend.install.plan_install", plan)
    monkeypatch.setattr("kubectl_ascend.install.survey", lambda kube, plan, accept_drift=False: [])  # nothing to adopt
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())
    code, out, err = _run(capsys, ["install", *flag, "--dry-run"])
    assert code == 0, err
    assert seen["mindcluster"].version == want
    assert line + "\n" in out
    code, out, err = _run(capsys, ["install", *flag, "--dry-run", "-o", "json"])
    data = json.loads(out)
    assert data["mindcluster"]["version"] == want and data["mindcluster"]["line"] in line


# --- images: the releases come from kubectl_ascend.releases only --------------------------------------

def _with_extra_release(version: str) -> dict[str, Any]:
    """mindcluster.json with one more release, made the default (a copy; the cached facts stay as they are)."""
    facts = json.loads(json.dumps(releases.load()))
    facts["releases"][version] = {**facts["releases"][facts["default"]], "tag": f"v{version}"}
    facts["default"] = version
    return facts


class RecordingHelm:
    """HelmAPI for list_images: records the values of each render, renders one pod."""

    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []

    def prepare_chart(self, chart: str | None) -> str:
        return "chart"

    def template(self, chart: str, release: str, namespace: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        self.values.append(values)
        return [{"kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
                 "spec": {"containers": [{"name": "c", "image": "reg/x:v1"}]}}]


def test_images_takes_the_releases_from_the_facts(monkeypatch):
    from kubectl_ascend.images import list_images

    facts = _with_extra_release("27.0.0")
    monkeypatch.setattr(releases, "load", lambda: facts)
    for flag, want in ((None, "27.0.0"), ("27.0.0", "27.0.0"), ("26.1.0", "26.1.0")):
        helm = RecordingHelm()
        data = list_images(helm, user_values={}, pull_secrets=[], mindcluster_version=flag)  # type: ignore[arg-type]
        assert data["mindclusterVersion"] == want
        assert helm.values[0]["global"]["mindcluster"]["version"] == want
    with pytest.raises(errors.InvalidInput, match="known: 26.0.0, 26.1.0, 27.0.0"):
        list_images(RecordingHelm(), user_values={}, pull_secrets=[], mindcluster_version="9.9.9")  # type: ignore[arg-type]


def test_images_option_help_and_check_follow_the_facts():
    """--mindcluster-version's help and its usage check read the releases through kubectl_ascend.releases:
    a release added to the facts shows up without touching the command (fresh interpreter: click reads the
    help when the command is defined)."""
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from kubectl_ascend import releases\n"
        f"facts = json.loads({json.dumps(json.dumps(_with_extra_release('27.0.0')))})\n"
        "releases.load = lambda: facts\n"
        "from kubectl_ascend import cli\n"
        "for argv in (['images', '--help'], ['images', '--mindcluster-version', '9.9.9']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    flat = " ".join(proc.stdout.split())
    assert "MindCluster release profile: 26.0.0 or 26.1.0 or 27.0.0" in flat, flat
    assert "else 27.0.0 (the cluster is not read)" in flat, flat
    assert "error: --mindcluster-version '9.9.9': this plugin installs 26.0.0 or 26.1.0 or 27.0.0" in proc.stderr


@pytest.mark.parametrize("command", ["install", "label-node", "doctor", "images"])
def test_help_names_only_the_known_releases(capsys, command):
    """The command docstrings name releases in prose; they must stay the ones mindcluster.json knows,
    with its default where they name one ("else 26.0.0")."""
    import re

    code, out, _ = _run(capsys, [command, "--help"])
    assert code == 0
    text = " ".join(out.split())
    named = set(re.findall(r"\b\d+\.\d+\.\d+\b", text))
    assert named and named <= set(releases.versions()), named
    for default in re.findall(r"\belse (\d+\.\d+\.\d+)", text):
        assert default == releases.default_version(), text
    if command == "install":
        assert set(releases.versions()) <= named
