"""CLI wiring: option hoisting, exit codes, error formatting, --help stays light.

Scenarios: global flags after the subcommand work (kubectl style); usage errors
exit 2 (also install --accept-drift without --adopt); library errors print one `error:` line and exit 1, with a traceback
only under -v; `--help` does not import the kubernetes client or pyhelm3;
join-cmd and label-node pass validated options to the library.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from kubectl_ascend import cli, errors
from kubectl_ascend.commands import _common

pytestmark = pytest.mark.unit


def test_hoist_global_options():
    argv = ["label-node", "--all", "-v", "--kubeconfig", "k.yaml", "--context=c", "-n", "ns", "-o", "json"]
    assert _common.hoist_global_options(argv) == ["-v", "--kubeconfig", "k.yaml", "--context=c", "-n", "ns",
                                              "label-node", "--all", "-o", "json"]
    assert _common.hoist_global_options(["x", "--", "-v"]) == ["x", "--", "-v"]


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from kubectl_ascend import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit: pass\n"
            "bad = [m for m in ('kubernetes', 'pyhelm3', 'urllib3', 'cryptography') if m in sys.modules]\n"
            "print('BAD=' + ','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "BAD="


def _run(monkeypatch, capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_usage_error_exits_2(monkeypatch, capsys):
    code, _, err = _run(monkeypatch, capsys, ["label-node"])
    assert code == 2 and "exactly one" in err


def test_accept_drift_without_adopt_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: pytest.fail("no cluster call expected"))
    code, _, err = _run(monkeypatch, capsys, ["install", "--accept-drift"])
    assert code == 2 and "--accept-drift only applies with --adopt" in err


def test_library_error_is_one_line(monkeypatch, capsys):
    def boom(*a, **k):
        raise errors.Forbidden("list nodes: forbidden (403); ask a cluster admin")

    monkeypatch.setattr("kubectl_ascend.labelnode.select_nodes", boom)
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())
    code, out, err = _run(monkeypatch, capsys, ["label-node", "--all"])
    assert code == 1 and out == ""
    assert err == "error: list nodes: forbidden (403); ask a cluster admin\n"
    code, _, err = _run(monkeypatch, capsys, ["label-node", "--all", "-v"])
    assert code == 1 and "Traceback" in err and err.endswith("ask a cluster admin\n")


def test_join_cmd_passes_validated_request(monkeypatch, capsys):
    seen = {}

    def fake_join(kube, kcfg, req, warn):
        seen["req"] = req
        from kubectl_ascend.joincmd import JoinResult
        return JoinResult("abcdef.0123456789abcdef", None, "10.0.0.1:6443", "--endpoint", ["sha256:" + "0" * 64],
                          "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef "
                          "--discovery-token-ca-cert-hash sha256:" + "0" * 64)

    monkeypatch.setattr("kubectl_ascend.joincmd.join_command", fake_join)
    monkeypatch.setattr("kubectl_ascend.kube.read_kubeconfig", lambda *a: None)
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())
    code, out, _ = _run(monkeypatch, capsys, ["join-cmd", "--ttl", "2h", "--node-name", "n1", "--description", "x"])
    assert code == 0 and out.startswith("kubeadm join 10.0.0.1:6443 --token abcdef.")
    req = seen["req"]
    assert req.ttl.total_seconds() == 7200 and req.node_name == "n1" and req.description == "x"
    code, _, err = _run(monkeypatch, capsys, ["join-cmd", "--ttl", "0"])
    assert code == 2 and "--allow-non-expiring" in err


@pytest.mark.parametrize("argv,want", [
    (["install", "-nfoo"], ["-n", "foo", "install"]),
    (["install", "-n=foo"], ["-n", "foo", "install"]),
    (["install", "--namespace=foo"], ["--namespace=foo", "install"]),
    (["status", "-o=json"], ["status", "-ojson"]),
    (["label-node", "--all", "--dry-run"], ["label-node", "--all", "--dry-run=client"]),
    (["label-node", "--dry-run", "n1"], ["label-node", "--dry-run=client", "n1"]),
    (["join-cmd", "--dry-run=server"], ["join-cmd", "--dry-run=server"]),
    (["x", "--", "--dry-run", "-nfoo"], ["x", "--", "--dry-run", "-nfoo"]),
])
def test_hoist_forms(argv, want):
    assert _common.hoist_global_options(argv) == want


def _stub_join(monkeypatch, seen):
    def fake_join(kube, kcfg, req, warn):
        seen["req"] = req
        from kubectl_ascend.joincmd import JoinResult
        return JoinResult("abcdef.0123456789abcdef", None, "10.0.0.1:6443", "--endpoint", ["sha256:" + "0" * 64],
                          "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef", dry_run=req.dry_run)

    monkeypatch.setattr("kubectl_ascend.joincmd.join_command", fake_join)
    monkeypatch.setattr("kubectl_ascend.kube.read_kubeconfig", lambda *a: None)
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())


@pytest.mark.parametrize("args,mode", [
    ([], "none"), (["--dry-run"], "client"), (["--dry-run=client"], "client"), (["--dry-run=server"], "server"),
    (["--dry-run=none"], "none"),
])
def test_dry_run_forms(monkeypatch, capsys, args, mode):
    seen: dict = {}
    _stub_join(monkeypatch, seen)
    code, out, err = _run(monkeypatch, capsys, ["join-cmd", *args])
    assert code == 0, err
    assert seen["req"].dry_run == mode


@pytest.mark.parametrize("argv,first", [
    (["join-cmd", "--dry-run", "client"], "error: too many arguments: client (a --dry-run mode is written"),
    (["join-cmd", "--dry-run=maybe"], "error: Invalid value for '--dry-run'"),
    (["label-node", "--all", "--dry-run=server"], "error: Invalid value for '--dry-run': 'server': this command supports none, client"),
    (["join-cmd", "--endpoint", "--ttl", "2h"], "error: option --endpoint needs a value but is followed by '--ttl'"),
    (["join-cmd", "--node-name", "-v"], "error: Option '--node-name' requires an argument"),
    (["join-cmd", "--node-name", "--dry-run"], "error: option --node-name needs a value but is followed by"),
    (["join-cmd", "--ttl", "-5m"], "error: option --ttl needs a value but is followed by '-5m'"),
    (["join-cmd", "--ttl", "1\u0661h"], "error: --ttl '1\u0661h' is not a Go duration"),
    (["join-cmd", "--ttl", "30s"], "error: --ttl '30s' is too short: the minimum is 1m"),
    (["join-cmd", "--ttl", "99999999h"], "error: --ttl '99999999h' is too long"),
    (["join-cmd", "--ttl=-5m"], "error: --ttl '-5m' has a sign"),
    (["join-cmd", "--node-name", "a..b"], "error: --node-name 'a..b' is not a valid name"),
    (["join-cmd", "--endpoint", "$(id):6443"], "error: --endpoint '$(id):6443': host '$(id)'"),
    (["join-cmd", "--endpoint", "10.0.0.1:0"], "error: --endpoint '10.0.0.1:0' has port 0"),
    (["join-cmd", "--control-plane", "--certificate-key", "abc"], "error: --certificate-key must be exactly 64"),
    (["-n", "Bad_NS", "status"], "error: -n/--namespace 'Bad_NS' is not a valid name"),
    (["status", "-n../x"], "error: -n/--namespace '../x' is not a valid name"),
    (["token", "revoke", "not-an-id"], "error: an argument of 9 character(s) is not a bootstrap token ID"),
    (["label-node", "Node_1"], "error: node name 'Node_1' is not a valid name"),
    (["install", "--release", "A" * 60], "error: Invalid value for '--release'"),
    (["install", "--timeout", "0.5s"], "error: --timeout '0.5s' is too short"),
    (["install", "--set", "novalue"], "error: --set 'novalue': want KEY=VALUE"),
    (["install", "--adopt", "--mindcluster-version", "7.3.0"],
     "error: --mindcluster-version '7.3.0': this plugin installs 26.0.0 or 26.1.0"),
    (["mindie", "ranktable", "Bad.Release"], "error: release 'Bad.Release' is not a valid name"),
    (["uninstall", "--dry-run=server"], "error: Invalid value for '--dry-run'"),
])
def test_usage_errors_exit_2_with_one_error_line(monkeypatch, capsys, argv, first):
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: pytest.fail("reached the cluster"))
    code, out, err = _run(monkeypatch, capsys, argv)
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(first), lines
    assert len(lines) == 2 and lines[1].startswith("See 'kubectl ascend ") and lines[1].endswith("--help' for usage.")


def test_internal_error_is_not_called_unexpected(monkeypatch, capsys):
    def boom(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("kubectl_ascend.labelnode.select_nodes", boom)
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())
    code, out, err = _run(monkeypatch, capsys, ["label-node", "--all"])
    assert code == 1
    assert err.startswith("error: internal error in kubectl-ascend (ZeroDivisionError: division by zero); "
                          "please report it; rerun with -v")
    assert "unexpected" not in err


def test_ctrl_c_exits_130(monkeypatch, capsys):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("kubectl_ascend.labelnode.select_nodes", interrupt)
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: object())
    code, _, err = _run(monkeypatch, capsys, ["label-node", "--all"])
    assert code == 130 and "error: interrupted" in err


def test_masked_command_stays_quoted():
    from datetime import timedelta

    from kubectl_ascend.joincmd import JoinRequest, JoinResult, build_command

    cmd = build_command("10.0.0.1:6443", "abcdef.0123456789abcdef", ["sha256:" + "0" * 64],
                        JoinRequest(ttl=timedelta(hours=1)))
    res = JoinResult("abcdef.0123456789abcdef", None, "10.0.0.1:6443", "--endpoint", [], cmd)
    assert "--token 'abcdef.****************' " in res.public(False)["command"]
    assert "0123456789abcdef" not in res.public(False)["command"]


def test_ctrl_c_while_waiting_for_ranktables(monkeypatch, capsys):
    class Kube:
        def list_configmaps(self, ns, selector):
            raise KeyboardInterrupt

    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: Kube())
    code, out, err = _run(monkeypatch, capsys, ["-n", "llm", "mindie", "ranktable", "qwen", "--wait"])
    assert code == 130 and out == ""
    assert err == "error: interrupted while waiting for release qwen in llm: nothing was written\n"
