"""MindCluster release profiles (global.mindcluster) in the component charts and the umbrella.

Release facts come from charts/ascend-common/facts/mindcluster.json; every
expectation here is computed from that file, not written down twice.

Scenarios:
- every allowed profile (release x OS suffix x Volcano version) renders the
  umbrella with every component on, at Kubernetes 1.19, 1.28 and 1.34; every
  MindCluster image carries the profile's tag (v26.0.0, v26.1.0-<suffix>,
  <volcano>-<tag>), the NPU plugin name follows the release, the device
  plugin layout is the release's;
- each component chart alone follows global.mindcluster the same way; an
  explicit tag or a digest wins;
- refusals, each with its sentence: unknown release, OS suffix with 26.0.0,
  unknown OS suffix, a Volcano version the release does not ship (v1.12.0
  with 26.0.0), an unknown Volcano version;
- Volcano versions: the CRD set (jobflows/jobtemplates from v1.9.0,
  hypernodes from v1.12.0), schema fields (queue parent/deserved/priority,
  networkTopology), RBAC rules per version, scheduler flags (leader election
  off, klog socket dir), the leader-election lease in the chart's namespace, v1.12.0 controller ConfigMap and env, tiers;
- release differences: health flags and probes only with 26.1.0 (device
  plugin, operator, ClusterD, NodeD, NPU Exporter); -useAscendDocker only with
  26.0.0; the 26.1.0 single device plugin on workerselector=dls-worker-node
  without SoC nodes, hostPID, MOUNT_BY_RUNTIME_FOR_DP; NodeD's 26.1.0 RBAC;
- app.kubernetes.io/version is the release on MindCluster objects (and pod templates), the
  Volcano version with the release tag on Volcano's, never in a selector;
- the schemas' enums equal the facts; every component chart carries the same
  global.mindcluster defaults as the umbrella.
"""
from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import yaml

from tests.chart.helmutil import find, mindcluster_tag, one, render, render_error
from tests.tooling import CHARTS

FACTS = json.loads((CHARTS / "ascend-common" / "facts" / "mindcluster.json").read_text())
RELEASES: dict[str, Any] = FACTS["releases"]
STACK = "ascend-stack"
COMPONENTS = ["ascend-device-plugin", "ascend-volcano", "ascend-operator", "ascend-clusterd", "ascend-noded",
              "ascend-npu-exporter"]
# MindCluster images of the stack: repository -> is it a Volcano image (tag <volcano>-<release tag>)?
MC_IMAGES = {"ascendhub/ascend-k8sdeviceplugin": False, "ascendhub/ascend-operator": False,
             "ascendhub/clusterd": False, "ascendhub/noded": False, "ascendhub/npu-exporter": False,
             "ascendhub/vc-scheduler": True, "ascendhub/vc-controller-manager": True}
KUBE_VERSIONS = ["1.19.0", "1.28.0", "1.34.0"]
EVERYTHING: dict[str, Any] = {
    "ascend-clusterd": {"enabled": True},
    "ascend-noded": {"enabled": True},
    "ascend-npu-exporter": {"enabled": True},
    "ascend-volcano": {"clusterd": {"installed": True}, "scheduler": {"initParams": {"useClusterInfoManager": "true"}}},
    "ascend-docker-runtime": {"enabled": True,
                              "image": {"repository": "registry.example.com/ascend/ascend-docker-runtime",
                                        "tag": "v26.0.0"}},
    "mindie-service": {"enabled": True,
                       "image": {"repository": "registry.example/ascendhub/mindie", "tag": "2.1.RC1-800I-A2"},
                       "model": {"name": "qwen2.5-7b", "path": "/data/qwen2.5-7b"},
                       "accelerator": {"type": "module-910b-8"}},
}
HEALTHZ = {"ascend-device-plugin": 11251, "ascend-operator": 11252, "ascend-clusterd": 11253,
           "ascend-noded": 11255, "ascend-npu-exporter": 11256}


def expected_tag(version: str, suffix: str = "") -> str:
    return mindcluster_tag(version, suffix)


