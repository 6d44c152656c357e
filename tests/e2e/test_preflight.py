"""`kubectl ascend preflight` on the local cluster: real pods, the agent run by hack/preflight_kubelet.py.

The addon (started by hack/cluster.sh) plays the kubelet for preflight pods: it runs the same
agent script against emulated npu-smi / hccn_tool whose faults come from the ConfigMap
kube-system/ascend-preflight-emulator. Scenarios:
- healthy nodes: every NPU node PASS, exit 0, the JSON in the documented shape;
- faults on one node (a chip Alarm, a link DOWN, a stale hccn.conf address, an old driver) and TLS
  switched on another: FAIL with the right checks, exit 1; the unchanged nodes FAIL only hccn-tls
  where the TLS majority is split, else PASS;
- --hccl with an isolated chip: the matrix marks the pairs LOST and the node FAILs hccl-reachability;
- the text report: one line per node, the failing check with its fix, a summary line;
- afterwards no preflight pod or ConfigMap is left, and every Node's labels, annotations and
  taints are what they were before.
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

FAULTS = "ascend-preflight-emulator"
SELECTOR = "app.kubernetes.io/name=ascend-preflight"


def node_state(cluster) -> dict:
    return {n["metadata"]["name"]: (n["metadata"].get("labels"), n["metadata"].get("annotations"),
                                    n["spec"].get("taints"))
            for n in cluster.get_json("nodes")["items"]}


def npu_nodes(cluster) -> list[str]:
    return sorted(n["metadata"]["name"] for n in cluster.get_json("nodes")["items"]
                  if any(k.startswith("huawei.com/Ascend") and v != "0"
                         for k, v in (n["status"].get("allocatable") or {}).items()))


def set_faults(cluster, faults: dict[str, dict]) -> None:
    cluster.kubectl("delete", "configmap", "-n", "kube-system", FAULTS, "--ignore-not-found")
    if faults:
        args = [f"--from-literal={k}={json.dumps(v)}" for k, v in faults.items()]
        cluster.kubectl("create", "configmap", "-n", "kube-system", FAULTS, *args)


@pytest.fixture
def faults(cluster):
    yield lambda f: set_faults(cluster, f)
    set_faults(cluster, {})


@pytest.fixture
def ns(cluster, namespace):
    cluster.kubectl("wait", "--for=create", "serviceaccount/default", "-n", namespace, "--timeout=60s")
    return namespace


def preflight(cluster, ns, *args):
    proc = cluster.plugin("-n", ns, "preflight", *args, "--agent-image", "registry.local/python:3.12", "-o", "json")
    return proc, json.loads(proc.stdout) if proc.stdout.strip() else None


def assert_clean(cluster, ns, before):
    assert cluster.get_json("pods", "-n", ns, "-l", SELECTOR)["items"] == []
    assert cluster.get_json("configmaps", "-n", ns, "-l", SELECTOR)["items"] == []
    assert node_state(cluster) == before


def checks(report, node):
    entry = next(n for n in report["nodes"] if n["node"] == node)
    return entry["verdict"], {c["check"]: c for c in entry["checks"]}


def test_healthy_nodes_pass_and_nothing_is_left(cluster, ns, faults):
    faults({})
    before = node_state(cluster)
    proc, report = preflight(cluster, ns, "--all", "--cann", "8.2.RC1")
    assert proc.returncode == 0, proc.stderr
    assert set(report) == {"nodes", "matrix"} and report["matrix"] is None
    assert [n["node"] for n in report["nodes"]] == npu_nodes(cluster)
    for n in report["nodes"]:
        assert set(n) == {"node", "verdict", "checks"}
        assert n["verdict"] == "PASS", n
        for c in n["checks"]:
            assert set(c) == {"check", "verdict", "what", "fix"}
    verdict, by = checks(report, "atlas-800i-a2-0")
    assert {"agent", "npu-health", "npu-count", "npu-occupied", "driver", "docker-runtime", "hccn-link",
            "hccn-health", "hccn-ip", "hccn-tls"} == set(by)
    assert "runs CANN 8.2.RC1" in by["driver"]["what"]
    assert_clean(cluster, ns, before)


def test_faulty_node_fails_with_its_reasons(cluster, ns, faults):
    faults({"atlas-800i-a2-1": {"health": {"3": "Alarm"}, "linkDown": [2], "staleAddress": {"5": "10.99.0.5"},
                                "driver": "25.0.RC1", "missingChips": 1},
            "atlas-800t-a2-0": {"tls": "1"}})
    before = node_state(cluster)
    proc, report = preflight(cluster, ns, "atlas-800i-a2-0", "atlas-800i-a2-1", "atlas-800t-a2-0",
                             "--cann", "8.2.RC1")
    assert proc.returncode == 1, proc.stderr
    verdict, by = checks(report, "atlas-800i-a2-1")
    assert verdict == "FAIL"
    assert by["npu-health"]["verdict"] == "FAIL" and "NPU 3 chip 0 Health Alarm" in by["npu-health"]["what"]
    assert by["npu-count"]["verdict"] == "FAIL" and "7 chip(s)" in by["npu-count"]["what"]
    assert by["hccn-link"]["verdict"] == "FAIL" and "chip 2 DOWN" in by["hccn-link"]["what"]
    assert by["hccn-ip"]["verdict"] == "FAIL" and "address_5=10.99.0.5" in by["hccn-ip"]["what"]
    assert by["driver"]["verdict"] == "FAIL" and "older than 25.2.0" in by["driver"]["what"]
    assert by["hccn-tls"]["verdict"] in ("PASS", "FAIL")
    verdict, by = checks(report, "atlas-800t-a2-0")
    assert verdict == "FAIL" and by["hccn-tls"]["verdict"] == "FAIL", by["hccn-tls"]
    assert "TLS switch differs" in by["hccn-tls"]["what"] and by["hccn-tls"]["fix"]
    verdict, by = checks(report, "atlas-800i-a2-0")
    assert verdict == "PASS", by
    assert_clean(cluster, ns, before)


def test_hccl_matrix_finds_an_isolated_chip(cluster, ns, faults):
    faults({"atlas-800i-a2-1": {"isolated": [4]}})
    before = node_state(cluster)
    proc, report = preflight(cluster, ns, "atlas-800i-a2-0", "atlas-800i-a2-1", "atlas-800t-a2-0", "--hccl")
    assert proc.returncode == 1, proc.stderr
    m = report["matrix"]
    assert m["atlas-800i-a2-0"]["atlas-800t-a2-0"] == {"reachable": True, "lost": []}
    assert m["atlas-800i-a2-0"]["atlas-800i-a2-1"]["reachable"] is False
    assert m["atlas-800i-a2-0"]["atlas-800i-a2-1"]["lost"] == ["chip 4 -> 10.104.0.3"]
    assert m["atlas-800i-a2-1"]["atlas-800t-a2-0"]["reachable"] is False
    for node in ("atlas-800i-a2-0", "atlas-800i-a2-1", "atlas-800t-a2-0"):
        verdict, by = checks(report, node)
        assert by["hccl-reachability"]["verdict"] == "FAIL", (node, by["hccl-reachability"])
    assert_clean(cluster, ns, before)


def test_text_report_names_the_fault_and_its_fix(cluster, ns, faults):
    faults({"atlas-800i-a2-1": {"linkDown": [3]}})
    proc = cluster.plugin("-n", ns, "preflight", "--all", "--cann", "8.2.RC1", "--agent-image",
                          "registry.local/python:3.12")
    print(proc.stdout)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "atlas-800i-a2-0: PASS" in lines and "atlas-300i-duo-0: PASS" in lines
    i = lines.index("atlas-800i-a2-1: FAIL")
    assert lines[i + 1:i + 3] == ["  [FAIL] hccn-link: link not UP: chip 3 DOWN",
                                  "         fix: check the cable/optical module of those ports (`hccn_tool -i N "
                                  "-optical -g`) and the switch port"]
    assert lines[-1] == "4 node(s): 3 passed, 0 warnings, 1 failed"
