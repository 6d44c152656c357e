"""Cluster DNS for the local PyMotor loop (hack/pymotor_loop.py): imported by every process it starts.

On the local cluster no kube-dns runs and pod IPs exist only in the API. The loop maps each pod IP
to a loopback address and writes {"<service>.<ns>.svc.cluster.local": "<loopback of a ready pod
behind it>"} to $PYMOTOR_LOOP_HOSTS; this module makes socket.getaddrinfo (what httpx, requests
and uvicorn resolve through) answer those names from that file, re-read whenever it changes, so
a Service whose pod was recreated resolves to the new pod as kube-dns + kube-proxy would. Names
not in the file resolve as usual.
"""
from __future__ import annotations

import json
import os
import socket

_PATH = os.environ.get("PYMOTOR_LOOP_HOSTS", "")
_real_getaddrinfo = socket.getaddrinfo
_cache: dict[str, object] = {"mtime": None, "hosts": {}}


def _hosts() -> dict[str, str]:
    try:
        mtime = os.stat(_PATH).st_mtime_ns
    except OSError:
        return {}
    if mtime != _cache["mtime"]:
        try:
            with open(_PATH, encoding="utf-8") as f:
                _cache["hosts"] = json.load(f)
            _cache["mtime"] = mtime
        except (OSError, ValueError):
            pass
    hosts = _cache["hosts"]
    return hosts if isinstance(hosts, dict) else {}


def _getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if isinstance(host, bytes):
        name = host.decode()
    else:
        name = host
    if isinstance(name, str):
        ip = _hosts().get(name.rstrip("."))
        if ip:
            return _real_getaddrinfo(ip, *args, **kwargs)
    return _real_getaddrinfo(host, *args, **kwargs)


if _PATH:
    socket.getaddrinfo = _getaddrinfo
