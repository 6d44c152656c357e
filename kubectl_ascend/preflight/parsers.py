"""Parsers of the Ascend host tools' output (pure functions; unit-tested on documented samples).

Each parser names the format it reads and where that format is documented:
- `npu-smi info`: the two-line-per-chip table of Huawei's npu-smi reference
  (Ascend HDK "npu-smi info" / FaultDiag user guide, the npu_info_before.txt collection:
  `| NPU   Name | Health | Power(W) Temp(C) ...` then `| Chip | Bus-Id | AICore(%) ...`),
  followed by the process table (`| NPU Chip | Process id | Process name | Process memory(MB) |`,
  or `No running processes found in NPU N`). On 310P the chip rows are `| <chip> <device> | Bus-Id |`
  under a `| Chip Device |` header; a 300I Duo card repeats its NPU row above each of its two chip
  rows (published `npu-smi info` outputs of Atlas 300I Duo hosts).
- `hccn_tool -i N -link -g`: `link status: UP|DOWN` (mind-cluster v26.1.0
  component/ascend-common/devmanager/hccn/hccn_tool.go GetNPULinkStatus: three space-separated
  words, the third the status).
- `hccn_tool -i N -net_health -g`: `net health status: <Success|Init|Socket failed|Receive timeout|...>`
  (HDK hccn_tool reference "查询网络健康状态"; mind-cluster GetNetworkHealthy treats Init and Success
  as healthy).
- `hccn_tool -i N -ip -g`: `ipaddr:A.B.C.D` / `netmask:...` (mind-cluster v26.1.0
  component/ascend-faultdiag/test/st_module_testcase/kg_parse/npu_info_before.txt).
- `hccn_tool -i N -tls -g`: first line `dev_id:N, tls switch[0|1](0:disable, 1:enable), ...`
  (HDK hccn_tool reference "查询TLS证书信息", and MindIE/vLLM-Ascend troubleshooting guides that
  compare `grep switch` across nodes).
- `hccn_tool -i N -ping -g address IP`: ends with `N packets transmitted, M received, X% packet loss`;
  `recv time out seq=...` lines for lost packets (HCCL troubleshooting guide: "0.00% packet loss"
  means reachable).
- `/etc/hccn.conf`: `key_N=value` lines (`address_N`, `netmask_N`, `netdetect_N`, `gateway_N`,
  `tls_enable_N`), as written by `hccn_tool -i N -ip -s address ...` (HDK hccn_tool reference).
- driver `version.info`: `Version=23.0.7` and other `key=value` lines (mind-cluster v26.1.0
  component/ascend-faultdiag/test/st_testcase/.../worker-0/npu_info_before.txt,
  `cat /usr/local/Ascend/driver/version.info`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Chip:
    """One chip row pair of `npu-smi info`."""

    npu: int
    chip: int
    name: str
    health: str
    bus_id: str = ""


@dataclass
class NpuSmiInfo:
    version: str = ""
    chips: list[Chip] = field(default_factory=list)
    #: (npu, chip, pid, process name) of every process holding a chip
    processes: list[tuple[int, int, str, str]] = field(default_factory=list)


_ROW = re.compile(r"^\|(.*)\|(.*)\|(.*)\|\s*$")
_VERSION = re.compile(r"npu-smi\s+(\S+)\s+Version:\s*(\S+)")


class ParseError(ValueError):
    """Tool output not in the documented format."""


def npu_smi_info(text: str) -> NpuSmiInfo:
    """`npu-smi info`: chips with their health, and the processes on them.

    A row whose first cell is `<id> <name>` starts an NPU (its Health in the second cell); each
    following row whose first cell holds only numbers (`<chip>` on 910, `<chip> <device>` on 310P)
    is one chip of it, with its Bus-Id (or NA); a 300I Duo card (NPU row repeated per chip) gives
    two chips.
    """
    info = NpuSmiInfo()
    m = _VERSION.search(text)
    if m:
        info.version = m.group(2)
    in_processes = False
    seen_header = False
    npu: tuple[int, str, str] | None = None  # (id, name, health) of the NPU whose chips follow
    for line in text.splitlines():
        s = line.strip()
        if "Process id" in s and "Process name" in s:
            in_processes = True
            continue
        if "NPU" in s and "Health" in s:
            seen_header = True
            continue
        if not s.startswith("|") or s.startswith("+"):
            continue
        if in_processes:
            cells = [c.strip() for c in s.strip("|").split("|")]
            if len(cells) >= 3 and cells[0] and not cells[0].startswith("No running"):
                ids = cells[0].split()
                if len(ids) >= 2 and ids[0].isdigit() and ids[1].isdigit():
                    info.processes.append((int(ids[0]), int(ids[1]), cells[1], cells[2]))
            continue
        m = _ROW.match(s)
        if not m or not seen_header:
            continue
        cells = [c.strip() for c in m.groups()]
        if cells[0].startswith("Chip"):
            continue
        words = cells[0].split()
        if not words or not words[0].isdigit():
            continue
        if len(words) >= 2 and not words[1].isdigit():
            npu = (int(words[0]), " ".join(words[1:]), cells[1])
        elif npu is not None:
            info.chips.append(Chip(npu=npu[0], chip=int(words[0]), name=npu[1], health=npu[2], bus_id=cells[1]))
    if not seen_header:
        raise ParseError("no `NPU ... Health` header: not the output of `npu-smi info`")
    return info


def _value_after(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.strip().lower().startswith(key):
            return line.split(":", 1)[1].strip() if ":" in line else ""
    raise ParseError(f"no `{key}` line")


def link_status(text: str) -> str:
    """`hccn_tool -i N -link -g` -> "UP" / "DOWN"."""
    words = text.replace("\n", " ").split()
    if len(words) != 3 or words[0] != "link" or words[1] != "status:":
        raise ParseError(f"expected `link status: UP|DOWN`, got {text.strip()[:60]!r}")
    return words[2]


#: net_health values mind-cluster counts as healthy (ascend-common/devmanager/hccn GetNetworkHealthy:
#: NetworkInit and NetworkSuccess).
HEALTHY_NET = ("Success", "Init")


def net_health(text: str) -> str:
    """`hccn_tool -i N -net_health -g` -> the status text ("Success", "Socket failed", ...)."""
    return _value_after(text, "net health status")


def device_ip(text: str) -> str:
    """`hccn_tool -i N -ip -g` -> the device's IPv4 address."""
    return _value_after(text, "ipaddr")


