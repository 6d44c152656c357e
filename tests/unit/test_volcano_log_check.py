"""doctor's Volcano-log check on log text (KWOK serves no pod logs, so the FAIL/PASS paths run on text here).

The API path itself (Kube.pod_log through the pod log endpoint) runs on the real
API server in tests/e2e/test_volcano_checks.py.
"""
from __future__ import annotations

import pytest

from kubectl_ascend import errors
from kubectl_ascend.doctor import Cluster, _volcano_type, check_volcano_plugin_log

pytestmark = pytest.mark.unit

FAILED = ('E1130 06:00:01.000000  1 framework.go:57] Failed to get plugin volcano-npu_v26.0.0_linux-aarch64.\n')


class LogKube:
    def __init__(self, log: str | Exception, phase: str = "Running"):
        self.log, self.phase, self.asked = log, phase, []

    def list_pods(self, namespace=None, label_selector=None, field_selector=None):
        assert label_selector == "app.kubernetes.io/part-of=mindcluster,app.kubernetes.io/component=volcano-scheduler"
        return [{"metadata": {"namespace": "volcano-system", "name": "volcano-scheduler-abc"},
                 "status": {"phase": self.phase}}]

    def pod_log(self, namespace, name, container=None, tail_lines=2000):
        self.asked.append((namespace, name, tail_lines))
        if isinstance(self.log, Exception):
            raise self.log
        return self.log


def run(kube) -> dict:
    return {c.name: c for c in check_volcano_plugin_log(kube, Cluster(kube))}


def test_failed_to_get_plugin_is_a_fail_with_the_line_and_the_fix():
    kube = LogKube("I1130 started\n" + FAILED + "I1130 more\n")
    c = run(kube)["volcano-npu-plugin"]
    assert c.status == "FAIL"
    assert "volcano-system/volcano-scheduler-abc: E1130" in c.message
    assert "Failed to get plugin volcano-npu_v26.0.0_linux-aarch64." in c.message
    assert "volcano-npu_v26.0.0, no architecture suffix" in c.fix
    assert kube.asked == [("volcano-system", "volcano-scheduler-abc", 5000)]


def test_clean_log_passes():
    assert run(LogKube("I1130 Plugin volcano-npu_v26.0.0 loaded\n"))["volcano-npu-plugin"].status == "PASS"


def test_unreadable_log_warns():
    c = run(LogKube(errors.Forbidden("read the log of pod x: forbidden (403)")))["volcano-npu-plugin"]
    assert c.status == "WARN" and "forbidden" in c.message


def test_no_running_scheduler_adds_nothing():
    assert run(LogKube(FAILED, phase="Pending")) == {}


@pytest.mark.parametrize("cmd, args, want", [
    (["/bin/sh", "-c"], ["device-plugin -useAscendDocker=true -volcanoType=true -logFile=/x"], True),
    (["device-plugin"], ["--volcanoType=true"], True),
    (["device-plugin"], ["-volcanoType=false"], False),
    ([], [], False),
])
def test_volcano_type_read_from_the_command_line(cmd, args, want):
    pod = {"spec": {"containers": [{"command": cmd, "args": args}]}}
    assert _volcano_type(pod) is want
