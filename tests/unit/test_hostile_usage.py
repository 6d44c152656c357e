"""The usage errors of the hostile-input table (tests/hostile_cases.py), in-process, no cluster.

Each is refused before anything is sent: the plugin runs in this process (kubectl_ascend.cli.main,
the same code that formats the message and picks the exit code for the real command) with a Kube
and a Helm that fail the test if either is ever built, and a kubeconfig whose server nothing listens on. The
cases that do reach the API run against the real cluster in tests/e2e/test_hostile.py.
"""
from __future__ import annotations

import pytest

from kubectl_ascend import cli
from tests.hostile_cases import CASES, TOKEN_SHAPE, Case, fill, reaches_the_api

USAGE = [c for c in CASES if not reaches_the_api(c)]
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_table_has_enough_cases():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {next(a for a in c.args if not a.startswith("-") and a not in ("/nonexistent/kubeconfig", "nope",
                                                                             "{kc:list}", "{kc:scalar}", "Bad_NS"))
                for c in CASES if c.args}
    assert {"join-cmd", "token", "label-node", "install", "uninstall", "mindie", "status", "doctor", "version"} <= commands
    assert len(USAGE) >= 40 and len(CASES) - len(USAGE) >= 30


@pytest.fixture
def no_cluster(monkeypatch, tmp_path):
    """Kube and Helm raise when built; the kubeconfig (read for its namespace) names a server on a closed port."""
    from kubectl_ascend.helm import Helm
    from kubectl_ascend.kube import Kube

    built: list[str] = []

    def refuse(what: str):
        def init(self, *a, **kw):
            built.append(what)
            raise AssertionError(f"a usage error built a {what}")
        return init

    monkeypatch.setattr(Kube, "__init__", refuse("Kube"))
    monkeypatch.setattr(Helm, "__init__", refuse("Helm"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return built


@pytest.mark.parametrize("case", USAGE, ids=[c.id for c in USAGE])
def test_usage_error_is_refused_before_the_cluster(case: Case, no_cluster, capsys, monkeypatch, tmp_path):
    marker, existing = tmp_path / "pwned", tmp_path / "exists.sh"
    existing.write_text("keep me\n")
    values = {"marker": str(marker), "existing_file": str(existing), "new_file": str(tmp_path / "new.sh")}
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as e:
        cli.main(fill(case.args, values))
    out = capsys.readouterr()
    assert no_cluster == [], "the cluster would have been contacted"
    assert e.value.code == case.code == 2, (case.args, out.err)
    first = (out.err.splitlines() or [""])[0]
    want = fill([case.first], values)[0]
    assert first.startswith(want), (first, want)
    for word in ("unexpected", "Traceback", "internal error"):
        assert word not in out.err
    assert not marker.exists(), "a hostile value was executed"
    assert existing.read_text() == "keep me\n"
    assert not (tmp_path / "new.sh").exists()
    assert out.out == "" or case.id.startswith("label-"), out.out
    assert not TOKEN_SHAPE.search(out.out + out.err)
