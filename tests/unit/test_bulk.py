"""Bulk commands under failure: partial results are reported, never hidden.

Scenarios: label-node where the API server disappears mid-run reports the nodes
whose answer was lost as "not confirmed" (not "failed") and nodes refused by the
server as failed, with a one-line summary of counts plus the first names;
Ctrl-C during label-node cancels the queued patches, records the in-flight ones
as not confirmed and raises Interrupted (exit 130) carrying the partial result;
token revoke finds the Secret by its data token-id (and name), refuses before
deleting anything when one ID is unknown, and reports a partial revoke with what
was and was not revoked.
"""
from __future__ import annotations

import base64
import threading

import pytest

from kubectl_ascend import errors, labelnode, tokenrevoke
from tests.labeldata import node_of

pytestmark = pytest.mark.unit


class PatchKube:
    def __init__(self, behaviour):
        self.behaviour, self.calls, self.lock = behaviour, [], threading.Lock()

    def patch_node_labels(self, name, labels):
        with self.lock:
            self.calls.append(name)
        self.behaviour(name)


def _nodes(n):
    return [node_of("atlas-800i-a2", f"n{i:03d}") for i in range(n)]


def test_lost_answers_are_not_confirmed_not_failed():
    def behaviour(name):
        i = int(name[1:])
        if i >= 20:
            raise errors.ClusterUnreachable(f"label node {name}: cannot reach the API server")
        if i % 7 == 3:
            raise errors.Forbidden(f"label node {name}: forbidden (403)")

    res = labelnode.label_nodes(PatchKube(behaviour), _nodes(30), role="worker", accelerator="auto",
                                server_model=None, overwrite=False, dry_run=False, workers=4)
    assert sorted(res.failed) == ["n003", "n010", "n017"]
    assert sorted(res.unconfirmed) == [f"n{i:03d}" for i in range(20, 30)]
    assert len(res.applied) == 17
    msg = res.problem()
    assert "\n" not in msg and "3 failed (n003, n010, n017" in msg
    assert "10 not confirmed" in msg and "n020, n021, n022, n023, n024 and 5 more" in msg
    assert "n029" not in msg  # the full list is in -o json
    states = {n["node"]: n["state"] for n in res.as_dict()["nodes"]}
    assert states["n025"] == "not-confirmed" and states["n003"] == "failed" and states["n000"] == "labelled"


def test_server_errors_are_failures_with_the_servers_reason():
    """etcd out of space: every PATCH is answered 500 "database space exceeded". Nothing was lost: the
    nodes failed, and the summary quotes the server; a 504 (the server's own timeout) stays unconfirmed."""
    space = "label node {}: the API server failed (500): etcdserver: mvcc: database space exceeded"

    def behaviour(name):
        if name == "n009":
            raise errors.ServerFailed(f"label node {name}: the API server failed (504): Timeout", 504)
        raise errors.ServerFailed(space.format(name), 500)

    res = labelnode.label_nodes(PatchKube(behaviour), _nodes(10), role="worker", accelerator="auto",
                                server_model=None, overwrite=False, dry_run=False, workers=4)
    assert sorted(res.failed) == [f"n{i:03d}" for i in range(9)] and list(res.unconfirmed) == ["n009"]
    msg = res.problem()
    assert msg.startswith("0 node(s) labelled, 9 failed (n000, n001, n002, n003, n004 and 4 more: "
                          + space.format("n000") + "), 1 not confirmed (n009: label node n009: the API server "
                          "failed (504): Timeout)"), msg
    assert "answer was lost" not in msg


def test_ctrl_c_cancels_queued_patches():
    release = threading.Event()
    calls = {"n": 0}

    def progress(done, total):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    # The first two patches finish, then Ctrl-C arrives while two more are in flight.
    def behaviour(name):
        if name in ("n000", "n001"):
            return
        release.wait(5)

    kube = PatchKube(behaviour)
    with pytest.raises(labelnode.LabelInterrupted) as e:
        labelnode.label_nodes(kube, _nodes(40), role="worker", accelerator="auto", server_model=None,
                              overwrite=False, dry_run=False, workers=2, progress=progress)
    release.set()
    res = e.value.result
    assert e.value.exit_code == 130 and res.interrupted
    assert len(res.applied) == 2
    assert len(res.applied) + len(res.unconfirmed) + len(res.not_started) + len(res.failed) == 40
    assert len(res.not_started) >= 30  # queued work was cancelled, not sent
    assert len(kube.calls) <= 10
    assert str(e.value).startswith("interrupted: 2 node(s) labelled")


