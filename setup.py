"""Ship the Helm charts inside the wheel: a pip-installed plugin must not need the checkout."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCharts(build_py):
    def run(self):
        super().run()
        src = Path(__file__).resolve().parent / "charts"
        dst = Path(self.build_lib) / "kubectl_ascend" / "charts"
        if src.is_dir():
            # a build/ left by an earlier build may hold charts files removed since
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst,
                            ignore=shutil.ignore_patterns("*.tgz", "Chart.lock", "__pycache__"))


setup(cmdclass={"build_py": BuildPyWithCharts})
