"""The wheel carries the charts: a pip-installed plugin must not need the git checkout.

Scenarios: `pip wheel .` produces a wheel whose kubectl_ascend/charts/ holds
every chart file of charts/ (byte for byte, the ascend-common library
included), without packaged dependency archives; the console script entry
point is declared; the wheel also holds the umbrella and mindie-service
packaged by the build (kubectl_ascend/packaged/<chart>.tgz), each archive
with the chart's files as in charts/ and its dependencies built in (the
umbrella: every component, each with ascend-common); the plugin unpacked from
the wheel (no checkout on its path) hands helm those archives, builds nothing
at run time (no cache directory appears), and they render.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from io import BytesIO

import pytest

import yaml

from tests.chart import mindie_values
from tests.tooling import CHARTS, REPO_ROOT, need_tool, run

pytestmark = pytest.mark.chart


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}  # the build's own default mtime
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO_ROOT)], check=True, capture_output=True, text=True, env=env)
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


def _archive(zf: zipfile.ZipFile, name: str) -> dict[str, bytes]:
    with tarfile.open(fileobj=BytesIO(zf.read(f"kubectl_ascend/packaged/{name}.tgz"))) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_wheel_ships_the_packaged_charts_with_their_dependencies(wheel):
    with zipfile.ZipFile(wheel) as zf:
        packaged = sorted(n for n in zf.namelist() if n.startswith("kubectl_ascend/packaged/"))
        assert packaged == ["kubectl_ascend/packaged/ascend-stack.tgz", "kubectl_ascend/packaged/mindie-service.tgz"]
        stack, mindie = _archive(zf, "ascend-stack"), _archive(zf, "mindie-service")
    # the chart's own files, as in charts/ (helm package rewrites Chart.yaml: compared as data; README.md.gotmpl
    # is in .helmignore)
    for name, files in (("ascend-stack", stack), ("mindie-service", mindie)):
        src = {p.relative_to(CHARTS).as_posix(): p.read_bytes() for p in (CHARTS / name).rglob("*")
               if p.is_file() and "charts" not in p.relative_to(CHARTS / name).parts and p.name != "Chart.lock"
               and p.name not in ("Chart.yaml", "README.md.gotmpl") and not p.name.startswith(".")}  # .helmignore
        assert len(src) > 5 and {n: files.get(n) for n in src} == src, name
        chart = yaml.safe_load(files[f"{name}/Chart.yaml"])
        assert chart == {**yaml.safe_load((CHARTS / name / "Chart.yaml").read_text()), **chart}
    # dependencies built in (helm package stores them unpacked under charts/): every dependency of the
    # umbrella's Chart.yaml, each component with the ascend-common library inside, and mindie-service's
    deps = [d["name"] for d in yaml.safe_load((CHARTS / "ascend-stack" / "Chart.yaml").read_text())["dependencies"]]
    built = {n.split("/")[2] for n in stack if n.startswith("ascend-stack/charts/")}
    assert sorted(built) == sorted(deps)
    for dep in set(deps) - {"ascend-common"}:
        assert f"ascend-stack/charts/{dep}/charts/ascend-common/Chart.yaml" in stack, dep
    assert "mindie-service/charts/ascend-common/Chart.yaml" in mindie


def test_packaged_charts_are_reproducible(wheel):
    """hack/dist.sh promises a reproducible wheel: one fixed mtime, no owners, no gzip timestamp, and no
    build time in the Chart.lock files helm writes."""
    with zipfile.ZipFile(wheel) as zf:
        for name in ("ascend-stack", "mindie-service"):
            data = zf.read(f"kubectl_ascend/packaged/{name}.tgz")
            assert data[4:8] == b"\0\0\0\0", name  # gzip MTIME
            with tarfile.open(fileobj=BytesIO(data)) as tf:
                members = tf.getmembers()
                assert [m.name for m in members] == sorted(m.name for m in members)
                assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(315532800, 0, 0, "", "")}
                locks = [tf.extractfile(m).read() for m in members if m.name.endswith("/Chart.lock")]  # type: ignore[union-attr]
            assert locks and all(b'generated: "1980-01-01T00:00:00Z"' in lock for lock in locks), name


def test_unpacked_wheel_renders_the_packaged_charts_without_building(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    # -S: no site-packages .pth files, so the editable install of the checkout is not
    # importable; the dependencies come from the venv's site-packages after the wheel.
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{sysconfig.get_paths()['purelib']}",
           "KUBECTL_ASCEND_CACHE": str(tmp_path / "cache"), "HELM_BIN": need_tool("helm")}
    code = ("import json, kubectl_ascend.helm as h; "
            "print(json.dumps([h.__file__, h.Helm().prepare_chart(None), h.bundled_chart('mindie-service')]))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    module, chart, mindie = json.loads(proc.stdout.strip().splitlines()[-1])
    assert module.startswith(str(site)), module
    assert chart == str(site / "kubectl_ascend" / "packaged" / "ascend-stack.tgz")
    assert mindie == str(site / "kubectl_ascend" / "packaged" / "mindie-service.tgz")
    assert not (tmp_path / "cache").exists()  # nothing was built at run time
    mobjs = [o for o in yaml.safe_load_all(run([need_tool("helm"), "template", "m", mindie, "-f", "-"],
                                               input=json.dumps(mindie_values.BASE)).stdout) if o]
    assert any(o["kind"] == "Deployment" or o["kind"] == "StatefulSet" for o in mobjs)
    out = run([need_tool("helm"), "template", "rel", chart, "--set", "ascend-noded.enabled=true",
               "--set", "ascend-npu-exporter.enabled=true"]).stdout
    objs = [o for o in yaml.safe_load_all(out) if o]
    names = {o["metadata"].get("labels", {}).get("app.kubernetes.io/name") for o in objs}
    assert {"ascend-device-plugin", "ascend-volcano", "ascend-operator", "ascend-noded",
            "ascend-npu-exporter", "ascend-stack"} <= names
