"""Render-and-assert tests of charts/ascend-docker-runtime, and its script.

Scenarios:
- no image.repository / no tag: validations.yaml refuses with a sentence;
- with the user's image: DaemonSet ascend-docker-runtime-installer
  (component docker-runtime, name + instance selector, accelerator Exists
  affinity, NPU taint tolerations, hostPID), privileged init container with
  the host root, restart command as args, env from values; unprivileged
  non-root pause container; script ConfigMap and checksum; restart off;
  global registry (both images) and pull secrets; schema refusals; lint;
- files/install.sh run against a fake host root: containerd 1.x (v2) config
  gets the runtime and the default, a second run changes nothing and does
  not restart; containerd 2.x (v3, single quotes, no [containerd] table);
  setAsDefault false; missing config / missing runtime files / unsupported
  version fail with a message; base.list written (and backed up); uninstall
  restores the config and base.list from the backups;
- the real `containerd config default` of containerd 1.x (Debian package,
  config version 2) and 2.x (built by hack/tools.sh, version 3) with
  SystemdCgroup = true: the installer edits it both ways (runc in place, as
  upstream; a cloned runtime) and the real `containerd config dump --config
  FILE` parses every edited file and shows BinaryName and SystemdCgroup.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

from tests.chart.helmutil import lint, one, render, render_error
from tests.tooling import CHARTS, need_tool

pytestmark = pytest.mark.chart

CHART = "ascend-docker-runtime"
IMAGE = {"image": {"repository": "registry.example.com/ascend/ascend-docker-runtime", "tag": "v26.0.0"}}
SCRIPT = CHARTS / CHART / "files" / "install.sh"


def merged(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"image": dict(IMAGE["image"])}
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


def test_refuses_without_user_image() -> None:
    err = render_error(CHART)
    assert "image.repository is empty" in err
    assert "needs YOUR image" in err
    err = render_error(CHART, {"image": {"repository": "registry.example.com/adr"}})
    assert "image.tag (or image.digest) is empty" in err


def test_daemonset() -> None:
    objs = render(CHART, IMAGE)
    ds = one(objs, "DaemonSet", "ascend-docker-runtime-installer")
    assert ds["metadata"]["namespace"] == "kube-system"
    assert ds["metadata"]["labels"]["app.kubernetes.io/component"] == "docker-runtime"
    assert ds["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mindcluster"
    assert ds["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "ascend-docker-runtime", "app.kubernetes.io/instance": "rel"}
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] is True
    assert spec["automountServiceAccountToken"] is False
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"] == [{"matchExpressions": [{"key": "accelerator", "operator": "Exists"}]}]
    assert [t["key"] for t in spec["tolerations"]] == [
        "CriticalAddonsOnly", "huawei.com/Ascend910", "huawei.com/Ascend310", "huawei.com/Ascend310P",
        "huawei.com/npu"]
    (init,) = spec["initContainers"]
    assert init["image"] == "registry.example.com/ascend/ascend-docker-runtime:v26.0.0"
    assert init["securityContext"] == {"privileged": True, "runAsUser": 0}
    assert init["command"] == ["/bin/sh", "/installer/install.sh"]
    assert init["args"] == ["chroot", "/host", "systemctl", "restart", "containerd"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {
        "HOST_ROOT": "/host",
        "SOURCE_DIR": "/ascend-docker-runtime",
        "INSTALL_DIR": "/usr/local/Ascend/Ascend-Docker-Runtime",
        "CONTAINERD_CONFIG": "/etc/containerd/config.toml",
        "RUNTIME_NAME": "runc",
        "SET_AS_DEFAULT": "true",
        "CONFIG_VERSION": "auto",
        "RESTART": "true",
        "BASE_LIST": "/usr/local/Ascend/driver/lib64\n/usr/local/Ascend/driver/include\n/usr/local/dcmi\n"
                     "/usr/local/bin/npu-smi\n/var/queue_schedule",
        "UNINSTALL": "false",
    }
    assert {m["mountPath"] for m in init["volumeMounts"]} == {"/installer", "/host"}
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["host-root"]["hostPath"] == {"path": "/", "type": "Directory"}
    assert vols["installer"]["configMap"]["name"] == "ascend-docker-runtime-installer"
    (pause,) = spec["containers"]
    assert pause["image"] == "registry.k8s.io/pause:3.10"
    sc = pause["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65535
    assert sc["allowPrivilegeEscalation"] is False and "privileged" not in sc
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "volumeMounts" not in pause
    cm = one(objs, "ConfigMap", "ascend-docker-runtime-installer")
    assert cm["data"]["install.sh"] == SCRIPT.read_text()
    assert len(ds["spec"]["template"]["metadata"]["annotations"]["checksum/script"]) == 64


def test_base_list_content_and_uninstall_values() -> None:
    (init,) = one(render(CHART, merged(baseList={"product": "server", "content": "/a\n/b\n"}, uninstall=True)),
                  "DaemonSet")["spec"]["template"]["spec"]["initContainers"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert (env["BASE_LIST"], env["UNINSTALL"]) == ("/a\n/b", "true")


def test_restart_off_and_options() -> None:
    vals = merged(restart={"enabled": False, "command": []}, hostPID=False,
                  containerd={"setAsDefault": False, "configVersion": 3, "runtimeName": "npu"},
                  installDir="/opt/ascend-runtime", namespace="npu-runtime")
    ds = one(render(CHART, vals), "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert init["args"] == []
    env = {e["name"]: e["value"] for e in init["env"]}
    assert (env["RESTART"], env["SET_AS_DEFAULT"], env["CONFIG_VERSION"], env["RUNTIME_NAME"],
            env["INSTALL_DIR"]) == ("false", "false", "3", "npu", "/opt/ascend-runtime")
    assert spec["hostPID"] is False
    assert ds["metadata"]["namespace"] == "npu-runtime"


def test_restart_enabled_needs_command() -> None:
    err = render_error(CHART, merged(restart={"enabled": True, "command": []}))
    assert "restart.command is empty" in err


def test_global_registry_and_pull_secrets() -> None:
    vals = merged(**{"global": {"imageRegistry": "mirror:5000", "imagePullSecrets": ["regcred"]}})
    spec = one(render(CHART, vals), "DaemonSet")["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == \
        "mirror:5000/registry.example.com/ascend/ascend-docker-runtime:v26.0.0"
    assert spec["containers"][0]["image"] == "mirror:5000/pause:3.10"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]


def test_user_registry_field() -> None:
    vals = {"image": {"registry": "reg.local", "repository": "ascend/adr", "tag": "v26.0.0"}}
    spec = one(render(CHART, vals), "DaemonSet")["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "reg.local/ascend/adr:v26.0.0"


def test_labels_on_every_object() -> None:
    for o in render(CHART, IMAGE):
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "docker-runtime"
        assert labels["app.kubernetes.io/part-of"] == "mindcluster"
        assert labels["app.kubernetes.io/instance"] == "rel"


@pytest.mark.parametrize("vals, needle", [
    (merged(containerd={"configVersion": 1}), "configVersion"),
    (merged(containerd={"runtime": "docker"}), "runtime"),
    (merged(restart={"enabled": "yes", "command": []}), "enabled"),
    (merged(instalDir="/x"), "instalDir"),
    (merged(image={"tag": "latest"}), "/image/tag"),
])
def test_schema_rejects(vals: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, vals)


def test_lint_strict() -> None:
    lint(CHART, IMAGE)


# --- files/install.sh against a fake host -----------------------------------

V2 = """version = 2
root = "/var/lib/containerd"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.10"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
"""

V3 = """version = 3
root = '/var/lib/containerd'

