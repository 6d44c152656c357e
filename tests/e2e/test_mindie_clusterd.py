"""A mindie-service PD release in ClusterD mode, and a hand-installed ClusterD, on a real API server.

Scenario (own cluster "cdmindie-*", default layout, real Volcano):
- the stack installed with `ascend-clusterd.enabled=true` (the plan hints at
  mindie-service's clusterd.enabled); a PD release (1P1D, 2 NPUs per pod) installed
  with clusterd.enabled=true: all four pods Running, placed by Volcano, carrying the
  jobID/app labels ClusterD reads (the PodGroup side: tests/e2e/test_mindie_vcjob.py); no global-ranktable ConfigMap exists in the
  namespace and no pod mounts a ConfigMap that does not exist; the controller has
  MINDX_TASK_ID and MINDX_SERVER_DOMAIN naming the Service that exists
  (clusterd-grpc-svc.mindx-dl, port 8899 = ms_controller.json cluster_port);
- `mindie ranktable` on it defers to the stack's ClusterD (exit 0, writes nothing);
  on a release rendered without ClusterD it fails and names
  `--set clusterd.enabled=true` (its pods would wait for a ConfigMap nobody writes);
- ClusterD turned off in the stack: `mindie ranktable` on the ClusterD-mode release
  fails saying ClusterD is not installed; doctor's use-cluster-info-manager passes
  ("false", no ClusterD);
- a Deployment applied as Huawei's clusterd.yaml has it (name clusterd in mindx-dl,
  no labels of its own, pods labelled app=clusterd that cannot schedule here):
  doctor's use-cluster-info-manager check now finds ClusterD ("runs but Volcano
  ignores it") and `mindie ranktable` defers to "deployment mindx-dl/clusterd".

What this cannot check: MindIE's controller and ClusterD do not run here (no images,
KWOK runs no containers), so the gRPC subscription itself, the entrypoint's address
resolution and ClusterD building the table are not exercised; the chart side of that
contract is read by tests/contract/mindie_reader.py on every render.
"""
from __future__ import annotations

import json

import pytest

from tests.clusters import wait_for_volcano
from tests.e2e.mindie_helpers import clusterd_pd_values, deleted_after, pd_values, running, running_pods, \
    scratch_namespace, until

pytestmark = pytest.mark.e2e

# Huawei's clusterd.yaml (mind-cluster v26.1.0 component/clusterd/build/clusterd.yaml): the
# Deployment has no labels; only its pod template is labelled app=clusterd. The node selector
# matches no node here, so no pod runs: detection must go by name and namespace.
UPSTREAM_CLUSTERD = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "clusterd", "namespace": "mindx-dl"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "clusterd"}},
             "template": {"metadata": {"labels": {"app": "clusterd"}},
                          "spec": {"nodeSelector": {"masterselector": "no-such-node"},
                                   "containers": [{"name": "clusterd", "image": "clusterd:v26.1.0"}]}}}}


@pytest.fixture(scope="module")
def ccluster(volcano_cluster):
    """The shared Volcano cluster (the PD roles are Volcano Jobs, their restartPolicy Always pods keep
    running) with ClusterD switched on in the stack; switched off again afterwards."""
    c = volcano_cluster
    try:
        proc = c.plugin("install", "--wait", "--timeout", "5m", "--set", "ascend-operator.enabled=false",
                        "--set", "ascend-clusterd.enabled=true")
        assert proc.returncode == 0, proc.stderr
        assert "--set clusterd.enabled=true" in proc.stdout  # the profile's hint for mindie-service
        wait_for_volcano(c)
        yield c
    finally:
        back = c.plugin("install", "--wait", "--timeout", "5m", "--reset-values", "--set", "ascend-operator.enabled=false")
        assert back.returncode == 0, back.stderr
        wait_for_volcano(c)


def _ucim(c) -> dict:
    doc = json.loads(c.plugin("doctor", "-o", "json").stdout)
    return [x for x in doc["checks"] if x["check"] == "use-cluster-info-manager"][0]


