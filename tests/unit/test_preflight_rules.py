"""The preflight verdict rules (kubectl_ascend.preflight.rules) on agent documents built from documented outputs.

Every check is shown to PASS on a healthy document and to WARN/FAIL with its reason when the
fault is there: chip Health, chip count vs allocatable, occupied chips, driver vs CANN (label and
version.info), Ascend Docker Runtime, hccn link / net_health / device IP vs hccn.conf / TLS across
nodes, the reachability matrix; and a node without agent output FAILs `agent`.
"""
from __future__ import annotations

import copy

import pytest

from kubectl_ascend.preflight import rules

pytestmark = pytest.mark.unit


def smi(health: list[str], procs: dict[int, str] | None = None) -> str:
    eq = "+===========================+===============+====================================================+"
    out = ["| npu-smi 25.2.0                   Version: 25.2.0                                               |",
           "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
           "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |", eq]
    for i, h in enumerate(health):
        out += [f"| {i:<5} 910B4               | {h:<13} | 96.9        40                0    / 0             |",
                f"| 0                         | 0000:C{i}:00.0  | 0           0    / 0          3334 / 32768         |", eq]
    out.append("| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |")
    for i in range(len(health)):
        if procs and i in procs:
            out.append(f"| {i}       0                 | {procs[i]:<13} | python                   | 100 |")
        else:
            out.append(f"| No running processes found in NPU {i}                                                  |")
    return "\n".join(out) + "\n"


def cmd(out: str, rc: int = 0) -> dict:
    return {"cmd": ["x"], "rc": rc, "out": out}


def doc(n: int = 2) -> dict:
    hccn = {str(d): {"link": cmd("link status: UP\n"), "net_health": cmd("net health status: Success\n"),
                     "ip": cmd(f"ipaddr:10.{100 + d}.0.2\nnetmask:255.255.0.0\n"),
                     "tls": cmd(f"dev_id:{d}, tls switch[0](0:disable, 1:enable), tls alarm time threshold[60]days\n")}
            for d in range(n)}
    conf = "".join(f"address_{d}=10.{100 + d}.0.2\nnetmask_{d}=255.255.0.0\n" for d in range(n))
    return {"agent": 1, "npuSmi": cmd(smi(["OK"] * n)), "runtimeBinary": True, "hccn": hccn, "ping": {},
            "files": {"hccn.conf": conf, "version.info": "Version=25.2.0\n", "base.list": "/usr/local/bin/npu-smi\n",
                      "containerd": '[x.runc.options]\n  BinaryName = "/usr/local/Ascend/Ascend-Docker-Runtime/'
                                    'ascend-docker-runtime"\n'}}


def node(n: int = 2, resource: str = "huawei.com/Ascend910", labels: dict | None = None) -> dict:
    return {"metadata": {"name": "n", "labels": labels or {}}, "status": {"allocatable": {resource: str(n)}}}


def by_check(checks):
    return {c["check"]: c for c in checks}


def test_healthy_node_passes_every_check():
    checks, tls = rules.judge_node(node(), doc(), None, "8.2.RC1")
    assert [c["check"] for c in checks] == ["agent", "npu-health", "npu-count", "npu-occupied", "driver",
                                           "docker-runtime", "hccn-link", "hccn-health", "hccn-ip"]
    assert {c["verdict"] for c in checks} == {"PASS"} and rules.worst(checks) == "PASS"
    assert tls == {0: "0", 1: "0"}


def test_no_output_fails_agent():
    checks, _ = rules.judge_node(node(), None, "the preflight pod ns/p is Pending (ErrImagePull: x)", None)
    assert [(c["check"], c["verdict"], c["what"]) for c in checks] == \
        [("agent", "FAIL", "the preflight pod ns/p is Pending (ErrImagePull: x)")] and checks[0]["fix"]
    assert rules.worst(checks) == "FAIL"


@pytest.mark.parametrize("health,verdict", [(["OK", "Warning"], "WARN"), (["Alarm", "OK"], "FAIL"),
                                            (["Critical", "Warning"], "FAIL")])
def test_chip_health(health, verdict):
    d = doc()
    d["npuSmi"] = cmd(smi(health))
    c = by_check(rules.judge_node(node(), d, None, None)[0])["npu-health"]
    assert c["verdict"] == verdict and "Health" in c["what"] and c["fix"]


def test_npu_smi_missing_or_failing():
    d = doc()
    d["npuSmi"] = {"cmd": ["npu-smi", "info"], "rc": 127, "out": "npu-smi: not found"}
    c = by_check(rules.judge_node(node(), d, None, None)[0])["npu-health"]
    assert c["verdict"] == "FAIL" and "exited 127" in c["what"] and "install the Ascend driver" in c["fix"]


def test_chip_count_vs_allocatable():
    d = doc()
    d["npuSmi"] = cmd(smi(["OK"]))
    c = by_check(rules.judge_node(node(2), d, None, None)[0])["npu-count"]
    assert c["verdict"] == "FAIL" and c["what"] == "npu-smi shows 1 chip(s), the node advertises huawei.com/Ascend910: 2"
    d["npuSmi"] = cmd(smi(["OK"] * 3))
    assert by_check(rules.judge_node(node(2), d, None, None)[0])["npu-count"]["verdict"] == "WARN"


