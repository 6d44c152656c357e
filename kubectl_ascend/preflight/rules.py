"""Verdicts of `kubectl ascend preflight`: from a node and its agent's raw outputs to checks.

Pure functions. Each check is {"check", "verdict", "what", "fix"}; a node's verdict is its worst
check (FAIL > WARN > PASS). The check names, in the order they are reported:

  agent          the per-node pod ran and its output could be read
  npu-health     `npu-smi info` Health of every chip is OK (Warning: WARN; Alarm, Critical, other: FAIL)
  npu-count      chips npu-smi shows vs the node's allocatable huawei.com/Ascend* (fewer: FAIL, more: WARN)
  npu-occupied   no process holds a chip (a process does: WARN; a new job gets "-8005 device occupied")
  driver         driver version (label huawei.com/driver.version, else version.info) vs the CANN of --image/--cann
  docker-runtime containerd runs Ascend Docker Runtime (BinaryName .../ascend-docker-runtime) and base.list exists
  hccn-link      every chip `hccn_tool -i N -link -g` UP                                      (Ascend910 nodes)
  hccn-health    every chip `-net_health -g` Success (or Init)                                 (Ascend910 nodes)
  hccn-ip        every chip `-ip -g` equal to /etc/hccn.conf address_N                         (Ascend910 nodes)
  hccn-tls       `-tls -g` switch the same on every chip of every node checked                 (Ascend910 nodes)
  hccl-reachability  with --hccl: every chip reaches the same-index chip of every other node   (Ascend910 nodes)
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from kubectl_ascend.preflight import compat, parsers

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
ORDER = {PASS: 0, WARN: 1, FAIL: 2}
RESOURCE_PREFIX = "huawei.com/Ascend"
DRIVER_LABEL = "huawei.com/driver.version"
#: chip families whose NPUs have RoCE ports that hccn_tool manages (Atlas 800 / 900 training and
#: inference servers); 310/310P cards have none.
HCCN_RESOURCES = ("huawei.com/Ascend910",)


def check(name: str, verdict: str, what: str, fix: str = "") -> dict[str, str]:
    return {"check": name, "verdict": verdict, "what": what, "fix": fix}


def worst(checks: list[dict[str, str]]) -> str:
    return max((c["verdict"] for c in checks), key=ORDER.__getitem__, default=PASS)


def npu_resource(node: dict[str, Any]) -> tuple[str, int] | None:
    """The node's NPU extended resource and its allocatable count (None: no NPUs advertised)."""
    alloc = (node.get("status") or {}).get("allocatable") or {}
    for k, v in sorted(alloc.items()):
        if k.startswith(RESOURCE_PREFIX) and re.fullmatch(r"\d+", str(v)) and int(v) > 0:
            return k, int(v)
    return None


def has_hccn(node: dict[str, Any]) -> bool:
    res = npu_resource(node)
    return res is not None and res[0] in HCCN_RESOURCES


def _failed(cmd: dict[str, Any]) -> str | None:
    if cmd.get("rc") == 0:
        return None
    out = " ".join(str(cmd.get("out", "")).split())[:160]
    return f"`{' '.join(cmd.get('cmd') or [])}` exited {cmd.get('rc')}: {out}"


