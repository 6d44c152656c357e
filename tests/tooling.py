"""Locate the pinned tools built by hack/tools.sh and run them.

Shared by every test layer. Under CI=true a missing tool is a failure, not a
skip: a test skipped in CI counts as not written.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHARTS = REPO_ROOT / "charts"


def _versions() -> dict[str, str]:
    out = {}
    for line in (REPO_ROOT / "hack" / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


VERSIONS = _versions()


def tools_bin() -> Path:
    cache = os.environ.get("KUBECTL_ASCEND_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "kubectl-ascend"
    )
    return Path(cache) / "bin"


# Put the pinned tools first on PATH so `helm`, `kubectl`, `kwokctl` resolve to them.
os.environ["PATH"] = f"{tools_bin()}{os.pathsep}{os.environ.get('PATH', '')}"


def need_tool(name: str) -> str:
    """Return the path of a pinned tool; fail under CI and `make test` (which installs every tool first,
    ASCEND_TEST_STRICT=1), skip elsewhere when missing."""
    path = shutil.which(name)
    if path:
        return path
    msg = f"{name} not found in {tools_bin()} or PATH; run `make tools`"
    if os.environ.get("CI") == "true" or os.environ.get("ASCEND_TEST_STRICT") == "1":
        pytest.fail(msg)
    pytest.skip(msg)
    raise AssertionError("unreachable")


def run(cmd: list[str], *, check: bool = True, input: str | None = None,
        env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; raise with stderr on failure when check."""
    proc = subprocess.run(cmd, capture_output=True, text=True, input=input,
                          env={**os.environ, **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def build_chart_deps(chart: Path) -> None:
    """Package a chart's file:// dependencies into its charts/ directory (offline), bottom-up.

    The dependencies' own dependencies first (the component charts need the
    ascend-common library before the umbrella packages them), in the order the
    plugin uses (kubectl_ascend.helm.dependency_order). `helm dependency update`
    rather than `build`: it rewrites Chart.lock from Chart.yaml, so a lock left in
    the checkout by an earlier run (before a dependency was added) does not fail
    the tests.
    """
    from kubectl_ascend.helm import dependency_order

    for c in dependency_order(chart):
        run([need_tool("helm"), "dependency", "update", str(c), "--skip-refresh"])


_DEPS_BUILT: set[Path] = set()


def ensure_chart_deps(chart: Path) -> None:
    """build_chart_deps, once per test process for each chart directory that has dependencies."""
    chart = chart.resolve()
    if chart in _DEPS_BUILT or "\ndependencies:" not in (chart / "Chart.yaml").read_text():
        return
    build_chart_deps(chart)
    _DEPS_BUILT.add(chart)


@functools.lru_cache(maxsize=1)
def pymotor_python() -> str:
    """The python of the pinned mindie-motor venv (hack/pymotor.sh; `make dev` installs it, this installs it
    on first use if it is missing)."""
    proc = run([str(REPO_ROOT / "hack" / "pymotor.sh"), "python"], timeout=1800)
    return proc.stdout.strip().splitlines()[-1]
