"""Module docstrings name only what exists.

A module docstring that names a function (`plan_labels`) the module no longer has sends the
reader looking for it. Every lower-case identifier a module docstring puts in backticks must
be defined somewhere in the package (function, class, module-level name) or appear as a word
in one of the module's own string literals (a JSON key or label the code reads, such as
`server_id`) or be an upstream name listed in UPSTREAM; names written in CamelCase are not
checked. The scanner is shown to
catch a docstring that names a missing function.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "kubectl_ascend"
NAMED = re.compile(r"`([a-z_][a-z0-9_]*)(?:\(\))?`")
#: Lower-case names of things outside this package that module docstrings cite, each with its source.
UPSTREAM = {
    "add_helm_meta": "Ascend/mind-cluster helm-deploy-tool/build/helm_tool.sh function",
    "delete_old_device_plugin": "Ascend/mind-cluster helm-deploy-tool/build/helm_tool.sh function",
    "multi_node_infer_enable": "MindIE ms_controller.json key",
    "initializing": "MindIE ranktable status value",
    "accelerator": "MindCluster node label",
    "servertype": "MindCluster node label",
    "_get_inventory": "mindie-motor 3.0.0b2 motor/controller/api_server/controller_api.py handler",
    "collect_inventory": "mindie-motor 3.0.0b2 motor/controller/observability/inventory/inventory_collector.py",
    "readiness_check": "mindie-motor 3.0.0b2 motor/coordinator/api_server/management_server.py handler",
    "compatible_version": "CANN toolkit version.info key",
    "hccn_tool": "Huawei's Ascend HDK network tool",
}


def defined_names() -> set[str]:
    out: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.name)
            elif isinstance(node, ast.Assign):
                out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                out.add(node.target.id)
            elif isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
    return out | set(UPSTREAM)


def unknown_names(source: str, defined: set[str]) -> list[str]:
    tree = ast.parse(source)
    doc = ast.get_docstring(tree) or ""
    words = {w for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and node.value.strip() != doc.strip() for w in re.findall(r"\w+", node.value)}
    return sorted({n for n in NAMED.findall(doc) if n not in defined and n not in words})


def test_every_module_docstring_names_what_exists():
    defined = defined_names()
    found = {p.relative_to(PACKAGE).as_posix(): unknown_names(p.read_text(), defined)
             for p in sorted(PACKAGE.rglob("*.py"))}
    assert {m: names for m, names in found.items() if names} == {}


def test_the_scanner_catches_a_missing_function():
    source = '"""`plan_labels` turns a Node into labels; `diff` compares; `plan_node` exists."""\nX = "server_id"\n'
    assert unknown_names(source, defined_names()) == ["diff", "plan_labels"]
