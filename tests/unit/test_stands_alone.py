"""The repository stands alone: nothing it ships or tests cites design notes kept outside it.

Domain facts live in docs/domain.md and the chart READMEs; a reference to a file that
is not in the repository (a design note, a style guide, a sibling directory) is a
dead link for every reader of the project.
"""
from __future__ import annotations

import re
import subprocess

from tests.tooling import REPO_ROOT

#: Design notes and style guides by file name or by name ("STYLE: ...", "see DESIGN"), the sibling
#: directory they live in, and absolute paths of a development machine.
OUTSIDE = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared/|\b(?:DESIGN|STYLE)\b|/work/(?:shared|main|wt)\b")
#: A section sign cites a section of some document: the document must be named just before it
#: (RFC 5280 §4.1, docs/domain.md §2), else it is a section of a note the reader does not have.
SECTION = re.compile(r"§")
NAMED_SECTION = re.compile(r"(?:RFC ?\d+|[\w./-]+\.(?:md|txt|go|py|yaml|json|html)|KEP-?\d+)\s*§")


def cites_outside(line: str) -> bool:
    return bool(OUTSIDE.search(line)) or len(SECTION.findall(line)) > len(NAMED_SECTION.findall(line))


def test_the_rules_catch_notes_outside_and_bare_sections():
    caught = ["see DESIGN.md", "(STYLE: leave keys commented out)", "as DESIGN says", "../shared/notes",
              "/work/shared/x", "what the operator needs (§3.5)", "RFC 5280 §4.1 and §3.5"]
    allowed = ["RFC 5280 §4.1", "docs/domain.md §2", "crd_deployment_design.md", "design", "STYLE_SHEET = 1"]
    assert [line for line in caught if not cites_outside(line)] == []
    assert [line for line in allowed if cites_outside(line)] == []


def test_no_file_cites_notes_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert len(tracked) > 100, "git ls-files found too few files to be this repository"
    this = "tests/unit/test_stands_alone.py"
    offenders = []
    for name in tracked:
        path = REPO_ROOT / name
        if name == this or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if cites_outside(line)]
    assert not offenders, "cites notes outside the repository (move the facts to docs/):\n" + "\n".join(offenders)