def _secret(name, token_id):
    data = {"token-id": token_id, "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true"}
    return {"metadata": {"name": name}, "type": "bootstrap.kubernetes.io/token",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


class SecretKube:
    def __init__(self, secrets, fail=()):
        self.secrets, self.fail, self.deleted = secrets, set(fail), []

    def list_secrets(self, ns, field_selector=None):
        return self.secrets

    def delete_secret(self, ns, name):
        if name in self.fail:
            raise errors.Forbidden(f"delete secret {ns}/{name}: forbidden (403)")
        self.deleted.append(name)


def test_revoke_finds_secret_by_token_id_and_checks_all_first():
    kube = SecretKube([_secret("bootstrap-token-aaaaaa", "aaaaaa"), _secret("bootstrap-token-bbbbbb", "bbbbbb")])
    with pytest.raises(errors.NotFound) as e:
        tokenrevoke.revoke(kube, ["aaaaaa", "zzzzzz"])
    assert "zzzzzz" in str(e.value) and "nothing was revoked" in str(e.value) and kube.deleted == []
    res = tokenrevoke.revoke(kube, ["bbbbbb"])
    assert res.revoked == ["bbbbbb"] and kube.deleted == ["bootstrap-token-bbbbbb"]


def test_revoke_partial_failure_is_reported():
    kube = SecretKube([_secret(f"bootstrap-token-{c * 6}", c * 6) for c in "abcdefg"],
                      fail={"bootstrap-token-cccccc", "bootstrap-token-eeeeee"})
    res = tokenrevoke.revoke(kube, [c * 6 for c in "abcdefg"])
    assert sorted(res.failed) == ["cccccc", "eeeeee"] and len(res.revoked) == 5
    msg = res.failure_message()
    assert msg.startswith("2 of 7 token(s) NOT revoked: cccccc, eeeeee") and "revoked 5" in msg
    assert "0123456789abcdef" not in msg


def test_revoke_dry_run_deletes_nothing():
    kube = SecretKube([_secret("bootstrap-token-aaaaaa", "aaaaaa")])
    res = tokenrevoke.revoke(kube, ["aaaaaa"], dry_run="client")
    assert res.revoked == ["aaaaaa"] and kube.deleted == []


SIGINT_SCRIPT = r'''
import sys, threading, time
from kubectl_ascend import cli, labelnode
from tests.labeldata import node_of

class Kube:
    def patch_node_labels(self, name, labels):
        if int(name[1:]) >= 3:
            if name == "n003":
                print("ready", flush=True)  # the patches are under way (startup takes seconds on a loaded host)
            time.sleep(30)  # the API server stops answering

cli.Settings.kube = lambda self, **kw: Kube()
labelnode.select_nodes = lambda kube, names, sel, all_nodes: [node_of("atlas-800i-a2", f"n{i:03d}") for i in range(50)]
cli.main(["label-node", "--all", "--workers", "4"])
'''


def test_sigint_in_a_real_process_exits_130_with_a_report():
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.tooling import REPO_ROOT

    # HELM_BIN=false: the release lookup before the patches fails at once (a real helm on PATH may take
    # longer than the 1 s below on a loaded machine, and the SIGINT would land in it instead)
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_SCRIPT], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "HELM_BIN": "false"})
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # the first 3 patches are done, 4 hang, the rest are queued
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: interrupted: 3 node(s) labelled, 4 not confirmed"), last
    assert "43 not started" in last and "and 38 more" in last
    assert "node/n000" not in out  # 50 nodes: the summary only (-v or -o json for every node)
    assert "3 node(s) labelled, 0 unchanged, 0 failed, 4 not confirmed, 43 not started" in out
