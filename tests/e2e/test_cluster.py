"""The local cluster is real: simulated Ascend servers, real scheduling of NPU resources.

Scenarios: the default layout's nodes carry NPU allocatable and no MindCluster
labels; a Deployment asking for 8 Ascend910 lands on an Atlas node and runs; a
pod asking for more NPUs than any node has stays Pending with the scheduler's
reason; `version` reports the pinned server version; tokencleaner deletes an
expired token; the plugin runs through
kubectl's plugin mechanism.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from tests.tooling import REPO_ROOT, VERSIONS, need_tool, run

pytestmark = pytest.mark.e2e


def test_simulated_nodes_have_npus(cluster):
    nodes = {n["metadata"]["name"]: n for n in cluster.get_json("nodes")["items"]}
    npu = {name: n["status"]["allocatable"] for name, n in nodes.items() if name.startswith(("atlas", "mgmt"))}
    assert npu["atlas-800i-a2-0"]["huawei.com/Ascend910"] == "8"
    assert npu["atlas-800i-a2-1"]["huawei.com/Ascend910"] == "8"
    assert npu["atlas-800t-a2-0"]["huawei.com/Ascend910"] == "8"
    assert npu["atlas-300i-duo-0"]["huawei.com/Ascend310P"] == "8"
    assert not any(k.startswith("huawei.com/") for k in npu["mgmt-0"])
    assert nodes["atlas-300i-duo-0"]["status"]["nodeInfo"]["architecture"] == "amd64"
    assert nodes["atlas-800i-a2-0"]["status"]["nodeInfo"]["architecture"] == "arm64"
    assert nodes["atlas-800i-a2-0"]["metadata"]["labels"]["node.kubernetes.io/npu.chip.name"] == "910B4"
    for n in nodes.values():
        assert "accelerator" not in n["metadata"]["labels"]
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"


def _pod_spec(npus: int) -> dict:
    return {"containers": [{"name": "c", "image": "registry.example/infer:1",
                            "resources": {"requests": {"huawei.com/Ascend910": str(npus)},
                                          "limits": {"huawei.com/Ascend910": str(npus)}}}]}


def test_npu_deployment_runs_on_atlas_node(cluster, namespace):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "npu8", "namespace": namespace},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "npu8"}},
                    "template": {"metadata": {"labels": {"app": "npu8"}}, "spec": _pod_spec(8)}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(dep))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Available", "deployment/npu8", "--timeout=120s")
    pods = cluster.get_json("pods", "-n", namespace, "-l", "app=npu8")["items"]
    assert len(pods) == 1
    assert pods[0]["status"]["phase"] == "Running"
    assert pods[0]["spec"]["nodeName"] in {"atlas-800i-a2-0", "atlas-800i-a2-1", "atlas-800t-a2-0"}


def test_too_many_npus_stays_pending_with_reason(cluster, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "npu9", "namespace": namespace},
           "spec": _pod_spec(9)}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    cluster.kubectl("wait", "-n", namespace, "pod/npu9", "--for=condition=PodScheduled=False", "--timeout=120s")
    p = cluster.get_json("pod", "-n", namespace, "npu9")
    cond = [c for c in p["status"]["conditions"] if c["type"] == "PodScheduled"][0]
    assert p["status"]["phase"] == "Pending"
    assert cond["reason"] == "Unschedulable"
    assert "Insufficient huawei.com/Ascend910" in cond["message"]


def test_version_reports_server(cluster):
    proc = cluster.plugin("version", "-o", "json", check=True)
    data = json.loads(proc.stdout)
    assert data["server"] == VERSIONS["KUBE_VERSION"]


def test_kubectl_plugin_mechanism(cluster, tmp_path):
    kubectl = need_tool("kubectl")
    shim = tmp_path / "kubectl-ascend"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m kubectl_ascend \"$@\"\n")
    shim.chmod(0o755)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    proc = run([kubectl, "ascend", "--help"], env=env)
    assert "join-cmd" in proc.stdout and "label-node" in proc.stdout
    proc = run([kubectl, "ascend", "--kubeconfig", cluster.kubeconfig, "version"], env=env)
    assert f"Server Version: {VERSIONS['KUBE_VERSION']}" in proc.stdout


def test_tokencleaner_deletes_expired_tokens(cluster):
    """kube-controller-manager runs tokencleaner: an expired bootstrap token Secret is deleted."""
    import time

    secret = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
              "metadata": {"name": "bootstrap-token-expird", "namespace": "kube-system"},
              "stringData": {"token-id": "expird", "token-secret": "0123456789abcdef",
                             "expiration": "2020-01-01T00:00:00Z", "usage-bootstrap-authentication": "true"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    deadline = time.monotonic() + 60
    while cluster.kubectl("get", "secret", "-n", "kube-system", "bootstrap-token-expird",
                          check=False).returncode == 0:
        assert time.monotonic() < deadline, "tokencleaner did not delete the expired token"
        time.sleep(0.5)


def test_a_start_that_fails_half_way_leaves_nothing_running():
    """The control plane comes up, then the node step fails: the fixture helper takes it down again."""
    import secrets
    import subprocess
    from pathlib import Path

    from tests.clusters import start_cluster

    name = f"halfway-{secrets.token_hex(3)}"
    with pytest.raises(AssertionError, match="unknown layout 'no-such-layout'"):
        start_cluster(name, "--no-volcano", "--layout", "no-such-layout")
    kwok_dir = Path(run(["bash", str(REPO_ROOT / "hack" / "cluster.sh"), "kubeconfig"], env={"ASCEND_CLUSTER": name}).stdout.strip()).parent
    assert not (kwok_dir / "clusters" / name).exists()
    assert subprocess.run(["pgrep", "-f", f"/clusters/{name}/"], capture_output=True).returncode == 1
