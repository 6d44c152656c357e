"""The README table "What Huawei's 26.1 charts do / what ascend-stack does" stays true.

Reads the table's rows: every component the issue names is listed; the
`covered` column is yes / partly / no; every covered row names either a chart
`charts/<name>` that exists and is a dependency of the ascend-stack umbrella
(with `condition: <name>.enabled`), or a plugin command `kubectl ascend <cmd>`
that the CLI registers; an uncovered row names nothing; and every umbrella
dependency is claimed by some row.
"""
from __future__ import annotations

import re

import yaml

from kubectl_ascend.cli import LAZY_COMMANDS, cli
from tests.tooling import CHARTS, REPO_ROOT

HEADING = "### What Huawei's 26.1 charts do / what ascend-stack does"
REQUIRED = {"Device Plugin", "Volcano", "ClusterD", "NodeD", "NPU Exporter", "Ascend Operator", "Infer Operator",
            "RDMA device plugin", "Docker Runtime", "node labels", "MindIE"}


def rows() -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text()
    assert HEADING in text
    lines = text.split(HEADING, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([c.strip() for c in line.strip().strip("|").split("|")])
    header, sep, *body = table
    assert header == ["component", "Huawei 26.1 Helm tool", "covered", "ascend-stack"]
    assert set("".join(sep)) <= {"-"}
    return body


def umbrella_deps() -> dict[str, dict]:
    chart = yaml.safe_load((CHARTS / "ascend-stack" / "Chart.yaml").read_text())
    # the components: conditional dependencies (not the ascend-common helper library)
    return {d["name"]: d for d in chart["dependencies"] if d.get("condition")}


def test_table_lists_every_component() -> None:
    names = [r[0] for r in rows()]
    assert len(names) == len(set(names))
    assert REQUIRED <= set(names), REQUIRED - set(names)


def test_covered_rows_have_a_chart_or_command() -> None:
    deps = umbrella_deps()
    commands = set(LAZY_COMMANDS) | set(cli.commands)
    claimed = set()
    for name, _huawei, covered, ours in rows():
        assert covered in ("yes", "partly", "no"), name
        charts = re.findall(r"`charts/([a-z0-9-]+)`", ours)
        cmds = re.findall(r"`kubectl ascend ([a-z-]+)", ours)
        if covered == "no":
            assert not charts and not cmds, f"{name}: not covered but names {charts or cmds}"
            continue
        assert charts or cmds, f"{name}: covered ({covered}) but names no chart or command"
        for ch in charts:
            assert (CHARTS / ch / "Chart.yaml").is_file(), f"{name}: charts/{ch} does not exist"
            assert ch in deps, f"{name}: charts/{ch} is not a dependency of ascend-stack"
            assert deps[ch]["condition"] == f"{ch}.enabled"
            claimed.add(ch)
        for cmd in cmds:
            assert cmd in commands, f"{name}: kubectl ascend {cmd} is not a command"
    assert claimed == set(deps), f"umbrella dependencies missing from the table: {set(deps) - claimed}"
