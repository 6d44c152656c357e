"""Faults end in honest, fast answers (README "Reliability"), with the faults made real.

Scenarios:
- etcd out of space: a stub API server answers every label PATCH with HTTP 500
  "etcdserver: mvcc: database space exceeded" (what kube-apiserver says then);
  `label-node` reports the nodes as failed with that reason, not "the answer was
  lost", and gives up within one retry budget for all of them;
- Ctrl-C (SIGINT to the process group, as a terminal sends it) while the real
  helm is in the middle of an upgrade (a pre-upgrade hook Pod it waits for):
  exit 130, the release's state (`failed`) and the command that recovers it;
  that command (`helm rollback`) does recover it;
- the real kube-apiserver of this module's cluster stopped while label-node
  patches 100 nodes through 10 workers: every patch is retried within ONE retry
  budget for the whole run (~20 s), not one budget per queued patch (~200 s).
  Runs last: it leaves the cluster without an API server.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kubectl_ascend.kube import RETRY_SECONDS, Kube
from kubectl_ascend.labelnode import label_nodes, select_nodes
from tests.clusters import own_cluster
from tests.labeldata import node_of
from tests.tooling import REPO_ROOT, need_tool, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fault_cluster():
    """A cluster of this module's own: one test stops its API server."""
    with own_cluster("faults", "--no-volcano") as c:
        yield c


def _cli(kubeconfig: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kubectl_ascend", "--kubeconfig", kubeconfig, *args],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# -- etcd out of space (stub API server) ----------------------------------------------------------

NO_SPACE = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500,
            "message": "etcdserver: mvcc: database space exceeded"}


def test_database_space_exceeded_is_reported_with_the_servers_reason(tmp_path):
    from tests.stubapi import StubAPI, issue, make_ca

    ca, ca_cert, ca_key = make_ca()
    api = StubAPI(issue(ca_cert, ca_key, "apiserver", ips=("127.0.0.1",)), ca).start(tmp_path)
    names = [f"n{i:03d}" for i in range(40)]
    api.routes["/api/v1/nodes?"] = lambda h, s: (200, {}, {"kind": "NodeList", "metadata": {},
                                                            "items": [node_of("atlas-800i-a2", n) for n in names]})
    api.routes["/api/v1/nodes/"] = lambda h, s: (500, {}, NO_SPACE)
    kc = tmp_path / "stub.kubeconfig"
    kc.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{api.port}",
                                               "certificate-authority-data": ca.b64("cert")}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}))
    try:
        t = time.monotonic()
        proc = _cli(str(kc), "label-node", "--all", "--workers", "4", "--mindcluster-version", "26.0.0", "--noded")
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()  # before the fix: ten rounds of patches, 20 s each
        took = time.monotonic() - t
    finally:
        api.stop()
    assert proc.returncode == 1, err
    assert err.splitlines()[-1].startswith(
        "error: 0 node(s) labelled, 40 failed (n000, n001, n002, n003, n004 and 35 more: label node n000: the API "
        "server failed (500): etcdserver: mvcc: database space exceeded; check its health"), err
    assert "answer was lost" not in err and "not confirmed" not in err
    assert took < RETRY_SECONDS + 15, f"{took:.0f} s: one retry budget per patch"
    assert api.count("PATCH", "/api/v1/nodes/n000") >= 2  # retried (idempotent), within the one budget


# -- Ctrl-C during a slow helm upgrade (real helm, real cluster) -------------------------------------

SLOW_HOOK = """\
{{- if .Values.hook }}
apiVersion: v1
kind: Pod
metadata:
  name: slow-hook
  annotations: {"helm.sh/hook": pre-upgrade, "helm.sh/hook-delete-policy": before-hook-creation}
spec:
  restartPolicy: Never
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: registry.k8s.io/pause:3.10}]
{{- end }}
"""


