"""Every chart's values.yaml and values.schema.json name the same keys.

Scenarios, for each chart under charts/ (new charts are picked up):
- every leaf of values.yaml (a scalar, a list, an empty map) has a schema:
  a property at that path, or a free-form map above it (additionalProperties
  true or a schema for the values of a map such as nodeSelector, resources);
- every leaf property of the schema is in values.yaml, or is an optional key
  that values.yaml shows commented out (the charts leave optional keys
  commented out rather than inventing defaults), or is an umbrella-only key listed in
  UMBRELLA_ONLY, or a field of a Kubernetes API object in KUBERNETES_OBJECTS
  (each with its reason);
- the walkers themselves find a path missing on either side (so an empty
  walk cannot pass).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tooling import CHARTS

pytestmark = pytest.mark.unit

# A library chart (ascend-common) has no values of its own: nothing to check.
CHART_DIRS = sorted(p.parent for p in CHARTS.glob("*/values.yaml")
                    if "\ntype: library" not in (p.parent / "Chart.yaml").read_text())

# Schema keys that are set from outside the chart and so have no default here.
UMBRELLA_ONLY = {
    # the ascend-stack umbrella sets `<chart>.enabled` through its dependency
    # condition; a chart installed alone never reads it
    "enabled",
}

# Library chart dependencies: helm keeps every dependency's values under its
# name, a library's too (only the globals for ascend-common), so the schema of
# a chart with additionalProperties false must allow the key; values.yaml has
# nothing to set there.
LIBRARY_DEPENDENCIES = {"ascend-common"}

# Values that are a Kubernetes API object passed through to the manifest: the
# schema types the object's fields after the API (core/v1 ResourceRequirements:
# requests, limits, claims; apps/v1 DaemonSetUpdateStrategy: type, rollingUpdate
# with maxUnavailable and maxSurge), values.yaml sets only the fields it needs.
KUBERNETES_OBJECTS = {"resources", "initResources", "updateStrategy"}


def value_leaves(values: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of values.yaml leaves: scalars, lists and empty maps."""
    if isinstance(values, dict) and values:
        out: list[tuple[str, ...]] = []
        for k, v in values.items():
            out += value_leaves(v, (*prefix, str(k)))
        return out
    return [prefix]