def npu_checks(node: dict[str, Any], doc: dict[str, Any]) -> list[dict[str, str]]:
    smi = doc.get("npuSmi") or {}
    bad = _failed(smi)
    if bad:
        fix = ("install the Ascend driver (npu-smi lives in /usr/local/bin) and check `npu-smi info` on the host"
               if smi.get("rc") == 127 else "run `npu-smi info` on the host; reinstall or reload the driver if it fails")
        return [check("npu-health", FAIL, bad, fix)]
    try:
        info = parsers.npu_smi_info(smi.get("out", ""))
    except parsers.ParseError as e:
        return [check("npu-health", FAIL, f"cannot read `npu-smi info`: {e}", "run `npu-smi info` on the host")]
    out: list[dict[str, str]] = []
    sick = [c for c in info.chips if c.health != "OK"]
    failing = [c for c in sick if c.health != "Warning"]
    if failing:
        out.append(check("npu-health", FAIL, "; ".join(f"NPU {c.npu} chip {c.chip} Health {c.health}" for c in sick),
                         "see `npu-smi info -t health -i <NPU>` for the alarm code; replace or reset the chip "
                         "(`npu-smi set -t reset`) before scheduling on it"))
    elif sick:
        out.append(check("npu-health", WARN, "; ".join(f"NPU {c.npu} chip {c.chip} Health {c.health}" for c in sick),
                         "see `npu-smi info -t health -i <NPU>` for the warning before it becomes an alarm"))
    else:
        out.append(check("npu-health", PASS, f"{len(info.chips)} chip(s) Health OK"))
    res = npu_resource(node)
    if res is None:
        out.append(check("npu-count", WARN, f"npu-smi shows {len(info.chips)} chip(s); the node advertises no "
                         f"{RESOURCE_PREFIX}* resource", "check that the Ascend device plugin runs on this node"))
    else:
        name, want = res
        seen = len(info.chips)
        if seen < want:
            out.append(check("npu-count", FAIL, f"npu-smi shows {seen} chip(s), the node advertises {name}: {want}",
                             "a chip dropped off the bus or the driver lost it: check `npu-smi info` and `lspci | "
                             "grep d80`, then restart the device plugin pod so the node stops advertising it"))
        elif seen > want:
            out.append(check("npu-count", WARN, f"npu-smi shows {seen} chip(s), the node advertises {name}: {want}",
                             "the device plugin holds back unhealthy chips: see its log"))
        else:
            out.append(check("npu-count", PASS, f"{seen} chip(s) = {name}: {want}"))
    if info.processes:
        procs = "; ".join(f"NPU {n} chip {c}: pid {pid} {pname}" for n, c, pid, pname in info.processes)
        out.append(check("npu-occupied", WARN, f"chips in use by processes: {procs}",
                         "a job placed on an occupied chip fails with -8005 (device occupied): stop the process "
                         "or make sure the device plugin does not hand the chip out"))
    else:
        out.append(check("npu-occupied", PASS, "no process holds a chip"))
    return out


def driver_check(node: dict[str, Any], doc: dict[str, Any], cann: str | None) -> dict[str, str]:
    label = ((node.get("metadata") or {}).get("labels") or {}).get(DRIVER_LABEL)
    source = f"label {DRIVER_LABEL}"
    version = label
    if not version:
        text = (doc.get("files") or {}).get("version.info")
        source = "/usr/local/Ascend/driver/version.info"
        if text is None:
            return check("driver", FAIL, "no driver version: no label " + DRIVER_LABEL + " and no "
                         "/usr/local/Ascend/driver/version.info", "install the Ascend driver (Ascend HDK npu package)")
        try:
            version = parsers.driver_version(text)
        except parsers.ParseError as e:
            return check("driver", FAIL, f"cannot read {source}: {e}", "reinstall the Ascend driver")
    if not cann:
        return check("driver", PASS, f"driver {version} ({source}); no --image/--cann to check it against")
    try:
        ok = compat.driver_supports(version, cann)
    except ValueError:
        return check("driver", WARN, f"driver version {version!r} ({source}) is not in a form we can compare",
                     f"check Huawei's compatibility matrix for CANN {cann} by hand")
    need = compat.required_driver(cann)
    if ok is None:
        known = ", ".join(compat.CANN_DRIVER)
        return check("driver", WARN, f"driver {version}; CANN {cann} is not in our table ({known})",
                     f"check Huawei's compatibility matrix for CANN {cann} by hand")
    if not ok:
        return check("driver", FAIL, f"driver {version} ({source}) is older than {need}, which CANN {cann} needs",
                     f"upgrade the Ascend driver and firmware to {need} or later (Ascend HDK), or use an image "
                     f"built on an older CANN")
    return check("driver", PASS, f"driver {version} ({source}) runs CANN {cann} (needs {need} or later)")


_BINARY = re.compile(r"""BinaryName\s*=\s*["']([^"']*ascend-docker-runtime)["']""")