[plugins]
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
"""


def run_script(tmp: Path, config: str | None, *, restart: list[str] | None = None,
               **env: str) -> subprocess.CompletedProcess:
    host = tmp / "host"
    (host / "etc/containerd").mkdir(parents=True, exist_ok=True)
    if config is not None and not (host / "etc/containerd/config.toml").exists():
        (host / "etc/containerd/config.toml").write_text(config)
    src = tmp / "src"
    if not src.exists():
        src.mkdir()
        (src / "ascend-docker-runtime").write_text("#!/bin/sh\n")
        (src / "base.list").write_text("/usr/local/Ascend/driver\n")
    base = {
        "HOST_ROOT": str(host), "SOURCE_DIR": str(src), "INSTALL_DIR": "/usr/local/Ascend/Ascend-Docker-Runtime",
        "CONTAINERD_CONFIG": "/etc/containerd/config.toml", "RUNTIME_NAME": "ascend", "SET_AS_DEFAULT": "true",
        "CONFIG_VERSION": "auto", "RESTART": "true", "BASE_LIST": "/usr/local/Ascend/driver/lib64\n/usr/local/dcmi",
    }
    base.update(env)
    marker = tmp / "restarted"
    cmd = ["sh", str(SCRIPT)] + (restart if restart is not None else ["touch", str(marker)])
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **base}, timeout=60)


def load(tmp: Path) -> dict[str, Any]:
    return tomllib.loads((tmp / "host/etc/containerd/config.toml").read_text())


def test_script_configures_containerd_v2_once(tmp_path: Path) -> None:
    proc = run_script(tmp_path, V2)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    cfg = load(tmp_path)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert cfg["default_runtime_name"] == "ascend"
    assert cfg["snapshotter"] == "overlayfs"
    # a copy of the runc entry: its options (SystemdCgroup) survive, plus BinaryName
    assert cfg["runtimes"]["ascend"] == {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"SystemdCgroup": True,
                    "BinaryName": "/usr/local/Ascend/Ascend-Docker-Runtime/ascend-docker-runtime"}}
    assert cfg["runtimes"]["runc"]["options"] == {"SystemdCgroup": True}
    base_list = tmp_path / "host/etc/ascend-docker-runtime.d/base.list"
    assert base_list.read_text() == "/usr/local/Ascend/driver/lib64\n/usr/local/dcmi\n"
    assert oct(base_list.stat().st_mode & 0o777) == "0o640"
    assert (tmp_path / "host/etc/containerd/config.toml.ascend-backup").read_text() == V2
    installed = tmp_path / "host/usr/local/Ascend/Ascend-Docker-Runtime"
    assert sorted(p.name for p in installed.iterdir()) == ["ascend-docker-runtime", "base.list"]
    assert (tmp_path / "restarted").exists()

    # Second run: nothing to change, no restart.
    (tmp_path / "restarted").unlink()
    first = (tmp_path / "host/etc/containerd/config.toml").read_text()
    proc = run_script(tmp_path, V2)
    assert proc.returncode == 0, proc.stderr
    assert "already configured" in proc.stdout
    assert (tmp_path / "host/etc/containerd/config.toml").read_text() == first
    assert not (tmp_path / "restarted").exists()


@pytest.mark.parametrize("version", [3, 4])
def test_script_configures_containerd_v3(tmp_path: Path, version: int) -> None:
    proc = run_script(tmp_path, V3.replace("version = 3", f"version = {version}"))
    assert proc.returncode == 0, proc.stderr
    cri = load(tmp_path)["plugins"]["io.containerd.cri.v1.runtime"]
    assert cri["enable_selinux"] is False
    assert cri["containerd"]["default_runtime_name"] == "ascend"
    assert cri["containerd"]["runtimes"]["ascend"]["options"]["BinaryName"].endswith("/ascend-docker-runtime")
    assert cri["containerd"]["runtimes"]["runc"] == {"runtime_type": "io.containerd.runc.v2"}


def test_script_without_default_and_without_restart(tmp_path: Path) -> None:
    proc = run_script(tmp_path, V2, SET_AS_DEFAULT="false", RESTART="false")
    assert proc.returncode == 0, proc.stderr
    cfg = load(tmp_path)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert cfg["default_runtime_name"] == "runc"
    assert "ascend" in cfg["runtimes"]
    assert "NOT restarted" in proc.stdout
    assert not (tmp_path / "restarted").exists()


@pytest.mark.parametrize("config, env, needle", [
    (None, {}, "/etc/containerd/config.toml not found on the node"),
    ("version = 1\n", {}, "config version 1 is not supported"),
    (V2, {"SOURCE_DIR": "/nonexistent-dir"}, "/nonexistent-dir does not exist in the image"),
])
def test_script_failures(tmp_path: Path, config: str | None, env: dict[str, str], needle: str) -> None:
    proc = run_script(tmp_path, config, **env)
    assert proc.returncode != 0
    assert needle in proc.stdout + proc.stderr


def test_script_runc_in_place_like_upstream(tmp_path: Path) -> None:
    proc = run_script(tmp_path, V2, RUNTIME_NAME="runc")
    assert proc.returncode == 0, proc.stderr
    cfg = load(tmp_path)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert cfg["default_runtime_name"] == "runc"
    assert set(cfg["runtimes"]) == {"runc"}
    assert cfg["runtimes"]["runc"] == {"runtime_type": "io.containerd.runc.v2", "options": {
        "SystemdCgroup": True, "BinaryName": "/usr/local/Ascend/Ascend-Docker-Runtime/ascend-docker-runtime"}}


def test_script_keeps_an_existing_base_list_as_backup_and_uninstall_restores_everything(tmp_path: Path) -> None:
    conf_dir = tmp_path / "host/etc/ascend-docker-runtime.d"
    conf_dir.mkdir(parents=True)
    (conf_dir / "base.list").write_text("/mine\n")
    assert run_script(tmp_path, V2).returncode == 0
    assert (conf_dir / "base.list.ascend-backup").read_text() == "/mine\n"
    assert (conf_dir / "base.list").read_text() != "/mine\n"
    (tmp_path / "restarted").unlink()

    proc = run_script(tmp_path, V2, UNINSTALL="true")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert (tmp_path / "host/etc/containerd/config.toml").read_text() == V2
    assert not (tmp_path / "host/etc/containerd/config.toml.ascend-backup").exists()
    assert (conf_dir / "base.list").read_text() == "/mine\n"
    assert not (conf_dir / "base.list.ascend-backup").exists()
    assert not (tmp_path / "host/usr/local/Ascend/Ascend-Docker-Runtime").exists()
    assert (tmp_path / "restarted").exists()


def test_uninstall_without_base_list_before_removes_it(tmp_path: Path) -> None:
    assert run_script(tmp_path, V2).returncode == 0
    proc = run_script(tmp_path, V2, UNINSTALL="true")
    assert proc.returncode == 0
    assert not (tmp_path / "host/etc/ascend-docker-runtime.d").exists()


# --- the real containerd: its default configs, edited, parsed by `config dump` ---------------

def _real_default(containerd: str) -> str:
    """`containerd config default` with SystemdCgroup = true (what kubeadm setups use)."""
    text = subprocess.run([containerd, "config", "default"], capture_output=True, text=True, check=True).stdout
    assert "SystemdCgroup = false" in text
    return text.replace("SystemdCgroup = false", "SystemdCgroup = true")


def _dump(containerd: str, config: Path) -> dict[str, Any]:
    proc = subprocess.run([containerd, "--config", str(config), "config", "dump"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return tomllib.loads(proc.stdout)


@pytest.mark.parametrize("binary, version, cri", [
    ("containerd", 2, "io.containerd.grpc.v1.cri"),
    ("containerd2", 3, "io.containerd.cri.v1.runtime"),
])
@pytest.mark.parametrize("runtime", ["runc", "ascend"])
def test_real_containerd_parses_the_edited_default_config(tmp_path: Path, binary: str, version: int, cri: str,
                                                          runtime: str) -> None:
    containerd = need_tool(binary)
    default = _real_default(containerd)
    assert tomllib.loads(default)["version"] == version
    proc = run_script(tmp_path, default, RUNTIME_NAME=runtime)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    dumped = _dump(containerd, tmp_path / "host/etc/containerd/config.toml")
    ctr = dumped["plugins"][cri]["containerd"]
    assert ctr["default_runtime_name"] == runtime
    opts = ctr["runtimes"][runtime]["options"]
    assert opts["BinaryName"] == "/usr/local/Ascend/Ascend-Docker-Runtime/ascend-docker-runtime"
    assert opts["SystemdCgroup"] is True
    assert ctr["runtimes"][runtime]["runtime_type"] == "io.containerd.runc.v2"
    assert ctr["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    # everything else is what containerd had before
    before = _dump(containerd, tmp_path / "host/etc/containerd/config.toml.ascend-backup")
    before_ctr = before["plugins"][cri]["containerd"]
    for key in set(before_ctr) - {"default_runtime_name", "runtimes"}:
        assert ctr[key] == before_ctr[key], key
    # uninstall puts the original back, byte for byte
    assert run_script(tmp_path, default, RUNTIME_NAME=runtime, UNINSTALL="true").returncode == 0
    assert (tmp_path / "host/etc/containerd/config.toml").read_text() == default
