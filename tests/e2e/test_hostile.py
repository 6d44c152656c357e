"""Hostile and malformed input against every command, on the real local cluster.

One table of cases (tests/hostile_cases.py; its usage errors, refused before anything is sent,
run in-process in tests/unit/test_hostile_usage.py): CLI flags of every command, kubeconfig files, cluster objects
(a hostile or broken kube-public/cluster-info, a bootstrap Secret with garbage
data, a node carrying a foreign label value) and chart values given to install.
For each case: the exit code, the first stderr line, and proof that the cluster
did not change (a hash of the node labels, of the kube-system Secrets and of the
helm releases, taken after the case's own setup and again after the command).
Then a secret-leak scan over everything printed: no bootstrap token secret
that exists in the cluster, and nothing shaped like a whole token, appears.

Also: a join script generated from the real cluster (endpoint from
cluster-info, and an IPv6 --endpoint) runs with a stub `kubeadm` first on PATH
and passes exactly the expected argv; partial failures made real with RBAC (a
ServiceAccount allowed to delete one of two tokens, to patch one of eight
nodes) are reported with what was and was not done, in one short line; the
kubectl flag forms (-ojson, -o=json, -nNS, -n=NS, --namespace=NS, bare
--dry-run) work after the subcommand.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from tests.hostile_cases import CASES, EXISTING_NODE, TOKEN_SHAPE, Case, fill as _fill, reaches_the_api
from tests.tooling import need_tool, run

pytestmark = pytest.mark.e2e

# -- cluster state ---------------------------------------------------------------------------

def _state(cluster) -> str:
    """A hash of what no refused command may change: node labels, kube-system Secrets, helm releases."""
    nodes = cluster.get_json("nodes")["items"]
    labels = {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in nodes}
    secs = cluster.get_json("secrets", "-n", "kube-system")["items"]
    # tokencleaner may delete expired tokens at any time: those are not ours to watch
    sec = sorted((s["metadata"]["name"], s["metadata"]["resourceVersion"]) for s in secs if not _expired(s))
    rels = json.loads(run([need_tool("helm"), "--kubeconfig", cluster.kubeconfig, "list", "-A", "--deployed", "--failed", "--pending", "-o", "json"]).stdout)
    rel = sorted((r["name"], r["namespace"], r["revision"]) for r in rels)
    return hashlib.sha256(json.dumps([labels, sec, rel], sort_keys=True).encode()).hexdigest()


def _expired(secret: dict) -> bool:
    exp = (secret.get("data") or {}).get("expiration")
    if not exp:
        return False
    from datetime import datetime, timedelta, timezone

    try:
        when = datetime.fromisoformat(base64.b64decode(exp).decode().replace("Z", "+00:00"))
    except ValueError:
        return False
    return when < datetime.now(timezone.utc) + timedelta(minutes=5)


# -- setups: each changes the cluster, yields values for the arguments, then restores ---------------

def _cluster_info_kubeconfig(cluster) -> str:
    return cluster.get_json("configmap", "-n", "kube-public", "cluster-info")["data"]["kubeconfig"]


@contextlib.contextmanager
def _cluster_info(cluster, mutate: Callable[[dict], Any]) -> Iterator[dict]:
    original = _cluster_info_kubeconfig(cluster)
    doc = yaml.safe_load(original)
    new = mutate(doc)
    text = new if isinstance(new, str) else yaml.safe_dump(new if new is not None else doc)
    patch = json.dumps({"data": {"kubeconfig": text}})
    cluster.kubectl("patch", "configmap", "-n", "kube-public", "cluster-info", "--type=merge", "-p", patch)
    try:
        yield {}
    finally:
        cluster.kubectl("patch", "configmap", "-n", "kube-public", "cluster-info", "--type=merge", "-p",
                        json.dumps({"data": {"kubeconfig": original}}))


def _set_server(value: str) -> Callable[[dict], None]:
    def f(doc: dict) -> None:
        doc["clusters"][0]["cluster"]["server"] = value
    return f


def _set_ca(value: str) -> Callable[[dict], None]:
    def f(doc: dict) -> None:
        doc["clusters"][0]["cluster"]["certificate-authority-data"] = value
    return f


@contextlib.contextmanager
def _token(cluster) -> Iterator[dict]:
    proc = cluster.plugin("join-cmd", "--ttl", "10m", "--description", "hostile-suite")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.split("--token ")[1].split()[0]
    try:
        yield {"token": token, "token_secret_half": token.split(".")[1]}
    finally:
        cluster.plugin("token", "revoke", token[:6])


@contextlib.contextmanager
def _garbage_token_secret(cluster) -> Iterator[dict]:
    name = f"bootstrap-token-{secrets.token_hex(3)}"
    body = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": name, "namespace": "kube-system"},
            "data": {"token-id": base64.b64encode(b"$(id)").decode(),
                     "token-secret": base64.b64encode(b"0123456789abcdef").decode(),
                     "expiration": base64.b64encode(b"not-a-date").decode(),
                     "description": base64.b64encode(b"\x1b[31mred\x1b[0m").decode()}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(body))
    try:
        yield {}
    finally:
        cluster.kubectl("delete", "secret", "-n", "kube-system", name, "--ignore-not-found")


@contextlib.contextmanager
def _foreign_label(cluster) -> Iterator[dict]:
    cluster.kubectl("label", "node", EXISTING_NODE, "accelerator=someone-elses", "--overwrite")
    try:
        yield {}
    finally:
        cluster.kubectl("label", "node", EXISTING_NODE, "accelerator-")


@contextlib.contextmanager
def _npu_labels(cluster) -> Iterator[dict]:
    """Just enough MindCluster labels for install to get as far as rendering the chart."""
    cluster.kubectl("label", "node", EXISTING_NODE, "accelerator=huawei-Ascend910", "node-role.kubernetes.io/worker=worker",
                    "workerselector=dls-worker-node", "host-arch=huawei-arm", "accelerator-type=module-910b-8",
                    "--overwrite")
    cluster.kubectl("label", "node", "mgmt-0", "masterselector=dls-master-node", "--overwrite")
    try:
        yield {}
    finally:
        cluster.kubectl("label", "node", EXISTING_NODE, "accelerator-", "node-role.kubernetes.io/worker-",
                        "workerselector-", "host-arch-", "accelerator-type-")
        cluster.kubectl("label", "node", "mgmt-0", "masterselector-")


def _ci(mutate: Callable[[dict[str, str]], Callable[[dict], Any]]) -> Callable[[Any, dict[str, str]], Any]:
    return lambda c, values: _cluster_info(c, mutate(values))


#: setup name -> (cluster, argument values) -> context manager yielding more argument values
SETUPS: dict[str, Callable[[Any, dict[str, str]], Any]] = {
    "ci-cmd-subst": _ci(lambda v: _set_server(f"https://$(touch {v['marker']}):6443")),
    "ci-space": _ci(lambda v: _set_server("https://a b:6443")),
    "ci-port-zero": _ci(lambda v: _set_server("https://10.0.0.1:0")),
    "ci-list": _ci(lambda v: lambda d: "- a\n- b\n"),
    "ci-clusters-map": _ci(lambda v: lambda d: {**d, "clusters": {"a": "b"}}),
    "ci-bad-ca": _ci(lambda v: _set_ca("!!!not base64!!!")),
    "ci-not-yaml": _ci(lambda v: lambda d: "clusters: [unclosed"),
    "ci-garbage-cert": _ci(lambda v: _set_ca(base64.b64encode(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").decode())),
    "token": lambda c, v: _token(c),
    "garbage-token-secret": lambda c, v: _garbage_token_secret(c),
    "foreign-label": lambda c, v: _foreign_label(c),
    "npu-labels": lambda c, v: _npu_labels(c),
}


def _absolute(doc: dict, base_dir: Path) -> dict:
    """The kubeconfig with relative file paths made absolute (the copies live elsewhere)."""
    for section, key in (("clusters", "cluster"), ("users", "user")):
        for item in doc.get(section) or []:
            body = item.get(key) or {}
            for k in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
                if isinstance(body.get(k), str) and not os.path.isabs(body[k]):
                    body[k] = str(base_dir / body[k])
    return doc


def _kubeconfigs(cluster, tmp: Path) -> dict[str, str]:
    base = _absolute(yaml.safe_load(Path(cluster.kubeconfig).read_text()), Path(cluster.kubeconfig).parent)
    out = {}

    def write(name: str, doc: Any) -> None:
        p = tmp / f"kc-{name}.yaml"
        p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
        out[f"kc:{name}"] = str(p)

    write("list", "- a\n- b\n")
    write("scalar", "just a string\n")
    write("clusters-map", {**base, "clusters": {"x": {"server": "https://127.0.0.1:1"}}})
    bad_ca = json.loads(json.dumps(base))
    bad_ca["clusters"][0]["cluster"]["certificate-authority-data"] = "!!!not base64!!!"
    bad_ca["clusters"][0]["cluster"].pop("certificate-authority", None)
    write("bad-ca", bad_ca)
    bad_port = json.loads(json.dumps(base))
    bad_port["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:99999"
    write("bad-port", bad_port)
    for name, tail in (("server-query", "?x=1"), ("server-fragment", "#top")):
        doc = json.loads(json.dumps(base))
        doc["clusters"][0]["cluster"]["server"] += tail
        write(name, doc)
    hostile = json.loads(json.dumps(base))
    hostile["clusters"][0]["cluster"]["server"] = "https://$(touch {marker}):6443"
    write("hostile-server", hostile)
    return out


def _values_files(tmp: Path) -> dict[str, str]:
    (tmp / "values-list.yaml").write_text("- a\n- b\n")
    (tmp / "values-not-yaml.yaml").write_text("a: [unclosed\n")
    return {"values:list": str(tmp / "values-list.yaml"), "values:not-yaml": str(tmp / "values-not-yaml.yaml")}


#: the cases that need the cluster; the usage errors run in-process in tests/unit/test_hostile_usage.py
ON_CLUSTER = [c for c in CASES if reaches_the_api(c)]


@dataclass
class Run:
    """One table case run against the cluster: what it printed and what it touched."""

    proc: subprocess.CompletedProcess
    values: dict[str, str]
    before: str
    after: str
    marker: Path
    existing: Path


@pytest.fixture(scope="module")
def hostile_run(cluster, tmp_path_factory) -> Callable[[Case], Run]:
    """Runs a table case once per module (memoized): the per-case test and the leak scan share the runs,
    and either passes alone (the scan runs the cases not run yet)."""
    done: dict[str, Run] = {}

    def run_case(case: Case) -> Run:
        if case.id in done:
            return done[case.id]
        tmp_path = tmp_path_factory.mktemp("hostile")
        marker = tmp_path / "pwned"
        existing = tmp_path / "exists.sh"
        existing.write_text("keep me\n")
        values = {"marker": str(marker), "existing_file": str(existing), "new_file": str(tmp_path / "new.sh"),
                  **_kubeconfigs(cluster, tmp_path), **_values_files(tmp_path)}
        with contextlib.ExitStack() as stack:
            if case.setup:
                values.update(stack.enter_context(SETUPS[case.setup](cluster, values)) or {})
            before = _state(cluster)
            proc = cluster.plugin(*_fill(case.args, values), env=case.env or None)
            after = _state(cluster)
        done[case.id] = Run(proc, values, before, after, marker, existing)
        return done[case.id]
    return run_case


@pytest.mark.parametrize("case", ON_CLUSTER, ids=[c.id for c in ON_CLUSTER])
def test_hostile_input(case, hostile_run):
    r = hostile_run(case)
    proc = r.proc
    first = (proc.stderr.splitlines() or [""])[0]
    assert proc.returncode == case.code, (case.args, proc.stderr)
    want = _fill([case.first], r.values)[0]
    assert first.startswith(want), (first, want)
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
    if not case.loose:
        assert "internal error" not in proc.stderr
    assert r.before == r.after, "the cluster changed"
    assert not r.marker.exists(), "a hostile value was executed"
    assert r.existing.read_text() == "keep me\n"
    if case.code != 0:
        assert proc.stdout == "" or case.id.startswith("label-"), proc.stdout


def test_no_secret_leaks(cluster, hostile_run):
    """Nothing any case of the table printed holds a token secret (runs the cases not run yet)."""
    outputs = [r.proc.stdout + r.proc.stderr for r in (hostile_run(c) for c in ON_CLUSTER)]
    assert len(outputs) >= 40
    text = "\n".join(outputs)
    assert not TOKEN_SHAPE.search(text), TOKEN_SHAPE.search(text).group(0)[:7] + "…"
    secs = cluster.get_json("secrets", "-n", "kube-system", "--field-selector",
                            "type=bootstrap.kubernetes.io/token")["items"]
    for s in secs:
        half = base64.b64decode((s.get("data") or {}).get("token-secret", "")).decode(errors="replace")
        if half:
            assert half not in text, f"the secret of {s['metadata']['name']} was printed"


def _stub_kubeadm(tmp_path: Path) -> tuple[dict, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "kubeadm").write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done > "$ARGV_FILE"\n')
    (bindir / "kubeadm").chmod(0o755)
    argv = tmp_path / "argv"
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "ARGV_FILE": str(argv)}, argv


@pytest.mark.parametrize("extra,want_endpoint", [
    ([], None),  # from cluster-info
    (["--endpoint", "[fd00::10]"], "[fd00::10]:6443"),
])
def test_generated_script_runs_exact_argv(cluster, tmp_path, extra, want_endpoint):
    script = tmp_path / "join.sh"
    proc = cluster.plugin("join-cmd", "--ttl", "10m", "--node-name", "new-node-7.rack-1", "--output-file",
                          str(script), *extra)
    assert proc.returncode == 0, proc.stderr
    body = script.read_text()
    token = re.search(r"--token (\S+)", body).group(1)
    try:
        server = yaml.safe_load(_cluster_info_kubeconfig(cluster))["clusters"][0]["cluster"]["server"]
        endpoint = want_endpoint or server.removeprefix("https://").rstrip("/")
        env, argv_file = _stub_kubeadm(tmp_path)
        ran = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30)
        assert ran.returncode == 0, ran.stderr
        argv = argv_file.read_bytes().decode().split("\0")[:-1]
        assert argv[:4] == ["join", endpoint, "--token", token]
        assert argv[4] == "--discovery-token-ca-cert-hash" and re.fullmatch(r"sha256:[0-9a-f]{64}", argv[5])
        assert argv[6:] == ["--node-name", "new-node-7.rack-1"]
        assert shlex.split(body.splitlines()[-1]) == ["exec", "kubeadm", *argv]
    finally:
        cluster.plugin("token", "revoke", token[:6])


# -- partial failures, made real with RBAC -----------------------------------------------------

def _sa_kubeconfig(cluster, namespace: str, tmp_path: Path, rules: list[tuple[str, str, dict]]) -> str:
    """A kubeconfig for a fresh ServiceAccount granted exactly `rules`: (kind, namespace, rule)."""
    from tests.tooling import REPO_ROOT

    sa = "partial"
    cluster.kubectl("create", "serviceaccount", "-n", namespace, sa)
    docs = []
    for i, (kind, ns, rule) in enumerate(rules):
        name = f"{namespace}-partial-{i}"
        meta = {"name": name, **({"namespace": ns} if kind == "Role" else {})}
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": [rule]})
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{kind}Binding", "metadata": meta,
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
                     "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]})
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    out = tmp_path / "sa.kubeconfig"
    run(["bash", str(REPO_ROOT / "hack" / "sa-kubeconfig.sh"), "--kubeconfig", cluster.kubeconfig, "--namespace",
         namespace, "--serviceaccount", sa, "--out", str(out), "--duration", "1h"])
    return str(out)


def _delete_rbac(cluster, namespace: str, n: int) -> None:
    for i in range(n):
        name = f"{namespace}-partial-{i}"
        for kind in ("clusterrole", "clusterrolebinding"):
            cluster.kubectl("delete", kind, name, "--ignore-not-found")
        for kind in ("role", "rolebinding"):
            cluster.kubectl("delete", kind, "-n", "kube-system", name, "--ignore-not-found")


def test_partial_revoke_says_what_was_and_was_not_revoked(cluster, namespace, tmp_path):
    ids = []
    for _ in range(2):
        proc = cluster.plugin("join-cmd", "--ttl", "10m")
        assert proc.returncode == 0, proc.stderr
        ids.append(proc.stdout.split("--token ")[1][:6])
    a, b = ids
    rules = [("Role", "kube-system", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}),
             ("Role", "kube-system", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"],
                                      "resourceNames": [f"bootstrap-token-{a}"]})]
    try:
        kc = _sa_kubeconfig(cluster, namespace, tmp_path, rules)
        proc = cluster.plugin("--kubeconfig", kc, "token", "revoke", a, b)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == f"token {a} revoked\n"
        first = proc.stderr.splitlines()[0]
        assert first.startswith(f"error: 1 of 2 token(s) NOT revoked: {b} (delete secret kube-system/bootstrap-token-{b}: "
                                "forbidden (403)"), first
        assert first.endswith(f"; revoked 1: {a}. Rerun `kubectl ascend token revoke` with the IDs not revoked")
        left = {s["metadata"]["name"] for s in cluster.get_json("secrets", "-n", "kube-system")["items"]}
        assert f"bootstrap-token-{a}" not in left and f"bootstrap-token-{b}" in left
    finally:
        _delete_rbac(cluster, namespace, len(rules))
        cluster.plugin("token", "revoke", b)


def test_partial_label_failure_summary_is_short(cluster, namespace, tmp_path, node_prefix):
    names = [f"{node_prefix}n{i}" for i in range(8)]
    nodes = [{"apiVersion": "v1", "kind": "Node",
              "metadata": {"name": n, "labels": {"node.kubernetes.io/npu.chip.name": "910B3"},
                           "annotations": {"kwok.x-k8s.io/node": "fake"}},
              "status": {"nodeInfo": {"architecture": "arm64"}}} for n in names]
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump_all(nodes))
    rules = [("ClusterRole", "", {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get"]}),
             ("ClusterRole", "", {"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"],
                                  "resourceNames": names[:1]})]
    try:
        kc = _sa_kubeconfig(cluster, namespace, tmp_path, rules)
        proc = cluster.plugin("--kubeconfig", kc, "label-node", *names)
        assert proc.returncode == 1, proc.stderr
        # this identity may not read the stack's release: one warning line first, saying what it assumed
        warning, first = proc.stderr.splitlines()[:2]
        assert warning.startswith("warning: cannot read release ascend-stack in mindx-dl (not allowed to read "
                                  "Helm's release Secrets)") and warning.endswith("--mindcluster-version to choose")
        assert first.startswith(f"error: 1 node(s) labelled, 7 failed ({', '.join(names[1:6])} and 2 more: "
                                f"label node {names[1]}: forbidden (403)"), first
        assert names[7] not in first and first.endswith("the full list: -o json or -v")
        full = cluster.plugin("--kubeconfig", kc, "label-node", *names, "-o", "json")
        data = json.loads(full.stdout)
        assert {n["node"]: n["state"] for n in data["nodes"]} == {
            names[0]: "unchanged", **{n: "failed" for n in names[1:]}}
        labelled = cluster.get_json("node", names[0])["metadata"]["labels"]
        assert labelled.get("accelerator") == "huawei-Ascend910"
        assert "accelerator" not in cluster.get_json("node", names[1])["metadata"]["labels"]
    finally:
        _delete_rbac(cluster, namespace, len(rules))
        cluster.kubectl("delete", "node", *names, "--ignore-not-found")


def test_kubectl_flag_forms_after_the_subcommand(cluster):
    plain = json.loads(cluster.plugin("token", "list", "-o", "json").stdout)
    for form in (["-ojson"], ["-o=json"], ["--output=json"]):
        proc = cluster.plugin("token", "list", *form)
        assert proc.returncode == 0, proc.stderr
        assert [r["id"] for r in json.loads(proc.stdout)] == [r["id"] for r in plain]
    for form in (["-nkube-public"], ["-n=kube-public"], ["--namespace=kube-public"], ["-n", "kube-public"]):
        proc = cluster.plugin("mindie", "ranktable", "no-such-release", *form)
        assert proc.returncode == 1 and "in namespace kube-public" in proc.stderr, (form, proc.stderr)
    dry = cluster.plugin("label-node", EXISTING_NODE, "--dry-run", "-o", "json")
    assert dry.returncode == 0 and json.loads(dry.stdout)["dryRun"] is True


# -- terminal control sequences planted in the cluster -------------------------------------------

#: retitle the terminal, clear it, fake a green PASS, hide what follows; then a C1 CSI and a fake line
TERMINAL_ATTACK = "\x1b]0;pwned\x07\x1b[2J\x1b[32m[PASS] all checks passed\x1b[8m\u009b31m\nerror: none"
#: bytes no output may carry: C0 controls but tab and newline, DEL (C1 controls are checked after decoding)
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
C1_CONTROLS = re.compile("[\u0080-\u009f]")


def _raw_plugin(cluster, *args: str) -> subprocess.CompletedProcess:
    """The CLI with stdout/stderr captured as bytes: what a terminal would receive."""
    import sys

    return subprocess.run([sys.executable, "-m", "kubectl_ascend", "--kubeconfig", cluster.kubeconfig, *args],
                          capture_output=True, timeout=300)


def _no_terminal_controls(proc: subprocess.CompletedProcess) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert not CONTROL_BYTES.search(stream), stream[max(0, CONTROL_BYTES.search(stream).start() - 40):][:80]
        assert not C1_CONTROLS.search(stream.decode("utf-8", "replace")), stream


@contextlib.contextmanager
def _terminal_plants(cluster, namespace: str) -> Iterator[None]:
    """What any user with create rights can write: an image tag, Helm annotations, a token description."""
    token_id = secrets.token_hex(3)
    docs = [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "planted-scheduler", "namespace": namespace,
                      "labels": {"app.kubernetes.io/part-of": "mindcluster",
                                 "app.kubernetes.io/component": "volcano-scheduler"}},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"planted": "yes"}},
                  "template": {"metadata": {"labels": {"planted": "yes"}},
                               "spec": {"containers": [{"name": "c",
                                                        "image": "volcano:v1.9.0-" + TERMINAL_ATTACK + "x"}]}}}},
        # an object the chart renders, claimed by a "release" whose name is the attack: install refuses it
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "volcano-scheduler",
                      "annotations": {"meta.helm.sh/release-name": "x" + TERMINAL_ATTACK,
                                      "meta.helm.sh/release-namespace": TERMINAL_ATTACK}}, "rules": []},
        {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
         "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
         "stringData": {"token-id": token_id, "token-secret": secrets.token_hex(8),
                        "usage-bootstrap-authentication": "true", "description": TERMINAL_ATTACK}},
    ]
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump_all(docs))
    try:
        yield
    finally:
        cluster.kubectl("delete", "clusterrole", "volcano-scheduler", "--ignore-not-found")
        cluster.kubectl("delete", "secret", "-n", "kube-system", f"bootstrap-token-{token_id}", "--ignore-not-found")


def test_cluster_text_cannot_drive_the_terminal(cluster, namespace):
    """Planted ESC/BEL/C1 sequences reach no output byte; they are shown escaped (kubectl's `^[`)."""
    with _npu_labels(cluster), _terminal_plants(cluster, namespace):
        before = _state(cluster)
        runs = {"status": _raw_plugin(cluster, "status"), "doctor": _raw_plugin(cluster, "doctor"),
                "token list": _raw_plugin(cluster, "token", "list"), "install": _raw_plugin(cluster, "install"),
                "install -v": _raw_plugin(cluster, "install", "-v")}
        after = _state(cluster)
    for what, proc in runs.items():
        _no_terminal_controls(proc)
        assert b"^[]0;pwned\\x07^[[2J^[[32m[PASS]" in proc.stdout + proc.stderr, (what, proc.stdout, proc.stderr)
    assert runs["install"].returncode == 1
    err = runs["install"].stderr.decode()
    assert err.startswith("error: cannot take over 1 existing object(s); nothing was changed: ClusterRole "
                          "volcano-scheduler belongs to Helm release x^[]0;pwned") and err.count("\n") == 1, err
    assert before == after, "a refused install changed the cluster"
    assert "\\x9b31m\\nerror: none" in runs["status"].stdout.decode()  # one line, the fake line made visible


# -- resource quantities any pod creator writes -----------------------------------------------------

def _pod(name: str, namespace: str, node: str, requests: dict[str, str], labels: dict[str, str] | None = None,
         command: list[str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10", "command": command,
                                     "resources": {"requests": requests, "limits": requests}}]}}


