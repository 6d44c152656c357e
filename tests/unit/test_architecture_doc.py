"""docs/architecture.md names only paths that exist.

Scenarios: every repository path the page names (kubectl_ascend/..., charts/...,
hack/..., tests/..., bench/..., docs/...; `*` and `<name>` match anything) exists;
every bare module or script name in backticks (`stack.py`) exists somewhere in
the checkout; the page names a reasonable number of paths (an extraction that
finds nothing cannot pass); a made-up path is reported.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tooling import REPO_ROOT

pytestmark = pytest.mark.unit

DOC = REPO_ROOT / "docs" / "architecture.md"
PATH_RE = re.compile(r"(?<![\w/.-])((?:kubectl_ascend|charts|hack|tests|bench|docs|krew)/[\w./*<>-]*)")
BARE_RE = re.compile(r"`([\w-]+\.(?:py|sh|yaml|json|md|gotmpl))`")


def named_paths(text: str) -> list[str]:
    return sorted({m.rstrip(".") for m in PATH_RE.findall(text)})


def missing(text: str, root: Path) -> list[str]:
    out = []
    for p in named_paths(text):
        pattern = re.sub(r"<[^>]+>", "*", p).rstrip("/") or p
        if not list(root.glob(pattern)):
            out.append(p)
    skip = {".git", ".venv", "node_modules"}
    files = {f.name for f in root.rglob("*") if not skip & set(f.relative_to(root).parts)}
    out += [name for name in sorted(set(BARE_RE.findall(text))) if name not in files]
    return out


def test_every_path_in_the_architecture_page_exists():
    text = DOC.read_text()
    assert len(named_paths(text)) >= 20, named_paths(text)
    assert missing(text, REPO_ROOT) == []


def test_a_made_up_path_is_reported():
    text = "see `kubectl_ascend/nothere.py`, `charts/<name>/values.yaml` and `nothere.sh`."
    assert missing(text, REPO_ROOT) == ["kubectl_ascend/nothere.py", "nothere.sh"]


def test_the_page_shows_every_module_of_the_kube_package():
    """The Kubernetes door is a package; the page lists each of its files, so a new one is described."""
    named = set(named_paths(DOC.read_text()))
    files = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "kubectl_ascend" / "kube").glob("*.py"))
    assert len(files) >= 6
    assert [f for f in files if f not in named] == []
