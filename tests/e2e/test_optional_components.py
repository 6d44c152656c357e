"""ClusterD, NodeD and NPU Exporter through the umbrella on a real API server.

Scenario (own cluster, default layout): label the nodes; add a minimal
ServiceMonitor CRD (stands in for the Prometheus Operator's, so Helm sees
monitoring.coreos.com/v1); `kubectl ascend install --wait` with the three
optional components on: the plan says Volcano was switched to ClusterD;
clusterd runs on the management node only, noded and npu-exporter on exactly
the workerselector=dls-worker-node nodes, all Running; namespaces
cluster-system and npu-exporter exist (kept, privileged); ClusterD's
ConfigMap is in cluster-system; Volcano's useClusterInfoManager is "true";
the ServiceMonitor exists; `--pull-secret` is on every pod; every rendered object passes server-side apply
dry-run; doctor's use-cluster-info-manager check passes; each ServiceAccount
can do what its upstream RBAC allows and no more (SubjectAccessReview).
"""
from __future__ import annotations

import json

import pytest
import yaml

from tests.chart.helmutil import template
from tests.clusters import reset_stack
from tests.tooling import CHARTS, build_chart_deps

pytestmark = pytest.mark.e2e

ON = ["--set", "ascend-clusterd.enabled=true", "--set", "ascend-noded.enabled=true",
      "--set", "ascend-npu-exporter.enabled=true"]

SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors",
                       "singular": "servicemonitor"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}


@pytest.fixture(scope="module")
def optional_cluster(cluster):
    """The shared default cluster, clean (reset_stack) before and after this module's tests."""
    reset_stack(cluster)
    yield cluster
    reset_stack(cluster)


def _pods(cluster, component: str) -> list[dict]:
    return cluster.get_json("pods", "-A", "-l",
                            f"app.kubernetes.io/part-of=mindcluster,app.kubernetes.io/component={component}")["items"]


@pytest.fixture(scope="module")
def optional_install(optional_cluster):
    """The cluster labelled, the ServiceMonitor CRD served, the stack installed with every optional component;
    yields the cluster and what `kubectl ascend install` printed."""
    c = optional_cluster
    assert c.plugin("label-node", "--all").returncode == 0
    assert c.plugin("label-node", "mgmt-0", "--role", "master").returncode == 0
    c.kubectl("apply", "-f", "-", input=json.dumps(SERVICE_MONITOR_CRD))
    c.kubectl("wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "--timeout=60s")
    proc = c.plugin("install", "--wait", "--timeout", "3m", "--pull-secret", "regcred", *ON)
    assert proc.returncode == 0, proc.stderr
    return c, proc


def test_install_with_optional_components(optional_install):
    c, proc = optional_install
    assert 'ClusterD enabled: Volcano useClusterInfoManager="true"' in proc.stdout

    nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in c.get_json("nodes")["items"]}
    workers = {name for name, labels in nodes.items() if labels.get("workerselector") == "dls-worker-node"}
    assert len(workers) == 4 and "mgmt-0" not in workers
    for comp, ns, want in (("clusterd", "mindx-dl", {"mgmt-0"}), ("noded", "mindx-dl", workers),
                           ("npu-exporter", "npu-exporter", workers)):
        pods = _pods(c, comp)
        assert {p["spec"]["nodeName"] for p in pods} == want, comp
        assert {p["metadata"]["namespace"] for p in pods} == {ns}
        assert all(p["status"]["phase"] == "Running" for p in pods), comp
    # NodeD on the host network with upstream's 500m / 300Mi (noded.yaml at v26.0.0 and v26.1.0)
    for p in _pods(c, "noded"):
        assert p["spec"]["hostNetwork"] is True
        assert p["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "300Mi"}
    # --pull-secret reached every pod of every component
    pods = c.get_json("pods", "-A", "-l", "app.kubernetes.io/part-of=mindcluster")["items"]
    assert len(pods) >= 12
    for p in pods:
        assert {"name": "regcred"} in (p["spec"].get("imagePullSecrets") or []), p["metadata"]["name"]
    for ns in ("cluster-system", "npu-exporter"):
        obj = c.get_json("namespace", ns)
        assert obj["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert c.get_json("configmap", "-n", "cluster-system", "clusterd-config-cm")["data"]
    cm = c.get_json("configmap", "-n", "volcano-system", "volcano-scheduler-configmap")
    conf = yaml.safe_load(cm["data"]["volcano-scheduler.conf"])
    params = [x for x in conf["configurations"] if x["name"] == "init-params"][0]["arguments"]
    assert params["useClusterInfoManager"] == "true"
    sm = c.get_json("servicemonitor", "-n", "npu-exporter", "npu-exporter")
    assert sm["spec"]["endpoints"][0]["port"] == "http-metrics"
    assert c.get_json("service", "-n", "mindx-dl", "clusterd-grpc-svc")["spec"]["ports"][0]["port"] == 8899

    doc = json.loads(c.plugin("doctor", "-o", "json").stdout)
    ucim = [x for x in doc["checks"] if x["check"] == "use-cluster-info-manager"][0]
    assert ucim["status"] == "PASS", ucim


def test_every_object_passes_server_side_dry_run(optional_install):
    c, _ = optional_install
    build_chart_deps(CHARTS / "ascend-stack")
    values = {"ascend-clusterd": {"enabled": True}, "ascend-noded": {"enabled": True},
              "ascend-npu-exporter": {"enabled": True},
              "ascend-volcano": {"clusterd": {"installed": True},
                                 "scheduler": {"initParams": {"useClusterInfoManager": "true"}}}}
    manifest = template("ascend-stack", values, release="ascend-stack", namespace="mindx-dl",
                        extra=["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]).stdout
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    assert {"ServiceMonitor", "NetworkPolicy", "Service"} <= {d["kind"] for d in docs}
    proc = c.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=dry-run-test",
                     "--dry-run=server", "-f", "-", input=manifest, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(docs)
    for chart, ns in (("ascend-clusterd", "mindx-dl"), ("ascend-noded", "mindx-dl"),
                      ("ascend-npu-exporter", "npu-exporter")):
        # same release name as installed: same (immutable) selectors
        one = template(chart, release="ascend-stack", namespace=ns).stdout
        proc = c.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=dry-run-test",
                         "--dry-run=server", "-f", "-", input=one, check=False)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("sa, allowed, denied", [
    ("mindx-dl:clusterd",
     [("patch", "nodes", ""), ("watch", "podgroups", "scheduling.volcano.sh"), ("update", "ascendjobs", "mindxdl.gitee.com"),
      ("patch", "configmaps", "")],
     [("delete", "pods", ""), ("create", "ascendjobs", "mindxdl.gitee.com"), ("get", "secrets", "")]),
    # noded.yaml at v26.0.0: nodes get/list/patch (the RoCE pingmesh reads its Node)
    ("mindx-dl:noded",
     [("create", "configmaps", ""), ("patch", "nodes", ""), ("get", "nodes", ""), ("list", "nodes", "")],
     [("delete", "nodes", ""), ("patch", "configmaps", ""), ("list", "pods", "")]),
])
def test_service_account_permissions(optional_install, sa, allowed, denied):
    c, _ = optional_install
    user = f"system:serviceaccount:{sa}"
    for verb, resource, group in allowed + denied:
        res = f"{resource}.{group}" if group else resource
        proc = c.kubectl("auth", "can-i", verb, res, "--as", user, "-n", "cluster-system", check=False)
        assert proc.stdout.strip() == ("yes" if (verb, resource, group) in allowed else "no"), (sa, verb, res)
