"""hack/cluster.sh and hack/mind-cluster.sh refuse bad starts with one clear line, before doing anything.

Scenarios: a fresh clone (hack/ copied to an empty tree, no .venv, a python3 without
the plugin package) running `hack/cluster.sh up` is told to run `make dev` and no
cluster directory is created; `--operator` / `--clusterd` take only the documented
modes; `hack/mind-cluster.sh build` without MIND_CLUSTER_SRC, or with a directory that
is neither a git repository with the pinned tags nor a mind-cluster source tree, names
what to set; `path` of a binary never built says how to build it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tooling import REPO_ROOT

pytestmark = pytest.mark.unit


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    """hack/ alone in a new tree: what a clone looks like before `make dev` (no .venv, no package)."""
    root = tmp_path / "clone"
    shutil.copytree(REPO_ROOT / "hack", root / "hack",
                    ignore=shutil.ignore_patterns("*-build", "__pycache__"))
    return root


def _run(root: Path, tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    cache = tmp_path / "cache"
    # a PATH whose python3 has no kubectl_ascend: the system one, never the project venv
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    return subprocess.run(["bash", *argv], cwd=root, capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
                               "PATH": path, "KUBECTL_ASCEND_CACHE": str(cache), "ASCEND_CLUSTER": "fresh", **env})


def test_fresh_clone_cluster_up_says_make_dev(fresh_clone, tmp_path):
    probe = subprocess.run(["python3", "-I", "-c", "import kubectl_ascend"], capture_output=True,
                           env={"PATH": "/usr/bin:/bin"})
    assert probe.returncode != 0, "this test needs a system python3 without kubectl_ascend installed"
    proc = _run(fresh_clone, tmp_path, "hack/cluster.sh", "up")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: the kubectl_ascend package is not installed for python3: run 'make dev' in {fresh_clone} first"]
    assert "No module named" not in proc.stderr
    assert not (tmp_path / "cache" / "kwok").exists()


@pytest.mark.parametrize("args, message", [
    (("--operator", "fake"), "error: --operator must be emulated, real or none, not 'fake'"),
    (("--clusterd", "emulated"), "error: --clusterd must be real or none, not 'emulated'"),
])
def test_cluster_up_refuses_unknown_controller_modes(tmp_path, args, message):
    proc = _run(REPO_ROOT, tmp_path, "hack/cluster.sh", "up", *args)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [message]
    assert not (tmp_path / "cache" / "kwok").exists()


def test_mind_cluster_build_names_the_source_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MIND_CLUSTER_SRC"}
    proc = subprocess.run(["bash", "hack/mind-cluster.sh", "build"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**env, "KUBECTL_ASCEND_CACHE": str(tmp_path / "cache")}, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: MIND_CLUSTER_SRC is not set: point it at a "
                                                           "mind-cluster checkout or git mirror")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _run(REPO_ROOT, tmp_path, "hack/mind-cluster.sh", "build", MIND_CLUSTER_SRC=str(empty))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f"error: MIND_CLUSTER_SRC={empty} has no component/ascend-operator"
    assert not list((tmp_path / "cache" / "mind-cluster").glob("ascend-operator-*/ascend-operator"))


def test_mind_cluster_path_of_unbuilt_binary_says_how_to_build(tmp_path):
    proc = _run(REPO_ROOT, tmp_path, "hack/mind-cluster.sh", "path", "clusterd")
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and line.endswith(
        "is not built: run MIND_CLUSTER_SRC=<mind-cluster checkout> hack/mind-cluster.sh build")
