"""Shell completion: what `kubectl ascend <TAB>` and `kubectl-ascend <TAB>` offer.

Scenarios: subcommands and flags filtered by the partial word, in kubectl's plugin
protocol (`value<TAB>help` lines, last line `:<directive>`); server models from
labels.SERVER_MODELS; cluster lookups get the --kubeconfig/--context/-n typed earlier
on the line, also after the subcommand; an unreachable or hanging cluster gives no
candidates, no stderr, within the deadline; click's bash protocol through the
kubectl-ascend entry point; the printed scripts register kubectl-ascend; neither
completion nor `completion --help` imports the kubernetes client.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from kubectl_ascend import cli, complete
from kubectl_ascend.commands import completion
from kubectl_ascend.labels import SERVER_MODELS

pytestmark = pytest.mark.unit


def lines(*words: str) -> list[str]:
    return completion.kubectl_complete_lines(cli.cli, list(words))


def values(*words: str) -> list[str]:
    return [ln.split("\t")[0] for ln in lines(*words)[:-1]]


def test_subcommands_filtered_by_the_partial_word():
    out = lines("lab")
    assert out[0].startswith("label-node\t") and out[-1] == ":4" and len(out) == 2
    assert {"install", "uninstall", "status", "label-node", "completion", "version"} <= set(values(""))
    assert values("token", "") == ["list", "revoke"] or {"list", "revoke"} <= set(values("token", ""))


def test_flags_of_the_subcommand():
    assert values("label-node", "--ser") == ["--server-model"]
    assert "--release" in values("install", "--")


def test_server_models_come_from_the_label_table():
    assert values("label-node", "--server-model", "atlas-800i-") == sorted(
        k for k in SERVER_MODELS if k.startswith("atlas-800i-"))
    assert len(values("label-node", "--server-model", "")) == len(SERVER_MODELS)
    assert lines("label-node", "--server-model", "atlas-800i-a2")[0] == \
        f"atlas-800i-a2\t{SERVER_MODELS['atlas-800i-a2'].name}"


@pytest.fixture
def calls(monkeypatch):
    seen: list[tuple] = []

    def fake(kind, result):
        def f(*args):
            seen.append((kind, *args))
            return result
        return f

    monkeypatch.setattr(complete, "node_names", fake("nodes", ["atlas-0", "atlas-1", "mgmt-0"]))
    monkeypatch.setattr(complete, "namespace_names", fake("namespaces", ["default", "llm", "mindx-dl"]))
    monkeypatch.setattr(complete, "release_names", fake("releases", ["ascend-stack", "other"]))
    return seen


def test_node_names_use_the_kubeconfig_and_context_typed_earlier(calls):
    assert values("--kubeconfig", "/k.yaml", "--context=c1", "label-node", "atlas-") == ["atlas-0", "atlas-1"]
    assert calls == [("nodes", complete.Target("/k.yaml", "c1"))]
    calls.clear()
    # after the subcommand too (kubectl allows flags anywhere); nodes already given are not offered again
    assert values("label-node", "atlas-0", "--kubeconfig", "/j.yaml", "") == ["atlas-1", "mgmt-0"]
    assert calls == [("nodes", complete.Target("/j.yaml"))]


def test_lookups_use_the_identity_typed_on_the_line(calls):
    """--as/--as-group reach every lookup, before or after the subcommand, in every form."""
    values("--as", "jane", "--as-group", "a", "label-node", "--as-group=b", "")
    values("uninstall", "--as=jane", "--release", "")
    values("--as", "jane", "--as-group", "a", "install", "-n", "")
    values("--as", "jane", "status", "--namespace=")
    assert calls == [("nodes", complete.Target(None, None, "jane", ("a", "b"))),
                     ("releases", complete.Target(None, None, "jane"), None),
                     ("namespaces", complete.Target(None, None, "jane", ("a",))),
                     ("namespaces", complete.Target(None, None, "jane"))]


def test_release_names_in_the_namespace_given_with_n(calls):
    assert values("-n", "llm", "uninstall", "--release", "") == ["ascend-stack", "other"]
    assert values("uninstall", "--namespace=llm", "--release", "o") == ["other"]
    assert values("install", "--release", "") == ["ascend-stack", "other"]
    assert [c[-1] for c in calls] == ["llm", "llm", None]


def test_namespaces_for_n_anywhere_on_the_line(calls):
    assert values("-n", "") == ["default", "llm", "mindx-dl"]
    assert values("--kubeconfig", "/k.yaml", "install", "-n", "m") == ["mindx-dl"]
    assert values("status", "--namespace=l") == ["--namespace=llm"]
    assert calls[1] == ("namespaces", complete.Target("/k.yaml"))


def test_file_values_leave_it_to_the_shell():
    assert lines("--kubeconfig", "") == [":0"]


def test_deadline_gives_up_and_swallows_errors():
    start = time.monotonic()
    assert complete.within_deadline(lambda: time.sleep(5) or ["late"], 0.2) == []
    assert time.monotonic() - start < 1
    assert complete.within_deadline(lambda: 1 / 0, 0.2) == []
    assert complete.within_deadline(lambda: ["b", "a"], 1) == ["b", "a"]


def _exe(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    assert os.path.exists(path), f"{name} is not installed next to {sys.executable}; run make dev"
    return path


def test_unreachable_cluster_is_quick_and_silent(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                          "clusters: [{name: c, cluster: {server: 'https://192.0.2.1:6443', insecure-skip-tls-verify: true}}]\n"
                          "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n")
    for words in (["label-node", ""], ["install", "-n", ""], ["-n", "default", "uninstall", "--release", ""]):
        start = time.monotonic()
        proc = subprocess.run([_exe("kubectl_complete-ascend"), "--kubeconfig", str(kubeconfig), *words],
                              capture_output=True, text=True, timeout=30)
        took = time.monotonic() - start
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, ":4\n", ""), words
        assert took < complete.DEADLINE + 1.5, (words, took)


def test_bash_protocol_through_the_kubectl_ascend_entry_point():
    env = {**os.environ, "_KUBECTL_ASCEND_COMPLETE": "bash_complete", "COMP_WORDS": "kubectl-ascend lab",
           "COMP_CWORD": "1"}
    proc = subprocess.run([_exe("kubectl-ascend")], capture_output=True, text=True, env=env, timeout=30)
    assert (proc.returncode, proc.stdout.split(), proc.stderr) == (0, ["plain,label-node"], "")


@pytest.mark.parametrize("shell,registration", [
    ("bash", "complete -o nosort -F _kubectl_ascend_completion kubectl-ascend"),
    ("zsh", "#compdef kubectl-ascend"),
    ("fish", "complete --no-files --command kubectl-ascend"),
])
def test_completion_scripts(shell, registration):
    proc = subprocess.run([_exe("kubectl-ascend"), "completion", shell], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stderr == ""
    assert registration in proc.stdout
    assert f"_KUBECTL_ASCEND_COMPLETE={shell}_complete" in proc.stdout


def test_unknown_shell_is_a_usage_error():
    proc = subprocess.run([_exe("kubectl-ascend"), "completion", "tcsh"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")


def test_completion_does_not_import_the_client():
    code = ("import sys\nfrom kubectl_ascend.commands import completion\n"
            "from kubectl_ascend import cli\n"
            "print(completion.kubectl_complete_lines(cli.cli, ['label-node', '--']))\n"
            "try:\n    cli.main(['completion', '--help'])\nexcept SystemExit: pass\n"
            "bad = [m for m in ('kubernetes', 'pyhelm3', 'urllib3') if m in sys.modules]\n"
            "print('BAD=' + ','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "BAD="


def test_bash_script_completes_in_a_real_bash():
    """The printed script, sourced into bash, fills COMPREPLY through kubectl-ascend."""
    script = ('source <(kubectl-ascend completion bash)\n'
              'COMP_WORDS=(kubectl-ascend label-node --server-model atlas-800i-); COMP_CWORD=3\n'
              '_kubectl_ascend_completion kubectl-ascend\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.split() == sorted(k for k in SERVER_MODELS if k.startswith("atlas-800i-"))


def test_context_names_from_the_kubeconfig_given_earlier(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- {name: prod-a, context: {cluster: c}}\n"
                          "- {name: prod-b, context: {cluster: c}}\n- {name: lab, context: {cluster: c}}\n")
    assert values("--kubeconfig", str(kubeconfig), "--context", "prod") == ["prod-a", "prod-b"]
    assert values("--kubeconfig", str(kubeconfig), "status", "--context=l") == ["--context=lab"]
    assert values("--kubeconfig", str(tmp_path / "missing"), "--context", "") == []


def test_a_server_that_never_answers_is_cut_at_the_deadline(tmp_path):
    """TCP accepted, TLS never answered: the completion gives up at the deadline, silently."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def hold() -> None:
        # accept and never answer, until the test is over; the socket is closed only after this
        # thread has stopped, so its file descriptor cannot be reused under it by a later test
        while not done.is_set():
            try:
                held.append(srv.accept()[0])
            except TimeoutError:
                pass
    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                          f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{srv.getsockname()[1]}', "
                          "insecure-skip-tls-verify: true}}]\n"
                          "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n")
    try:
        start = time.monotonic()
        proc = subprocess.run([_exe("kubectl_complete-ascend"), "--kubeconfig", str(kubeconfig), "label-node", ""],
                              capture_output=True, text=True, timeout=30)
        took = time.monotonic() - start
    finally:
        done.set()
        holder.join(timeout=5)
        for conn in held:
            conn.close()
        srv.close()
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, ":4\n", "")
    assert held, "the client never connected"
    assert complete.DEADLINE - 0.5 < took < complete.DEADLINE + 1.5, took


@pytest.mark.parametrize("env, want", [(None, 2.5), ("10", 10.0), ("0.5", 0.5), ("0", 2.5), ("-3", 2.5),
                                       ("61", 2.5), ("ten", 2.5), ("", 2.5)])
def test_completion_deadline_from_the_environment(monkeypatch, env, want):
    if env is None:
        monkeypatch.delenv("KUBECTL_ASCEND_COMPLETION_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("KUBECTL_ASCEND_COMPLETION_TIMEOUT", env)
    assert complete._deadline() == want
