"""join-cmd, token list/revoke and label-node against the local kube-apiserver.

Scenarios: the printed token authenticates as system:bootstrap:<id>; the
bootstrap signer signs cluster-info for it; --node-name of an existing node
is refused and creates nothing; a bare cluster reports missing RBAC and
--ensure-rbac fixes it; revoke stops authentication and an unknown ID deletes
nothing; --output-file writes a 0700 script and prints no token; dry runs
create nothing; the token secret never appears in stderr (even with -v) or
in listings; label-node on every simulated server model, conflicts, --overwrite,
no-op reruns, dry run.
"""
from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path

import pytest
import yaml

from tests.tooling import need_tool, run
from tests.labeldata import BASE, EXPECTED_AUTO

pytestmark = pytest.mark.e2e

JOIN_RE = re.compile(
    r"^kubeadm join (?P<ep>\S+:\d+) --token (?P<tok>[a-z0-9]{6}\.[a-z0-9]{16})"
    r"(?: --discovery-token-ca-cert-hash sha256:[0-9a-f]{64})+$")


def _cluster_info(cluster) -> tuple[str, str]:
    cm = cluster.get_json("configmap", "-n", "kube-public", "cluster-info")
    kc = yaml.safe_load(cm["data"]["kubeconfig"])["clusters"][0]["cluster"]
    return kc["server"], kc["certificate-authority-data"]


def _whoami(cluster, token: str, tmp_path: Path):
    """Authenticate with only the token (an empty kubeconfig: no client certificate)."""
    server, ca = _cluster_info(cluster)
    ca_file = tmp_path / "ca.crt"
    import base64

    ca_file.write_bytes(base64.b64decode(ca))
    empty = tmp_path / "empty.kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    return run([need_tool("kubectl"), "--kubeconfig", str(empty), "--server", server,
                "--certificate-authority", str(ca_file), "--token", token, "auth", "whoami", "-o", "json"],
               check=False)


def _join(cluster, *args: str):
    proc = cluster.plugin("join-cmd", *args)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    m = JOIN_RE.match(line)
    assert m, line
    assert "\n" not in line and not proc.stdout.endswith(" \n")
    return m.group("tok"), proc


def _token_secrets(cluster) -> set[str]:
    items = cluster.get_json("secrets", "-n", "kube-system", "--field-selector",
                             "type=bootstrap.kubernetes.io/token")["items"]
    return {s["metadata"]["name"] for s in items}


def test_token_authenticates_and_is_signed(cluster, tmp_path):
    token, proc = _join(cluster, "--ttl", "30m", "--description", "e2e", "-v")
    tid = token.split(".")[0]
    secret = token.split(".")[1]
    assert secret not in proc.stderr
    # the loopback endpoint of a local cluster is warned about
    assert "loopback" in proc.stderr
    review = json.loads(_whoami(cluster, token, tmp_path).stdout)
    user = review["status"]["userInfo"]
    assert user["username"] == f"system:bootstrap:{tid}"
    assert "system:bootstrappers" in user["groups"]
    assert "system:bootstrappers:kubeadm:default-node-token" in user["groups"]
    cluster.kubectl("wait", "-n", "kube-public", "configmap/cluster-info",
                    f"--for=jsonpath={{.data.jws-kubeconfig-{tid}}}", "--timeout=60s")
    # the listing shows the ID and description but never the secret
    listing = cluster.plugin("token", "list")
    assert tid in listing.stdout and "e2e" in listing.stdout and secret not in listing.stdout
    rows = json.loads(cluster.plugin("token", "list", "-o", "json").stdout)
    mine = [r for r in rows if r["id"] == tid][0]
    assert mine["usages"] == ["authentication", "signing"] and 1700 < mine["secondsLeft"] <= 1800
    assert secret not in json.dumps(rows)
    # revoke: the token stops authenticating
    rev = cluster.plugin("token", "revoke", tid)
    assert rev.returncode == 0, rev.stderr
    # the authenticator reads Secrets through an informer: allow it a moment to see the deletion
    deadline = time.monotonic() + 30
    while (denied := _whoami(cluster, token, tmp_path)).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert denied.returncode != 0 and "Unauthorized" in denied.stderr
    assert f"bootstrap-token-{tid}" not in _token_secrets(cluster)


