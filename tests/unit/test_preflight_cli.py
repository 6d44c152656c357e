"""`kubectl ascend preflight` wiring without a cluster: usage errors (exit 2, nothing contacted),
what is passed to the library, the agent image moved to the installed stack's registry, the
exit code 1 on a FAIL verdict, and the text report.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kubectl_ascend import cli
from kubectl_ascend.commands import _common

pytestmark = pytest.mark.unit


def no_cluster(monkeypatch):
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: pytest.fail("no cluster call expected"))
    monkeypatch.setattr(_common.Settings, "helm", lambda self: pytest.fail("no helm call expected"))


def _run(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.mark.parametrize("argv,message", [
    ([], "name the nodes to check, or give --all"),
    (["n1", "--all"], "give node names or --all, not both"),
    (["--all", "--cann", "eight"], "--cann 'eight' is not a CANN version"),
    (["--all", "--image", "quay.io/ascend/vllm-ascend:v0.9.1"], "cannot tell the CANN version of --image"),
    (["--all", "--timeout", "soon"], "--timeout"),
    (["Bad_Node"], "node name"),
])
def test_usage_errors_touch_no_cluster(monkeypatch, capsys, argv, message):
    no_cluster(monkeypatch)
    code, out, err = _run(capsys, ["preflight", *argv])
    assert code == 2 and out == "" and message in err, err


def test_clirunner_usage_error():
    result = CliRunner().invoke(cli.cli, ["preflight", "--all", "n1"])
    assert result.exit_code == 2 and "give node names or --all, not both" in result.output


REPORT = {"nodes": [
    {"node": "n1", "verdict": "PASS", "checks": [{"check": "agent", "verdict": "PASS", "what": "ok", "fix": ""}]},
    {"node": "n2", "verdict": "FAIL", "checks": [
        {"check": "agent", "verdict": "PASS", "what": "ok", "fix": ""},
        {"check": "hccn-link", "verdict": "FAIL", "what": "link not UP: chip 2 DOWN", "fix": "check the cable"}]}],
    "matrix": {"n1": {"n2": {"reachable": False, "lost": ["chip 2 -> 10.102.0.3"]}},
               "n2": {"n1": {"reachable": False, "lost": ["chip 2 -> 10.102.0.2"]}}}}


def fake(monkeypatch, seen, report=REPORT):
    def run(kube, **kw):
        seen.update(kw)
        return report

    monkeypatch.setattr("kubectl_ascend.preflight.run.preflight", run)
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())
    monkeypatch.setattr("kubectl_ascend.commands.preflight.installed_release_values",
                        lambda settings, release: ({"global": {"imageRegistry": "registry.local:5000",
                                                           "imagePullSecrets": ["regcred", {"name": "other"}]}}, None))


def test_passes_validated_request_and_exits_1_on_fail(monkeypatch, capsys):
    seen: dict = {}
    fake(monkeypatch, seen)
    code, out, err = _run(capsys, ["-n", "ops", "preflight", "n1", "n2", "--hccl", "--image",
                                   "quay.io/ascend/cann:8.2.rc1-910b-ubuntu22.04-py3.11", "-o", "json"])
    assert code == 1, err
    assert json.loads(out) == REPORT
    assert seen == {"names": ["n1", "n2"], "all_nodes": False, "namespace": "ops", "cann": "8.2.RC1", "hccl": True,
                    "image": "registry.local:5000/library/python:3.12.8-slim-bookworm", "timeout": 300.0,
                    "pull_secrets": ["regcred", "other"]}


def test_text_report_and_exit_0_without_fail(monkeypatch, capsys):
    seen: dict = {}
    fake(monkeypatch, seen)
    code, out, _ = _run(capsys, ["preflight", "--all", "--cann", "8.5.0", "--agent-image", "mirror/py:3"])
    assert code == 1 and seen["image"] == "mirror/py:3" and seen["namespace"] == "kube-system"
    assert seen["pull_secrets"] == []  # --agent-image: the stack's registry and secrets are not read
    assert "n2: FAIL\n  [FAIL] hccn-link: link not UP: chip 2 DOWN\n         fix: check the cable" in out
    assert "LOST" in out and out.rstrip().endswith("2 node(s): 1 passed, 0 warnings, 1 failed")
    ok = {"nodes": [REPORT["nodes"][0]], "matrix": None}
    fake(monkeypatch, seen, ok)
    with pytest.raises(SystemExit) as e:
        cli.main(["preflight", "--all", "--agent-image", "mirror/py:3"])
    assert e.value.code == 0