def runtime_check(doc: dict[str, Any]) -> dict[str, str]:
    files = doc.get("files") or {}
    conf = files.get("containerd")
    if conf is None:
        return check("docker-runtime", WARN, "cannot read /etc/containerd/config.toml on the host",
                     "if containerd keeps its config elsewhere, check that its runtime BinaryName is "
                     "/usr/local/Ascend/Ascend-Docker-Runtime/ascend-docker-runtime")
    m = _BINARY.search(conf)
    if not m:
        return check("docker-runtime", FAIL, "containerd's config names no ascend-docker-runtime BinaryName: NPU "
                     "containers get no /dev/davinci* devices", "install the ascend-docker-runtime component "
                     "(kubectl ascend install --set ascend-docker-runtime.enabled=true ...)")
    missing = [p for p, ok in (("ascend-docker-runtime", doc.get("runtimeBinary")),
                               ("base.list", files.get("base.list") is not None)) if not ok]
    if missing:
        return check("docker-runtime", FAIL, f"containerd runs {m.group(1)}, but /usr/local/Ascend/"
                     f"Ascend-Docker-Runtime lacks {', '.join(missing)}",
                     "reinstall the runtime files (the ascend-docker-runtime chart copies them from its image)")
    return check("docker-runtime", PASS, f"containerd runs {m.group(1)}; base.list present")


def _per_chip(doc: dict[str, Any], what: str, parse: Any) -> tuple[dict[int, Any], list[str]]:
    values: dict[int, Any] = {}
    errors: list[str] = []
    for dev, cmds in sorted((doc.get("hccn") or {}).items(), key=lambda kv: int(kv[0])):
        cmd = cmds.get(what) or {}
        bad = _failed(cmd)
        if bad:
            errors.append(f"chip {dev}: {bad}")
            continue
        try:
            values[int(dev)] = parse(cmd.get("out", ""))
        except parsers.ParseError as e:
            errors.append(f"chip {dev}: {e}")
    return values, errors


def hccn_checks(doc: dict[str, Any]) -> tuple[list[dict[str, str]], dict[int, str]]:
    """Per-node hccn_tool checks, and each chip's TLS switch (for the check across nodes)."""
    out: list[dict[str, str]] = []
    links, errs = _per_chip(doc, "link", parsers.link_status)
    down = [f"chip {d} {s}" for d, s in links.items() if s != "UP"] + errs
    out.append(check("hccn-link", FAIL, "link not UP: " + "; ".join(down),
                     "check the cable/optical module of those ports (`hccn_tool -i N -optical -g`) and the "
                     "switch port") if down else check("hccn-link", PASS, f"{len(links)} link(s) UP"))
    health, errs = _per_chip(doc, "net_health", parsers.net_health)
    bad = [f"chip {d} {s}" for d, s in health.items() if s not in parsers.HEALTHY_NET] + errs
    out.append(check("hccn-health", FAIL, "net_health: " + "; ".join(bad),
                     "the detect address (netdetect_N in /etc/hccn.conf) is unreachable from those chips: check "
                     "`hccn_tool -i N -netdetect -g`, gateway and VLAN") if bad
               else check("hccn-health", PASS, f"{len(health)} chip(s) net_health Success"))
    ips, errs = _per_chip(doc, "ip", parsers.device_ip)
    conf_text = (doc.get("files") or {}).get("hccn.conf")
    if conf_text is None:
        out.append(check("hccn-ip", FAIL, "/etc/hccn.conf is missing on the host",
                         "write it (hccn_tool -i N -ip -s address A netmask M) and mount it into the engine pods; "
                         "without it HCCL falls back silently (vllm-ascend #7711)"))
    else:
        conf = parsers.hccn_conf(conf_text)
        wrong = [f"chip {d}: device {ip} vs hccn.conf address_{d}={(conf.get(d) or {}).get('address', '(none)')}"
                 for d, ip in ips.items() if (conf.get(d) or {}).get("address") != ip] + errs
        out.append(check("hccn-ip", FAIL, "; ".join(wrong),
                         "make /etc/hccn.conf address_N match `hccn_tool -i N -ip -g` (or set the device IP "
                         "again with `hccn_tool -i N -ip -s address ...`); a stale address breaks RDMA far from "
                         "the cause (vllm-ascend PR #16847)") if wrong
                   else check("hccn-ip", PASS, f"{len(ips)} device IP(s) match /etc/hccn.conf"))
    tls, errs = _per_chip(doc, "tls", parsers.tls_switch)
    if errs:
        out.append(check("hccn-tls", FAIL, "; ".join(errs), "run `hccn_tool -i N -tls -g` on the host"))
    return out, tls