def test_occupied_chip_warns():
    d = doc()
    d["npuSmi"] = cmd(smi(["OK", "OK"], {1: "6277"}))
    c = by_check(rules.judge_node(node(), d, None, None)[0])["npu-occupied"]
    assert c["verdict"] == "WARN" and "NPU 1 chip 0: pid 6277 python" in c["what"] and "-8005" in c["fix"]


def test_driver_against_cann():
    c = by_check(rules.judge_node(node(), doc(), None, "9.0.0")[0])["driver"]
    assert c["verdict"] == "FAIL" and "older than 26.0.RC1" in c["what"]
    c = by_check(rules.judge_node(node(), doc(), None, "7.0.0")[0])["driver"]
    assert c["verdict"] == "WARN" and "not in our table" in c["what"]
    c = by_check(rules.judge_node(node(), doc(), None, None)[0])["driver"]
    assert c["verdict"] == "PASS" and "no --image/--cann" in c["what"]
    # the device plugin's label wins over version.info
    labelled = node(labels={rules.DRIVER_LABEL: "26.0.RC1"})
    c = by_check(rules.judge_node(labelled, doc(), None, "9.0.0")[0])["driver"]
    assert c["verdict"] == "PASS" and "label huawei.com/driver.version" in c["what"]
    d = doc()
    d["files"]["version.info"] = None
    assert by_check(rules.judge_node(node(), d, None, None)[0])["driver"]["verdict"] == "FAIL"


def test_docker_runtime():
    d = doc()
    d["files"]["containerd"] = '[x.runc.options]\n  BinaryName = "/usr/bin/runc"\n'
    assert by_check(rules.judge_node(node(), d, None, None)[0])["docker-runtime"]["verdict"] == "FAIL"
    d = doc()
    d["files"]["base.list"] = None
    c = by_check(rules.judge_node(node(), d, None, None)[0])["docker-runtime"]
    assert c["verdict"] == "FAIL" and "base.list" in c["what"]
    d = doc()
    d["files"]["containerd"] = None
    assert by_check(rules.judge_node(node(), d, None, None)[0])["docker-runtime"]["verdict"] == "WARN"


def test_hccn_link_health_ip():
    d = doc()
    d["hccn"]["1"]["link"] = cmd("link status: DOWN\n")
    d["hccn"]["0"]["net_health"] = cmd("net health status: Receive timeout\n")
    d["files"]["hccn.conf"] = d["files"]["hccn.conf"].replace("address_1=10.101.0.2", "address_1=10.101.9.9")
    by = by_check(rules.judge_node(node(), d, None, None)[0])
    assert by["hccn-link"]["verdict"] == "FAIL" and by["hccn-link"]["what"] == "link not UP: chip 1 DOWN"
    assert by["hccn-health"]["verdict"] == "FAIL" and "chip 0 Receive timeout" in by["hccn-health"]["what"]
    assert by["hccn-ip"]["verdict"] == "FAIL"
    assert by["hccn-ip"]["what"] == "chip 1: device 10.101.0.2 vs hccn.conf address_1=10.101.9.9"
    d = doc()
    d["files"]["hccn.conf"] = None
    c = by_check(rules.judge_node(node(), d, None, None)[0])["hccn-ip"]
    assert c["verdict"] == "FAIL" and "missing" in c["what"]


def test_no_hccn_checks_on_310p_nodes():
    checks, tls = rules.judge_node(node(resource="huawei.com/Ascend310P"), doc(), None, None)
    assert not [c for c in checks if c["check"].startswith("hccn")] and tls == {}


def test_tls_across_nodes():
    same = rules.tls_across({"a": {0: "0", 1: "0"}, "b": {0: "0"}})
    assert {n: c["verdict"] for n, c in same.items()} == {"a": "PASS", "b": "PASS"}
    odd = rules.tls_across({"a": {0: "0", 1: "0"}, "b": {0: "0", 1: "0"}, "c": {0: "1", 1: "1"}})
    assert {n: c["verdict"] for n, c in odd.items()} == {"a": "PASS", "b": "PASS", "c": "FAIL"}
    assert "chip 0=1" in odd["c"]["what"] and "tls" in odd["c"]["fix"]
    tie = rules.tls_across({"a": {0: "0"}, "b": {0: "1"}})
    assert {n: c["verdict"] for n, c in tie.items()} == {"a": "FAIL", "b": "FAIL"}


def test_matrix():
    ok = cmd("3 packets transmitted, 3 received, 0.00% packet loss\n")
    lost = cmd("recv time out seq=0\n3 packets transmitted, 0 received, 100.00% packet loss\n")
    targets = {"a": {"b": {0: "10.100.0.3", 1: "10.101.0.3"}}, "b": {"a": {0: "10.100.0.2", 1: "10.101.0.2"}}}
    pings = {"a": {"0": {"10.100.0.3": ok}, "1": {"10.101.0.3": lost}},
             "b": {"0": {"10.100.0.2": copy.deepcopy(ok)}, "1": {"10.101.0.2": ok}}}
    m = rules.matrix(pings, targets)
    assert m == {"a": {"b": {"reachable": False, "lost": ["chip 1 -> 10.101.0.3"]}},
                 "b": {"a": {"reachable": True, "lost": []}}}
    assert rules.matrix_check(m["a"])["verdict"] == "FAIL" and rules.matrix_check(m["b"])["verdict"] == "PASS"
    assert rules.matrix({}, targets)["b"]["a"]["reachable"] is False  # no ping output: not reachable