def schema_leaves(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of schema properties that declare no properties of their own."""
    props = schema.get("properties")
    if not props:
        return [prefix] if prefix else []
    out: list[tuple[str, ...]] = []
    for k, sub in props.items():
        out += schema_leaves(sub, (*prefix, k))
    return out


def _free_form(schema: dict[str, Any]) -> bool:
    """A map whose keys the chart does not own (labels, resources, rawConfig...)."""
    extra = schema.get("additionalProperties", True if not schema.get("properties") else False)
    return extra is not False


def schema_covers(schema: dict[str, Any], path: tuple[str, ...]) -> bool:
    node = schema
    for key in path:
        props = node.get("properties") or {}
        if key in props:
            node = props[key]
        elif _free_form(node) and node.get("type") in ("object", None) and props is not None:
            return True
        else:
            return False
    return True


def missing_in_schema(values: Any, schema: dict[str, Any]) -> list[str]:
    return [".".join(p) for p in value_leaves(values) if p and not schema_covers(schema, p)]


def _has_path(values: Any, path: tuple[str, ...]) -> bool:
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def missing_in_values(values: Any, schema: dict[str, Any], values_text: str) -> list[str]:
    commented = set(re.findall(r"^\s*#\s*([A-Za-z][\w-]*):", values_text, re.M))
    out = []
    for path in schema_leaves(schema):
        if _has_path(values, path) or path[-1] in commented:
            continue
        if len(path) == 1 and path[0] in UMBRELLA_ONLY | LIBRARY_DEPENDENCIES:
            continue
        if any(key in KUBERNETES_OBJECTS for key in path[:-1]):
            continue
        out.append(".".join(path))
    return out


def _load(chart: Path) -> tuple[Any, dict[str, Any], str]:
    text = (chart / "values.yaml").read_text()
    return yaml.safe_load(text) or {}, json.loads((chart / "values.schema.json").read_text()), text


def test_there_are_charts_to_check():
    assert len(CHART_DIRS) >= 6, CHART_DIRS
    for chart in CHART_DIRS:
        assert (chart / "values.schema.json").is_file(), f"{chart.name} has no values.schema.json"


@pytest.mark.parametrize("chart", CHART_DIRS, ids=lambda p: p.name)
def test_every_value_has_a_schema(chart: Path):
    values, schema, _ = _load(chart)
    assert value_leaves(values), f"{chart.name}: no values found"
    missing = missing_in_schema(values, schema)
    assert not missing, f"{chart.name}: values.yaml keys without a schema property: {missing}"


@pytest.mark.parametrize("chart", CHART_DIRS, ids=lambda p: p.name)
def test_every_schema_property_is_in_values(chart: Path):
    values, schema, text = _load(chart)
    assert schema_leaves(schema), f"{chart.name}: no schema properties found"
    missing = missing_in_values(values, schema, text)
    assert not missing, (f"{chart.name}: schema properties neither in values.yaml nor shown commented out "
                         f"there: {missing}")


def test_the_walkers_see_a_difference_either_way():
    schema = {"type": "object", "additionalProperties": False, "properties": {
        "image": {"type": "object", "additionalProperties": False, "properties": {"tag": {"type": "string"}}},
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        "typed": {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}},
        "extra": {"type": "string"},
        "resources": {"type": "object", "properties": {"limits": {"type": "object"}}},
    }}
    values = {"image": {"tag": "v1", "tga": "x"}, "nodeSelector": {"a": "b"}, "typed": {}, "unknown": 1}
    assert missing_in_schema(values, schema) == ["image.tga", "unknown"]
    assert missing_in_values(values, schema, "typed: {}\n") == ["typed.a", "extra"]
    assert missing_in_values(values, schema, "typed: {}\n# extra: y\n") == ["typed.a"]


# -- types: every value of values.yaml has a type its schema allows ------------------------------------

def json_type(value: Any) -> str:
    """The JSON Schema type of a YAML value (an integer is also a number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The types a schema allows (its own `type`, or the union of its anyOf/oneOf branches); None: any."""
    declared = schema.get("type")
    if declared is not None:
        return {declared} if isinstance(declared, str) else set(declared)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        union: set[str] = set()
        for b in branches:
            t = _types(b)
            if t is None:
                return None
            union |= t
        return union
    return None


def type_mismatches(values: Any, schema: dict[str, Any], path: tuple[str, ...] = (),
                    checked: list[str] | None = None) -> list[str]:
    """Values whose type the schema at their path does not allow, as `path: value type, schema types`
    (checked, when given, collects every path whose type was compared)."""
    allowed = _types(schema)
    have = json_type(values)
    if allowed is not None and checked is not None:
        checked.append(".".join(path))
    if allowed is not None and not (have in allowed or (have == "integer" and "number" in allowed)):
        return [f"{'.'.join(path) or '(root)'}: {have}, schema allows {'|'.join(sorted(allowed))}"]
    out: list[str] = []
    if isinstance(values, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in values.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            if sub is not None:
                out += type_mismatches(v, sub, (*path, str(k)), checked)
    elif isinstance(values, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(values):
            out += type_mismatches(v, schema["items"], (*path, str(i)), checked)
    return out


@pytest.mark.parametrize("chart", CHART_DIRS, ids=lambda p: p.name)
def test_every_value_has_a_type_its_schema_allows(chart: Path):
    values, schema, _ = _load(chart)
    checked: list[str] = []
    assert type_mismatches(values, schema, checked=checked) == [], \
        f"{chart.name}: values.yaml and values.schema.json disagree"
    # every leaf the key walk found covered by a typed property is compared too
    leaves = {".".join(p) for p in value_leaves(values) if p}
    assert len(leaves & set(checked)) >= len(leaves) // 2, f"{chart.name}: too few values had their type checked"


def test_the_type_walker_sees_a_wrong_type():
    schema = {"type": "object", "properties": {
        "port": {"type": "integer"}, "ratio": {"type": "number"}, "name": {"type": ["string", "null"]},
        "mode": {"anyOf": [{"type": "string"}, {"type": "boolean"}]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "list": {"type": "array", "items": {"type": "integer"}}}}
    good = {"port": 1, "ratio": 2, "name": None, "mode": True, "labels": {"a": "b"}, "list": [1, 2]}
    assert type_mismatches(good, schema) == []
    bad = {"port": "80", "ratio": "x", "name": 3, "mode": 1.5, "labels": {"a": 1}, "list": [1, "2"]}
    assert type_mismatches(bad, schema) == [
        "port: string, schema allows integer", "ratio: string, schema allows number",
        "name: integer, schema allows null|string", "mode: number, schema allows boolean|string",
        "labels.a: integer, schema allows string", "list.1: string, schema allows integer"]
