"""The join command and script are safe to run as root whatever the sources hold.

Scenarios: a generated --output-file script, run with a stub `kubeadm` first on
PATH, passes exactly the expected argv (endpoint, token, CA hash, node name,
control-plane key) for the endpoint from each source (--endpoint, cluster-info,
kubeconfig), including IPv6 endpoints that contain shell glob characters; hostile
servers from each source (`https://$(touch X):6443`, backticks, `;`, spaces,
port 0) are refused before any token is created, naming the source and
--endpoint; malformed cluster-info (not YAML, a list, clusters as a mapping, bad
base64 CA) is refused naming the ConfigMap and field; the printed command is
shell-quoted word by word.
"""
from __future__ import annotations

import base64
import datetime
import os
import shlex
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubectl_ascend import errors, joincmd
from kubectl_ascend.cahash import ca_cert_hashes
from kubectl_ascend.joincmd import KUBEADM_BINDINGS, JoinRequest, join_command

pytestmark = pytest.mark.unit


def _ca() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


CA = _ca()
HASH = ca_cert_hashes(CA)[0]


def cluster_info(server: object = None, ca: object = None, raw: str | None = None) -> dict:
    if raw is None:
        c: dict = {}
        if server is not None:
            c["server"] = server
        c["certificate-authority-data"] = ca if ca is not None else base64.b64encode(CA).decode()
        raw = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "", "cluster": c}]})
    return {"metadata": {"name": "cluster-info"}, "data": {"kubeconfig": raw}}


class FakeKube:
    """Answers the join-cmd preflight; records every write."""

    def __init__(self, cm: dict | None) -> None:
        self.cm, self.writes = cm, []

    def get_configmap(self, ns, name):
        return self.cm

    def get_node(self, name):
        return None

    def get_cluster_role_binding(self, name):
        _, role, skind, sname = KUBEADM_BINDINGS[name]
        return {"roleRef": {"name": role}, "subjects": [{"kind": skind, "name": sname}]}

    def create_secret(self, ns, body, dry_run=False):
        self.writes.append(("create", body["metadata"]["name"]))

    def delete_secret(self, ns, name):
        self.writes.append(("delete", name))


class FakeKubeconfig:
    def __init__(self, server: str) -> None:
        self.server, self.ca_pem, self.context = server, CA, "admin@test"


def _stub_kubeadm(tmp_path: Path) -> tuple[dict, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    argv_file = tmp_path / "argv"
    stub = bindir / "kubeadm"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done > "$ARGV_FILE"\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "ARGV_FILE": str(argv_file)}
    return env, argv_file


