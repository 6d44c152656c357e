"""Render-and-assert tests of charts/ascend-operator.

Scenarios:
- defaults: Deployment ascend-operator-manager in mindx-dl (component label,
  name + instance selector, masterselector, uid/gid 9000 non-root, args from
  values, log-dir init container root with CHOWN/FOWNER only, hostPaths for
  the log dir and the ranktable dir);
- flags from values (gang scheduling off, qps, log level, extraArgs), no
  ranktable mount, no init container, custom namespace, global registry;
- AscendJob CRD: name, group, v1, kind, short name acjob, status
  subresource, replicaSpecs Master/Scheduler/Chief/Worker with free-form
  templates, keep annotation, crds.install/keep off;
- RBAC exactly (pods, services, configmaps, events, podgroups, queues,
  priorityclasses, ascendjobs + status + finalizers), no wildcard;
- PDB by Kubernetes version and its refusal with one replica; schema
  refusals; helm lint --strict.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helmutil import assert_structural, find, lint, one, render, render_error

pytestmark = pytest.mark.chart

CHART = "ascend-operator"


def deployment(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objs, "Deployment", "ascend-operator-manager")


def manager(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = deployment(objs)["spec"]["template"]["spec"]["containers"]
    return c


def test_deployment_defaults() -> None:
    objs = render(CHART)
    dep = deployment(objs)
    assert dep["metadata"]["namespace"] == "mindx-dl"
    labels = dep["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "ascend-operator"
    assert labels["app.kubernetes.io/part-of"] == "mindcluster"
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "ascend-operator", "app.kubernetes.io/instance": "rel"}
    spec = dep["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"masterselector": "dls-master-node"}
    assert spec["serviceAccountName"] == "ascend-operator-manager"
    c = manager(objs)
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-operator:v26.0.0"
    assert c["command"] == ["/bin/sh", "-c", 'umask 027 && exec ascend-operator "$@"', "ascend-operator"]
    assert c["args"] == [
        "--kubeApiQps=800",
        "--kubeApiBurst=800",
        "--enableGangScheduling=true",
        "--logFile=/var/log/mindx-dl/ascend-operator/ascend-operator.log",
        "--logLevel=0",
    ]
    assert c["securityContext"] == {"runAsUser": 9000, "runAsGroup": 9000, "runAsNonRoot": True,
                                    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}
    (init,) = spec["initContainers"]
    assert init["securityContext"]["runAsUser"] == 0
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
    assert "privileged" not in init["securityContext"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"LOG_DIR_NAME": "ascend-operator", "LOG_UID": "9000", "LOG_GID": "9000"}
    assert "chmod 750" in init["args"][0]
    vols = {v["name"]: v["hostPath"] for v in spec["volumes"] if "hostPath" in v}
    assert vols == {
        "log-dir": {"path": "/var/log/mindx-dl/ascend-operator", "type": "DirectoryOrCreate"},
        "log-parent": {"path": "/var/log/mindx-dl", "type": "DirectoryOrCreate"},
        "ranktable-dir": {"path": "/user/mindx-dl/ranktable", "type": "DirectoryOrCreate"},
        "localtime": {"path": "/etc/localtime"},
    }


def test_flags_and_options_from_values() -> None:
    vals = {"enableGangScheduling": False, "kubeApiQps": 20, "kubeApiBurst": 40, "log": {"level": 1,
            "createDir": False}, "extraArgs": ["--maxConcurrentReconciles=4"], "ranktableHostPath": "",
            "namespace": "ops", "global": {"imageRegistry": "mirror:5000"}}
    objs = render(CHART, vals)
    c = manager(objs)
    assert c["args"] == ["--kubeApiQps=20", "--kubeApiBurst=40", "--enableGangScheduling=false",
                         "--logFile=/var/log/mindx-dl/ascend-operator/ascend-operator.log", "--logLevel=1",
                         "--maxConcurrentReconciles=4"]
    assert c["image"] == "mirror:5000/ascendhub/ascend-operator:v26.0.0"
    spec = deployment(objs)["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    assert "ranktable-dir" not in {v["name"] for v in spec["volumes"]}
    assert deployment(objs)["metadata"]["namespace"] == "ops"
    crb = one(objs, "ClusterRoleBinding")
    assert crb["subjects"][0]["namespace"] == "ops"


def test_crd() -> None:
    crd = one(render(CHART), "CustomResourceDefinition", "ascendjobs.mindxdl.gitee.com")
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    spec = crd["spec"]
    assert spec["group"] == "mindxdl.gitee.com" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "AscendJob" and spec["names"]["shortNames"] == ["acjob"]
    (v,) = spec["versions"]
    assert (v["name"], v["served"], v["storage"]) == ("v1", True, True)
    assert v["subresources"] == {"status": {}}
    schema = v["schema"]["openAPIV3Schema"]
    job_spec = schema["properties"]["spec"]
    assert job_spec["required"] == ["replicaSpecs"]
    rs = job_spec["properties"]["replicaSpecs"]
    assert sorted(rs["properties"]) == ["Chief", "Master", "Scheduler", "Worker"]
    for r in rs["properties"].values():
        assert r["properties"]["template"]["x-kubernetes-preserve-unknown-fields"] is True
        assert r["properties"]["replicas"]["type"] == "integer"
        assert r["properties"]["restartPolicy"]["enum"] == ["Always", "OnFailure", "Never", "ExitCode"]
    sp = job_spec["properties"]["runPolicy"]["properties"]["schedulingPolicy"]["properties"]
    assert set(sp) == {"minAvailable", "queue", "priorityClass", "minResources"}
    assert {"conditions", "replicaStatuses", "startTime", "completionTime"} <= set(
        schema["properties"]["status"]["properties"])
    assert_structural(schema, "ascendjobs")


def test_crd_install_and_keep_off() -> None:
    assert not find(render(CHART, {"crds": {"install": False}}), "CustomResourceDefinition")
    crd = one(render(CHART, {"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "annotations" not in crd["metadata"]


# Upstream ClusterRole of Ascend/mind-cluster v26.0.0
# component/ascend-operator/build/ascend-operator.yaml, rule by rule.
UPSTREAM_RBAC_V26_0_0 = {
    ("", "events"): {"create", "patch", "list", "watch", "delete"},
    ("", "pods"): {"create", "list", "watch", "delete", "get", "collectionCreate", "update", "patch"},
    ("", "services"): {"create", "list", "watch", "delete", "get"},
    ("", "configmaps"): {"create", "list", "watch", "delete", "get", "update"},
    ("scheduling.volcano.sh", "podgroups"): {"create", "list", "watch", "delete", "get", "update"},
    ("scheduling.volcano.sh", "queues"): {"get", "list", "watch"},
    ("scheduling.volcano.sh", "queue/status"): {"get", "list", "watch"},
    ("scheduling.volcano.sh", "priorityclasses"): {"list", "watch"},
    ("mindxdl.gitee.com", "ascendjobs"): {"create", "list", "watch", "delete", "get", "patch", "update"},
    ("mindxdl.gitee.com", "ascendjobs/finalizers"): {"update"},
    ("mindxdl.gitee.com", "ascendjobs/status"): {"get", "patch", "update"},
    ("batch.volcano.sh", "jobs"): {"get", "watch", "list"},
    ("apps", "deployments"): {"get", "watch", "list"},
    ("apps", "replicasets"): {"get", "watch", "list"},
    ("apps", "statefulsets"): {"get", "watch", "list"},
}

# Every difference we keep, with its reason (also in charts/ascend-operator/README.md).
KEPT_DIFFERENCES = {
    # "collectionCreate" is not a Kubernetes verb; the API server never asks for it.
    ("", "pods"): {"create", "list", "watch", "delete", "get", "update", "patch"},
    # "queue/status" names no resource (the subresource is queues/status, which the operator never reads).
    ("scheduling.volcano.sh", "queue/status"): None,
    # Volcano serves no priorityclasses; the operator reads the Kubernetes ones (scheduling.k8s.io).
    ("scheduling.volcano.sh", "priorityclasses"): None,
    ("scheduling.k8s.io", "priorityclasses"): {"get", "list", "watch"},
}


def _rules(role: dict) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for r in role["rules"]:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                out.setdefault((g, res), set()).update(r["verbs"])
    return out


def test_rbac_matches_upstream_v26_0_0_rule_by_rule() -> None:
    role = one(render(CHART), "ClusterRole", "ascend-operator-manager-role")
    want = dict(UPSTREAM_RBAC_V26_0_0)
    for key, verbs in KEPT_DIFFERENCES.items():
        if verbs is None:
            want.pop(key)
        else:
            want[key] = verbs
    assert _rules(role) == want
    for r in role["rules"]:
        assert not any("*" in x for x in r["apiGroups"] + r["resources"] + r["verbs"])


def test_rbac_lets_the_operator_sync_its_informers_and_label_pods() -> None:
    """What the v26.0.0 operator cannot run without: it crash-loops or never writes hccl.json (it watches
    Deployments, StatefulSets and Volcano Jobs unconditionally, `ascendjob_controller.go`, and updates pods,
    `pod.go` `updateRandIndex`: charts/ascend-operator/README.md, "RBAC compared with upstream")."""
    rules = _rules(one(render(CHART), "ClusterRole", "ascend-operator-manager-role"))
    for kind in (("apps", "deployments"), ("apps", "statefulsets"), ("batch.volcano.sh", "jobs")):
        assert {"get", "list", "watch"} <= rules.get(kind, set()), kind
    assert {"update", "patch"} <= rules[("", "pods")]


def test_common_labels_on_every_object() -> None:
    for o in render(CHART, {"replicas": 2, "podDisruptionBudget": {"enabled": True}}):
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "ascend-operator"
        assert labels["app.kubernetes.io/component"] == "ascend-operator"
        assert labels["app.kubernetes.io/part-of"] == "mindcluster"
        assert labels["app.kubernetes.io/version"] == "26.0.0"


@pytest.mark.parametrize("kube, api", [("1.19.0", "policy/v1beta1"), ("1.22.0", "policy/v1"),
                                       ("1.34.0", "policy/v1")])
def test_pdb(kube: str, api: str) -> None:
    pdb = one(render(CHART, {"replicas": 2, "podDisruptionBudget": {"enabled": True}}, kube_version=kube),
              "PodDisruptionBudget")
    assert pdb["apiVersion"] == api
    assert pdb["spec"]["minAvailable"] == 1


def test_pdb_with_one_replica_fails() -> None:
    err = render_error(CHART, {"podDisruptionBudget": {"enabled": True}})
    assert "would block every node drain" in err


@pytest.mark.parametrize("vals, needle", [
    ({"enableGangSchedulling": True}, "enableGangSchedulling"),
    ({"enableGangScheduling": "true"}, "enableGangScheduling"),
    ({"log": {"dir": "relative/path"}}, "dir"),
    ({"image": {"tag": 26}}, "tag"),
])
def test_schema_rejects(vals: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, vals)


def test_empty_tag_is_the_profiles() -> None:
    dep = one(render(CHART, {"image": {"tag": ""}}), "Deployment", "ascend-operator-manager")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/ascend-operator:v26.0.0")


def test_lint_strict() -> None:
    lint(CHART)
    lint(CHART, {"crds": {"install": False}, "enableGangScheduling": False})
