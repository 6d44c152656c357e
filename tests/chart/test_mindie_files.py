"""mindie-service: the files MindIE reads, the user it runs as, and the weight check, run for real.

Scenarios:
- the controller's DIGS model/machine parameter files ship in the release's ConfigMap with
  every key MindIE-Motor's loader requires (RoleManagerInitializer.cpp IsModelParamsValid,
  IsMachineParamsValid), are mounted into the controller only, and ms_controller.json names
  absolute paths of the entrypoint's private copies;
- the rendered controller entrypoint, run with bash as an unprivileged uid against
  root-owned 0444 ConfigMap files, leaves every file ms_controller.json names as a regular
  0640 file of that uid (what FileToJsonObj(path, 0640) with the owner check accepts) and
  starts the controller in its package directory: the mindie_motor package directory in
  the new layout (found as Python imports it), MIES_INSTALL_PATH in the old one, as
  upstream's boot.sh does;
- no uid/gid is forced by default (pods run as the image's user), a uid set in values
  reaches every pod; ConfigMap volumes are world-readable (0444);
- the check-weights init container: same image and security context as the server, the
  weight volume read-only, WEIGHTS_DIR = model.path, MINDIE_CHECK_INPUTFILES_PERMISSION
  passed on from extraEnv, gone with model.checkPermissions=false; its script, extracted
  from the render and run with bash as another uid on temporary directories, accepts what
  MindIE-LLM accepts (owner, owner's group as primary group, root) and refuses, naming the
  fix, a directory of another owner, a world-writable directory or file, an unreadable file
  and a missing directory; MINDIE_CHECK_INPUTFILES_PERMISSION=0 turns it off.

Running as another uid needs root (setpriv), as the project's test machines run.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.chart.helmutil import find, one, render
from tests.chart.mindie_values import CHART, FULL, pd_values, values
from tests.contract.mindie_reader import VCJOB, _as_workload

pytestmark = pytest.mark.chart

RUNNER = 4242  # the unprivileged uid/gid the scripts run as
OTHER = 4343   # an owner that is not the runner
MODEL_KEYS = {"hidden_size", "initializer_range", "intermediate_size", "max_position_embeddings",
              "num_attention_heads", "num_hidden_layers", "num_key_value_heads", "torch_dtype"}
MACHINE_KEYS = {"BW_GB", "BW_RDMA_Gb", "BWeff", "TFLOPS", "TFLOPSeff", "MBW_TB", "MBW_TBeff", "alpha",
                "MEMCapacity", "eta_OOM", "staticTransferDelay"}


def as_user(uid: int, gid: int) -> list[str]:
    """Command prefix running a process as uid/gid with no supplementary groups."""
    assert os.geteuid() == 0, "these tests create files of other owners and run as another uid: run them as root"
    if uid == 0:
        return []
    return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A temporary directory the unprivileged runner can reach (pytest's own sits under a 0700 root
    dir): in the first of $TMPDIR, /var/tmp, /dev/shm whose every ancestor others may traverse."""
    def reachable(path: Path) -> bool:
        return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])

    base = next(Path(b) for b in (tempfile.gettempdir(), "/var/tmp", "/dev/shm") if reachable(Path(b)))
    d = Path(tempfile.mkdtemp(prefix="mindie-files-", dir=base))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def containers(obj: dict[str, Any], init: bool = False) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"].get("initContainers" if init else "containers") or []


def script(c: dict[str, Any]) -> str:
    assert c["command"][:2] == ["/bin/sh", "-c"]
    return c["command"][2]


# --- DIGS files (item: the controller cannot load its DIGS configs) ---------------------------------

@pytest.fixture(scope="module")
def pd_objs() -> list[dict[str, Any]]:
    return render(CHART, pd_values())


