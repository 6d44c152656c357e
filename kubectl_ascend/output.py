"""Render results: text tables for people, JSON/YAML for scripts. Results go to stdout."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable, Sequence

FORMATS = ("text", "json", "yaml")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A kubectl-style table: upper-case headers, columns padded with three spaces."""
    cells = [[str(h).upper() for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def emit(data: Any, fmt: str, text: Callable[[Any], str] | None = None) -> None:
    """Print `data` as JSON/YAML, or through `text` for the text format."""
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    elif fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    else:
        out = text(data) if text else str(data)
        if out:
            sys.stdout.write(out.rstrip("\n") + "\n")


def warn(msg: str) -> None:
    """A warning on stderr, kubectl style."""
    sys.stderr.write(f"warning: {msg}\n")


def info(msg: str) -> None:
    """Progress or a note on stderr (keeps stdout clean for -o json)."""
    sys.stderr.write(msg + "\n")


#: How many names a one-line summary shows before "and N more" (the full list: -o json or -v).
SUMMARY_NAMES = 5


def first_few(names: Sequence[str], limit: int = SUMMARY_NAMES) -> str:
    """`a, b, c` or `a, b, c, d, e and 7 more`: a short list for one-line messages."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
