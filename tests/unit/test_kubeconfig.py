"""Kubeconfig handling of the one Kubernetes door (kubectl_ascend.kube) against a local HTTPS stub.

Scenarios: kubectl's merge of several KUBECONFIG files (first wins), relative
paths resolved against the file that names them, tokenFile, client certificates
from data fields and files, an exec plugin (a stub command printing an
ExecCredential, token or certificate), the context's namespace as the default
namespace, HTTPS_PROXY / NO_PROXY and proxy-url through a local CONNECT proxy,
tls-server-name, insecure-skip-tls-verify, a server certificate from another CA
(reported as such), impersonation headers; malformed kubeconfigs each get one
line naming the file and the field; credential material never lands in TMPDIR,
not even after kill -9.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube, read_kubeconfig
from tests.stubapi import ConnectProxy, StubAPI, issue, make_ca

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def pki():
    ca, ca_cert, ca_key = make_ca("stub-ca")
    other, _, _ = make_ca("some-other-ca")
    return {
        "ca": ca, "other_ca": other,
        "server": issue(ca_cert, ca_key, "apiserver", dns=("localhost",), ips=("127.0.0.1",)),
        "named": issue(ca_cert, ca_key, "apiserver.test", dns=("apiserver.test",)),  # no IP SAN
        "alice": issue(ca_cert, ca_key, "alice", client=True),
        "bob": issue(ca_cert, ca_key, "bob", client=True),
    }


@pytest.fixture(scope="module")
def api(pki, tmp_path_factory):
    s = StubAPI(pki["server"], pki["ca"]).start(tmp_path_factory.mktemp("srv"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def named_api(pki, tmp_path_factory):
    s = StubAPI(pki["named"], pki["ca"]).start(tmp_path_factory.mktemp("srv2"))
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for v in ("KUBECONFIG", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
              "ALL_PROXY", "all_proxy", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(v, raising=False)


def write_kc(path: Path, *, clusters: dict[str, dict] | None = None, users: dict[str, dict] | None = None,
             contexts: dict[str, dict] | None = None, current: str | None = None) -> Path:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if clusters is not None:
        doc["clusters"] = [{"name": n, "cluster": c} for n, c in clusters.items()]
    if users is not None:
        doc["users"] = [{"name": n, "user": u} for n, u in users.items()]
    if contexts is not None:
        doc["contexts"] = [{"name": n, "context": c} for n, c in contexts.items()]
    if current:
        doc["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def simple_kc(tmp: Path, api: StubAPI, pki: dict, user: dict, cluster_extra: dict | None = None,
              ctx_extra: dict | None = None) -> Path:
    cluster = {"server": f"https://127.0.0.1:{api.port}", "certificate-authority-data": pki["ca"].b64("cert"),
               **(cluster_extra or {})}
    return write_kc(tmp / "config", clusters={"c": cluster}, users={"u": user},
                    contexts={"x": {"cluster": "c", "user": "u", **(ctx_extra or {})}}, current="x")


def last(api: StubAPI, path: str):
    return [s for s in api.seen if s.path.split("?")[0] == path][-1]


def call(kc: Path | str | None, path: str, **kw: Any) -> dict:
    return Kube(str(kc) if kc else None, **kw).request("probe", "GET", path)


# -- credentials ------------------------------------------------------------------

def test_multiple_files_merge_first_wins(tmp_path, api, pki, monkeypatch):
    a = write_kc(tmp_path / "a.yaml", users={"u": {"token": "token-from-a"}},
                 contexts={"x": {"cluster": "c", "user": "u"}}, current="x")
    b = write_kc(tmp_path / "b.yaml", clusters={"c": {"server": f"https://127.0.0.1:{api.port}",
                                                      "certificate-authority-data": pki["ca"].b64("cert")}},
                 users={"u": {"token": "token-from-b"}}, current="y")
    monkeypatch.setenv("KUBECONFIG", f"{a}{os.pathsep}{tmp_path / 'missing.yaml'}{os.pathsep}{b}")
    call(None, "/merge")
    assert last(api, "/merge").headers["authorization"] == ["Bearer token-from-a"]
    assert read_kubeconfig(None, None).context == "x"  # the first current-context wins


def test_relative_paths_resolve_against_their_file(tmp_path, api, pki, monkeypatch):
    d = tmp_path / "conf"
    (d / "pki").mkdir(parents=True)
    (d / "pki" / "ca.crt").write_bytes(pki["ca"].cert_pem)
    (d / "pki" / "alice.crt").write_bytes(pki["alice"].cert_pem)
    (d / "pki" / "alice.key").write_bytes(pki["alice"].key_pem)
    kc = write_kc(d / "config", clusters={"c": {"server": f"https://127.0.0.1:{api.port}",
                                                "certificate-authority": "pki/ca.crt"}},
                  users={"u": {"client-certificate": "pki/alice.crt", "client-key": "pki/alice.key"}},
                  contexts={"x": {"cluster": "c", "user": "u"}}, current="x")
    monkeypatch.chdir(tmp_path)
    call(kc, "/relative")
    assert last(api, "/relative").client_cn == "alice"


def test_token_file(tmp_path, api, pki):
    (tmp_path / "tok").write_text("file-token\n")
    kc = simple_kc(tmp_path, api, pki, {"tokenFile": "tok"})
    call(kc, "/tokenfile")
    assert last(api, "/tokenfile").headers["authorization"] == ["Bearer file-token"]


def test_client_certificate_data(tmp_path, api, pki):
    kc = simple_kc(tmp_path, api, pki, {"client-certificate-data": pki["bob"].b64("cert"),
                                        "client-key-data": pki["bob"].b64("key")})
    call(kc, "/certdata")
    assert last(api, "/certdata").client_cn == "bob"


def _exec_plugin(tmp: Path, status: dict) -> Path:
    script = tmp / "plugin.py"
    script.write_text(textwrap.dedent(f"""\
        import json, os, sys
        with open({str(tmp / 'plugin-runs')!r}, "a") as f:
            f.write(os.environ.get("KUBERNETES_EXEC_INFO", "") + "\\n")
        print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                           "status": {status!r}}}))
        """))
    return script


def test_exec_plugin_token(tmp_path, api, pki):
    script = _exec_plugin(tmp_path, {"token": "exec-token"})
    kc = simple_kc(tmp_path, api, pki, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                 "command": sys.executable, "args": [str(script)],
                                                 "interactiveMode": "Never"}})
    call(kc, "/exec")
    assert last(api, "/exec").headers["authorization"] == ["Bearer exec-token"]
    assert (tmp_path / "plugin-runs").read_text().strip()  # the plugin really ran


def test_exec_plugin_client_certificate(tmp_path, api, pki):
    script = _exec_plugin(tmp_path, {"clientCertificateData": pki["alice"].cert_pem.decode(),
                                     "clientKeyData": pki["alice"].key_pem.decode()})
    kc = simple_kc(tmp_path, api, pki, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                 "command": sys.executable, "args": [str(script)],
                                                 "interactiveMode": "Never"}})
    call(kc, "/execcert")
    assert last(api, "/execcert").client_cn == "alice"


def test_exec_plugin_that_fails_is_reported(tmp_path, api, pki):
    kc = simple_kc(tmp_path, api, pki, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                 "command": "false", "interactiveMode": "Never"}})
    with pytest.raises(errors.KubeConfigError, match="exec plugin 'false' gave no credentials"):
        call(kc, "/nothing")


def test_context_namespace_is_the_default(tmp_path, api, pki):
    from kubectl_ascend.commands._common import Settings

    kc = simple_kc(tmp_path, api, pki, {"token": "t"}, ctx_extra={"namespace": "llm"})
    assert Kube(str(kc)).namespace == "llm"
    assert Settings(str(kc), None, None, "text", 0).effective_namespace() == "llm"
    assert Settings(str(kc), None, "other", "text", 0).effective_namespace() == "other"
    kc2 = simple_kc(tmp_path / "b", api, pki, {"token": "t"})
    assert Settings(str(kc2), None, None, "text", 0).effective_namespace() == "default"


# -- proxies and TLS ----------------------------------------------------------------

def test_https_proxy_env_is_used_and_no_proxy_bypasses_it(tmp_path, api, pki, monkeypatch):
    proxy = ConnectProxy()
    try:
        kc = simple_kc(tmp_path, api, pki, {"token": "t"})
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        call(kc, "/via-proxy")
        # a set: under load a GET may be retried through the proxy, which is still the proxy
        assert set(proxy.targets) == {f"127.0.0.1:{api.port}"}
        tunnels = len(proxy.targets)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        call(kc, "/no-proxy")
        assert len(proxy.targets) == tunnels and last(api, "/no-proxy")
    finally:
        proxy.stop()


def test_proxy_url_in_kubeconfig(tmp_path, api, pki):
    proxy = ConnectProxy()
    try:
        kc = simple_kc(tmp_path, api, pki, {"token": "t"},
                       cluster_extra={"proxy-url": f"http://127.0.0.1:{proxy.port}"})
        call(kc, "/proxy-url")
        assert proxy.targets and set(proxy.targets) == {f"127.0.0.1:{api.port}"}
    finally:
        proxy.stop()


def test_tls_server_name(tmp_path, named_api, pki):
    kc = simple_kc(tmp_path, named_api, pki, {"token": "t"})
    with pytest.raises(errors.ClusterUnreachable, match="certificate is not valid for 127.0.0.1.*tls-server-name"):
        call(kc, "/sni")
    kc = simple_kc(tmp_path, named_api, pki, {"token": "t"}, cluster_extra={"tls-server-name": "apiserver.test"})
    call(kc, "/sni")
    assert last(named_api, "/sni")


def test_wrong_ca_says_so_and_insecure_skips_verification(tmp_path, api, pki):
    kc = simple_kc(tmp_path, api, pki, {"token": "t"},
                   cluster_extra={"certificate-authority-data": pki["other_ca"].b64("cert")})
    with pytest.raises(errors.ClusterUnreachable) as e:
        call(kc, "/wrong-ca")
    assert "the API server's certificate is not signed by the CA in the kubeconfig" in str(e.value)
    assert "cannot reach" not in str(e.value)
    kc = write_kc(tmp_path / "insecure", clusters={"c": {"server": f"https://127.0.0.1:{api.port}",
                                                         "insecure-skip-tls-verify": True}},
                  users={"u": {"token": "t"}}, contexts={"x": {"cluster": "c", "user": "u"}}, current="x")
    call(kc, "/insecure")
    assert last(api, "/insecure")


def test_impersonation_headers(tmp_path, api, pki):
    kc = simple_kc(tmp_path, api, pki, {"token": "t"})
    Kube(str(kc), impersonate_user="jane", impersonate_groups=("devs", "ops")).request("x", "GET", "/as")
    h = last(api, "/as").headers
    assert h["impersonate-user"] == ["jane"] and h["impersonate-group"] == ["devs", "ops"]


def test_status_translation_under_impersonation(tmp_path, api, pki):
    api.routes["/denied"] = lambda h, s: (403, {}, {"kind": "Status", "message": 'nodes is forbidden: User "jane" '
                                                    'cannot list resource "nodes"'})
    kc = simple_kc(tmp_path, api, pki, {"token": "t"})
    with pytest.raises(errors.Forbidden, match=r"list nodes: forbidden \(403\) while acting as user 'jane'"):
        Kube(str(kc), impersonate_user="jane").request("list nodes", "GET", "/denied")
    with pytest.raises(errors.Forbidden, match="ask a cluster admin"):
        Kube(str(kc)).request("list nodes", "GET", "/denied")


# -- malformed kubeconfigs -----------------------------------------------------------

def _good_cluster(port: int = 6443) -> dict:
    return {"server": f"https://127.0.0.1:{port}"}


MALFORMED = [
    ("list document", "- a\n- b\n", "must be a mapping (apiVersion, clusters, contexts, users), found a list"),
    ("scalar document", "hello\n", "must be a mapping (apiVersion, clusters, contexts, users), found a string"),
    ("not yaml", "a: [\n", "is not valid YAML"),
    ("clusters as a mapping", {"clusters": {"c": {"server": "https://h:6443"}}, "current-context": "x",
                               "contexts": [{"name": "x", "context": {"cluster": "c"}}]},
     "clusters must be a list of entries with name and cluster, found a mapping"),
    ("entry without name", {"clusters": [{"cluster": _good_cluster()}]}, "clusters[0] has no name"),
    ("bad base64 CA", {"clusters": [{"name": "c", "cluster": {**_good_cluster(), "certificate-authority-data": "%%%"}}],
                       "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c: certificate-authority-data is not valid base64"),
    ("CA data not PEM", {"clusters": [{"name": "c", "cluster": {**_good_cluster(),
                                                                "certificate-authority-data": "aGVsbG8="}}],
                         "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c: certificate-authority-data does not hold a PEM certificate"),
    ("port out of range", {"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:99999"}}],
                           "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c: server 'https://127.0.0.1:99999' has an invalid port (must be 1-65535)"),
    ("port not a number", {"clusters": [{"name": "c", "cluster": {"server": "https://h:66x"}}],
                           "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "has an invalid port"),
    ("server with a query", {"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443?x=1"}}],
                             "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c: server 'https://127.0.0.1:6443?x=1' has a query string; an API server URL is "
     "https://HOST[:PORT][/PATH], with nothing after a '?' or '#'"),
    ("server with an empty query", {"clusters": [{"name": "c", "cluster": {"server": "https://h:6443/p/?"}}],
                                    "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c: server 'https://h:6443/p/?' has a query string"),
    ("server with a fragment", {"clusters": [{"name": "c", "cluster": {"server": "https://h:6443/#top"}}],
                                "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c: server 'https://h:6443/#top' has a fragment"),
    ("server not a URL", {"clusters": [{"name": "c", "cluster": {"server": "127.0.0.1:6443"}}],
                          "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "is not an http(s) URL with a host"),
    ("no server", {"clusters": [{"name": "c", "cluster": {}}],
                   "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"},
     "cluster c has no server"),
    ("missing context", {"clusters": [{"name": "c", "cluster": _good_cluster()}], "current-context": "x"},
     "context 'x' (current-context in"),
    ("no current context", {"clusters": [{"name": "c", "cluster": _good_cluster()}]}, "has no current-context"),
    ("missing cluster", {"contexts": [{"name": "x", "context": {"cluster": "nope"}}], "current-context": "x"},
     "context x names cluster 'nope', which is not defined"),
    ("missing user", {"clusters": [{"name": "c", "cluster": _good_cluster()}],
                      "contexts": [{"name": "x", "context": {"cluster": "c", "user": "ghost"}}],
                      "current-context": "x"}, "context x names user 'ghost', which is not defined"),
    ("bad client key data", {"clusters": [{"name": "c", "cluster": _good_cluster()}],
                             "users": [{"name": "u", "user": {"client-certificate-data": "!!", "client-key-data": "!!"}}],
                             "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                             "current-context": "x"}, "user u: client-certificate-data is not valid base64"),
    ("missing tokenFile", {"clusters": [{"name": "c", "cluster": _good_cluster()}],
                           "users": [{"name": "u", "user": {"tokenFile": "nope.txt"}}],
                           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                           "current-context": "x"}, "user u: tokenFile"),
    ("user as a list", {"clusters": [{"name": "c", "cluster": _good_cluster()}],
                        "users": [{"name": "u", "user": ["a"]}],
                        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                        "current-context": "x"}, "users[0] (u): user must be a mapping, found a list"),
]


@pytest.mark.parametrize("doc,expected", [(d, e) for _, d, e in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_kubeconfig_one_line_naming_file_and_field(tmp_path, doc, expected):
    kc = tmp_path / "config"
    kc.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    with pytest.raises(errors.KubeConfigError) as e:
        Kube(str(kc))
    msg = str(e.value)
    assert expected in msg and str(kc) in msg and "\n" not in msg
    assert not msg.lower().startswith("unexpected")
    with pytest.raises(errors.KubeConfigError):  # join-cmd's reader says the same
        read_kubeconfig(str(kc), None)


def test_malformed_kubeconfig_through_the_cli(tmp_path):
    kc = tmp_path / "config"
    kc.write_text("- just\n- a list\n")
    p = subprocess.run([sys.executable, "-m", "kubectl_ascend", "--kubeconfig", str(kc), "status"],
                       capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [f"error: kubeconfig {kc} must be a mapping (apiVersion, clusters, contexts, "
                                     "users), found a list"]


def test_in_cluster_config_without_kubeconfig(tmp_path, monkeypatch):
    from kubectl_ascend.kube import config

    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (sa / "namespace").write_text("mindx-dl")
    monkeypatch.setattr(config, "SA_DIR", str(sa))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    info = read_kubeconfig(None, None)
    assert (info.server, info.namespace, info.in_cluster) == ("https://10.96.0.1:443", "mindx-dl", True)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(errors.KubeConfigError, match="no kubeconfig found"):
        read_kubeconfig(None, None)


# -- no credential material on disk ------------------------------------------------------

def _files_containing(root: Path, needle: bytes) -> list[Path]:
    hits = []
    for p in root.rglob("*"):
        try:
            if p.is_file() and needle in p.read_bytes():
                hits.append(p)
        except OSError:
            pass
    return hits


@pytest.mark.parametrize("source", ["data-fields", "exec-plugin"])
def test_no_credential_file_survives_kill_9(tmp_path, api, pki, source):
    api.routes["/version"] = lambda h, s: (time.sleep(30), (200, {}, {"gitVersion": "v0"}))[1]
    if source == "data-fields":
        user = {"client-certificate-data": pki["bob"].b64("cert"), "client-key-data": pki["bob"].b64("key")}
    else:
        script = _exec_plugin(tmp_path, {"clientCertificateData": pki["bob"].cert_pem.decode(),
                                         "clientKeyData": pki["bob"].key_pem.decode()})
        user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                         "args": [str(script)], "interactiveMode": "Never"}}
    kc = simple_kc(tmp_path / "kc", api, pki, user)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "TMP": str(tmpdir), "TEMP": str(tmpdir)}
    before = len(api.seen)
    p = subprocess.Popen([sys.executable, "-m", "kubectl_ascend", "--kubeconfig", str(kc), "version"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(api.seen) == before and time.monotonic() < deadline:  # wait until it is mid-request
            time.sleep(0.05)
        assert len(api.seen) > before and api.seen[-1].client_cn == "bob"
        key_line = pki["bob"].key_pem.splitlines()[1]
        fds = Path(f"/proc/{p.pid}/fd")
        assert not _files_containing(tmpdir, key_line)
        # the key is held in an anonymous memory file of the process (no directory entry anywhere)
        assert any("memfd:" in os.readlink(fds / fd) for fd in os.listdir(fds))
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert not _files_containing(tmpdir, pki["bob"].key_pem.splitlines()[1])
    assert not list(tmpdir.iterdir())


def test_as_flags_work_after_the_subcommand_and_as_group_needs_as(capsys):
    from kubectl_ascend import cli
    from kubectl_ascend.commands import _common

    assert _common.hoist_global_options(["status", "--as", "jane", "--as-group", "g1", "--as-group=g2"]) == \
        ["--as", "jane", "--as-group", "g1", "--as-group=g2", "status"]
    with pytest.raises(SystemExit) as e:
        cli.main(["status", "--as-group", "g1"])
    assert e.value.code == 2 and "--as-group needs --as" in capsys.readouterr().err


def test_answer_that_is_not_json(tmp_path, api, pki):
    api.routes["/html"] = lambda h, s: (200, {}, b"<html>hello</html>")
    kc = simple_kc(tmp_path, api, pki, {"token": "t"})
    with pytest.raises(errors.AscendError, match="probe: the answer from https://127.0.0.1:.* is not JSON"):
        call(kc, "/html")
