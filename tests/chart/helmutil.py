"""Render charts with the real helm binary and return parsed objects."""
from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.contract.mindie_reader import check_release
from tests.tooling import CHARTS, ensure_chart_deps, need_tool, run


def _values_args(values: dict[str, Any] | None, sets: list[str] | None) -> tuple[list[str], Any]:
    args: list[str] = []
    tmp = None
    if values:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(values, tmp)
        tmp.close()
        args += ["-f", tmp.name]
    for s in sets or []:
        args += ["--set", s]
    return args, tmp


#: libyaml's loader when PyYAML was built with it (the pure-Python one took half the chart layer's CPU).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Finished renders by their arguments: many tests render the same values, and a chart does not
#: change during a run. Each caller gets its own deep copy, so a test may change what it got.
_RENDERS: dict[str, list[dict[str, Any]]] = {}


def load_all(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a helm output."""
    return [d for d in yaml.load_all(text, Loader=_Loader) if d]


def template(chart: str | Path, values: dict[str, Any] | None = None, *, release: str = "rel",
             namespace: str = "default", kube_version: str | None = None,
             sets: list[str] | None = None, extra: list[str] | None = None,
             check: bool = True):
    """Run `helm template`; return the CompletedProcess."""
    helm = need_tool("helm")
    chart_path = Path(chart)
    if not chart_path.is_absolute():
        chart_path = CHARTS / chart_path
    if (chart_path / "Chart.yaml").is_file():
        ensure_chart_deps(chart_path)
    args, tmp = _values_args(values, sets)
    cmd = [helm, "template", release, str(chart_path), "--namespace", namespace, *args]
    if kube_version:
        cmd += ["--kube-version", kube_version]
    cmd += extra or []
    try:
        return run(cmd, check=check)
    finally:
        if tmp:
            Path(tmp.name).unlink(missing_ok=True)


def render(chart: str | Path, values: dict[str, Any] | None = None, **kw) -> list[dict[str, Any]]:
    """Render a chart and return its objects (empty documents dropped).

    Every render holding a MindIE release goes through the MindIE contract
    check (tests/contract/mindie_reader.py): a render MindIE or the Ascend
    Operator would read wrongly fails the test that made it."""
    key = json.dumps([str(chart), values, kw], sort_keys=True, default=str)
    if key not in _RENDERS:
        objs = load_all(template(chart, values, **kw).stdout)
        problems = check_release(objs)
        assert not problems, "MindIE contract violated:\n  " + "\n  ".join(problems)
        _RENDERS[key] = objs
    return copy.deepcopy(_RENDERS[key])


def render_error(chart: str | Path, values: dict[str, Any] | None = None, **kw) -> str:
    """Render a chart that must fail; return helm's stderr."""
    proc = template(chart, values, check=False, **kw)
    assert proc.returncode != 0, f"expected helm template to fail, it rendered:\n{proc.stdout[:2000]}"
    return proc.stderr


def find(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objs if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]


def one(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(objs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def lint(chart: str | Path, values: dict[str, Any] | None = None) -> None:
    helm = need_tool("helm")
    chart_path = Path(chart)
    if not chart_path.is_absolute():
        chart_path = CHARTS / chart_path
    ensure_chart_deps(chart_path)
    args, tmp = _values_args(values, None)
    try:
        run([helm, "lint", "--strict", str(chart_path), *args])
    finally:
        if tmp:
            Path(tmp.name).unlink(missing_ok=True)


def assert_structural(node: dict[str, Any], where: str) -> None:
    """Every schema node is typed (or int-or-string); preserve-unknown only on objects."""
    if node.get("x-kubernetes-int-or-string"):
        return
    assert "type" in node, f"{where}: untyped schema node {sorted(node)}"
    if node.get("x-kubernetes-preserve-unknown-fields"):
        assert node["type"] == "object", where
    if "properties" in node:
        assert isinstance(node["properties"], dict) and node["properties"], f"{where}: empty properties"
        for k, child in node["properties"].items():
            assert_structural(child, f"{where}.{k}")
    if isinstance(node.get("additionalProperties"), dict):
        assert_structural(node["additionalProperties"], f"{where}.*")
    if "items" in node:
        assert_structural(node["items"], f"{where}[]")


def triples(rules: list[Any]) -> set[tuple[str, str, str]]:
    out = set()
    for r in rules:
        groups, resources, verbs = (r["apiGroups"], r["resources"], r["verbs"]) if isinstance(r, dict) else r
        out |= {(g, res, v) for g in groups for res in resources for v in verbs}
    return out


def mindcluster_tag(version: str, suffix: str = "") -> str:
    """The image tag of MindCluster components for a release (charts/ascend-common/facts/mindcluster.json)."""
    import json

    rel = json.loads((CHARTS / "ascend-common" / "facts" / "mindcluster.json").read_text())["releases"][version]
    suffix = suffix or rel["defaultOsSuffix"]
    return f"{rel['tag']}-{suffix}" if suffix else rel["tag"]
