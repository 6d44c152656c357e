"""Render-and-assert tests of charts/ascend-clusterd, alone and through the ascend-stack umbrella.

Scenarios:
- defaults: Deployment clusterd in mindx-dl on masterselector=dls-master-node,
  hwMindX 9000 non-root, args (-logFile, -logLevel, healthz), liveness on the
  healthz port, gRPC port + Service clusterd-grpc-svc, log dir init container
  (750, owner 9000, CHOWN/FOWNER only), hostPaths as upstream, fault-policy
  ConfigMap clusterd-config-cm in cluster-system;
- RBAC rule by rule against the upstream table (clusterd.yaml), no wildcard;
- values: registry override, digest, pull secrets, custom namespaces, no
  init container, mounts off, policies;
- refusals: schema (typo, latest tag, bad port), port clash; an empty tag is
  the MindCluster profile's; health flags and probe only from 26.1.0;
- umbrella: off by default; on it needs Volcano switched to it
  (useClusterInfoManager "true" + clusterd.installed) or is refused; "true"
  without ClusterD is refused; cluster-system created; pull secrets reach
  its pod; helm lint --strict.
"""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.chart.helmutil import find, lint, mindcluster_tag, one, render, render_error, triples

pytestmark = pytest.mark.chart

CHART = "ascend-clusterd"
IMAGE = "swr.cn-south-1.myhuaweicloud.com/ascendhub/clusterd:v26.0.0"

# Upstream: Ascend/mind-cluster component/clusterd/build/clusterd.yaml, ClusterRole pods-clusterd-role.
UPSTREAM_RULES = [
    ([""], ["pods"], ["get", "list", "update", "watch", "patch"]),
    ([""], ["services"], ["get"]),
    ([""], ["configmaps"], ["get", "create", "update", "list", "watch", "delete", "patch"]),
    ([""], ["nodes"], ["get", "list", "patch", "watch"]),
    ([""], ["nodes/status"], ["get", "patch"]),
    (["batch.volcano.sh"], ["jobs"], ["get", "list", "watch", "update", "delete"]),
    (["scheduling.incubator.k8s.io", "scheduling.volcano.sh"], ["podgroups"], ["list", "watch", "update", "get", "patch"]),
    (["batch"], ["jobs"], ["get"]),
    (["mindxdl.gitee.com"], ["ascendjobs"], ["list", "watch", "get", "update"]),
    ([""], ["events"], ["list"]),
]
# Differences from upstream, documented in the chart README: none.


def pod_spec(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objs, "Deployment", "clusterd")["spec"]["template"]["spec"]