_TLS = re.compile(r"tls switch\s*\[\s*(\d)\s*\]")


def tls_switch(text: str) -> str:
    """`hccn_tool -i N -tls -g` -> "0" (disabled) or "1" (enabled)."""
    m = _TLS.search(text)
    if not m:
        raise ParseError("no `tls switch[...]` in the output")
    return m.group(1)


_PING = re.compile(r"(\d+)\s+packets transmitted,\s*(\d+)\s+received")


def ping(text: str) -> tuple[int, int]:
    """`hccn_tool -i N -ping -g address IP` -> (sent, received)."""
    m = _PING.search(text)
    if not m:
        raise ParseError("no `N packets transmitted, M received` line")
    return int(m.group(1)), int(m.group(2))


def key_values(text: str) -> dict[str, str]:
    """`key=value` lines (hccn.conf, version.info); comments and blank lines skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or "=" not in s:
            continue
        k, v = s.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def hccn_conf(text: str) -> dict[int, dict[str, str]]:
    """/etc/hccn.conf -> {device: {"address": ..., "netmask": ..., ...}}."""
    out: dict[int, dict[str, str]] = {}
    for k, v in key_values(text).items():
        m = re.fullmatch(r"([a-z_]+?)_(\d+)", k)
        if m:
            out.setdefault(int(m.group(2)), {})[m.group(1)] = v
    return out


def driver_version(text: str) -> str:
    """The driver's version.info -> its `Version=` value."""
    v = key_values(text).get("Version") or key_values(text).get("package_version")
    if not v:
        raise ParseError("no `Version=` line")
    return v
