"""Helpers shared by the benchmarks: a dedicated local cluster, timing, medians, reporting."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tooling import need_tool  # noqa: E402  (puts the pinned tools on PATH)

CLUSTER = os.environ.get("ASCEND_BENCH_CLUSTER", "bench")


def sh(*cmd: str, env: dict[str, str] | None = None, check: bool = True,
       cwd: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd)
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return proc


def cluster_up(*args: str) -> str:
    """Start (or reuse) the benchmark cluster; return its kubeconfig."""
    out = sh("bash", str(REPO / "hack" / "cluster.sh"), "up", *args, env={"ASCEND_CLUSTER": CLUSTER})
    return out.stdout.strip().splitlines()[-1]


def cluster_down() -> None:
    sh("bash", str(REPO / "hack" / "cluster.sh"), "down", env={"ASCEND_CLUSTER": CLUSTER}, check=False)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def report(title: str, rows: list[tuple[str, float, float]], baseline: str, ours: str) -> None:
    """rows: (case, baseline seconds, our seconds). Ratio = baseline / ours (>1: we are faster)."""
    print(f"\n{title}")
    print(f"{'case':<28}{baseline + ' (s)':>22}{ours + ' (s)':>24}{'speed-up':>10}")
    for case, b, o in rows:
        print(f"{case:<28}{b:>22.3f}{o:>24.3f}{b / o:>9.2f}x")


def plugin_cmd() -> list[str]:
    """The plugin as users run it: the console script of a regular (non-editable) `pip install .`.

    Built once into bench/.venv-installed and rebuilt when a package file is newer.
    """
    venv = REPO / "bench" / ".venv-installed"
    exe = venv / "bin" / "kubectl-ascend"
    sources = [p.stat().st_mtime for p in (REPO / "kubectl_ascend").rglob("*.py")]
    if not exe.exists() or exe.stat().st_mtime < max(sources):
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(REPO)],
                       check=True)
        exe.touch()
    return [str(exe)]


__all__ = ["need_tool", "sh", "cluster_up", "cluster_down", "timed", "median", "report", "plugin_cmd", "REPO"]
