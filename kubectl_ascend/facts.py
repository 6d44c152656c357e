"""The fact tables shared with the charts: charts/ascend-common/facts/*.json, read once. Pure data.

Each JSON file is the one source of its facts; the charts read the same files
through the ascend-common library chart (`include "ascend-common.facts.<name>"`).
The files ship with the charts (inside the wheel, or charts/ in a checkout).
"""
from __future__ import annotations

import functools
import json
from typing import Any


@functools.lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    """facts/<name>.json of the ascend-common chart as a dict (cached; do not mutate)."""
    from kubectl_ascend.helm import charts_root

    with open(charts_root() / "ascend-common" / "facts" / f"{name}.json", encoding="utf-8") as f:
        table: dict[str, Any] = json.load(f)
    return table


def labels() -> dict[str, Any]:
    """Node label keys and fixed values, chip families, host architectures, server models."""
    return load("labels")


def accelerators() -> dict[str, Any]:
    """NPUs per node and per pod for each accelerator-type; per-family pod limits."""
    return load("accelerators")
