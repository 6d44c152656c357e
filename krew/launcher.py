#!/usr/bin/env python3
"""kubectl-ascend launcher, shipped in the krew archive as `kubectl-ascend` and `kubectl_complete-ascend`.

The archive carries the plugin's wheel and every dependency's wheel (from PyPI) for this
platform and each supported Python version, listed in wheels/index.json. On first use the
wheels for the running python3 are unpacked into lib/py3.X next to this file (or, if that
directory is read-only, under ~/.cache/kubectl-ascend/krew/), with no network, pip or venv
needed; later runs only add that directory to sys.path.

Run as kubectl_complete-ascend (kubectl's plugin completion), it never prints on stderr.
"""
import json
import os
import shutil
import sys
import tempfile
import zipfile

MIN_PYTHON = (3, 10)  # kubernetes>=37 requires 3.10


def fail(msg, quiet):
    if not quiet:
        sys.stderr.write("error: " + msg + "\n")
    sys.exit(1)


def unpack(wheels, files, dest):
    """Install wheels by unpacking them (what pip does for these wheels, minus scripts)."""
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=parent)
    try:
        for name in files:
            with zipfile.ZipFile(os.path.join(wheels, name)) as zf:
                for member in zf.namelist():
                    parts = member.split("/")
                    if parts[0].endswith(".data"):
                        if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                            continue  # scripts, headers, data: not needed to run
                        parts = parts[2:]
                    if ".." in parts or member.endswith("/"):
                        continue
                    target = os.path.join(tmp, *parts)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with zf.open(member) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
        open(os.path.join(tmp, ".complete"), "w").close()
        try:
            os.rename(tmp, dest)
        except OSError:  # another run finished first
            if not os.path.exists(os.path.join(dest, ".complete")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def site_dir(root, index, tag, quiet):
    wheels = os.path.join(root, "wheels")
    files = index["python"].get(tag)
    if files is None:
        fail("this kubectl-ascend archive carries packages for Python %s; python3 here is %s "
             "(install one of those, or `pip install kubectl-ascend`)" % (", ".join(sorted(index["python"])), tag),
             quiet)
    candidates = [os.path.join(root, "lib", "py" + tag),
                  os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                               "kubectl-ascend", "krew", index["id"], "py" + tag)]
    for dest in candidates:
        if os.path.exists(os.path.join(dest, ".complete")):
            return dest
    last = None
    for dest in candidates:
        try:
            unpack(wheels, files, dest)
            return dest
        except OSError as e:
            last = e
    fail("cannot unpack the plugin's packages into %s (%s)" % (" or ".join(candidates), last), quiet)


def main():
    completing = os.path.basename(sys.argv[0]).startswith("kubectl_complete")
    if sys.version_info[:2] < MIN_PYTHON:
        fail("kubectl-ascend needs Python 3.10 or newer; python3 here is %d.%d" % sys.version_info[:2], completing)
    root = os.path.dirname(os.path.realpath(__file__))
    try:
        with open(os.path.join(root, "wheels", "index.json")) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        fail("the kubectl-ascend archive at %s is incomplete (wheels/index.json: %s); reinstall it" % (root, e),
             completing)
    tag = "%d.%d" % sys.version_info[:2]
    sys.path.insert(0, site_dir(root, index, tag, completing))
    if completing:
        from kubectl_ascend.cli import kubectl_complete_main
        kubectl_complete_main()
    else:
        from kubectl_ascend.cli import main as cli_main
        cli_main()


if __name__ == "__main__":
    main()