def test_secret_matches_kubeadm_format(cluster):
    token, _ = _join(cluster, "--ttl", "2h")
    tid = token.split(".")[0]
    sec = cluster.get_json("secret", "-n", "kube-system", f"bootstrap-token-{tid}")
    import base64

    data = {k: base64.b64decode(v).decode() for k, v in sec["data"].items()}
    assert sec["type"] == "bootstrap.kubernetes.io/token"
    assert data["token-id"] == tid and data["token-secret"] == token.split(".")[1]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", data["expiration"])
    assert data["usage-bootstrap-authentication"] == data["usage-bootstrap-signing"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    cluster.plugin("token", "revoke", tid)


def test_existing_node_name_is_refused(cluster):
    before = _token_secrets(cluster)
    proc = cluster.plugin("join-cmd", "--node-name", "atlas-800i-a2-0")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "already exists" in proc.stderr
    assert _token_secrets(cluster) == before


def test_ttl_zero_needs_second_flag_and_bad_inputs_change_nothing(cluster, tmp_path):
    before = _token_secrets(cluster)
    for args, code in ((["--ttl", "0"], 2), (["--ttl=-5m"], 2), (["--ttl", "forever"], 2),
                       (["--control-plane"], 2), (["--control-plane", "--certificate-key", "abc"], 2)):
        proc = cluster.plugin("join-cmd", *args)
        assert proc.returncode == code, (args, proc.stderr)
        assert "error" in proc.stderr.lower()
    assert _token_secrets(cluster) == before
    token, _ = _join(cluster, "--ttl", "0", "--allow-non-expiring")
    rows = json.loads(cluster.plugin("token", "list", "-o", "json").stdout)
    assert [r for r in rows if r["id"] == token[:6]][0]["expiration"] is None
    cluster.plugin("token", "revoke", token[:6])


def test_control_plane_form(cluster):
    key = "0f" * 32
    proc = cluster.plugin("join-cmd", "--control-plane", "--certificate-key", key)
    line = proc.stdout.strip()
    assert line.endswith(f"--control-plane --certificate-key {key}")
    cluster.plugin("token", "revoke", line.split("--token ")[1][:6])


def test_output_file_keeps_token_off_the_terminal(cluster, tmp_path):
    path = tmp_path / "join.sh"
    proc = cluster.plugin("join-cmd", "--output-file", str(path), "-v")
    assert proc.returncode == 0, proc.stderr
    body = path.read_text()
    token = re.search(r"--token (\S+)", body).group(1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert body.startswith("#!/bin/sh") and "exec kubeadm join" in body
    assert token not in proc.stdout + proc.stderr
    assert str(path) in proc.stdout
    # an existing file is refused before any token is created
    before = _token_secrets(cluster)
    again = cluster.plugin("join-cmd", "--output-file", str(path))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert _token_secrets(cluster) == before
    cluster.plugin("token", "revoke", token[:6])


def test_dry_run_and_json(cluster):
    before = _token_secrets(cluster)
    for mode in ("client", "server"):
        proc = cluster.plugin("join-cmd", f"--dry-run={mode}")
        assert proc.returncode == 0, proc.stderr
        assert "****************" in proc.stdout
        assert not re.search(r"--token [a-z0-9]{6}\.[a-z0-9]{16}", proc.stdout)
    assert _token_secrets(cluster) == before
    proc = cluster.plugin("join-cmd", "-o", "json", "--endpoint", "10.1.2.3:6443")
    data = json.loads(proc.stdout)
    assert data["endpoint"] == "10.1.2.3:6443" and data["endpointSource"] == "--endpoint"
    assert data["caCertHashes"][0].startswith("sha256:") and data["command"].startswith("kubeadm join 10.1.2.3:6443")
    assert "loopback" not in proc.stderr
    cluster.plugin("token", "revoke", data["tokenID"])


def test_revoke_unknown_id_deletes_nothing(cluster):
    token, _ = _join(cluster)
    tid = token[:6]
    proc = cluster.plugin("token", "revoke", tid, "zzzzzz")
    assert proc.returncode == 1 and "zzzzzz" in proc.stderr and "nothing was revoked" in proc.stderr
    assert f"bootstrap-token-{tid}" in _token_secrets(cluster)
    assert cluster.plugin("token", "revoke", tid).returncode == 0


def test_bare_cluster_rbac_preflight(bare_cluster, tmp_path):
    proc = bare_cluster.plugin("join-cmd")
    assert proc.returncode == 0, proc.stderr
    assert "cluster-info is missing" in proc.stderr
    assert "RBAC is missing" in proc.stderr and "--ensure-rbac" in proc.stderr
    assert bare_cluster.kubectl("get", "clusterrolebinding", "kubeadm:kubelet-bootstrap", check=False).returncode != 0
    fixed = bare_cluster.plugin("join-cmd", "--ensure-rbac")
    assert fixed.returncode == 0, fixed.stderr
    for name in ("kubeadm:kubelet-bootstrap", "kubeadm:node-autoapprove-bootstrap",
                 "kubeadm:node-autoapprove-certificate-rotation", "kubeadm:get-nodes"):
        crb = bare_cluster.get_json("clusterrolebinding", name)
        assert crb["roleRef"]["kind"] == "ClusterRole"
    again = bare_cluster.plugin("join-cmd")
    assert "RBAC is missing" not in again.stderr
    # the token from the bare cluster may now read nodes (kubeadm:get-nodes)
    token = again.stdout.split("--token ")[1].split()[0]
    can = bare_cluster.kubectl("auth", "can-i", "get", "nodes",
                               f"--as=system:bootstrap:{token[:6]}",
                               "--as-group=system:bootstrappers:kubeadm:default-node-token",
                               "--as-group=system:bootstrappers", check=False)
    assert can.stdout.strip() == "yes"


# -- label-node -------------------------------------------------------------

def _labels(cluster, name: str) -> dict[str, str]:
    return cluster.get_json("node", name)["metadata"]["labels"]


def _ours(cluster, name: str) -> dict[str, str]:
    """Labels label-node owns, plus one foreign label it must never touch."""
    return {k: v for k, v in _labels(cluster, name).items() if k in OWNED or k == "team"}


OWNED = ("accelerator", "accelerator-type", "host-arch", "node-role.kubernetes.io/worker", "workerselector",
         "masterselector", "server-usage", "servertype")


@pytest.fixture
def model_nodes(cluster, node_prefix):
    cluster.nodes("--layout", "all-models", "--prefix", node_prefix, "--offset", "3000")
    yield node_prefix
    cluster.nodes("--layout", "all-models", "--prefix", node_prefix, "--delete")


def test_label_every_model(cluster, model_nodes):
    p = model_nodes
    names = [f"{p}{m}-0" for m in EXPECTED_AUTO]
    proc = cluster.plugin("label-node", *names)
    assert proc.returncode == 0, proc.stderr
    for m, want in EXPECTED_AUTO.items():
        got = {k: v for k, v in _labels(cluster, f"{p}{m}-0").items() if k in OWNED}
        assert got == {**BASE, **want}, m
    # the SoC node arrives without servertype=soc (no device plugin runs there before it has it):
    # detection cannot tell it from a one-chip 310P card, --server-model sets it
    soc = f"{p}atlas-200i-soc-a1-0"
    assert "servertype" not in _labels(cluster, soc)
    proc = cluster.plugin("label-node", soc, "--server-model", "atlas-200i-soc-a1")
    assert proc.returncode == 0, proc.stderr
    assert _labels(cluster, soc)["servertype"] == "soc"
    # rerun: a no-op that says so
    again = cluster.plugin("label-node", *names)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    # an NPU-less node cannot be auto-detected as a worker: named in the error, nothing labelled
    bad = cluster.plugin("label-node", f"{p}mgmt-0")
    assert bad.returncode == 1 and f"{p}mgmt-0" in bad.stderr and "--accelerator" in bad.stderr
    assert "accelerator" not in _labels(cluster, f"{p}mgmt-0")
    master = cluster.plugin("label-node", f"{p}mgmt-0", "--role", "master")
    assert master.returncode == 0
    assert _labels(cluster, f"{p}mgmt-0")["masterselector"] == "dls-master-node"


def test_server_model_conflict_overwrite(cluster, model_nodes):
    p = model_nodes
    a2 = f"{p}atlas-800i-a2-0"
    t2 = f"{p}atlas-800t-a2-0"
    cluster.kubectl("label", "node", t2, "accelerator-type=card", "team=ml")
    before_a2, before_t2 = _ours(cluster, a2), _ours(cluster, t2)
    proc = cluster.plugin("label-node", a2, t2)
    assert proc.returncode == 1
    assert f"{t2}: accelerator-type=card (want module-910b-8)" in proc.stderr and "--overwrite" in proc.stderr
    assert _ours(cluster, a2) == before_a2 and _ours(cluster, t2) == before_t2
    dry = cluster.plugin("label-node", a2, t2, "--overwrite", "--dry-run")
    assert dry.returncode == 0 and "card" in dry.stdout and "module-910b-8" in dry.stdout
    assert _ours(cluster, t2) == before_t2
    ok = cluster.plugin("label-node", a2, "--server-model", "atlas-800i-a2", "-o", "json")
    assert json.loads(ok.stdout)["summary"]["labelled"] == 1
    assert _labels(cluster, a2)["server-usage"] == "infer"
    ok = cluster.plugin("label-node", t2, "--overwrite")
    assert ok.returncode == 0, ok.stderr
    labels = _labels(cluster, t2)
    assert labels["accelerator-type"] == "module-910b-8" and labels["team"] == "ml"


def test_label_unknown_node_changes_nothing(cluster, model_nodes):
    p = model_nodes
    proc = cluster.plugin("label-node", f"{p}atlas-800i-a2-0", "no-such-node")
    assert proc.returncode == 1 and "no-such-node" in proc.stderr
    assert "accelerator" not in _labels(cluster, f"{p}atlas-800i-a2-0")


def test_label_selector(cluster, model_nodes):
    p = model_nodes
    cluster.kubectl("label", "node", f"{p}atlas-300i-duo-0", f"{p}atlas-300i-0", "pool=inference")
    proc = cluster.plugin("label-node", "-l", "pool=inference", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    got = {n["node"]: n["labels"]["accelerator"] for n in json.loads(proc.stdout)["nodes"]}
    assert got == {f"{p}atlas-300i-duo-0": "huawei-Ascend310P", f"{p}atlas-300i-0": "huawei-Ascend310"}