def allowed_profiles() -> list[tuple[str, str, str]]:
    """(version, osSuffix value, volcanoVersion value), "" meaning the release default."""
    out = []
    for version, rel in RELEASES.items():
        for suffix in ["", *rel["osSuffixes"]]:
            for vv in ["", *rel["volcano"]["versions"]]:
                out.append((version, suffix, vv))
    return out


def merge(dst: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst


def profile_values(version: str, suffix: str = "", volcano: str = "", *, umbrella: bool = True) -> dict[str, Any]:
    vals: dict[str, Any] = {"global": {"mindcluster": {"version": version, "osSuffix": suffix}}}
    if volcano:
        if umbrella:
            vals["ascend-volcano"] = {"volcanoVersion": volcano}
        else:
            vals["volcanoVersion"] = volcano
    return vals


def containers(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for o in objs:
        spec = o.get("spec", {}).get("template", {}).get("spec")
        if spec:
            out += spec.get("initContainers", []) + spec["containers"]
    return out


def mc_images(objs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """repository (without registry) -> tags used, for MindCluster images."""
    out: dict[str, set[str]] = {}
    for c in containers(objs):
        ref = c["image"]
        repo, _, tag = ref.rpartition(":")
        repo = repo.split("/", 1)[1]
        if repo in MC_IMAGES:
            out.setdefault(repo, set()).add(tag)
    return out


def rules(objs: list[dict[str, Any]], name: str) -> set[tuple[str, str, str]]:
    """A ClusterRole's rules flattened to (apiGroup, resource, verb)."""
    role = one(objs, "ClusterRole", name)
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


@pytest.fixture(scope="module", autouse=True)
def dependencies(umbrella_deps: None) -> None:
    """The umbrella's dependencies, packaged once."""


# --- every allowed profile renders, tags from the facts ----------------------------------------

@pytest.mark.parametrize("version, suffix, volcano", allowed_profiles())
@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_umbrella_every_component_every_profile(version: str, suffix: str, volcano: str, kube: str) -> None:
    rel = RELEASES[version]
    objs = render(STACK, merge(profile_values(version, suffix, volcano), EVERYTHING), kube_version=kube)
    tag = expected_tag(version, suffix)
    vv = volcano or rel["volcano"]["default"]
    images = mc_images(objs)
    assert set(images) == set(MC_IMAGES), f"missing MindCluster images: {set(MC_IMAGES) - set(images)}"
    for repo, is_volcano in MC_IMAGES.items():
        assert images[repo] == {f"{vv}-{tag}" if is_volcano else tag}, repo
    conf = yaml.safe_load(one(objs, "ConfigMap", "volcano-scheduler-configmap")["data"]["volcano-scheduler.conf"])
    plugins = [p["name"] for tier in conf["tiers"] for p in tier["plugins"]]
    assert f"volcano-npu_{rel['tag']}" in plugins
    daemonsets = {d["metadata"]["name"] for d in find(objs, "DaemonSet")}
    if rel["devicePluginLayout"] == "single":
        assert "ascend-device-plugin-daemonset" in daemonsets
        assert not any(n.startswith("ascend-device-plugin-daemonset-") for n in daemonsets)
    else:
        assert {"ascend-device-plugin-daemonset-910", "ascend-device-plugin-daemonset-310"} <= daemonsets
    # MindIE and the runtime installer are not MindCluster images: their tags stay as given.
    refs = {c["image"] for c in containers(objs)}
    assert any(r.endswith("/ascend-docker-runtime:v26.0.0") for r in refs)
    assert any(r.endswith("/mindie:2.1.RC1-800I-A2") for r in refs)


def version_labels(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, labels) of an object, its pod template and its selector."""
    out = [("metadata", obj["metadata"].get("labels") or {})]
    spec = obj.get("spec") or {}
    tmpl = spec.get("template") if isinstance(spec, dict) else None
    if isinstance(tmpl, dict) and "metadata" in tmpl:
        out.append(("pod template", tmpl["metadata"].get("labels") or {}))
    return out


@pytest.mark.parametrize("version, volcano", [(v, vv) for v, r in RELEASES.items() for vv in r["volcano"]["versions"]])
def test_version_label_is_the_release(version: str, volcano: str) -> None:
    """app.kubernetes.io/version: the MindCluster release on MindCluster objects, <Volcano>-<release tag> on
    Volcano's (the scheduler carries the release's NPU plugin); never in a selector (immutable)."""
    rel = RELEASES[version]
    objs = render(STACK, merge(profile_values(version, "", volcano), EVERYTHING))
    seen = set()
    for o in objs:
        for where, labels in version_labels(o):
            if labels.get("app.kubernetes.io/part-of") != "mindcluster":
                continue  # mindie-service: its own version
            name = labels.get("app.kubernetes.io/name")
            want = f"{volcano}-{rel['tag']}" if name == "ascend-volcano" else version
            assert labels.get("app.kubernetes.io/version") == want, (o["kind"], o["metadata"]["name"], where)
            seen.add(name)
        selector = ((o.get("spec") or {}).get("selector") or {}) if isinstance(o.get("spec"), dict) else {}
        if isinstance(selector, dict):
            assert "app.kubernetes.io/version" not in (selector.get("matchLabels") or selector), o["metadata"]
    assert {"ascend-stack", "ascend-volcano", "ascend-device-plugin", "ascend-operator", "ascend-clusterd",
            "ascend-noded", "ascend-npu-exporter", "ascend-docker-runtime"} <= seen


@pytest.mark.parametrize("chart", COMPONENTS)
@pytest.mark.parametrize("version", sorted(RELEASES))
def test_component_alone_follows_the_profile(chart: str, version: str) -> None:
    objs = render(chart, profile_values(version, umbrella=False))
    tag = expected_tag(version)
    vv = RELEASES[version]["volcano"]["default"]
    images = mc_images(objs)
    assert images, f"{chart} renders no MindCluster image"
    for repo, tags in images.items():
        assert tags == {f"{vv}-{tag}" if MC_IMAGES[repo] else tag}, repo


@pytest.mark.parametrize("chart, image_key", [("ascend-device-plugin", ["image"]),
                                              ("ascend-volcano", ["scheduler", "image"]),
                                              ("ascend-operator", ["image"]), ("ascend-clusterd", ["image"]),
                                              ("ascend-noded", ["image"]), ("ascend-npu-exporter", ["image"])])
def test_explicit_tag_or_digest_wins(chart: str, image_key: list[str]) -> None:
    def at(image: dict[str, Any]) -> dict[str, Any]:
        vals = profile_values("26.1.0", umbrella=False)
        node = vals
        for k in image_key[:-1]:
            node = node.setdefault(k, {})
        node[image_key[-1]] = image
        return vals

    refs = {c["image"] for c in containers(render(chart, at({"tag": "v9.9.9-custom"})))}
    assert any(r.endswith(":v9.9.9-custom") for r in refs), refs
    digest = "sha256:" + "a" * 64
    refs = {c["image"] for c in containers(render(chart, at({"digest": digest})))}
    assert any(r.endswith("@" + digest) for r in refs), refs


def test_defaults_are_the_first_release() -> None:
    """With no global.mindcluster at all the release is the facts' default (renders stay as before)."""
    images = mc_images(render(STACK))
    tag = RELEASES[FACTS["default"]]["tag"]
    assert images["ascendhub/ascend-k8sdeviceplugin"] == {tag}
    assert images["ascendhub/vc-scheduler"] == {f"{RELEASES[FACTS['default']]['volcano']['default']}-{tag}"}


# --- refusals ------------------------------------------------------------------------------------

def no_suffix_release() -> str:
    return next(v for v, r in RELEASES.items() if not r["osSuffixes"])


def suffix_release() -> str:
    return next(v for v, r in RELEASES.items() if r["osSuffixes"])


@pytest.mark.parametrize("chart", [STACK, *COMPONENTS])
def test_os_suffix_with_a_release_without_suffixes_is_refused(chart: str) -> None:
    version, suffix = no_suffix_release(), RELEASES[suffix_release()]["osSuffixes"][0]
    err = render_error(chart, profile_values(version, suffix))
    assert f'global.mindcluster.osSuffix is "{suffix}" but MindCluster {version} publishes its images ' \
           "without an OS suffix" in err
    assert "Leave global.mindcluster.osSuffix empty" in err


@pytest.mark.parametrize("chart", [STACK, *COMPONENTS])
def test_unknown_release_and_suffix_are_refused(chart: str) -> None:
    err = render_error(chart, profile_values("27.0.0"))
    assert "global/mindcluster/version" in err
    for version in RELEASES:
        assert version in err
    err = render_error(chart, profile_values(suffix_release(), "centos7"))
    assert "global/mindcluster/osSuffix" in err
    for suffix in RELEASES[suffix_release()]["osSuffixes"]:
        assert suffix in err


def test_volcano_version_not_shipped_with_the_release_is_refused() -> None:
    for version, rel in RELEASES.items():
        others = sorted({v for r in RELEASES.values() for v in r["volcano"]["versions"]} - set(rel["volcano"]["versions"]))
        for vv in others:
            err = render_error(STACK, profile_values(version, "", vv))
            assert f'volcanoVersion "{vv}" is not shipped with MindCluster {version}' in err
            assert f"Use one of {', '.join(rel['volcano']['versions'])} (empty = {rel['volcano']['default']})" in err
    # Concretely: v1.12.0 came with 26.1.0.
    assert "not shipped with MindCluster 26.0.0" in render_error(
        "ascend-volcano", profile_values("26.0.0", volcano="v1.12.0", umbrella=False))


def test_unknown_volcano_version_is_refused_by_the_schema() -> None:
    err = render_error("ascend-volcano", {"volcanoVersion": "v1.8.0"})
    assert "/volcanoVersion" in err and "v1.12.0" in err


# --- Volcano versions: CRDs, RBAC, flags ---------------------------------------------------------

ALL_VOLCANO = sorted({v for r in RELEASES.values() for v in r["volcano"]["versions"]},
                     key=lambda v: [int(x) for x in v[1:].split(".")])


def volcano(vv: str, **extra: Any) -> list[dict[str, Any]]:
    release = next(v for v, r in sorted(RELEASES.items()) if vv in r["volcano"]["versions"])
    return render("ascend-volcano", merge(profile_values(release, volcano=vv, umbrella=False), extra))


def crd_names(objs: list[dict[str, Any]]) -> set[str]:
    return {o["metadata"]["name"] for o in find(objs, "CustomResourceDefinition")}


def spec_props(objs: list[dict[str, Any]], crd: str) -> dict[str, Any]:
    c = one(objs, "CustomResourceDefinition", crd)
    return c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]


BASE_CRDS = {"jobs.batch.volcano.sh", "commands.bus.volcano.sh", "podgroups.scheduling.volcano.sh",
             "queues.scheduling.volcano.sh", "numatopologies.nodeinfo.volcano.sh"}
# mind-cluster v26.1.0 component/ascend-for-volcano/build/volcano-<v>.yaml
CRDS = {"v1.7.0": BASE_CRDS,
        "v1.9.0": BASE_CRDS | {"jobflows.flow.volcano.sh", "jobtemplates.flow.volcano.sh"},
        "v1.12.0": BASE_CRDS | {"jobflows.flow.volcano.sh", "jobtemplates.flow.volcano.sh",
                                "hypernodes.topology.volcano.sh"}}


@pytest.mark.parametrize("vv", ALL_VOLCANO)
def test_volcano_crds_follow_the_version(vv: str) -> None:
    objs = volcano(vv)
    assert crd_names(objs) == CRDS[vv]
    queue = spec_props(objs, "queues.scheduling.volcano.sh")
    assert ("parent" in queue and "deserved" in queue) == (vv != "v1.7.0")
    assert ("priority" in queue) == (vv == "v1.12.0")
    for crd in ("jobs.batch.volcano.sh", "podgroups.scheduling.volcano.sh"):
        assert ("networkTopology" in spec_props(objs, crd)) == (vv == "v1.12.0"), crd
    if vv != "v1.7.0":
        # A JobTemplate's spec is a Job's spec.
        assert spec_props(objs, "jobtemplates.flow.volcano.sh") == spec_props(objs, "jobs.batch.volcano.sh")
        assert one(objs, "CustomResourceDefinition", "jobflows.flow.volcano.sh")["spec"]["names"]["shortNames"] == ["jf"]
    for crd in find(objs, "CustomResourceDefinition"):
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert crd_names(volcano(vv, crds={"install": False})) == set()


def test_hypernode_validation_rules_only_where_the_api_server_has_them() -> None:
    def selector(kube: str) -> dict[str, Any]:
        objs = render("ascend-volcano", profile_values("26.1.0", volcano="v1.12.0", umbrella=False), kube_version=kube)
        hn = one(objs, "CustomResourceDefinition", "hypernodes.topology.volcano.sh")
        members = hn["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["members"]
        return members["items"]["properties"]["selector"]

    assert len(selector("1.34.0")["x-kubernetes-validations"]) == 2
    assert "x-kubernetes-validations" not in selector("1.22.0")


def test_volcano_rbac_follows_the_version() -> None:
    r = {vv: volcano(vv) for vv in ALL_VOLCANO}
    sched = {vv: rules(o, "volcano-scheduler") for vv, o in r.items()}
    ctrl = {vv: rules(o, "volcano-controllers") for vv, o in r.items()}
    # Each version's rules contain the earlier version's.
    for a, b in itertools.pairwise(ALL_VOLCANO):
        assert sched[a] <= sched[b] and ctrl[a] <= ctrl[b]
    assert ("", "bindings", "create") in sched["v1.9.0"] - sched["v1.7.0"]
    assert ("", "nodes", "patch") in sched["v1.9.0"] - sched["v1.7.0"]
    assert ("coordination.k8s.io", "leases", "watch") in sched["v1.9.0"]
    assert ("flow.volcano.sh", "jobflows", "create") in ctrl["v1.9.0"] - ctrl["v1.7.0"]
    assert ("batch.volcano.sh", "jobs", "create") in ctrl["v1.9.0"] - ctrl["v1.7.0"]
    for verb in ("get", "list", "watch"):
        assert ("topology.volcano.sh", "hypernodes", verb) in sched["v1.12.0"] - sched["v1.9.0"]
    assert ("resource.k8s.io", "resourceclaims", "update") in sched["v1.12.0"] - sched["v1.9.0"]
    assert ("scheduling.volcano.sh", "podgroups/status", "patch") in sched["v1.12.0"]
    assert ("topology.volcano.sh", "hypernodes", "create") in ctrl["v1.12.0"] - ctrl["v1.9.0"]
    assert ("", "nodes", "list") in ctrl["v1.12.0"] - ctrl["v1.9.0"]
    # Nothing about hypernodes before v1.12.0, nothing about flows before v1.9.0.
    assert not any(g == "topology.volcano.sh" for g, _, _ in sched["v1.9.0"] | ctrl["v1.9.0"])
    assert not any(g == "flow.volcano.sh" for g, _, _ in ctrl["v1.7.0"])


@pytest.mark.parametrize("vv", ALL_VOLCANO)
def test_volcano_flags_and_volumes_follow_the_version(vv: str) -> None:
    objs = volcano(vv)
    sched = one(objs, "Deployment", "volcano-scheduler")["spec"]["template"]["spec"]
    args = sched["containers"][0]["args"]
    later = vv != "v1.7.0"
    # v1.9.0 elects a leader by default (cmd/scheduler/app/options/options.go); one replica needs none.
    assert ("--leader-elect=false" in args) == later
    assert ("--percentage-nodes-to-find=100" in args) == later
    socket = [v for v in sched["volumes"] if v["name"] == "klog-sock"]
    assert (socket == [{"name": "klog-sock", "emptyDir": {}}]) == later
    two = volcano(vv, scheduler={"replicas": 2})
    assert "--leader-elect=false" not in one(two, "Deployment", "volcano-scheduler")["spec"]["template"]["spec"][
        "containers"][0]["args"]
    ctrl = one(objs, "Deployment", "volcano-controllers")["spec"]["template"]["spec"]["containers"][0]
    if vv == "v1.12.0":
        assert ctrl["env"] == [{"name": "KUBE_POD_NAMESPACE", "value": "volcano-system"},
                               {"name": "HELM_RELEASE_NAME", "value": "volcano"}]
        assert one(objs, "ConfigMap", "volcano-controller-configmap")["data"] == {"volcano-controller.conf": ""}
    else:
        assert "env" not in ctrl
        assert not find(objs, "ConfigMap", "volcano-controller-configmap")


@pytest.mark.parametrize("vv, flag", [("v1.9.0", "--lock-object-namespace=vc"),
                                      ("v1.12.0", "--leader-elect-resource-namespace=vc")])
def test_leader_election_lease_follows_the_namespace(vv: str, flag: str) -> None:
    """From v1.9.0 leader election is on with its lease in volcano-system; another namespace moves it."""
    def args(objs: list[dict[str, Any]], name: str) -> list[str]:
        return main_container(objs, "Deployment", name)["args"]

    objs = volcano(vv, namespace="vc")
    assert flag in args(objs, "volcano-controllers")
    assert flag not in args(objs, "volcano-scheduler")  # one replica: no election at all
    assert flag in args(volcano(vv, namespace="vc", scheduler={"replicas": 2}), "volcano-scheduler")
    for name in ("volcano-controllers", "volcano-scheduler"):
        assert not [a for a in args(volcano(vv), name) if "namespace=" in a]
    assert not [a for a in args(volcano("v1.7.0", namespace="vc"), "volcano-controllers") if "leader" in a or "lock" in a]


def test_volcano_tiers_follow_the_version() -> None:
    def tiers(vv: str) -> list[list[str]]:
        conf = one(volcano(vv), "ConfigMap", "volcano-scheduler-configmap")["data"]["volcano-scheduler.conf"]
        return [[p["name"] for p in t["plugins"]] for t in yaml.safe_load(conf)["tiers"]]

    assert tiers("v1.7.0")[0] == ["priority", "gang", "conformance", "volcano-npu_v26.0.0"]
    # mind-cluster v26.1.0 build/volcano-v1.12.0.yaml puts the NPU plugin right after gang.
    assert tiers("v1.12.0")[0] == ["gang", "volcano-npu_v26.1.0", "priority", "conformance"]
    assert tiers("v1.12.0")[1] == tiers("v1.7.0")[1]


def test_npu_plugin_name_value_wins_over_the_release() -> None:
    vals = merge(profile_values("26.1.0", umbrella=False), {"scheduler": {"npuPluginName": "volcano-npu_custom"}})
    conf = one(render("ascend-volcano", vals), "ConfigMap", "volcano-scheduler-configmap")["data"]
    assert "name: volcano-npu_custom" in conf["volcano-scheduler.conf"]
    assert "volcano-npu_v26.1.0" not in conf["volcano-scheduler.conf"]


# --- release differences of the other components ------------------------------------------------

def main_container(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return one(objs, kind, name)["spec"]["template"]["spec"]["containers"][0]


WORKLOAD = {"ascend-operator": ("Deployment", "ascend-operator-manager"),
            "ascend-clusterd": ("Deployment", "clusterd"), "ascend-noded": ("DaemonSet", "noded"),
            "ascend-npu-exporter": ("DaemonSet", "npu-exporter")}


@pytest.mark.parametrize("chart", sorted(WORKLOAD))
@pytest.mark.parametrize("version", sorted(RELEASES))
def test_health_flags_only_where_the_binary_has_them(chart: str, version: str) -> None:
    c = main_container(render(chart, profile_values(version, umbrella=False)), *WORKLOAD[chart])
    healthz = RELEASES[version]["features"]["healthz"]
    port = HEALTHZ[chart]
    assert ("--enable-healthz=true" in c["args"]) == healthz
    assert (f"--healthz-address={port}" in c["args"]) == healthz
    assert ("livenessProbe" in c) == healthz
    if healthz:
        assert c["livenessProbe"]["httpGet"]["path"] == "/"


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_device_plugin_follows_the_release(version: str) -> None:
    rel = RELEASES[version]
    feats = rel["features"]
    objs = render("ascend-device-plugin", profile_values(version, umbrella=False))
    ds = find(objs, "DaemonSet")
    if rel["devicePluginLayout"] == "single":
        assert [d["metadata"]["name"] for d in ds] == ["ascend-device-plugin-daemonset"]
    else:
        assert len(ds) > 1
    for d in ds:
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        assert any(a.startswith("-useAscendDocker=") for a in c["args"]) == feats["useAscendDockerFlag"]
        assert ("--enable-healthz=true" in c["args"]) == feats["healthz"]
        assert ("--healthz-address=11251" in c["args"]) == feats["healthz"]
        assert ({"name": "MOUNT_BY_RUNTIME_FOR_DP", "value": "true"} in c["env"]) == feats["mountByRuntimeForDP"]
        assert spec.get("hostPID", False) == feats["devicePluginHostPID"]
        # /run/containerd: 26.0.0's manifest mounts it; 26.1.0's leaves it to Ascend Docker Runtime, which
        # bind-mounts it when MOUNT_BY_RUNTIME_FOR_DP is set (v26.1.0 runtime/process/process.go addDPMountsToSpec)
        mounted = {m["mountPath"] for m in c["volumeMounts"]} | {(v.get("hostPath") or {}).get("path")
                                                                  for v in spec["volumes"]}
        assert ("/run/containerd" in mounted) == (not feats["mountByRuntimeForDP"])


def test_device_plugin_single_layout_of_a_self_labelling_release() -> None:
    version = next(v for v, r in RELEASES.items() if "accelerator" in r["devicePluginSetsLabels"])
    objs = render("ascend-device-plugin", profile_values(version, umbrella=False))
    spec = one(objs, "DaemonSet", "ascend-device-plugin-daemonset")["spec"]["template"]["spec"]
    # The plugin sets `accelerator` itself, so it cannot be selected by it (chicken and egg).
    assert spec["nodeSelector"] == {"workerselector": "dls-worker-node"}
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "servertype", "operator": "NotIn", "values": ["soc"]}]}]
    # Explicit perFamily still selects per chip family.
    per = render("ascend-device-plugin", merge(profile_values(version, umbrella=False), {"layout": "perFamily"}))
    sel = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["nodeSelector"] for d in find(per, "DaemonSet")}
    assert sel["ascend-device-plugin-daemonset-910"] == {"accelerator": "huawei-Ascend910"}


