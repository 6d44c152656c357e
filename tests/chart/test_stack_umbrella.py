"""Render-and-assert tests of the charts/ascend-stack umbrella.

The module fixture runs `helm dependency build charts/ascend-stack` (offline:
every dependency is file://) before anything renders.

Scenarios:
- defaults: the device plugin's three DaemonSets, Volcano's two Deployments,
  ConfigMap, CRDs and default Queue, the operator, no docker-runtime and no
  mindie-service objects; namespaces created per the policy (not the release
  namespace, not kube-system; keep + Pod Security labels), or none with
  namespaces.create=false; common labels on every object and the component
  labels `kubectl ascend status/doctor` look for;
- each component off; the docker-runtime installer on (needs an image);
  each chip family alone; the 26.1 single layout; volcanoType false;
  single-node settings; global registry and pull secrets reaching every pod;
- security across the stack: privileged only for the device plugin and the
  runtime installer, uid 9000 for Volcano and the operator, no RBAC wildcard;
- refusals: top-level and component typos (schemas), presetVirtualDevice
  disagreement, everything disabled, useClusterInfoManager without ClusterD;
- NOTES (helm install --dry-run=client): warnings first, then commands;
- Kubernetes 1.19.0 ... 1.36.0; helm lint --strict; golden file of the
  defaults (tests/chart/golden/stack-defaults.yaml, regenerate with
  UPDATE_GOLDEN=1).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.chart.helmutil import find, lint, one, render, render_error
from tests.tooling import CHARTS, need_tool, run

pytestmark = pytest.mark.chart

CHART = "ascend-stack"
RELEASE = "mindcluster"
NS = "mindx-dl"
GOLDEN = Path(__file__).parent / "golden" / "stack-defaults.yaml"
KUBE_VERSIONS = ["1.19.0", "1.22.0", "1.25.0", "1.29.0", "1.34.0", "1.36.0"]
RUNTIME_IMAGE = {"repository": "registry.example.com/ascend/ascend-docker-runtime", "tag": "v26.0.0"}
CONTROL_PLANE_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                            "effect": "NoSchedule"}

# What `kubectl ascend status/doctor` look for: (kind, namespace, name) -> component label.
WORKLOADS = {
    ("DaemonSet", "kube-system", "ascend-device-plugin-daemonset-910"): "device-plugin",
    ("DaemonSet", "kube-system", "ascend-device-plugin-daemonset-310"): "device-plugin",
    ("DaemonSet", "kube-system", "ascend-device-plugin-daemonset-310p"): "device-plugin",
    ("Deployment", "volcano-system", "volcano-scheduler"): "volcano-scheduler",
    ("Deployment", "volcano-system", "volcano-controllers"): "volcano-controllers",
    ("Deployment", "mindx-dl", "ascend-operator-manager"): "ascend-operator",
}


@pytest.fixture(autouse=True)
def dependencies(umbrella_deps: None) -> None:
    """The umbrella with its dependencies packaged (tests/chart/conftest.py)."""


def stack(values: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
    kw.setdefault("release", RELEASE)
    kw.setdefault("namespace", NS)
    return render(CHART, values, **kw)


def stack_error(values: dict[str, Any] | None = None, **kw: Any) -> str:
    kw.setdefault("release", RELEASE)
    kw.setdefault("namespace", NS)
    return render_error(CHART, values, **kw)


def workloads(objs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o
            for o in objs if o["kind"] in ("DaemonSet", "Deployment", "StatefulSet")}


def pod_specs(objs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in objs:
        if o["kind"] in ("DaemonSet", "Deployment", "StatefulSet"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def normalise(objs: list[dict[str, Any]]) -> str:
    key = lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])  # noqa: E731
    return yaml.safe_dump_all(sorted(objs, key=key), sort_keys=True, default_flow_style=False)


def test_defaults_objects() -> None:
    objs = stack()
    assert set(workloads(objs)) == set(WORKLOADS)
    assert {o["metadata"]["name"] for o in find(objs, "CustomResourceDefinition")} == {
        "jobs.batch.volcano.sh", "commands.bus.volcano.sh", "podgroups.scheduling.volcano.sh",
        "queues.scheduling.volcano.sh", "numatopologies.nodeinfo.volcano.sh", "ascendjobs.mindxdl.gitee.com"}
    one(objs, "ConfigMap", "volcano-scheduler-configmap")
    assert not find(objs, "Queue")  # vc-scheduler / kubectl ascend install create it (see the chart README)
    assert not [o for o in objs if "docker-runtime" in o["metadata"]["name"]]
    assert not [o for o in objs if "mindie" in yaml.safe_dump(o["metadata"].get("labels", {}))]
    ns = one(objs, "Namespace")
    assert ns["metadata"]["name"] == "volcano-system"
    assert ns["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_status_doctor_labels() -> None:
    found = workloads(stack())
    for key, component in WORKLOADS.items():
        labels = found[key]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == component, key
        assert labels["app.kubernetes.io/part-of"] == "mindcluster"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        pod_labels = found[key]["spec"]["template"]["metadata"]["labels"]
        assert pod_labels["app.kubernetes.io/component"] == component
        assert pod_labels["app.kubernetes.io/part-of"] == "mindcluster"
        assert not any("version" in k for k in found[key]["spec"]["selector"]["matchLabels"])


def test_common_labels_on_every_object() -> None:
    values = {"ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE}}
    for o in stack(values):
        labels = o["metadata"]["labels"]
        for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                  "app.kubernetes.io/managed-by", "app.kubernetes.io/component"):
            assert labels.get(k), (o["kind"], o["metadata"]["name"], k)
        assert labels["app.kubernetes.io/part-of"] == "mindcluster", (o["kind"], o["metadata"]["name"])


@pytest.mark.parametrize("release_ns, expected", [
    ("mindx-dl", ["volcano-system"]),
    ("default", ["mindx-dl", "volcano-system"]),
    ("volcano-system", ["mindx-dl"]),
])
def test_namespace_policy(release_ns: str, expected: list[str]) -> None:
    objs = stack(namespace=release_ns)
    assert sorted(o["metadata"]["name"] for o in find(objs, "Namespace")) == expected


def test_namespaces_not_created() -> None:
    assert not find(stack({"namespaces": {"create": False}}), "Namespace")
    ns = one(stack({"namespaces": {"podSecurityEnforce": ""}}), "Namespace")
    assert "pod-security.kubernetes.io/enforce" not in ns["metadata"]["labels"]


def test_custom_component_namespaces() -> None:
    objs = stack({"ascend-volcano": {"namespace": "vc"}, "ascend-operator": {"namespace": "ops"}})
    assert sorted(o["metadata"]["name"] for o in find(objs, "Namespace")) == ["ops", "vc"]
    assert one(objs, "Deployment", "volcano-scheduler")["metadata"]["namespace"] == "vc"
    assert one(objs, "Deployment", "ascend-operator-manager")["metadata"]["namespace"] == "ops"


@pytest.mark.parametrize("component, gone", [
    ("ascend-device-plugin", {"ascend-device-plugin-daemonset-910", "ascend-device-plugin-daemonset-310",
                              "ascend-device-plugin-daemonset-310p"}),
    ("ascend-volcano", {"volcano-scheduler", "volcano-controllers"}),
    ("ascend-operator", {"ascend-operator-manager"}),
])
def test_each_component_off(component: str, gone: set[str]) -> None:
    objs = stack({component: {"enabled": False}})
    names = {k[2] for k in workloads(objs)}
    assert not names & gone
    assert names == {k[2] for k in WORKLOADS} - gone
    labels_of = {o["metadata"]["labels"].get("app.kubernetes.io/name") for o in objs}
    assert component not in labels_of
    if component == "ascend-volcano":
        assert not find(objs, "Queue") and not find(objs, "Namespace")
        assert {o["metadata"]["name"] for o in find(objs, "CustomResourceDefinition")} == {
            "ascendjobs.mindxdl.gitee.com"}


def test_docker_runtime_needs_image() -> None:
    err = stack_error({"ascend-docker-runtime": {"enabled": True}})
    assert "image.repository is empty" in err


def test_docker_runtime_on() -> None:
    objs = stack({"ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE}})
    ds = one(objs, "DaemonSet", "ascend-docker-runtime-installer")
    assert ds["metadata"]["namespace"] == "kube-system"
    assert ds["metadata"]["labels"]["app.kubernetes.io/component"] == "docker-runtime"
    assert [o["metadata"]["name"] for o in find(objs, "Namespace")] == ["volcano-system"]


def test_mindie_service_is_an_optional_dependency() -> None:
    chart = yaml.safe_load((CHARTS / CHART / "Chart.yaml").read_text())
    deps = {d["name"]: d for d in chart["dependencies"]}
    # the helper library, always there (it renders nothing)
    assert deps.pop("ascend-common") == {"name": "ascend-common", "version": "~0.1.0",
                                         "repository": "file://../ascend-common"}
    assert set(deps) == {"ascend-device-plugin", "ascend-volcano", "ascend-operator", "ascend-docker-runtime",
                         "ascend-clusterd", "ascend-noded", "ascend-npu-exporter", "mindie-service"}
    for name, dep in deps.items():
        assert dep["repository"] == f"file://../{name}"
        assert dep["condition"] == f"{name}.enabled"
    # On request it renders inside the stack (values as in its own tests).
    values = {"mindie-service": {"enabled": True,
                                 "image": {"repository": "registry.example/ascendhub/mindie", "tag": "2.1.RC1-800I-A2"},
                                 "model": {"name": "qwen2.5-7b", "path": "/data/qwen2.5-7b"},
                                 "accelerator": {"type": "module-910b-8"}}}
    names = {o["metadata"].get("labels", {}).get("app.kubernetes.io/name") for o in stack(values)}
    assert "mindie-service" in names


@pytest.mark.parametrize("family, suffix", [("ascend910", "910"), ("ascend310", "310"),
                                            ("ascend310p", "310p"), ("npu", "npu")])
def test_each_chip_family_alone(family: str, suffix: str) -> None:
    fams = {f: {"enabled": f == family} for f in ("ascend910", "ascend310", "ascend310p", "npu")}
    objs = stack({"ascend-device-plugin": {"families": fams}})
    assert [d["metadata"]["name"] for d in find(objs, "DaemonSet")] == [f"ascend-device-plugin-daemonset-{suffix}"]


def test_single_layout() -> None:
    objs = stack({"ascend-device-plugin": {"layout": "single"}})
    ds = one(objs, "DaemonSet")
    assert ds["metadata"]["name"] == "ascend-device-plugin-daemonset"
    expr = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expr == {"key": "accelerator", "operator": "In",
                    "values": ["huawei-Ascend910", "huawei-Ascend310", "huawei-Ascend310P"]}


def test_volcano_type_false() -> None:
    objs = stack({"ascend-device-plugin": {"volcanoType": False}})
    for ds in find(objs, "DaemonSet"):
        (c,) = ds["spec"]["template"]["spec"]["containers"]
        assert "-volcanoType=false" in c["args"]
        assert "/etc/vnpu.cfg" not in [m["mountPath"] for m in c["volumeMounts"]]


def test_single_node_settings() -> None:
    values = {
        "ascend-device-plugin": {"families": {"ascend310": {"enabled": False}, "ascend310p": {"enabled": False}}},
        "ascend-volcano": {"tolerations": [CONTROL_PLANE_TOLERATION],
                           "scheduler": {"initParams": {"useClusterInfoManager": "false"}}},
        "ascend-operator": {"tolerations": [CONTROL_PLANE_TOLERATION]},
    }
    objs = stack(values)
    assert [d["metadata"]["name"] for d in find(objs, "DaemonSet")] == ["ascend-device-plugin-daemonset-910"]
    conf = yaml.safe_load(one(objs, "ConfigMap", "volcano-scheduler-configmap")["data"]["volcano-scheduler.conf"])
    assert conf["configurations"][0]["arguments"]["useClusterInfoManager"] == "false"
    for name in ("volcano-scheduler", "volcano-controllers", "ascend-operator-manager"):
        dep = one(objs, "Deployment", name)
        assert dep["spec"]["replicas"] == 1
        assert dep["spec"]["template"]["spec"]["tolerations"] == [CONTROL_PLANE_TOLERATION]
        assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"masterselector": "dls-master-node"}


def test_global_registry_and_pull_secrets_reach_every_pod() -> None:
    values = {"global": {"imageRegistry": "mirror.local:5000", "imagePullSecrets": ["regcred"]},
              "ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE}}
    objs = stack(values)
    seen = 0
    for name, spec in pod_specs(objs):
        assert spec["imagePullSecrets"] == [{"name": "regcred"}], name
        for c in containers(spec):
            assert c["image"].startswith("mirror.local:5000/"), (name, c["name"], c["image"])
            seen += 1
    assert seen >= 14


def test_privileged_only_where_needed() -> None:
    objs = stack({"ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE}})
    privileged = set()
    for name, spec in pod_specs(objs):
        for c in containers(spec):
            if (c.get("securityContext") or {}).get("privileged"):
                privileged.add((name, c["name"]))
    assert privileged == {
        ("ascend-device-plugin-daemonset-910", "device-plugin"),
        ("ascend-device-plugin-daemonset-310", "device-plugin"),
        ("ascend-device-plugin-daemonset-310p", "device-plugin"),
        ("ascend-docker-runtime-installer", "install"),
    }


def test_hwmindx_uid_for_volcano_and_operator() -> None:
    objs = stack()
    for name in ("volcano-scheduler", "volcano-controllers", "ascend-operator-manager"):
        spec = one(objs, "Deployment", name)["spec"]["template"]["spec"]
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (9000, 9000, True), name
        for c in spec["initContainers"]:
            assert c["securityContext"]["capabilities"]["add"] == ["CHOWN", "FOWNER"]


def test_no_rbac_wildcards_anywhere() -> None:
    objs = stack({"ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE}})
    roles = find(objs, "ClusterRole") + find(objs, "Role")
    assert {r["metadata"]["name"] for r in roles} == {
        "ascend-device-plugin", "volcano-scheduler", "volcano-controllers", "ascend-operator-manager-role"}
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert not any("*" in x for x in rule.get(field, [])), (role["metadata"]["name"], rule)
    for crb in find(objs, "ClusterRoleBinding"):
        assert crb["roleRef"]["name"] in {r["metadata"]["name"] for r in roles}


@pytest.mark.parametrize("values, needle", [
    ({"namespace": {"create": False}}, "'namespace' not allowed"),
    ({"ascend-volcano": {"scheduler": {"initParms": {}}}}, "initParms"),
    ({"ascend-device-plugin": {"familes": {}}}, "familes"),
    ({"ascend-volcano": True}, "ascend-volcano"),
    ({"namespaces": {"create": "yes"}}, "create"),
    ({"global": {"imageRegistry": 5000}}, "imageRegistry"),
])
def test_schema_rejects(values: dict[str, Any], needle: str) -> None:
    assert needle in stack_error(values)


def test_preset_virtual_device_must_agree() -> None:
    err = stack_error({"ascend-volcano": {"scheduler": {"initParams": {"presetVirtualDevice": "false"}}}})
    assert "ascend-device-plugin.presetVirtualDevice is true" in err
    assert "must agree" in err
    stack({"ascend-device-plugin": {"presetVirtualDevice": False},
           "ascend-volcano": {"scheduler": {"initParams": {"presetVirtualDevice": "false"}}}})


def test_everything_disabled_fails() -> None:
    off = {c: {"enabled": False} for c in ("ascend-device-plugin", "ascend-volcano", "ascend-operator")}
    assert "every component is disabled" in stack_error(off)


def test_use_cluster_info_manager_needs_clusterd() -> None:
    uci = {"scheduler": {"initParams": {"useClusterInfoManager": "true"}}}
    err = stack_error({"ascend-volcano": uci})
    assert "clusterd.installed is false" in err and "ascend-clusterd.enabled=true" in err
    stack({"ascend-volcano": {**uci, "clusterd": {"installed": True}}})


def notes(values: dict[str, Any] | None = None) -> str:
    helm = need_tool("helm")
    cmd = [helm, "install", RELEASE, str(CHARTS / CHART), "--namespace", NS, "--dry-run=client"]
    for k, v in (values or {}).items():
        cmd += ["--set-json", f"{k}={json.dumps(v)}"]
    proc = run(cmd, env={"KUBECONFIG": os.devnull})
    return proc.stdout.split("NOTES:\n", 1)[1]


def test_notes_defaults() -> None:
    text = notes()
    lines = text.splitlines()
    first_command = next(i for i, line in enumerate(lines) if "kubectl ascend status" in line)
    last_warning = max(i for i, line in enumerate(lines) if line.startswith(("WARNING", "NOTE")))
    assert last_warning < first_command
    assert "/etc/vnpu.cfg" in text
    for cmd in ("kubectl ascend status", "kubectl ascend doctor",
                "kubectl get pods -n volcano-system", "kubectl get pods -n mindx-dl",
                "kubectl get pods -n kube-system"):
        assert cmd in text
    assert "Namespaces created by this release (kept on uninstall): volcano-system." in text


def test_notes_warn_volcano_off_with_volcano_type() -> None:
    text = notes({"ascend-volcano": {"enabled": False}})
    assert text.lstrip().startswith("WARNING: ascend-volcano is disabled but ascend-device-plugin.volcanoType=true")
    assert "ascend-operator.enableGangScheduling=true but ascend-volcano is disabled" in text
    assert "kubectl get pods -n volcano-system" not in text


def test_notes_warn_cluster_info_manager() -> None:
    text = notes({"ascend-volcano": {"clusterd": {"installed": True},
                                     "scheduler": {"initParams": {"useClusterInfoManager": "true"}}}})
    assert 'useClusterInfoManager is "true"' in text


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_kube_versions(kube: str) -> None:
    values = {
        "ascend-volcano": {"scheduler": {"replicas": 2, "podDisruptionBudget": {"enabled": True}}},
        "ascend-operator": {"replicas": 2, "podDisruptionBudget": {"enabled": True}},
        "ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE},
    }
    objs = stack(values, kube_version=kube)
    pdbs = find(objs, "PodDisruptionBudget")
    assert len(pdbs) == 2
    expected = "policy/v1beta1" if kube in ("1.19.0",) else "policy/v1"
    assert {p["apiVersion"] for p in pdbs} == {expected}
    assert len(find(objs, "CustomResourceDefinition")) == 6
    assert {o["apiVersion"] for o in find(objs, "CustomResourceDefinition")} == {"apiextensions.k8s.io/v1"}
    assert len(find(objs, "DaemonSet")) == 4
    stack(kube_version=kube)


def test_kube_version_floor() -> None:
    assert "kubeVersion" in stack_error(kube_version="1.18.0")


def test_lint_strict() -> None:
    lint(CHART)
    lint(CHART, {"ascend-docker-runtime": {"enabled": True, "image": RUNTIME_IMAGE},
                 "ascend-device-plugin": {"layout": "single"}})


def test_golden_defaults() -> None:
    got = normalise(stack(kube_version="1.34.0"))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got)
    assert GOLDEN.exists(), f"{GOLDEN} missing; create it with UPDATE_GOLDEN=1"
    assert got == GOLDEN.read_text(), f"rendered defaults differ from {GOLDEN.name}; review, then UPDATE_GOLDEN=1"
