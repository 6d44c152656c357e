"""Render results: text tables for people, JSON/YAML for scripts. Results go to stdout.

Every line this package prints goes through here (tests/unit/test_output.py holds the rule),
so text from the cluster cannot drive the terminal: names, annotations, labels and Event
messages are written by any cluster user, and `ESC]0;title BEL`, `ESC[2J` or a C1 CSI in
them would retitle the terminal, clear it or fake a green `[PASS]`. kubectl guards its own
output the same way: k8s.io/cli-runtime/pkg/printers/terminal.go, EscapeTerminal (kubernetes
issue 101695) turns ESC into `^[` and CR into `\\r`; this module does that and more (every
C0 and C1 control, DEL and the bidirectional overrides), because an Event message is shown
inside our own lines.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any, Callable, Sequence

FORMATS = ("text", "json", "yaml")

#: What kubectl writes for ESC and CR (EscapeTerminal), and the usual backslash forms.
_NAMED = {"\x1b": "^[", "\r": "\\r", "\n": "\\n", "\t": "\\t"}
#: C0 controls, DEL, C1 controls (U+0080-U+009F: CSI, OSC, NEL...) and the bidirectional
#: embeddings, overrides and isolates (text that reads differently from what it is).
_OTHER_CONTROLS = "\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_ANY_CONTROL = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}]")
_CONTROL_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]")  # but tab and newline


def _escaped(m: re.Match[str]) -> str:
    c = m.group(0)
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape(value: Any) -> str:
    """One value from the cluster, safe on a terminal and on one line: every control character escaped.

    `escape("a\\x1b[2Jb\\n")` is `a^[[2Jb\\n` (the backslash written out): visible, not obeyed.
    """
    return _ANY_CONTROL.sub(_escaped, "" if value is None else str(value))


def safe_text(text: str) -> str:
    """A whole block for the terminal: our own newlines and tabs stay, every other control is escaped."""
    return _CONTROL_IN_TEXT.sub(_escaped, text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A kubectl-style table: upper-case headers, columns padded with three spaces; every cell escaped."""
    cells = [[str(h).upper() for h in headers]] + [["" if c is None else escape(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def emit(data: Any, fmt: str, text: Callable[[Any], str] | None = None) -> None:
    """Print `data` as JSON/YAML, or through `text` for the text format.

    JSON and YAML escape control characters themselves (\\u001b, "\\e").
    """
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    elif fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    else:
        out = text(data) if text else str(data)
        if out:
            sys.stdout.write(safe_text(out.rstrip("\n")) + "\n")


def say(msg: str) -> None:
    """One line (or block) of text for people on stdout."""
    sys.stdout.write(safe_text(msg) + "\n")


def warn(msg: str) -> None:
    """A warning on stderr, kubectl style."""
    sys.stderr.write(f"warning: {safe_text(msg)}\n")


def info(msg: str) -> None:
    """Progress or a note on stderr (keeps stdout clean for -o json)."""
    sys.stderr.write(safe_text(msg) + "\n")


def error(msg: str) -> None:
    """`error: ...` on stderr: the CLI's one exit point (cli.py) writes every error through here."""
    sys.stderr.write(f"error: {safe_text(msg)}\n")


def progress(msg: str, done: bool = False) -> None:
    """A progress counter redrawn in place on a terminal's stderr (the one carriage return we write)."""
    sys.stderr.write("\r" + escape(msg) + ("\n" if done else ""))
    sys.stderr.flush()


def raw(text: str) -> None:
    """Text that is ours alone (a shell completion script, completion candidates already escaped) on stdout."""
    sys.stdout.write(text)
    sys.stdout.flush()


class LogFormatter(logging.Formatter):
    """-v logging on stderr: log records quote API answers, so they are escaped like everything else."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_text(super().format(record))


#: How many names a one-line summary shows before "and N more" (the full list: -o json or -v).
SUMMARY_NAMES = 5


def first_few(names: Sequence[str], limit: int = SUMMARY_NAMES) -> str:
    """`a, b, c` or `a, b, c, d, e and 7 more`: a short list for one-line messages."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