def tls_across(tls: dict[str, dict[int, str]]) -> dict[str, dict[str, str]]:
    """The hccn-tls check per node: the switch must be the same on every chip of every node."""
    counts = Counter(v for chips in tls.values() for v in chips.values())
    if not counts:
        return {}
    majority = counts.most_common(1)[0][0] if len(counts) == 1 or counts.most_common(2)[0][1] != \
        counts.most_common(2)[1][1] else None
    out: dict[str, dict[str, str]] = {}
    summary = ", ".join(f"switch {v} on {n} chip(s)" for v, n in sorted(counts.items()))
    for node, chips in tls.items():
        values = set(chips.values())
        if len(counts) == 1:
            out[node] = check("hccn-tls", PASS, f"TLS switch {majority} on every chip of every node checked")
        elif majority is not None and values == {majority}:
            out[node] = check("hccn-tls", PASS, f"TLS switch {majority} (the majority; {summary})")
        else:
            odd = ", ".join(f"chip {d}={v}" for d, v in sorted(chips.items()) if v != majority)
            out[node] = check("hccn-tls", FAIL, f"TLS switch differs across nodes ({summary}); here: {odd}",
                              "HCCL refuses ranks whose TLS switches differ: set the same on every chip "
                              "(`hccn_tool -i N -tls -s enable 0|1`) on every node")
    return out


def judge_node(node: dict[str, Any], doc: dict[str, Any] | None, problem: str | None, cann: str | None,
               ) -> tuple[list[dict[str, str]], dict[int, str]]:
    """Checks of one node from its agent output (or the reason there is none)."""
    if doc is None:
        return [check("agent", FAIL, problem or "no output from the preflight pod",
                      "see `kubectl describe pod` of the preflight pod (image pull, hostPath, admission)")], {}
    checks = [check("agent", PASS, "the preflight pod ran and reported")]
    checks += npu_checks(node, doc)
    checks.append(driver_check(node, doc, cann))
    checks.append(runtime_check(doc))
    tls: dict[int, str] = {}
    if has_hccn(node):
        more, tls = hccn_checks(_present_only(doc))
        checks += more
    return checks, tls


def _present_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without hccn_tool results of chips npu-smi does not show (npu-count reports those once)."""
    try:
        present = {str(c.npu) for c in parsers.npu_smi_info(((doc.get("npuSmi") or {}).get("out")) or "").chips}
    except parsers.ParseError:
        return doc
    if (doc.get("npuSmi") or {}).get("rc") != 0:
        return doc
    return {**doc, "hccn": {d: v for d, v in (doc.get("hccn") or {}).items() if d in present}}


def device_ips(doc: dict[str, Any]) -> dict[int, str]:
    """Each chip's device IP from the agent's `hccn_tool -ip -g` outputs (unreadable chips left out)."""
    return _per_chip(doc, "ip", parsers.device_ip)[0]


def matrix(pings: dict[str, dict[str, dict[str, Any]]], targets: dict[str, dict[str, dict[int, str]]],
           ) -> dict[str, dict[str, dict[str, Any]]]:
    """The reachability matrix: source node -> peer node -> {"reachable", "lost"}.

    pings: node -> device -> ip -> command result; targets: node -> peer -> device -> peer IP.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for src, peers in targets.items():
        row: dict[str, dict[str, Any]] = {}
        for peer, devs in peers.items():
            lost: list[str] = []
            for dev, ip in sorted(devs.items()):
                cmd = ((pings.get(src) or {}).get(str(dev)) or {}).get(ip)
                try:
                    sent, got = parsers.ping(cmd.get("out", "")) if cmd else (0, 0)
                except parsers.ParseError:
                    sent, got = 0, 0
                if not cmd or sent == 0 or got < sent:
                    lost.append(f"chip {dev} -> {ip}")
            row[peer] = {"reachable": not lost, "lost": lost}
        out[src] = row
    return out


def matrix_check(row: dict[str, dict[str, Any]]) -> dict[str, str]:
    bad = {peer: r["lost"] for peer, r in row.items() if not r["reachable"]}
    if not bad:
        return check("hccl-reachability", PASS, f"every chip reaches its peer on {len(row)} other node(s)")
    what = "; ".join(f"{peer}: {', '.join(lost)}" for peer, lost in sorted(bad.items()))
    return check("hccl-reachability", FAIL, f"device IPs not reachable: {what}",
                 "check routes/VLAN/gateway of the parameter plane between those chips "
                 "(`hccn_tool -i N -ping -g address IP` by hand, `-route -g`, `-gateway -g`)")
