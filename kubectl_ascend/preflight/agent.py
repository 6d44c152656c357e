"""The preflight agent: runs inside the per-node pod, reads the host's Ascend tools, prints raw outputs.

Standard library only (it runs in the preflight image with the host's tools mounted read-only).
It changes nothing: every command it runs is a query (`npu-smi info`, `hccn_tool ... -g`), every
file it opens is opened for reading. It prints ONE JSON document on stdout (the pod log) and,
when it fits the kubelet's 4096-byte limit, the same document gzip+base64-encoded ("gz:" prefix)
to the termination message file, which the plugin reads from the pod status (no log access
needed). Parsing and judging happen in the plugin (kubectl_ascend.preflight.parsers / rules).

Paths: the host's filesystem is under $PREFLIGHT_HOST_ROOT (default /host): etc/hccn.conf,
etc/containerd/config.toml, usr/local/bin/npu-smi, usr/local/Ascend/driver/{version.info,
tools/hccn_tool}, usr/local/Ascend/Ascend-Docker-Runtime/. A tool missing there is looked up
on PATH.

Usage: agent.py [--devices 0-7] [--hccn] [--ping DEV=IP,IP...]...
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
from typing import Any

TIMEOUT = 30  # seconds per tool call; a hung driver call must not hang the pod forever
LIMIT = 4096  # the kubelet keeps at most this many bytes of a termination message
OUT_LIMIT = 256 * 1024  # per command output kept

FILES = {
    "hccn.conf": "etc/hccn.conf",
    "version.info": "usr/local/Ascend/driver/version.info",
    "containerd": "etc/containerd/config.toml",
    "base.list": "usr/local/Ascend/Ascend-Docker-Runtime/base.list",
}
RUNTIME_BINARY = "usr/local/Ascend/Ascend-Docker-Runtime/ascend-docker-runtime"
TOOLS = {"npu-smi": "usr/local/bin/npu-smi", "hccn_tool": "usr/local/Ascend/driver/tools/hccn_tool"}


def root() -> str:
    return os.environ.get("PREFLIGHT_HOST_ROOT", "/host")


def tool(name: str) -> str | None:
    path = os.path.join(root(), TOOLS[name])
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return shutil.which(name)


def run(name: str, *args: str) -> dict[str, Any]:
    path = tool(name)
    if path is None:
        return {"cmd": [name, *args], "rc": 127, "out": f"{name}: not found"}
    try:
        p = subprocess.run([path, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        return {"cmd": [name, *args], "rc": p.returncode, "out": p.stdout[:OUT_LIMIT].decode("utf-8", "replace")}
    except subprocess.TimeoutExpired:
        return {"cmd": [name, *args], "rc": 124, "out": f"timed out after {TIMEOUT}s"}
    except OSError as e:
        return {"cmd": [name, *args], "rc": 126, "out": str(e)}


def read(rel: str) -> str | None:
    try:
        with open(os.path.join(root(), rel), encoding="utf-8", errors="replace") as f:
            return f.read(OUT_LIMIT)
    except OSError:
        return None


def devices(spec: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def collect(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {"agent": 1, "node": os.environ.get("NODE_NAME", ""),
                           "npuSmi": run("npu-smi", "info"),
                           "files": {k: read(v) for k, v in FILES.items()},
                           "runtimeBinary": os.path.isfile(os.path.join(root(), RUNTIME_BINARY)),
                           "hccn": {}, "ping": {}}
    if args.hccn:
        for d in devices(args.devices):
            doc["hccn"][str(d)] = {what: run("hccn_tool", "-i", str(d), f"-{what}", "-g")
                                   for what in ("link", "net_health", "ip", "tls")}
    for item in args.ping:
        dev, _, ips = item.partition("=")
        doc["ping"][dev] = {ip: run("hccn_tool", "-i", dev, "-ping", "-g", "address", ip)
                            for ip in filter(None, ips.split(","))}
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Ascend preflight agent (read-only)")
    ap.add_argument("--devices", default="", help="device ids for hccn_tool, e.g. 0-7")
    ap.add_argument("--hccn", action="store_true", help="query hccn_tool per device")
    ap.add_argument("--ping", action="append", default=[], metavar="DEV=IP,IP", help="ping from a device")
    ap.add_argument("--termination-log", default=os.environ.get("PREFLIGHT_TERMINATION_LOG", "/dev/termination-log"))
    args = ap.parse_args(argv)
    text = json.dumps(collect(args), separators=(",", ":"), sort_keys=True)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    packed = "gz:" + base64.b64encode(gzip.compress(text.encode(), 9)).decode()
    try:
        with open(args.termination_log, "w", encoding="utf-8") as f:
            f.write(packed if len(packed) <= LIMIT else "log")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
