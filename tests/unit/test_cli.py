"""CLI wiring: option hoisting, exit codes, error formatting, --help stays light.

Scenarios: global flags after the subcommand work (kubectl style); usage errors
exit 2; library errors print one `error:` line and exit 1, with a traceback
only under -v; `--help` does not import the kubernetes client or pyhelm3;
join-cmd and label-node pass validated options to the library.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from kubectl_ascend import cli, errors

pytestmark = pytest.mark.unit


def test_hoist_global_options():
    argv = ["label-node", "--all", "-v", "--kubeconfig", "k.yaml", "--context=c", "-n", "ns", "-o", "json"]
    assert cli.hoist_global_options(argv) == ["-v", "--kubeconfig", "k.yaml", "--context=c", "-n", "ns",
                                              "label-node", "--all", "-o", "json"]
    assert cli.hoist_global_options(["x", "--", "-v"]) == ["x", "--", "-v"]


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


def test_library_error_is_one_line(monkeypatch, capsys):
    def boom(*a, **k):
        raise errors.Forbidden("list nodes: forbidden (403); ask a cluster admin")

    monkeypatch.setattr("kubectl_ascend.labelnode.select_nodes", boom)
    monkeypatch.setattr(cli.Settings, "kube", lambda self, **kw: object())
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
    monkeypatch.setattr(cli.Settings, "kube", lambda self, **kw: object())
    code, out, _ = _run(monkeypatch, capsys, ["join-cmd", "--ttl", "2h", "--node-name", "n1", "--description", "x"])
    assert code == 0 and out.startswith("kubeadm join 10.0.0.1:6443 --token abcdef.")
    req = seen["req"]
    assert req.ttl.total_seconds() == 7200 and req.node_name == "n1" and req.description == "x"
    code, _, err = _run(monkeypatch, capsys, ["join-cmd", "--ttl", "0"])
    assert code == 2 and "--allow-non-expiring" in err