def test_digs_files_ship_in_the_configmap_with_every_key_the_loader_reads(pd_objs) -> None:
    data = one(pd_objs, "ConfigMap", f"{FULL}-config")["data"]
    model, machine = json.loads(data["digs_model_config.json"]), json.loads(data["digs_machine_config.json"])
    assert set(model) == MODEL_KEYS and set(machine) == MACHINE_KEYS
    # strings, as MindIE-Motor's own files carry them; numbers the loader's stod takes, in range
    assert model.pop("torch_dtype") in ("float16", "bfloat16")
    assert all(isinstance(v, str) and float(v) > 0 for v in [*model.values(), *machine.values()])
    assert all(float(machine[k]) <= 1 for k in ("BWeff", "TFLOPSeff", "MBW_TBeff", "eta_OOM"))
    ctrl = json.loads(data["ms_controller.json"])
    assert ctrl["digs_model_config_path"] == "/var/run/mindie/digs_model_config.json"
    assert ctrl["digs_machine_config_path"] == "/var/run/mindie/digs_machine_config.json"
    controller = one(pd_objs, "Deployment", f"{FULL}-controller")
    items = next(v for v in controller["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    assert {i["key"] for i in items["configMap"]["items"]} == {
        "ms_controller.json", "http_client_ctl.json", "digs_model_config.json", "digs_machine_config.json"}
    coordinator = one(pd_objs, "Deployment", f"{FULL}-coordinator")
    assert "digs_model_config" not in script(containers(coordinator)[0])


def test_digs_values_override_and_are_validated() -> None:
    objs = render(CHART, pd_values(controller={"digs": {"modelConfig": {"hidden_size": 4096,
                                                                        "torch_dtype": "bfloat16"}}}))
    model = json.loads(one(objs, "ConfigMap", f"{FULL}-config")["data"]["digs_model_config.json"])
    assert model["hidden_size"] == "4096" and model["torch_dtype"] == "bfloat16"
    assert model["num_hidden_layers"] == "80"


def _run_entrypoint(objs: list[dict[str, Any]], workload: str, tmp: Path, layout: str,
                    command: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run WORKLOAD's entrypoint with bash as RUNNER: ConfigMap files root-owned 0444 (as the kubelet
    writes them without fsGroup), the run dir an emptyDir (0777), a stand-in MindIE on PATH that
    reports its working directory and checks the files its config names the way FileToJsonObj does."""
    w = next(o for o in objs if o.get("kind") in ("Deployment", "StatefulSet", VCJOB)
             and o["metadata"]["name"] == workload)
    c = containers(w)[0]
    cfg_dir, run_dir, bin_dir, site = tmp / "config", tmp / "run", tmp / "bin", tmp / "site"
    for d in (cfg_dir, run_dir, bin_dir, site):
        d.mkdir()
    run_dir.chmod(0o777)
    data = one(objs, "ConfigMap", f"{FULL}-config")["data"]
    vol = next(v for v in w["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")["configMap"]
    for item in vol["items"]:
        f = cfg_dir / item["path"]
        f.write_text(data[item["key"]].replace("/var/run/mindie", str(run_dir)))
        f.chmod(vol["defaultMode"])
    install = tmp / "install"
    checker = textwrap.dedent("""\
        #!/usr/bin/env python3
        import json, os, stat, sys
        print("cwd=" + os.getcwd())
        print("MIES_INSTALL_PATH=" + os.environ.get("MIES_INSTALL_PATH", ""))
        cfg = json.load(open(os.environ["MINDIE_MS_CONTROLLER_CONFIG_FILE_PATH"]))
        for key, path in sorted(cfg.items()):
            if not key.endswith("_path") or key == "global_rank_table_file_path":
                continue
            st = os.lstat(path)
            ok = (os.path.isabs(path) and stat.S_ISREG(st.st_mode) and not st.st_mode & ~0o100640 & 0o7777
                  and st.st_uid == os.getuid())
            print(f"{key} ok={ok} mode={oct(st.st_mode & 0o7777)} uid={st.st_uid}")
        """)
    if layout == "new":
        pkg = site / "mindie_motor"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        target = bin_dir / command
    else:
        (install / "bin").mkdir(parents=True)
        target = install / "bin" / command.replace("mindie_motor_", "ms_")
    target.write_text(checker)
    target.chmod(0o755)
    for p in (tmp, site, install):
        if p.exists():
            p.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(site), "MIES_INSTALL_PATH": str(install),
           "MINDX_SERVER_IP": "10.0.0.1", "POD_IP": "10.1.0.5", "HOME": str(tmp)}
    env.update({e["name"]: e["value"].replace("/var/run/mindie", str(run_dir))
                for e in c["env"] if "value" in e and e["name"] not in env})
    body = script(c).replace("/etc/mindie/config", str(cfg_dir)).replace("/var/run/mindie", str(run_dir))
    proc = subprocess.run([*as_user(RUNNER, RUNNER), "bash", "-c", body], env=env, cwd="/",
                          capture_output=True, text=True, timeout=60)
    return proc, site / "mindie_motor" if layout == "new" else install


@pytest.mark.parametrize("layout", ["new", "old"])
def test_controller_entrypoint_leaves_digs_files_it_owns_and_starts_in_the_package_dir(tmp_path, layout) -> None:
    objs = [_as_workload(o) for o in render(CHART, pd_values(clusterd={"enabled": True}))]
    proc, pkg = _run_entrypoint(objs, f"{FULL}-controller", tmp_path, layout, "mindie_motor_controller")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert f"cwd={pkg}" in out and f"MIES_INSTALL_PATH={pkg}" in out, proc.stdout
    checked = {line.split()[0]: line for line in out if "_path ok=" in line}
    assert set(checked) == {"digs_model_config_path", "digs_machine_config_path"}, proc.stdout
    for line in checked.values():
        assert f"ok=True mode=0o640 uid={RUNNER}" in line, line


# --- uid/gid (item: pods forced to uid/gid 1000) ----------------------------------------------------

def test_no_uid_or_gid_forced_in_any_pod_and_a_set_one_reaches_every_pod() -> None:
    for objs in (render(CHART, values()), render(CHART, pd_values())):
        for w in find(objs, "Deployment") + find(objs, "StatefulSet"):
            sec = w["spec"]["template"]["spec"]["securityContext"]
            assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(sec), w["metadata"]["name"]
            for v in w["spec"]["template"]["spec"]["volumes"]:
                if "configMap" in v:
                    assert v["configMap"]["defaultMode"] == 0o444, (w["metadata"]["name"], v["name"])
    objs = render(CHART, pd_values(podSecurityContext={"runAsUser": 1001, "runAsGroup": 1001}))
    for w in find(objs, "Deployment") + find(objs, "StatefulSet"):
        sec = w["spec"]["template"]["spec"]["securityContext"]
        assert (sec["runAsUser"], sec["runAsGroup"]) == (1001, 1001), w["metadata"]["name"]


# --- the check-weights init container ---------------------------------------------------------------

def test_check_weights_init_container_shape() -> None:
    objs = render(CHART, values(extraEnv=[{"name": "MINDIE_CHECK_INPUTFILES_PERMISSION", "value": "0"},
                                          {"name": "OTHER", "value": "x"}]))
    dep = one(objs, "Deployment", FULL)
    (init,) = containers(dep, init=True)
    main = containers(dep)[0]
    assert init["name"] == "check-weights" and init["image"] == main["image"]
    assert init["securityContext"] == main["securityContext"]
    assert init["volumeMounts"] == [{"name": "model", "mountPath": "/data", "readOnly": True}]
    assert init["env"] == [{"name": "WEIGHTS_DIR", "value": "/data/qwen2.5-7b"},
                           {"name": "MINDIE_CHECK_INPUTFILES_PERMISSION", "value": "0"}]
    assert "huawei.com/Ascend910" not in init["resources"]["limits"]
    for w in find(render(CHART, pd_values()), "StatefulSet"):
        assert [c["name"] for c in containers(w, init=True)] == ["check-weights"]
    assert not containers(one(render(CHART, values(model={"checkPermissions": False})), "Deployment", FULL),
                          init=True)


@pytest.fixture(scope="module")
def check_script() -> str:
    (init,) = containers(one(render(CHART, values()), "Deployment", FULL), init=True)
    return script(init)


def _weights(tmp: Path, owner: int, group: int, dir_mode: int = 0o750, file_mode: int = 0o640) -> Path:
    d = tmp / "weights"
    d.mkdir()
    for name in ("config.json", "model-00001.safetensors"):
        (d / name).write_text("{}")
        os.chown(d / name, owner, group)
        (d / name).chmod(file_mode)
    os.chown(d, owner, group)
    d.chmod(dir_mode)
    tmp.chmod(0o755)
    return d


def _check(script_text: str, weights: Path, uid: int = RUNNER, gid: int = RUNNER,
           **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*as_user(uid, gid), "bash", "-c", script_text],
                          env={"PATH": "/usr/bin:/bin", "WEIGHTS_DIR": str(weights), **env},
                          capture_output=True, text=True, timeout=60, cwd="/")


@pytest.mark.parametrize("owner, group, dir_mode, file_mode, uid", [
    (RUNNER, RUNNER, 0o750, 0o640, RUNNER),   # the owner
    (OTHER, RUNNER, 0o750, 0o640, RUNNER),    # the owner's group is the runner's primary group
    (OTHER, OTHER, 0o755, 0o644, 0),          # root is exempt
], ids=["owner", "primary-group", "root"])
def test_check_weights_accepts_what_mindie_accepts(check_script, tmp_path, owner, group, dir_mode,
                                                    file_mode, uid) -> None:
    proc = _check(check_script, _weights(tmp_path, owner, group, dir_mode, file_mode), uid=uid, gid=uid)
    assert proc.returncode == 0, proc.stderr
    assert "acceptable to MindIE" in proc.stdout


@pytest.mark.parametrize("owner, group, dir_mode, file_mode, needles", [
    (OTHER, OTHER, 0o755, 0o644, [f"is owned by uid {OTHER} gid {OTHER}, but MindIE runs as uid {RUNNER}",
                                  f"fix: on the node, chown -R {RUNNER}:{RUNNER} the weight directory, or set "
                                  f"podSecurityContext.runAsUser/runAsGroup to {OTHER}/{OTHER}"]),
    (RUNNER, RUNNER, 0o777, 0o640, ["weights is writable by others (mode 777)", "fix: on the node, chmod -R o-w"]),
    (RUNNER, RUNNER, 0o755, 0o646, ["config.json is writable by others (mode 646)", "chmod -R o-w"]),
    (RUNNER, RUNNER, 0o750, 0o040, ["config.json is not readable by uid", "chmod -R u+rX,g+rX"]),
], ids=["not-owned", "world-writable-dir", "world-writable-file", "unreadable"])
def test_check_weights_refuses_with_the_fix(check_script, tmp_path, owner, group, dir_mode, file_mode,
                                            needles) -> None:
    proc = _check(check_script, _weights(tmp_path, owner, group, dir_mode, file_mode))
    assert proc.returncode == 1, proc.stdout
    assert "error: MindIE would refuse the weights in" in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_check_weights_missing_dir_and_switch_off(check_script, tmp_path) -> None:
    tmp_path.chmod(0o755)
    proc = _check(check_script, tmp_path / "absent")
    assert proc.returncode == 1 and "set model.path to the weight directory" in proc.stderr
    weights = _weights(tmp_path, OTHER, OTHER, 0o777, 0o666)
    assert _check(check_script, weights).returncode == 1
    off = _check(check_script, weights, MINDIE_CHECK_INPUTFILES_PERMISSION="0")
    assert off.returncode == 0 and "not checked" in off.stdout, off.stderr
    assert stat.S_IMODE(weights.stat().st_mode) == 0o777


def test_notes_name_the_check_weights_log() -> None:
    from tests.chart.mindie_values import notes

    assert "kubectl -n llm logs <pod> -c check-weights" in notes(values())
    assert "check-weights" not in notes(values(model={"checkPermissions": False}))