def _run_script(tmp_path: Path, script: str) -> list[str]:
    env, argv_file = _stub_kubeadm(tmp_path)
    proc = subprocess.run([script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return argv_file.read_bytes().decode().split("\0")[:-1]


@pytest.mark.parametrize("source,endpoint,server,kc_server,want", [
    ("--endpoint", "[fd00::10]:6443", "https://10.0.0.1:6443", "https://127.0.0.1:6443", "[fd00::10]:6443"),
    ("--endpoint", "api.example.com", None, "https://127.0.0.1:6443", "api.example.com:6443"),
    ("cluster-info", None, "https://[fd00::2]:6443", "https://127.0.0.1:6443", "[fd00::2]:6443"),
    ("cluster-info", None, "https://api.example.com", "https://127.0.0.1:6443", "api.example.com:443"),
    ("kubeconfig", None, None, "https://[::ffff:10.0.0.3]:7443", "[::ffff:a00:3]:7443"),
    ("kubeconfig", None, None, "https://10.0.0.3:7443/", "10.0.0.3:7443"),
])
def test_script_passes_exact_argv(tmp_path, source, endpoint, server, kc_server, want):
    script = str(tmp_path / "join.sh")
    req = JoinRequest(ttl=timedelta(hours=1), endpoint=endpoint, node_name="atlas-07.rack-1", control_plane=True,
                      certificate_key="ab" * 32, output_file=script)
    kube = FakeKube(cluster_info(server))
    res = join_command(kube, FakeKubeconfig(kc_server), req, lambda m: None)
    assert res.endpoint_source == source
    argv = _run_script(tmp_path, script)
    assert argv == ["join", want, "--token", res.token, "--discovery-token-ca-cert-hash", HASH,
                    "--node-name", "atlas-07.rack-1", "--control-plane", "--certificate-key", "ab" * 32]
    assert shlex.split(res.command) == ["kubeadm", *argv]
    assert oct(os.stat(script).st_mode & 0o777) == "0o700"


HOSTILE = ["https://$(touch {x}):6443", "https://`touch {x}`:6443", "https://a;touch {x}:6443",
           "https://a b:6443", "https://a:0", "https://a:6443/$(touch {x})", "http://a:6443", "https://a:6443\n"]


@pytest.mark.parametrize("where", ["--endpoint", "cluster-info", "kubeconfig"])
@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_endpoint_is_refused_before_any_change(tmp_path, where, template):
    marker = tmp_path / "pwned"
    value = template.format(x=marker)
    script = tmp_path / "join.sh"
    req = JoinRequest(ttl=timedelta(hours=1), output_file=str(script),
                      endpoint=value if where == "--endpoint" else None)
    kube = FakeKube(cluster_info(value if where == "cluster-info" else None))
    kc = FakeKubeconfig(value if where == "kubeconfig" else "https://10.0.0.1:6443")
    with pytest.raises(errors.InvalidInput) as e:
        join_command(kube, kc, req, lambda m: None)
    msg = str(e.value)
    assert "\n" not in msg
    if where == "cluster-info":
        assert "ConfigMap kube-public/cluster-info" in msg and "--endpoint" in msg
    elif where == "kubeconfig":
        assert "kubeconfig" in msg and "--endpoint" in msg
    else:
        assert msg.startswith("--endpoint")
    assert kube.writes == [] and not script.exists() and not marker.exists()


@pytest.mark.parametrize("cm,field", [
    (cluster_info(raw="clusters: [unclosed"), "not valid YAML"),
    (cluster_info(raw="- a\n- b\n"), "not a kubeconfig"),
    (cluster_info(raw="clusters: {a: b}\n"), "clusters must be a list"),
    (cluster_info(raw="clusters: [x]\n"), "clusters[0].cluster"),
    (cluster_info(server=["https://a:6443"]), "server is not a string"),
    (cluster_info(server="https://10.0.0.1:6443", ca="!!!notbase64"), "certificate-authority-data"),
    (cluster_info(server="https://10.0.0.1:6443", ca=base64.b64encode(b"garbage").decode()),
     "certificate-authority-data"),
])
def test_malformed_cluster_info_is_named(cm, field):
    kube = FakeKube(cm)
    with pytest.raises(errors.InvalidInput) as e:
        join_command(kube, FakeKubeconfig("https://10.0.0.1:6443"), JoinRequest(ttl=timedelta(hours=1)), lambda m: None)
    assert field in str(e.value) and "kube-public/cluster-info" in str(e.value)
    assert kube.writes == []


def test_printed_command_is_quoted_word_by_word():
    req = JoinRequest(ttl=timedelta(hours=1), node_name="n1")
    cmd = joincmd.build_command("[fd00::1]:6443", "abcdef.0123456789abcdef", [HASH], req)
    assert cmd.startswith("kubeadm join '[fd00::1]:6443' --token abcdef.0123456789abcdef ")
    assert shlex.split(cmd)[2] == "[fd00::1]:6443"


@pytest.mark.parametrize("endpoint,loopback", [
    ("127.0.0.1:6443", True), ("127.9.9.9:6443", True), ("localhost:6443", True), ("api.localhost:6443", True),
    ("[::1]:6443", True),
    ("[::ffff:7f00:1]:6443", True),  # [::ffff:127.0.0.1] after validate.endpoint
    ("0x7f.1:6443", True),  # a "DNS name" that inet_aton (getaddrinfo, curl) reads as 127.0.0.1
    ("0x7f000001:6443", True),
    ("10.0.0.1:6443", False), ("[::ffff:a00:1]:6443", False), ("[fd00::1]:6443", False), ("0x0a.1:6443", False),
    ("api.example.com:6443", False), ("deadbeef:6443", False),
])
def test_loopback_however_it_is_written(endpoint, loopback):
    from kubectl_ascend import validate

    assert joincmd.is_loopback(validate.endpoint(endpoint)) is loopback