def test_device_plugin_single_layout_of_a_release_that_needs_the_label() -> None:
    version = next(v for v, r in RELEASES.items() if "accelerator" not in r["devicePluginSetsLabels"])
    objs = render("ascend-device-plugin", merge(profile_values(version, umbrella=False), {"layout": "single"}))
    spec = one(objs, "DaemonSet", "ascend-device-plugin-daemonset")["spec"]["template"]["spec"]
    expr = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expr["key"] == "accelerator" and expr["operator"] == "In"


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_noded_rbac_follows_the_release(version: str) -> None:
    got = rules(render("ascend-noded", profile_values(version, umbrella=False)), "pods-noded-role")
    extra = {("", "pods", v) for v in ("get", "list", "watch", "patch")} | {("apps", "daemonsets", "get")}
    if RELEASES[version]["features"]["nodedPodRbac"]:
        assert extra <= got
    else:
        assert not extra & got
    # both releases: nodes get/list/patch (noded.yaml at v26.0.0 and v26.1.0) and host network
    assert {("", "nodes", v) for v in ("get", "list", "patch")} <= got
    objs = render("ascend-noded", profile_values(version, umbrella=False))
    assert next(o for o in objs if o["kind"] == "DaemonSet")["spec"]["template"]["spec"]["hostNetwork"] is True


# --- schemas and defaults agree with the facts --------------------------------------------------

@pytest.mark.parametrize("chart", [STACK, *COMPONENTS])
def test_schema_enums_and_defaults_equal_the_facts(chart: str) -> None:
    schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
    mc = schema["properties"]["global"]["properties"]["mindcluster"]
    assert mc["additionalProperties"] is False
    assert sorted(mc["properties"]["version"]["enum"]) == sorted(RELEASES)
    suffixes = {s for r in RELEASES.values() for s in r["osSuffixes"]}
    assert set(mc["properties"]["osSuffix"]["enum"]) == {""} | suffixes
    values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
    assert values["global"]["mindcluster"] == {"version": FACTS["default"], "osSuffix": ""}


def test_volcano_version_enum_equals_the_facts() -> None:
    schema = json.loads((CHARTS / "ascend-volcano" / "values.schema.json").read_text())
    assert set(schema["properties"]["volcanoVersion"]["enum"]) == {""} | set(ALL_VOLCANO)
