"""The wheel carries the charts: a pip-installed plugin must not need the git checkout.

Scenarios: `pip wheel .` produces a wheel whose kubectl_ascend/charts/ holds
every chart file of charts/ (byte for byte, the ascend-common library
included), without packaged dependency archives; the console script entry
point is declared; the plugin unpacked from the wheel (no checkout on its
path) builds the umbrella's dependencies bottom-up and the result renders.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest

import yaml

from tests.tooling import CHARTS, REPO_ROOT, need_tool, run

pytestmark = pytest.mark.chart


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO_ROOT)], check=True, capture_output=True, text=True)
    return next(out.glob("kubectl_ascend-*.whl"))


def test_wheel_ships_every_chart_file(wheel):
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


def test_unpacked_wheel_builds_and_renders_the_umbrella(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    # -S: no site-packages .pth files, so the editable install of the checkout is not
    # importable; the dependencies come from the venv's site-packages after the wheel.
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{sysconfig.get_paths()['purelib']}",
           "KUBECTL_ASCEND_CACHE": str(tmp_path / "cache"), "HELM_BIN": need_tool("helm")}
    code = ("import json, kubectl_ascend.helm as h; "
            "print(json.dumps([h.__file__, h.Helm().prepare_chart(None)]))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    module, chart = json.loads(proc.stdout.strip().splitlines()[-1])
    assert module.startswith(str(site)), module
    assert chart.startswith(str(tmp_path / "cache")), chart
    out = run([need_tool("helm"), "template", "rel", chart, "--set", "ascend-noded.enabled=true",
               "--set", "ascend-npu-exporter.enabled=true"]).stdout
    objs = [o for o in yaml.safe_load_all(out) if o]
    names = {o["metadata"].get("labels", {}).get("app.kubernetes.io/name") for o in objs}
    assert {"ascend-device-plugin", "ascend-volcano", "ascend-operator", "ascend-noded",
            "ascend-npu-exporter", "ascend-stack"} <= names