def _slow_chart(tmp_path: Path) -> Path:
    """A chart whose pre-upgrade hook Pod never succeeds (KWOK keeps it Running): helm waits on it."""
    chart = tmp_path / "slow"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: slow\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("hook: false\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\ndata: {rev: \"{{ .Release.Revision }}\"}\n")
    (chart / "templates" / "hook.yaml").write_text(SLOW_HOOK)
    return chart


def _helm(c, *args: str) -> subprocess.CompletedProcess:
    return run([need_tool("helm"), "--kubeconfig", c.kubeconfig, *args])


def test_ctrl_c_during_helm_upgrade_names_the_state_and_the_fix(fault_cluster, tmp_path):
    c = fault_cluster
    for args in (("label-node", "--all"), ("label-node", "mgmt-0", "--role", "master")):
        assert c.plugin(*args).returncode == 0
    ns, release = "slow-upgrade", "slow"
    chart = _slow_chart(tmp_path)
    _helm(c, "upgrade", "--install", release, str(chart), "-n", ns, "--create-namespace")
    proc = _cli(c.kubeconfig, "install", "--chart", str(chart), "--release", release, "-n", ns, "--set", "hook=true",
                start_new_session=True)
    deadline = time.monotonic() + 120
    while c.kubectl("get", "pod", "-n", ns, "slow-hook", check=False).returncode != 0:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group, helm too
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == (
        f"error: interrupted while helm was applying release {release}: revision 2 is `failed`, half applied; "
        f"rerun install to apply it again, or go back to the last working revision with "
        f"`helm rollback {release} -n {ns}`"), err
    assert "context canceled" not in err
    history = json.loads(_helm(c, "history", release, "-n", ns, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["deployed", "failed"]
    _helm(c, "rollback", release, "-n", ns)  # the advice works
    history = json.loads(_helm(c, "history", release, "-n", ns, "-o", "json").stdout)
    assert history[-1]["status"] == "deployed"


# -- the real API server stopped mid-run (keep this test last) ---------------------------------------

def test_api_server_down_one_retry_budget_for_all_patches(fault_cluster, node_prefix):
    c = fault_cluster
    names = [f"{node_prefix}{i:03d}" for i in range(100)]
    docs = [node_of("atlas-800i-a2", n) for n in names]
    for d in docs:
        d.update(apiVersion="v1", kind="Node")
        d["metadata"].setdefault("labels", {})["fault-test"] = node_prefix.rstrip("-")
        d["metadata"].setdefault("annotations", {})["kwok.x-k8s.io/node"] = "fake"
    c.kubectl("create", "-f", "-", input=yaml.safe_dump_all(docs))
    kube = Kube(c.kubeconfig, pool_size=10)
    nodes = select_nodes(kube, [], f"fault-test={node_prefix.rstrip('-')}", False)
    assert len(nodes) == 100
    pid_file = Path(c.kubeconfig).parent / "clusters" / c.name / "pids" / "kube-apiserver.pid"
    os.kill(int(pid_file.read_text()), signal.SIGTERM)  # the cluster was started by this module's fixture
    deadline = time.monotonic() + 30
    while subprocess.run([need_tool("kubectl"), "--kubeconfig", c.kubeconfig, "get", "--raw", "/readyz",
                          "--request-timeout=2s"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the API server did not stop"
        time.sleep(0.5)
    t = time.monotonic()
    res = label_nodes(kube, nodes, role="worker", accelerator="auto", server_model=None, overwrite=False,
                      dry_run=False, workers=10)
    took = time.monotonic() - t
    # before: each of the 10 rounds of patches had its own 20 s (about 200 s)
    assert took < RETRY_SECONDS + 15, f"{took:.0f} s: one retry budget per patch"
    assert sorted(res.unconfirmed) == sorted(names) and not res.applied
    msg = res.problem()
    assert msg.startswith(f"0 node(s) labelled, 100 not confirmed ({', '.join(sorted(names)[:5])} and 95 more: "
                          f"label node {sorted(names)[0]}: cannot reach the API server"), msg
