"""Registry and repository values are image-reference parts, nothing else (values.schema.json patterns).

`global.imageRegistry`, every `image.registry` and every `image.repository` of every chart
go into pod specs and into the image list people mirror from: `x;rm -rf /`, a newline or an
escape sequence there is refused by the schema (helm template fails naming the key), while
the forms registries really take pass: host, host:port, IPv4, [IPv6]:port, with path
(distribution/reference's grammar: domain[:port], then lower-case path components).

Scenarios, for each chart (new charts are picked up): the schema paths are found by
walking the schema (so a new image field cannot be missed), every one carries the pattern,
each hostile value is refused at every path in one render, good values render.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.chart.helmutil import template
from tests.chart.mindie_values import values as mindie_values
from tests.tooling import CHARTS

pytestmark = pytest.mark.chart

CHART_DIRS = sorted(p.parent for p in CHARTS.glob("*/values.schema.json"))
FIELDS = ("imageRegistry", "registry", "repository")
HOSTILE = ["x;rm -rf /", "registry.local\nevil", "registry\x1b[2J.local", "$(reboot)", "a b/c", "reg:5000/Path"]
GOOD = {"registry": ["registry.local", "registry.local:5000", "10.0.0.5:5000/mirror/ascend", "[fd00::1]:5000",
                     "localhost:5000", ""],
        "repository": ["ascendhub/clusterd", "mirror.local:5000/ascendhub/clusterd", "a__b/c-d.e", "pause"]}


def image_paths(schema: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every property path ending in imageRegistry/registry/repository whose schema is a string."""
    out = []
    for key, sub in (schema.get("properties") or {}).items():
        if key in FIELDS and sub.get("type") == "string":
            out.append((*path, key))
        out += image_paths(sub, (*path, key))
    return out


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc.setdefault(key, {})
    doc[path[-1]] = value


def _base(chart: str) -> dict[str, Any]:
    """Values a chart needs to render at all (docker-runtime has no default image: Huawei ships a .run)."""
    if chart == "mindie-service":
        return mindie_values()
    if chart == "ascend-docker-runtime":
        return {"image": {"repository": "ascend/docker-runtime-installer", "tag": "v1"}}
    return {}


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=[p.name for p in CHART_DIRS])
def test_every_image_field_has_the_pattern(chart_dir):
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    paths = image_paths(schema)
    assert ("global", "imageRegistry") in paths or chart_dir.name == "mindie-service", paths
    for path in paths:
        node = schema
        for key in path:
            node = node["properties"][key]
        pattern = node.get("pattern")
        assert pattern, f"{'.'.join(path)} has no pattern"
        kind = "repository" if path[-1] == "repository" else "registry"
        for good in GOOD[kind]:
            assert re.fullmatch(pattern, good), (path, good)
        for bad in HOSTILE:
            assert not re.fullmatch(pattern, bad), (path, bad)


@pytest.mark.parametrize("bad", HOSTILE[:3], ids=["shell", "newline", "escape"])
@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=[p.name for p in CHART_DIRS])
def test_helm_refuses_hostile_values_at_every_image_field(chart_dir, bad, umbrella_deps):
    paths = image_paths(json.loads((chart_dir / "values.schema.json").read_text()))
    values = _base(chart_dir.name)
    for path in paths:
        _set(values, path, bad)
    proc = template(chart_dir.name, values, check=False)
    assert proc.returncode != 0 and proc.stdout == "", proc.stdout[:300]
    for path in paths:
        assert f"/{'/'.join(path)}'" in proc.stderr, (path, proc.stderr)
    assert "does not match pattern" in proc.stderr, proc.stderr


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=[p.name for p in CHART_DIRS])
def test_good_registry_values_render(chart_dir, umbrella_deps):
    values = _base(chart_dir.name)
    _set(values, ("global", "imageRegistry"), "[fd00::1]:5000/mirror")
    proc = template(chart_dir.name, values, check=False)
    assert proc.returncode == 0, proc.stderr
    if chart_dir.name != "mindie-service":  # its images are full references of their own
        assert "image: [fd00::1]:5000/mirror/" in proc.stdout.replace('"', "")
