"""Text output cannot drive the terminal (kubectl_ascend/output.py).

- escape(): every C0/C1 control, DEL and bidi override in one cluster value is made visible
  (ESC as kubectl's `^[`, CR as `\\r`), on one line;
- safe_text(): a whole block keeps our newlines and tabs, nothing else;
- table() escapes every cell; warn/info/error/say/emit write no control byte;
- the rule that makes it "everywhere": no module but output.py writes to stdout or stderr
  (no sys.stdout/sys.stderr .write, print, click.echo/secho, traceback.print_*).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kubectl_ascend import output

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "kubectl_ascend"
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[32m[PASS] all checks passed\x1b[8m\r\n\x9b31m\x90q\x9c\u202eevil\x00\x7f"
#: what must never reach a terminal: C0 but newline/tab, DEL, C1, bidi overrides
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_escape_makes_every_control_visible_on_one_line():
    out = output.escape(HOSTILE)
    assert not FORBIDDEN.search(out) and "\n" not in out and "\t" not in out
    assert out.startswith("^[]0;pwned\\x07^[[2J^[[32m[PASS]")  # kubectl's ^[ for ESC
    assert "\\r\\n\\x9b31m\\x90q\\x9c\\u202eevil\\x00\\x7f" in out
    assert output.escape("node-1 ok ü 中") == "node-1 ok ü 中"
    assert output.escape(None) == "" and output.escape(3) == "3"


def test_safe_text_keeps_our_newlines_and_tabs_only():
    out = output.safe_text("line 1\n\tline 2 " + HOSTILE)
    assert out.startswith("line 1\n\tline 2 ^[]0;pwned")
    assert not FORBIDDEN.search(out)


def test_table_escapes_cells():
    out = output.table(["name", "version"], [["a\nb", "v1\x1b[2J"]])
    assert out.splitlines() == ["NAME   VERSION", "a\\nb   v1^[[2J"]


def test_every_writer_escapes(capsys):
    output.warn(HOSTILE)
    output.info(HOSTILE)
    output.error(HOSTILE)
    output.say(HOSTILE)
    output.emit({"m": HOSTILE}, "text", lambda d: d["m"])
    output.progress(HOSTILE, done=True)
    out, err = capsys.readouterr()
    assert not FORBIDDEN.search(out) and out.count("[PASS]") == 2
    # progress writes the one carriage return of the package, first on its line
    assert not FORBIDDEN.search(err.replace("\n\r", "\n").lstrip("\r")), err
    assert err.startswith("warning: ^[]0;pwned") and "error: ^[]0;pwned" in err


def test_json_and_yaml_escape_controls_themselves(capsys):
    output.emit({"m": HOSTILE}, "json")
    output.emit({"m": HOSTILE}, "yaml")
    out, _ = capsys.readouterr()
    assert not FORBIDDEN.search(out)


def _writes(path: Path) -> list[str]:
    """Calls in `path` that write to stdout/stderr other than through output.py."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        text = ast.unparse(f)
        if isinstance(f, ast.Name) and f.id == "print":
            found.append(f"{node.lineno}: print")
        elif text in ("click.echo", "click.secho", "echo", "secho", "traceback.print_exc", "traceback.print_exception",
                      "print_exc"):
            found.append(f"{node.lineno}: {text}")
        elif isinstance(f, ast.Attribute) and f.attr in ("write", "writelines") and \
                re.search(r"\b(sys\.)?(__)?std(out|err)(__)?\b", ast.unparse(f.value)):
            found.append(f"{node.lineno}: {text}")
    return found


#: Scripts that run somewhere else, never in the plugin's terminal: the preflight agent runs inside
#: the per-node pod (stdlib only, shipped in a ConfigMap); its stdout is the pod's log.
NOT_THE_TERMINAL = {"preflight/agent.py"}


def test_only_output_py_writes_to_the_terminal():
    offenders = {p.relative_to(PACKAGE).as_posix(): w for p in sorted(PACKAGE.rglob("*.py"))
                 if p.name != "output.py" and (w := _writes(p))}
    assert {k: v for k, v in offenders.items() if k not in NOT_THE_TERMINAL} == {}
    # the exemption is for the agent's one document on stdout, nothing more
    assert [w.split(": ", 1)[1] for w in offenders.get("preflight/agent.py", [])] == ["sys.stdout.write"]


def test_the_rule_sees_a_raw_write(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import sys, click\nsys.stderr.write('x')\nclick.echo('y')\nprint(1)\n")
    assert len(_writes(bad)) == 3
