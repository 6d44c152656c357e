#!/usr/bin/env python3
"""Stand-ins for the Ascend host tools `npu-smi` and `hccn_tool`, printing their documented formats.

Run as `ascend_tools_emulator.py npu-smi ARGS` or `... hccn_tool ARGS` with $ASCEND_EMU_STATE naming
a JSON file that describes this simulated host (written by hack/preflight_kubelet.py from the Node
and the fault ConfigMap). Only the queries the preflight agent makes are emulated; anything else
exits 1 with hccn_tool's/npu-smi's usage complaint, as the real tools do for unknown options.

What each reproduces (format source):
- `npu-smi info`: the chip table of Huawei's npu-smi (HDK npu-smi reference; FaultDiag user guide
  npu_info_before.txt samples): a version banner, per chip two rows `| NPU Name | Health |
  Power Temp Hugepages |` and `| Chip | Bus-Id | AICore Memory HBM |`, then the process table
  (`| NPU Chip | Process id | Process name | Process memory(MB) |` or `No running processes found
  in NPU N`). 310P hosts (300I Duo) print two chips per card under a `Chip Device` header: the
  card's NPU row repeated above each chip's `<chip> <device>` row, `+---` between them (published
  `npu-smi info` outputs of Atlas 300I Duo hosts).
  Faults `health` are keyed by NPU id.
- `hccn_tool -i N -link -g`: `link status: UP|DOWN` (mind-cluster v26.1.0 component/ascend-common/
  devmanager/hccn/hccn_tool.go GetNPULinkStatus).
- `hccn_tool -i N -net_health -g`: `net health status: Success` or the injected failure text
  (HDK hccn_tool reference; FaultDiag sample `net health status: Socket failed`).
- `hccn_tool -i N -ip -g`: `ipaddr:...` / `netmask:...` (mind-cluster FaultDiag
  test/st_module_testcase/kg_parse/npu_info_before.txt).
- `hccn_tool -i N -tls -g`: `dev_id:N, tls switch[S](0:disable, 1:enable), tls preconfigured[1]
  (0:non-preset, 1:preset), tls alarm time threshold[60]days` plus a [pub cert] block (HDK
  hccn_tool reference "tls -g" example).
- `hccn_tool -i N -ping -g address IP`: `device N PING IP`, one `recv seq=K,time=...ms` or
  `recv time out seq=K` line per packet (3), then `3 packets transmitted, R received, L% packet
  loss` (HCCL troubleshooting guide: "0.00% packet loss" = reachable, "recv time out" = not).
  Reachable when IP is the device IP of the same-index chip of a simulated host, both links are
  UP and neither chip is isolated by a fault (rail-by-rail networks: simplification).
- A chip index beyond the host's chips: hccn_tool exits 255 with `device id N is invalid`.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any


def state() -> dict[str, Any]:
    with open(os.environ["ASCEND_EMU_STATE"], encoding="utf-8") as f:
        return json.load(f)


def npu_smi(args: list[str], st: dict[str, Any]) -> int:
    if args != ["info"]:
        print(f"Usage: npu-smi info ... (emulated: only `info`; got {' '.join(args)})", file=sys.stderr)
        return 1
    host = st["host"]
    v = host["driver"]
    duo = host["chipName"].startswith("310P")  # 300I Duo: two chips per NPU, `Chip Device` rows
    per_npu = 2 if duo else 1
    bar = "+---------------------------+---------------+----------------------------------------------------+"
    eq = "+===========================+===============+====================================================+"
    banner = f"| {'npu-smi ' + v:<32} Version: {v}"
    second = "| Chip    Device            | Bus-Id        | AICore(%)    Memory-Usage(MB)                     |" if duo \
        else "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |"
    lines = ["+" + "-" * 96 + "+", f"{banner:<97}|", bar,
             "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
             second, eq]
    npus: dict[int, list[int]] = {}
    for d in host["present"]:
        npus.setdefault(d // per_npu, []).append(d)
    for npu, devs in sorted(npus.items()):
        health = host["health"].get(str(npu), "OK")
        for k, d in enumerate(devs):  # a Duo card repeats its NPU row above each chip's row
            if k:
                lines.append(bar)
            lines.append(f"| {npu:<5} {host['chipName']:<19} | {health:<13} | "
                         f"{'96.9        40                0    / 0':<51}|")
            first = f"{d % per_npu}       {d}" if duo else "0"
            bus = f"0000:{0xC1 + npu:02X}:00.0"
            lines.append(f"| {first:<25} | {bus:<13} | {'0           0    / 0          3334 / 32768':<51}|")
        lines.append(eq)
    lines += [bar, "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |",
              eq]
    for npu, devs in sorted(npus.items()):
        procs = [(d, host["occupied"][str(d)]) for d in devs if str(d) in host["occupied"]]
        if procs:
            for d, p in procs:
                ids = f"{npu}       {d % per_npu}"
                lines.append(f"| {ids:<25} | {p['pid']:<13} | {p['name']:<24} | {'56485':<23} |")
        else:
            lines.append(f"| {'No running processes found in NPU ' + str(npu):<94} |")
        lines.append(eq)
    print("\n".join(lines))
    return 0


def reachable(st: dict[str, Any], dev: int, ip: str) -> bool:
    me = st["host"]
    if str(dev) in me["linkDown"] or dev in me["isolated"]:
        return False
    for other in st["all"].values():
        for d, addr in other["ips"].items():
            if addr == ip:
                return int(d) == dev and d not in other["linkDown"] and int(d) not in other["isolated"]
    return False


def hccn_tool(args: list[str], st: dict[str, Any]) -> int:
    host = st["host"]
    try:
        i = args.index("-i")
        dev = int(args[i + 1])
    except (ValueError, IndexError):
        print("hccn_tool: -i <device id> is required", file=sys.stderr)
        return 255
    if dev not in host["present"]:
        print(f"device id {dev} is invalid")
        return 255
    key = str(dev)
    if "-g" not in args:
        print("hccn_tool: emulated queries only (-g)", file=sys.stderr)
        return 1
    if "-link" in args:
        print(f"link status: {'DOWN' if key in host['linkDown'] else 'UP'}")
    elif "-net_health" in args:
        print(f"net health status: {host['netHealth'].get(key, 'Success')}")
    elif "-ip" in args:
        print(f"ipaddr:{host['ips'][key]}\nnetmask:255.255.0.0")
    elif "-tls" in args:
        print(f"dev_id:{dev}, tls switch[{host['tls']}](0:disable, 1:enable), tls preconfigured[1](0:non-preset, "
              "1:preset), tls alarm time threshold[60]days")
        print(f"dev_id:{dev}, [pub cert] info:\n         issuer[/C=CN/ST=GD/O=HUAWEI/OU=2012/CN=2_1thCA]\n"
              "         start_time[Wed Feb 19 03:19:21 2020 GMT]\n         end_time[Sat Feb 16 03:19:21 2030 GMT]")
    elif "-ping" in args:
        ip = args[args.index("address") + 1]
        ok = reachable(st, dev, ip)
        print(f"device {dev} PING {ip}")
        for seq in range(3):
            print(f"recv seq={seq},time=0.0{61 + seq}000ms" if ok else f"recv time out seq={seq}")
        print(f"3 packets transmitted, {3 if ok else 0} received, {'0.00' if ok else '100.00'}% packet loss")
    else:
        print(f"hccn_tool: option not emulated: {' '.join(args)}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    st = state()
    return npu_smi(args, st) if tool == "npu-smi" else hccn_tool(args, st)


if __name__ == "__main__":
    sys.exit(main())
