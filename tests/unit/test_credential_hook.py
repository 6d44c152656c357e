"""The in-memory credential hook (kubectl_ascend/kube/credentials.py) still has its target.

The hook replaces a private function of the `kubernetes` client's kubeconfig loader
(`kube_config._create_temp_file_with_content`). If a client release renamed it, assigning ours
would change nothing and the loader would write client keys to temp files. These tests fail
loudly then: the pinned client has the function and the loader uses ours for `*-data` fields;
without the target, building a Kube refuses with a clear error instead of writing files; and
setup.cfg pins the client's major version to the one installed.
"""
from __future__ import annotations

import base64
import configparser
import re
import types
from pathlib import Path

import pytest
import yaml

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube, credentials

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PEM = b"-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    for var in ("TMPDIR", "TMP", "TEMP"):
        monkeypatch.setenv(var, str(tmpdir))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    kc = tmp_path / "config"
    kc.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443",
                                               "certificate-authority-data": b64(PEM)}}],
        "users": [{"name": "u", "user": {"client-certificate-data": b64(PEM), "client-key-data": b64(KEY)}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}))
    return kc, tmpdir


def test_the_pinned_client_has_the_hook_target():
    from kubernetes.config import kube_config

    assert callable(getattr(kube_config, credentials.HOOK_TARGET, None)), \
        f"kubernetes.config.kube_config.{credentials.HOOK_TARGET} is gone: credentials would be written to disk"


def test_the_loader_puts_data_fields_in_memory_files(kubeconfig):
    kc, tmpdir = kubeconfig
    cfg = Kube(str(kc))._api.configuration
    for path in (cfg.cert_file, cfg.key_file, cfg.ssl_ca_cert):
        assert re.fullmatch(r"/proc/\d+/fd/\d+", path), path
    assert Path(cfg.key_file).read_bytes() == KEY
    assert list(tmpdir.iterdir()) == []


def test_without_the_hook_target_kube_refuses_instead_of_writing_files(kubeconfig, monkeypatch):
    from kubernetes.config import kube_config

    kc, tmpdir = kubeconfig
    monkeypatch.delattr(kube_config, credentials.HOOK_TARGET)
    with pytest.raises(errors.AscendError, match=f"has no kube_config.{credentials.HOOK_TARGET} to keep "
                                                 "credentials off the disk"):
        Kube(str(kc))
    assert not hasattr(kube_config, credentials.HOOK_TARGET)  # nothing planted that the loader ignores
    assert list(tmpdir.iterdir()) == []


def test_install_refuses_a_loader_without_the_target():
    loader = types.SimpleNamespace(_create_temp_file=lambda *a: "/tmp/x")
    with pytest.raises(errors.AscendError, match="keep credentials off the disk"):
        credentials.install_memory_files(loader)
    assert vars(loader) == {"_create_temp_file": vars(loader)["_create_temp_file"]}


def test_setup_cfg_pins_the_installed_client_major_version():
    import kubernetes

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    [req] = [r.strip() for r in cfg["options"]["install_requires"].splitlines() if r.strip().startswith("kubernetes")]
    m = re.fullmatch(r"kubernetes>=(\d+)\.\d+\.\d+,<(\d+)", req)
    assert m, f"setup.cfg must pin the kubernetes client to one major version, found {req!r}"
    major = int(kubernetes.__version__.split(".")[0])
    assert (int(m.group(1)), int(m.group(2))) == (major, major + 1)