def test_npu_quantities_are_parsed_as_kubernetes_does(cluster, namespace):
    """`huawei.com/Ascend910: "1k"` is a valid quantity (1000): status counts it, doctor reports the pod."""
    docs = [_pod("kilo", namespace, EXISTING_NODE, {"huawei.com/Ascend910": "1k"}),
            _pod("two", namespace, EXISTING_NODE, {"huawei.com/Ascend910": "2"}),
            # a device plugin with -volcanoType=true makes doctor look at every pod's NPU request
            _pod("planted-device-plugin", namespace, EXISTING_NODE, {},
                 {"app.kubernetes.io/part-of": "mindcluster", "app.kubernetes.io/component": "device-plugin"},
                 ["device-plugin", "-volcanoType=true"])]
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump_all(docs))
    status = cluster.plugin("status", "-o", "json")
    assert status.returncode == 0, status.stderr
    node = next(n for n in json.loads(status.stdout)["nodes"] if n["node"] == EXISTING_NODE)
    assert node["npuRequested"] == 1002
    text = cluster.plugin("status")
    assert text.returncode == 0 and "8/8/1002" in text.stdout, text.stderr
    doctor = cluster.plugin("doctor", "-o", "json")
    assert "internal error" not in doctor.stderr, doctor.stderr
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["npu-requests"]["status"] == "WARN"
    assert checks["npu-requests"]["message"] == (f"1 pod(s) request NPUs no node can give: {namespace}/kilo "
                                                 "(huawei.com/Ascend910: 1k = 1000, the largest node has 8)")


@pytest.mark.parametrize("endpoint", ["[::ffff:127.0.0.1]:6443", "0x7f.1:6443", "[::1]"])
def test_loopback_endpoint_however_written_is_warned_about(cluster, endpoint):
    proc = cluster.plugin("join-cmd", "--dry-run=client", "--endpoint", endpoint)
    assert proc.returncode == 0, proc.stderr
    assert "is a loopback address a new node cannot reach" in proc.stderr, proc.stderr
