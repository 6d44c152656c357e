"""The Kubernetes door against the real local kube-apiserver: impersonation, watches, namespaces, TLS.

Scenarios: `--as someone` (given after the subcommand, as kubectl allows) gets a
clear one-line 403 and exit 1; repeated --as-group reach the API server as
separate groups (it says so in a SelfSubjectReview); completion (<TAB>) acts as
the --as/--as-group typed on the line; observe() reports an
object created after it started (a watch, not a re-list); a context namespace
is what `mindie ranktable` looks in without -n; a kubeconfig whose CA is not the
cluster's says so; a request with a lost answer is not resent even mid-run.
"""
from __future__ import annotations

import secrets
import threading
import time

import pytest
import yaml

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube

pytestmark = pytest.mark.e2e


def test_impersonated_user_without_permission_gets_a_clear_403(cluster):
    proc = cluster.plugin("label-node", "--all", "--as", "someone")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: list nodes: forbidden (403) while acting as user 'someone'")
    assert "drop --as/--as-group" in lines[0]
    ok = cluster.plugin("--as", "system:admin", "--as-group", "system:masters", "status", "-o", "json")
    assert ok.returncode == 0, ok.stderr


def test_helm_calls_are_impersonated_too(cluster):
    """--as/--as-group reach helm (--kube-as-user/--kube-as-group): its release lookup runs as that user."""
    proc = cluster.plugin("--as", "someone", "uninstall", "--dry-run")
    assert proc.returncode != 0
    assert "forbidden" in proc.stderr and 'User "someone"' in proc.stderr, proc.stderr
    ok = cluster.plugin("--as", "system:admin", "--as-group", "system:masters", "uninstall", "--dry-run")
    assert "forbidden" not in ok.stderr, ok.stderr
    assert ok.returncode == 0 or "is not installed" in ok.stderr, ok.stderr


def _complete(cluster, *words: str) -> list[str]:
    """What kubectl's plugin completion gets from kubectl_complete-ascend for `kubectl ascend WORDS`."""
    import os
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "kubectl_complete-ascend")
    proc = subprocess.run([exe, "--kubeconfig", cluster.kubeconfig, *words], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "KUBECTL_ASCEND_COMPLETION_TIMEOUT": "20"})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


def test_completion_acts_as_the_identity_typed_on_the_line(cluster):
    """`--as nobody` may not list nodes or namespaces: <TAB> offers none of them, as the command would."""
    nodes = [n["metadata"]["name"] for n in cluster.get_json("nodes")["items"]]
    assert _complete(cluster, "label-node", "")[:-1] == sorted(nodes)
    for where in (["--as", "nobody", "label-node", ""], ["label-node", "--as=nobody", ""],
                  ["--as", "nobody", "--as-group", "team-a", "label-node", ""]):
        assert _complete(cluster, *where) == [":4"], where
    assert _complete(cluster, "--as", "nobody", "status", "-n", "") == [":4"]
    assert "kube-system" in _complete(cluster, "status", "-n", "")
    # an identity that may: the same names (impersonation works, it is not just failing)
    admin = ["--as", "system:admin", "--as-group", "system:masters"]
    assert _complete(cluster, *admin, "label-node", "")[:-1] == sorted(nodes)


def test_as_group_headers_reach_the_server_separately(cluster):
    kube = Kube(cluster.kubeconfig, impersonate_user="jane", impersonate_groups=("team-a", "team-b"))
    review = kube.request("who am i", "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    user = review["status"]["userInfo"]
    assert user["username"] == "jane"
    assert {"team-a", "team-b"} <= set(user["groups"])


def test_observe_sees_a_change_through_a_watch(cluster, namespace):
    kube = Kube(cluster.kubeconfig)
    name = f"w-{secrets.token_hex(3)}"
    sources = {"cms": (f"/api/v1/namespaces/{namespace}/configmaps", {"labelSelector": "t=watch"})}

    def create_later() -> None:
        time.sleep(1.0)
        cluster.kubectl("-n", namespace, "create", "configmap", name)
        cluster.kubectl("-n", namespace, "label", "configmap", name, "t=watch")

    threading.Thread(target=create_later, daemon=True).start()
    t = time.monotonic()
    snapshots = []
    for snap in kube.observe("test", sources, timeout=30):
        snapshots.append([c["metadata"]["name"] for c in snap["cms"]])
        if name in snapshots[-1]:
            break
    assert snapshots[0] == [] and snapshots[-1] == [name]
    assert time.monotonic() - t < 15


def test_context_namespace_is_used_without_n(cluster, namespace, tmp_path):
    doc = yaml.safe_load(open(cluster.kubeconfig))
    for c in doc["contexts"]:
        c["context"]["namespace"] = namespace
    kc = tmp_path / "ns.kubeconfig"
    kc.write_text(yaml.safe_dump(doc))
    proc = cluster.plugin("--kubeconfig", str(kc), "mindie", "ranktable", "nothing-here")
    assert proc.returncode == 1
    assert f"release nothing-here in namespace {namespace}:" in proc.stderr
    proc = cluster.plugin("--kubeconfig", str(kc), "mindie", "ranktable", "nothing-here", "-n", "default")
    assert "in namespace default:" in proc.stderr


def test_wrong_ca_is_reported_as_such(cluster, tmp_path):
    from tests.stubapi import make_ca

    other, _, _ = make_ca("not-the-cluster-ca")
    doc = yaml.safe_load(open(cluster.kubeconfig))
    for c in doc["clusters"]:
        c["cluster"].pop("certificate-authority", None)
        c["cluster"]["certificate-authority-data"] = other.b64("cert")
    kc = tmp_path / "wrong-ca.kubeconfig"
    kc.write_text(yaml.safe_dump(doc))
    proc = cluster.plugin("--kubeconfig", str(kc), "status")
    assert proc.returncode == 1
    assert "the API server's certificate is not signed by the CA in the kubeconfig" in proc.stderr
    assert "cannot reach" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_token_list_after_a_watch_keeps_working_with_a_small_pool(cluster):
    # a pool of one connection: a finished watch must give its connection back (or close it)
    kube = Kube(cluster.kubeconfig, pool_size=1)
    for _ in kube.observe("test", {"ns": ("/api/v1/namespaces", {})}, timeout=1):
        pass
    assert kube.list_secrets("kube-system", field_selector="type=bootstrap.kubernetes.io/token") is not None
    with pytest.raises(errors.NotFound):
        kube.request("get", "GET", "/api/v1/namespaces/does-not-exist-" + secrets.token_hex(3))
