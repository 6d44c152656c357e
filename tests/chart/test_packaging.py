"""The wheel carries the charts: a pip-installed plugin must not need the git checkout.

Scenarios: `pip wheel .` produces a wheel whose kubectl_ascend/charts/ holds
every chart file of charts/ (byte for byte), without packaged dependency
archives; the console script entry point is declared.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.tooling import CHARTS, REPO_ROOT

pytestmark = pytest.mark.chart


def test_wheel_ships_every_chart_file(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(REPO_ROOT)], check=True, capture_output=True, text=True)
    wheel = next(tmp_path.glob("kubectl_ascend-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = {n.removeprefix("kubectl_ascend/charts/"): zf.read(n) for n in names
                   if n.startswith("kubectl_ascend/charts/")}
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "kubectl-ascend = kubectl_ascend.cli:main" in zf.read(entry).decode()
    expected = {str(p.relative_to(CHARTS)): p.read_bytes() for p in CHARTS.rglob("*")
                if p.is_file() and p.suffix != ".tgz" and p.name != "Chart.lock"
                and "ascend-stack/charts" not in str(p)}
    assert set(shipped) == set(expected)
    for name, data in expected.items():
        assert shipped[name] == data, name
    assert not any(n.endswith(".tgz") for n in shipped)
