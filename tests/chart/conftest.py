"""Fixtures shared by the chart tests."""
from __future__ import annotations

import pytest

from tests.tooling import CHARTS, build_chart_deps


@pytest.fixture(scope="session")
def umbrella_deps() -> None:
    """charts/ascend-stack with its file:// dependencies packaged (once per session)."""
    build_chart_deps(CHARTS / "ascend-stack")