def test_clusterd_mode_release_runs_without_global_ranktable(ccluster, tmp_path):
    c = ccluster
    with scratch_namespace(c, "cd", tmp_path) as (ns, releases), \
            deleted_after(c, "deployment", "-n", "mindx-dl", "clusterd"):
        releases.install("qwen", clusterd_pd_values(), wait=False)
        items = running_pods(c, ns, "qwen", 4, timeout=120)
        apps = sorted(p["metadata"]["labels"]["app"] for p in items)
        assert apps == ["mindie-ms-controller", "mindie-ms-coordinator", "mindie-ms-server", "mindie-ms-server"]
        assert {p["metadata"]["labels"]["jobID"] for p in items} == {"qwen-mindie-service"}
        assert {p["spec"]["schedulerName"] for p in items} == {"volcano"}
        cms = {cm["metadata"]["name"] for cm in c.get_json("configmaps", "-n", ns)["items"]}
        assert not [n for n in cms if "global-ranktable" in n], cms
        for p in items:
            for v in p["spec"].get("volumes") or []:
                if "configMap" in v:
                    assert v["configMap"]["name"] in cms, (p["metadata"]["name"], v)
        [ctrl] = [p for p in items if p["metadata"]["labels"]["app"] == "mindie-ms-controller"]
        env = {e["name"]: e.get("value") for e in ctrl["spec"]["containers"][0]["env"]}
        assert env["MINDX_TASK_ID"] == "qwen-mindie-service"
        host = env["MINDX_SERVER_DOMAIN"].split(".")
        svc = c.get_json("service", "-n", host[1], host[0])
        config = json.loads(c.get_json("configmap", "-n", ns, "qwen-mindie-service-config")["data"]
                            ["ms_controller.json"])
        assert svc["spec"]["ports"][0]["port"] == config["cluster_port"] == 8899

        deferred = c.plugin("-n", ns, "mindie", "ranktable", "qwen", "-o", "json")
        assert deferred.returncode == 0, deferred.stderr
        data = json.loads(deferred.stdout)
        assert data["state"] == "deferred" and data["clusterd"] == ["deployment mindx-dl/clusterd"]

        # a release rendered without ClusterD: its pods wait for a ConfigMap ClusterD never writes
        releases.install("plain", pd_values(), wait=False)
        wrong = c.plugin("-n", ns, "mindie", "ranktable", "plain")
        assert wrong.returncode == 1 and "--set clusterd.enabled=true" in wrong.stderr, wrong.stderr
        assert "plain-mindie-service-global-ranktable" in wrong.stderr

        # ClusterD off in the stack: nothing would give the ClusterD-mode release its table
        proc = c.plugin("install", "--wait", "--timeout", "5m", "--set", "ascend-operator.enabled=false",
                        "--set", "ascend-clusterd.enabled=false")
        assert proc.returncode == 0, proc.stderr
        until("ClusterD gone", lambda: not c.kubectl("get", "deployment", "-n", "mindx-dl", "clusterd",
                                                    "--ignore-not-found", "-o", "name").stdout.strip(), timeout=60)
        gone = c.plugin("-n", ns, "mindie", "ranktable", "qwen")
        assert gone.returncode == 1 and "ClusterD is not installed" in gone.stderr, gone.stderr
        assert _ucim(c)["status"] == "PASS"

        # Huawei's clusterd.yaml: a Deployment without labels, no pod running
        c.kubectl("create", "namespace", "mindx-dl", check=False)
        c.kubectl("apply", "-f", "-", input=json.dumps(UPSTREAM_CLUSTERD))
        assert not [p for p in c.get_json("pods", "-A", "-l", "app=clusterd")["items"] if running(p)]
        ucim = _ucim(c)
        assert ucim["status"] == "WARN" and "ClusterD runs but Volcano ignores it" in ucim["message"], ucim
        again = c.plugin("-n", ns, "mindie", "ranktable", "qwen", "-o", "json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["clusterd"] == ["deployment mindx-dl/clusterd"]
