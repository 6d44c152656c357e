"""Ship the Helm charts inside the wheel: a pip-installed plugin must not need the checkout.

build_py copies charts/ into kubectl_ascend/charts (the sources: facts, READMEs, `--chart`
users' reference) and packages the installable charts with their file:// dependencies built
in (`helm dependency build`, bottom-up, then `helm package`) into kubectl_ascend/packaged/
<chart>.tgz: `kubectl ascend install` and `images` use those archives as they are and build
nothing at run time. Building a wheel needs helm (HELM_BIN, PATH, or the toolchain cache of
`make tools`); an editable install (`make dev`) packages nothing and builds from charts/.
"""
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: The charts shipped packaged: the umbrella install takes, and mindie-service (`images --mindie`).
PACKAGED = ("ascend-stack", "mindie-service")


def helm_binary():
    cache = os.environ.get("KUBECTL_ASCEND_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "kubectl-ascend")
    for cand in (os.environ.get("HELM_BIN"), shutil.which("helm"), os.path.join(cache, "bin", "helm")):
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("error: building the wheel packages the charts with helm, which is not on PATH; set HELM_BIN "
             "or run `make tools`")


def package_charts(src, dest):
    """Package each chart of PACKAGED, its file:// dependencies built bottom-up, as DEST/<chart>.tgz."""
    sys.path.insert(0, str(HERE))
    from kubectl_ascend.helm import dependency_order  # the order install and hack/chart-deps.sh use

    helm = helm_binary()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubectl-ascend-build-") as tmp:
        work = Path(tmp) / "charts"
        shutil.copytree(src, work, ignore=shutil.ignore_patterns("*.tgz", "Chart.lock", "__pycache__"))
        for chart in dependency_order(*(work / name for name in PACKAGED)):
            subprocess.run([helm, "dependency", "build", str(chart), "--skip-refresh"], check=True,
                           stdout=subprocess.DEVNULL)
        for name in PACKAGED:
            out = Path(tmp) / "out" / name
            subprocess.run([helm, "package", str(work / name), "--destination", str(out)], check=True,
                           stdout=subprocess.DEVNULL)
            [archive] = out.glob(f"{name}-*.tgz")
            reproducible(archive, dest / f"{name}.tgz")


def reproducible(src, dst):
    """helm's archive rewritten byte-for-byte reproducible (hack/dist.sh promises a reproducible wheel):
    members sorted, one mtime (SOURCE_DATE_EPOCH, else 1980-01-01), no owner names, gzip without a
    timestamp, and the `generated:` time of each Chart.lock set to that mtime."""
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH") or 315532800)
    stamp = datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with tarfile.open(src) as tf:
        members = sorted(((m, tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()),
                         key=lambda x: x[0].name)
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member, data in members:
            member.mtime, member.uid, member.gid, member.uname, member.gname = mtime, 0, 0, "", ""
            member.pax_headers = {}
            if data is not None and member.name.endswith("/Chart.lock"):
                data = re.sub(rb"(?m)^generated: .*$", b"generated: \"" + stamp + b"\"", data)
            if data is not None:
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    Path(dst).write_bytes(raw.getvalue())


class BuildPyWithCharts(build_py):
    def run(self):
        super().run()
        src = HERE / "charts"
        pkg = Path(self.build_lib) / "kubectl_ascend"
        if src.is_dir():
            # a build/ left by an earlier build may hold charts files removed since
            shutil.rmtree(pkg / "charts", ignore_errors=True)
            shutil.rmtree(pkg / "packaged", ignore_errors=True)
            shutil.copytree(src, pkg / "charts",
                            ignore=shutil.ignore_patterns("*.tgz", "Chart.lock", "__pycache__"))
            if not getattr(self, "editable_mode", False):
                package_charts(src, pkg / "packaged")


setup(cmdclass={"build_py": BuildPyWithCharts})
