"""The preflight agent against the emulated host tools, without a cluster.

Runs kubectl_ascend/preflight/agent.py as the pod would (a subprocess, PREFLIGHT_HOST_ROOT at a
fake host built by hack/preflight_kubelet.py, npu-smi / hccn_tool = hack/ascend_tools_emulator.py)
and reads its output back the way the plugin does (run.decode from the termination message):
- the emulators' output is read by our parsers (npu-smi table, link, net_health, ip, tls, ping);
- the termination message carries the whole document within the kubelet's 4096 bytes (8 chips);
- a document too big for it says "log" and the plugin falls back to the pod log;
- missing tools are reported (exit 127), not crashed on; a missing chip drops out of npu-smi;
- a 300I Duo host prints two chips per card (NPU row repeated), read as 8 chips for Ascend310P: 8.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_ascend.preflight import parsers, rules, run
from tests.tooling import REPO_ROOT

pytestmark = pytest.mark.unit

AGENT = REPO_ROOT / "kubectl_ascend" / "preflight" / "agent.py"


def kubelet_module():
    spec = importlib.util.spec_from_file_location("preflight_kubelet", REPO_ROOT / "hack" / "preflight_kubelet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


NODE = {"metadata": {"name": "n1", "labels": {"node.kubernetes.io/npu.chip.name": "910B4"}},
        "status": {"allocatable": {"huawei.com/Ascend910": "8"},
                   "addresses": [{"type": "InternalIP", "address": "172.20.0.2"}]}}
PEER = {"metadata": {"name": "n2", "labels": {}},
        "status": {"allocatable": {"huawei.com/Ascend910": "8"},
                   "addresses": [{"type": "InternalIP", "address": "172.20.0.3"}]}}


DUO = {"metadata": {"name": "d", "labels": {"node.kubernetes.io/npu.chip.name": "310P3"}},
       "status": {"allocatable": {"huawei.com/Ascend310P": "8"},
                  "addresses": [{"type": "InternalIP", "address": "172.20.0.5"}]}}


def agent(tmp_path: Path, faults: dict, *args: str, tools: bool = True, node: dict = NODE,
          ) -> tuple[subprocess.CompletedProcess, Path]:
    pk = kubelet_module()
    root = tmp_path / "root"
    root.mkdir()
    host = pk.host_state(node, faults)
    if tools:
        pk.Kubelet.fake_root(None, root, host)  # type: ignore[arg-type]
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"host": host, "all": {"n1": host, "n2": pk.host_state(PEER, {})}}))
    term = tmp_path / "termination-log"
    env = {"PATH": "/usr/bin:/bin", "PREFLIGHT_HOST_ROOT": str(root), "PREFLIGHT_TERMINATION_LOG": str(term),
           "ASCEND_EMU_STATE": str(state), "NODE_NAME": "n1"}
    proc = subprocess.run([sys.executable, str(AGENT), *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc, term


class NoLog:
    def pod_log(self, *a, **k):
        raise AssertionError("the termination message should have been enough")


def finished(message: str) -> dict:
    return {"metadata": {"namespace": "ns", "name": "p"},
            "status": {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"message": message}}}]}}


def test_agent_output_read_back_and_judged(tmp_path):
    proc, term = agent(tmp_path, {"linkDown": [2], "occupied": [1]}, "--devices", "0-7", "--hccn",
                       "--ping=0=10.100.0.3", "--ping=2=10.102.0.3")
    message = term.read_text()
    assert message.startswith("gz:") and len(message) <= 4096
    doc, problem = run.decode(finished(message), NoLog())  # type: ignore[arg-type]
    assert problem is None and doc == json.loads(proc.stdout)
    info = parsers.npu_smi_info(doc["npuSmi"]["out"])
    assert [c.health for c in info.chips] == ["OK"] * 8 and info.processes == [(1, 0, "4001", "python3")]
    assert parsers.device_ip(doc["hccn"]["3"]["ip"]["out"]) == "10.103.0.2"
    assert parsers.hccn_conf(doc["files"]["hccn.conf"])[3]["address"] == "10.103.0.2"
    assert parsers.tls_switch(doc["hccn"]["0"]["tls"]["out"]) == "0"
    assert parsers.ping(doc["ping"]["0"]["10.100.0.3"]["out"]) == (3, 3)
    assert parsers.ping(doc["ping"]["2"]["10.102.0.3"]["out"]) == (3, 0)  # its own link is down
    by = {c["check"]: c for c in rules.judge_node(NODE, doc, None, "8.2.RC1")[0]}
    assert by["hccn-link"]["what"] == "link not UP: chip 2 DOWN" and by["npu-occupied"]["verdict"] == "WARN"
    assert by["driver"]["verdict"] == by["docker-runtime"]["verdict"] == by["hccn-ip"]["verdict"] == "PASS"


def test_missing_chip_and_tools(tmp_path):
    proc, _ = agent(tmp_path, {"missingChips": 2}, "--devices", "0-7", "--hccn")
    doc = json.loads(proc.stdout)
    assert len(parsers.npu_smi_info(doc["npuSmi"]["out"]).chips) == 6
    assert doc["hccn"]["7"]["link"]["rc"] == 255
    by = {c["check"]: c for c in rules.judge_node(NODE, doc, None, None)[0]}
    assert by["npu-count"]["verdict"] == "FAIL" and by["hccn-link"]["verdict"] == "PASS"
    (tmp_path / "bare").mkdir()
    bare, _ = agent(tmp_path / "bare", {}, tools=False)
    doc = json.loads(bare.stdout)
    assert doc["npuSmi"]["rc"] == 127 and doc["files"]["hccn.conf"] is None
    by = {c["check"]: c for c in rules.judge_node(NODE, doc, None, None)[0]}
    assert by["npu-health"]["verdict"] == "FAIL" and by["driver"]["verdict"] == "FAIL"


def test_300i_duo_host_two_chips_per_card(tmp_path):
    proc, _ = agent(tmp_path, {"health": {"2": "Alarm"}, "occupied": [5]}, node=DUO)
    doc = json.loads(proc.stdout)
    info = parsers.npu_smi_info(doc["npuSmi"]["out"])
    assert [(c.npu, c.chip) for c in info.chips] == [(n, c) for n in range(4) for c in range(2)]
    assert info.processes == [(2, 1, "4005", "python3")]
    by = {c["check"]: c for c in rules.judge_node(DUO, doc, None, None)[0]}
    assert by["npu-count"]["what"] == "8 chip(s) = huawei.com/Ascend310P: 8"
    assert by["npu-health"]["what"] == "NPU 2 chip 0 Health Alarm; NPU 2 chip 1 Health Alarm"
    assert not [c for c in by if c.startswith("hccn")]


def test_big_document_falls_back_to_the_log(tmp_path, monkeypatch, capsys):
    from kubectl_ascend.preflight import agent as agent_module

    big = {"agent": 1, "noise": os.urandom(4000).hex()}  # does not compress below 4096 bytes
    monkeypatch.setattr(agent_module, "collect", lambda args: big)
    term = tmp_path / "termination-log"
    assert agent_module.main(["--termination-log", str(term)]) == 0
    assert term.read_text() == "log"
    stdout = capsys.readouterr().out

    class Log:
        def pod_log(self, namespace, name, container=None, tail_lines=2000):
            return stdout

    assert run.decode(finished("log"), Log()) == (big, None)  # type: ignore[arg-type]


def test_unfinished_pod_says_why():
    pod = {"metadata": {"namespace": "ns", "name": "p"},
           "status": {"phase": "Pending", "containerStatuses": [
               {"state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}}
    assert run.decode(pod, NoLog()) == (None, "the preflight pod ns/p is Pending (ErrImagePull: not found)")  # type: ignore[arg-type]
    assert os.path.basename(str(AGENT)) == "agent.py"
