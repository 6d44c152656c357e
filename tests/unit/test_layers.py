"""The layering of the package (docs/architecture.md: a thin CLI over a real library, one door per dependency).

Reads every module's imports (top level and inside functions) with `ast`:
- library modules (kubectl_ascend/*.py but cli.py and __main__.py, and kubectl_ascend/kube/*.py) import no
  click and nothing of the CLI;
- only the kube/ package imports the kubernetes client (and urllib3), only helm.py imports pyhelm3;
- nothing imports kubectl_ascend.cli but __main__.py (commands get their plumbing from commands/_common.py);
- the rules see imports at all (a module known to import click is found).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "kubectl_ascend"
CLI_MODULES = {"cli.py", "__main__.py"}


def imports(path: Path) -> set[str]:
    """Every module name imported anywhere in the file (`from a.b import c` gives a.b and a.b.c)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def modules() -> dict[str, set[str]]:
    return {p.relative_to(PACKAGE).as_posix(): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def uses(names: set[str], top: str) -> bool:
    return any(n == top or n.startswith(top + ".") for n in names)


def library() -> dict[str, set[str]]:
    return {m: names for m, names in modules().items()
            if ("/" not in m or m.startswith("kube/")) and m not in CLI_MODULES}


def test_the_rules_see_imports():
    mods = modules()
    assert uses(mods["cli.py"], "click") and uses(mods["commands/_common.py"], "click")
    assert uses(mods["kube/credentials.py"], "kubernetes") and uses(mods["helm.py"], "pyhelm3")
    assert uses(mods["__main__.py"], "kubectl_ascend.cli")
    assert {"install.py", "status.py", "doctor.py", "mindie.py", "kubeapi.py", "kube/client.py"} <= set(library())


def test_library_modules_import_no_click_and_no_cli():
    offenders = {m: sorted(n for n in names if uses({n}, "click") or uses({n}, "kubectl_ascend.commands")
                           or uses({n}, "kubectl_ascend.cli"))
                 for m, names in library().items()}
    assert {m: n for m, n in offenders.items() if n} == {}


def test_one_module_per_door():
    """The kubernetes client and its transport (urllib3) are used under kube/ only, pyhelm3 in helm.py only."""
    doors = {"kubernetes": "kube/", "urllib3": "kube/", "pyhelm3": "helm.py"}
    for top, door in doors.items():
        users = sorted(m for m, names in modules().items() if uses(names, top))
        assert users and all(m == door or (door.endswith("/") and m.startswith(door)) for m in users), \
            f"{top} imported by {users}"


def test_kube_package_files_stay_small():
    """kube/ keeps one concern per file (docs/architecture.md); a file past ~400 lines holds two."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in (PACKAGE / "kube").glob("*.py")}
    assert {"config.py", "credentials.py", "client.py", "errors.py", "watching.py", "resources.py"} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_nothing_imports_the_root_command_module_but_main():
    users = sorted(m for m, names in modules().items() if uses(names, "kubectl_ascend.cli"))
    assert users == ["__main__.py"]


def test_no_test_file_imports_another_test_file_or_conftest():
    """Shared test data and helpers live in helper modules (tests/clusters.py, tests/labeldata.py, ...)."""
    tests = PACKAGE.parent / "tests"
    offenders = {}
    for path in sorted(tests.rglob("*.py")):
        bad = sorted(n for n in imports(path) if n.startswith("tests.") and (
            n.rsplit(".", 1)[-1].startswith("test_") or n.rsplit(".", 1)[-1] == "conftest"))
        if bad:
            offenders[path.relative_to(tests).as_posix()] = bad
    assert offenders == {}
