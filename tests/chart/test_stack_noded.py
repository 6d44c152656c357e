"""Render-and-assert tests of charts/ascend-noded, alone and through the ascend-stack umbrella.

Scenarios:
- defaults: DaemonSet noded in mindx-dl on workerselector=dls-worker-node,
  privileged with a read-only root filesystem (a kept difference), env NODE_NAME/XDL_IP, args
  (-logFile, -logLevel), log dir 750 root by an init container
  (CHOWN/FOWNER only), hostPaths as upstream (driver ro, /dev, pingmesh,
  profiling, localtime), host network and upstream's 500m / 300Mi;
- RBAC rule by rule against the upstream table (noded.yaml), no wildcard;
- values: registry/digest/pull secrets, no init container (log dir must then
  exist: type Directory), optional mounts off, namespace;
- refusals: schema typo, latest tag, empty nodeSelector; an empty tag is the
  MindCluster profile's;
- umbrella: off by default, on renders in mindx-dl with the global pull
  secrets; helm lint --strict.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helmutil import find, lint, one, render, render_error, triples

pytestmark = pytest.mark.chart

CHART = "ascend-noded"

# Upstream: Ascend/mind-cluster component/noded/build/noded.yaml at v26.0.0 (v26.1.0 adds the
# pods and daemonsets rules), ClusterRole pods-noded-role. Nodes get: the RoCE pingmesh reads
# its Node (pkg/pingmesh/roceping/ping_manager.go NewPingManager -> kubeclient GetNodeWithCache).
UPSTREAM_RULES = [
    ([""], ["configmaps"], ["get", "create", "update", "list", "watch", "delete"]),
    ([""], ["nodes"], ["get", "list", "patch"]),
]
# Differences from upstream in RBAC, documented in the chart README: none.


def pod_spec(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objs, "DaemonSet", "noded")["spec"]["template"]["spec"]


def test_daemonset_defaults() -> None:
    objs = render(CHART)
    ds = one(objs, "DaemonSet", "noded")
    assert ds["metadata"]["namespace"] == "mindx-dl"
    assert ds["metadata"]["labels"]["app.kubernetes.io/component"] == "noded"
    assert ds["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "ascend-noded",
                                                     "app.kubernetes.io/instance": "rel"}
    spec = pod_spec(objs)
    assert spec["nodeSelector"] == {"workerselector": "dls-worker-node"}
    assert spec["serviceAccountName"] == "noded"
    (c,) = spec["containers"]
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/noded:v26.0.0"
    assert c["args"] == ["-logFile=/var/log/mindx-dl/noded/noded.log", "-logLevel=0"]
    assert c["securityContext"] == {"privileged": True, "readOnlyRootFilesystem": True}
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"NODE_NAME": "spec.nodeName", "XDL_IP": "status.hostIP"}
    # noded.yaml at v26.0.0 and v26.1.0: host network, 500m / 300Mi (5 CPU / 10Gi is the
    # opt-in for slow-node diagnosis, not a default)
    assert spec["hostNetwork"] is True
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "300Mi"},
                              "limits": {"cpu": "500m", "memory": "300Mi"}}
    (init,) = spec["initContainers"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
    assert "privileged" not in init["securityContext"]
    assert 'chown 0:0' in init["args"][0] and "chmod 750" in init["args"][0]
    vols = {v["name"]: v["hostPath"] for v in spec["volumes"]}
    assert vols == {
        "log-dir": {"path": "/var/log/mindx-dl/noded", "type": "DirectoryOrCreate"},
        "log-parent": {"path": "/var/log/mindx-dl", "type": "DirectoryOrCreate"},
        "driver": {"path": "/usr/local/Ascend/driver"},
        "dev": {"path": "/dev", "type": "Directory"},
        "pingmesh": {"path": "/user/mind-cluster/pingmesh", "type": "DirectoryOrCreate"},
        "profiling": {"path": "/user/cluster-info/profiling", "type": "DirectoryOrCreate"},
        "localtime": {"path": "/etc/localtime"},
    }
    mounts = {m["name"]: (m["mountPath"], m.get("readOnly", False)) for m in c["volumeMounts"]}
    assert mounts == {"log-dir": ("/var/log/mindx-dl/noded", False),
                      "driver": ("/usr/local/Ascend/driver", True), "dev": ("/dev", False),
                      "pingmesh": ("/user/mind-cluster/pingmesh", False),
                      "profiling": ("/user/cluster-info/profiling", False),
                      "localtime": ("/etc/localtime", True)}


def test_rbac_matches_upstream_rule_by_rule() -> None:
    objs = render(CHART)
    role = one(objs, "ClusterRole", "pods-noded-role")
    got = [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]]
    assert sorted(map(repr, got)) == sorted(map(repr, UPSTREAM_RULES))
    assert all("*" not in x for t in triples(role["rules"]) for x in t)
    binding = one(objs, "ClusterRoleBinding", "pods-noded-rolebinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "noded", "namespace": "mindx-dl"}]
    assert len(find(objs, "Role")) == 0


def test_values() -> None:
    digest = "sha256:" + "b" * 64
    objs = render(CHART, {"global": {"imageRegistry": "mirror.local", "imagePullSecrets": [{"name": "g"}]},
                          "image": {"digest": digest}, "namespace": "ops",
                          "log": {"createDir": False}, "hostPaths": {"pingmesh": "", "profiling": ""}})
    spec = pod_spec(objs)
    assert spec["imagePullSecrets"] == [{"name": "g"}]
    assert spec["containers"][0]["image"] == f"mirror.local/ascendhub/noded@{digest}"
    assert "initContainers" not in spec
    vols = {v["name"]: v["hostPath"] for v in spec["volumes"]}
    assert vols["log-dir"] == {"path": "/var/log/mindx-dl/noded", "type": "Directory"}
    assert set(vols) == {"log-dir", "driver", "dev", "localtime"}
    assert one(objs, "DaemonSet")["metadata"]["namespace"] == "ops"


@pytest.mark.parametrize("values, needle", [
    ({"hostpaths": {}}, "hostpaths"),
    ({"image": {"tag": "latest"}}, "tag"),
    ({"runAs": {"user": 9000}}, "runAs"),
])
def test_schema_rejects(values: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, values)


def test_validations() -> None:
    # An empty tag is the MindCluster profile's, not an error.
    refs = {c["image"] for c in pod_spec(render(CHART, {"image": {"tag": ""}}))["containers"]}
    assert refs == {"swr.cn-south-1.myhuaweicloud.com/ascendhub/noded:v26.0.0"}
    assert "nodeSelector is empty" in render_error(CHART, sets=["nodeSelector=null"])


def test_lint_strict() -> None:
    lint(CHART)


@pytest.fixture
def umbrella(umbrella_deps: None) -> None:
    """The umbrella with its dependencies packaged (tests/chart/conftest.py)."""


def test_umbrella(umbrella: None) -> None:
    off = render("ascend-stack", release="m", namespace="mindx-dl")
    assert not find(off, "DaemonSet", "noded") and not find(off, "ClusterRole", "pods-noded-role")
    on = render("ascend-stack", {"ascend-noded": {"enabled": True}, "global": {"imagePullSecrets": ["r"]}},
                release="m", namespace="mindx-dl")
    spec = pod_spec(on)
    assert spec["imagePullSecrets"] == [{"name": "r"}]
    assert one(on, "DaemonSet", "noded")["metadata"]["namespace"] == "mindx-dl"
    # mindx-dl is the release namespace: not templated
    assert [o["metadata"]["name"] for o in find(on, "Namespace")] == ["volcano-system"]