def test_deployment_defaults() -> None:
    objs = render(CHART)
    dep = one(objs, "Deployment", "clusterd")
    assert dep["metadata"]["namespace"] == "mindx-dl"
    assert dep["spec"]["replicas"] == 1
    assert dep["metadata"]["labels"]["app.kubernetes.io/component"] == "clusterd"
    assert dep["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mindcluster"
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "ascend-clusterd", "app.kubernetes.io/instance": "rel"}
    spec = pod_spec(objs)
    assert spec["nodeSelector"] == {"masterselector": "dls-master-node"}
    assert spec["serviceAccountName"] == "clusterd"
    assert "imagePullSecrets" not in spec
    (c,) = spec["containers"]
    assert c["image"] == IMAGE
    # 26.0.0 (the default release) has no health flags: the binary would exit on them.
    assert c["args"] == ["-logFile=/var/log/mindx-dl/clusterd/clusterd.log", "-logLevel=0"]
    assert c["command"][:3] == ["/bin/sh", "-c", 'umask 027 && exec /usr/local/bin/clusterd "$@"']
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"grpc": 8899}
    assert "livenessProbe" not in c
    assert {e["name"] for e in c["env"]} == {"NODE_NAME", "POD_IP"}
    sc = c["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (9000, 9000, True)
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"] is True
    assert c["resources"]["limits"] == {"cpu": "1000m", "memory": "1Gi"}
    (init,) = spec["initContainers"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
    assert {e["name"]: e["value"] for e in init["env"]} == {"LOG_DIR_NAME": "clusterd", "LOG_UID": "9000",
                                                           "LOG_GID": "9000"}
    assert "chmod 750" in init["args"][0]
    vols = {v["name"]: v["hostPath"] for v in spec["volumes"]}
    assert vols == {
        "log-dir": {"path": "/var/log/mindx-dl/clusterd", "type": "DirectoryOrCreate"},
        "log-parent": {"path": "/var/log/mindx-dl", "type": "DirectoryOrCreate"},
        "config-dir": {"path": "/user1/mindx-dl/clusterd", "type": "DirectoryOrCreate"},
        "slownode-dir": {"path": "/user/slownode-cluster", "type": "DirectoryOrCreate"},
        "localtime": {"path": "/etc/localtime"},
    }
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"log-dir": "/var/log/mindx-dl/clusterd", "config-dir": "/user1/mindx-dl/clusterd",
                      "slownode-dir": "/user/slownode-cluster", "localtime": "/etc/localtime"}


def test_service_and_configmap() -> None:
    objs = render(CHART)
    svc = one(objs, "Service", "clusterd-grpc-svc")
    assert svc["metadata"]["namespace"] == "mindx-dl"
    assert svc["spec"]["ports"] == [{"name": "grpc", "protocol": "TCP", "port": 8899, "targetPort": "grpc"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "ascend-clusterd",
                                       "app.kubernetes.io/instance": "rel"}
    cm = one(objs, "ConfigMap", "clusterd-config-cm")
    assert cm["metadata"]["namespace"] == "cluster-system"
    ms = yaml.safe_load(cm["data"]["manually_separate_policy.conf"])
    assert ms == {"enabled": True, "separate": {"fault_window_hours": 24, "fault_threshold": 3},
                  "release": {"fault_free_hours": 48}}
    # ClusterD reads only manually_separate_policy.conf from this ConfigMap (mind-cluster v26.1.0
    # component/clusterd/pkg/application/conf/watch.go); upstream's clusterd.yaml ships only that key
    assert set(cm["data"]) == {"manually_separate_policy.conf"}
    assert "silentFault" in render_error(CHART, {"faultPolicies": {"silentFault": {"enabled": True}}})


def test_rbac_matches_upstream_rule_by_rule() -> None:
    objs = render(CHART)
    role = one(objs, "ClusterRole", "pods-clusterd-role")
    got = [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]]
    assert sorted(map(repr, got)) == sorted(map(repr, UPSTREAM_RULES))
    assert triples(role["rules"]) == triples(UPSTREAM_RULES)
    assert all("*" not in x for t in triples(role["rules"]) for x in t)
    binding = one(objs, "ClusterRoleBinding", "pods-clusterd-rolebinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "clusterd", "namespace": "mindx-dl"}]
    assert binding["roleRef"]["name"] == "pods-clusterd-role"
    assert one(objs, "ServiceAccount", "clusterd")["metadata"]["namespace"] == "mindx-dl"


def test_values() -> None:
    digest = "sha256:" + "a" * 64
    objs = render(CHART, {"global": {"imageRegistry": "mirror.local:5000", "imagePullSecrets": ["g"]},
                          "imagePullSecrets": [{"name": "own"}, "g"], "image": {"digest": digest},
                          "namespace": "ops", "clusterInfoNamespace": "info", "grpcPort": 9999,
                          "log": {"createDir": False, "level": 1}, "hostPaths": {"config": "", "slownode": ""},
                          "extraArgs": ["-maxAge=7"]})
    spec = pod_spec(objs)
    assert spec["imagePullSecrets"] == [{"name": "g"}, {"name": "own"}]
    assert "initContainers" not in spec
    (c,) = spec["containers"]
    assert c["image"] == f"mirror.local:5000/ascendhub/clusterd@{digest}"
    assert c["args"][1] == "-logLevel=1" and c["args"][-1] == "-maxAge=7"
    assert {v["name"] for v in spec["volumes"]} == {"log-dir", "localtime"}
    assert one(objs, "ConfigMap", "clusterd-config-cm")["metadata"]["namespace"] == "info"
    assert one(objs, "Service", "clusterd-grpc-svc")["spec"]["ports"][0]["port"] == 9999
    assert one(objs, "ClusterRoleBinding")["subjects"][0]["namespace"] == "ops"


@pytest.mark.parametrize("values, needle", [
    ({"imgae": {}}, "imgae"),
    ({"image": {"tag": "latest"}}, "tag"),
    ({"grpcPort": 0}, "grpcPort"),
    ({"runAs": {"user": "root"}}, "user"),
    ({"faultPolicies": {"manuallySeparate": {"faultTreshold": 2}}}, "faultTreshold"),
])
def test_schema_rejects(values: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, values)


def test_health_endpoint_from_26_1() -> None:
    (c,) = pod_spec(render(CHART, {"global": {"mindcluster": {"version": "26.1.0"}}}))["containers"]
    assert c["image"] == IMAGE.replace(":v26.0.0", ":" + mindcluster_tag("26.1.0"))
    assert c["args"] == ["-logFile=/var/log/mindx-dl/clusterd/clusterd.log", "-logLevel=0",
                         "--enable-healthz=true", "--healthz-address=11253"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"grpc": 8899, "healthz": 11253}
    assert c["livenessProbe"]["httpGet"] == {"path": "/", "port": "healthz", "scheme": "HTTP"}


def test_validations() -> None:
    # An empty tag is the profile's, not an error.
    (c,) = pod_spec(render(CHART, {"image": {"tag": ""}}))["containers"]
    assert c["image"] == IMAGE
    err = render_error(CHART, {"healthz": {"port": 8899}})
    assert "grpcPort and healthz.port are both 8899" in err


def test_lint_strict() -> None:
    lint(CHART)


# -- through the umbrella -------------------------------------------------------

STACK = "ascend-stack"
ON = {"ascend-clusterd": {"enabled": True},
      "ascend-volcano": {"clusterd": {"installed": True},
                         "scheduler": {"initParams": {"useClusterInfoManager": "true"}}}}


@pytest.fixture
def umbrella(umbrella_deps: None) -> None:
    """The umbrella with its dependencies packaged (tests/chart/conftest.py)."""


def stack(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render(STACK, values, release="mindcluster", namespace="mindx-dl")


def test_umbrella_off_by_default(umbrella: None) -> None:
    objs = stack()
    assert not find(objs, "Deployment", "clusterd")
    assert not find(objs, "ClusterRole", "pods-clusterd-role")
    assert "cluster-system" not in {o["metadata"]["name"] for o in find(objs, "Namespace")}


def test_umbrella_on(umbrella: None) -> None:
    objs = stack({**ON, "global": {"imagePullSecrets": ["regcred"]}})
    dep = one(objs, "Deployment", "clusterd")
    assert dep["metadata"]["namespace"] == "mindx-dl"
    assert dep["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert dep["metadata"]["labels"]["app.kubernetes.io/instance"] == "mindcluster"
    assert one(objs, "ConfigMap", "clusterd-config-cm")["metadata"]["namespace"] == "cluster-system"
    assert [o["metadata"]["name"] for o in find(objs, "Namespace")] == ["volcano-system", "cluster-system"]
    conf = yaml.safe_load(one(objs, "ConfigMap", "volcano-scheduler-configmap")["data"]["volcano-scheduler.conf"])
    params = [x for x in conf["configurations"] if x["name"] == "init-params"][0]["arguments"]
    assert params["useClusterInfoManager"] == "true"


def test_umbrella_refuses_clusterd_without_volcano_switched(umbrella: None) -> None:
    err = render_error(STACK, {"ascend-clusterd": {"enabled": True}}, release="m", namespace="mindx-dl")
    assert "ascend-clusterd.enabled=true but ascend-volcano.scheduler.initParams.useClusterInfoManager is " \
           "\"false\"" in err
    assert "Set ascend-volcano.scheduler.initParams.useClusterInfoManager=\"true\"" in err
    # ClusterD alone without Volcano is fine (nothing to switch)
    objs = stack({"ascend-clusterd": {"enabled": True}, "ascend-volcano": {"enabled": False},
                  "ascend-device-plugin": {"volcanoType": False},
                  "ascend-operator": {"enableGangScheduling": False}})
    assert find(objs, "Deployment", "clusterd")


def test_umbrella_refuses_cluster_info_manager_without_clusterd(umbrella: None) -> None:
    err = render_error(STACK, {"ascend-volcano": {"scheduler": {"initParams": {"useClusterInfoManager": "true"}}}},
                       release="m", namespace="mindx-dl")
    assert "useClusterInfoManager is \"true\"" in err and "clusterd.installed is false" in err
    assert "Set scheduler.initParams.useClusterInfoManager=\"false\"" in err


def test_umbrella_lint(umbrella: None) -> None:
    lint(STACK, ON)
