"""The repository stands alone: nothing it ships or tests cites design notes kept outside it.

Domain facts live in docs/domain.md and the chart READMEs; a reference to a file that
is not in the repository (a design note, a style guide, a sibling directory) is a
dead link for every reader of the project.
"""
from __future__ import annotations

import re
import subprocess

from tests.tooling import REPO_ROOT

OUTSIDE = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared/")


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
        offenders += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not offenders, "cites notes outside the repository (move the facts to docs/):\n" + "\n".join(offenders)
