"""Per-instance ranktables (`rings-config-*`, key hccl.json) checked before `mindie ranktable` builds
anything from them. Pure logic.

Anyone who can write ConfigMaps in the inference namespace can write hccl.json, and what it says goes
into the global ranktable MindIE's controller reads (server_id and server_ip of every server, the
devices, the super pods). So every field the global table takes is checked against the schema the
Ascend Operator writes, and the table against the pods it describes; anything else is refused
(`Refused`, naming the ConfigMap and the field) and nothing is written.

The schema (Ascend/mind-cluster v26.0.0, component/ascend-operator/pkg/ranktable):
- `common/common.go` BaseGenerator: `status` ("initializing" | "completed", utils.RankTableStatus),
  `server_list`, `server_count` and `version` as strings ("1.0" Version1, "1.2" Version1Dot2; v1dot2's
  RankTable adds `super_pod_list` of {`super_pod_id`, `server_list` of {`server_id`}}).
- `common/server.go` Server: `device`, `hardware_type` (omitempty), `server_id`, `host_ip`,
  `container_ip` (omitempty); Device: Dev's `device_id`, `device_ip`, `super_device_id` (omitempty),
  `levelList` (omitempty, A5), then `rank_id`, `rack_id` and `super_pod_id` (int32, omitempty),
  `server_id` (omitempty). Every id is a decimal string except the two int32s.
- `common/common.go` buildServerInfo: `container_ip` is the pod's status.podIP, `host_ip` the node
  IP the device plugin put in the pod's annotation (the pod's status.hostIP), `server_id` the
  annotation's server id (the host IP for one-pod-per-node jobs), `hardware_type` the pod's
  `mind-cluster/hardware-type` annotation, which Volcano sets to "800I-A2-<memory>" or "800I-A3-<memory>"
  (ascend-for-volcano internal/npu/base/task.go); getDeviceList numbers `rank_id`
  rankIndex * devices + position, so rank ids are unique in a table and device ids in a server;
  validateDeviceIP refuses device_ip "-1" (api.DeviceIPErrorCodeStr, a device whose IP the device
  plugin could not read) in version 1.0 tables.

Parsing is bounded before `json.loads` (whose recursion a deeply nested document exhausts): at most
MAX_BYTES and MAX_DEPTH levels of nesting; NaN, Infinity and duplicate keys are refused (Go's
encoding/json never writes them, and MindIE's parsers do not accept NaN).
"""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Iterable, Mapping

from kubectl_ascend import errors

#: A ConfigMap holds at most 1 MiB (Kubernetes' limit); a table is never larger.
MAX_BYTES = 1024 * 1024
#: The schema nests 7 levels (table, server_list, server, device, device, levelList, level); room to spare.
MAX_DEPTH = 12
VERSIONS = ("1.0", "1.2")
STATUSES = ("initializing", "completed")
DEVICE_IP_ERROR = "-1"

SERVER_KEYS = frozenset({"device", "hardware_type", "server_id", "host_ip", "container_ip"})
DEVICE_KEYS = frozenset({"device_id", "device_ip", "super_device_id", "levelList", "rank_id", "rack_id",
                         "server_id", "super_pod_id"})
SUPER_POD_KEYS = frozenset({"super_pod_id", "server_list"})

#: the characters the depth scan looks at (one pass, no backtracking)
_SPECIAL = re.compile(r'[\[\]{}"\\]')
_DIGITS = re.compile(r"[0-9]{1,10}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


class Refused(errors.InvalidInput):
    """A ranktable that does not hold what the Ascend Operator writes: nothing is built from it."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse(cm: str, field: str, why: str) -> Refused:
    return Refused(f"ConfigMap {cm}: {field} {why}; refusing to build the global ranktable from it, nothing "
                   "was written (the Ascend Operator never writes this: find who edited the ConfigMap)")


def load(cm: str, key: str, text: Any) -> Any:
    """The JSON document `text`, parsed within MAX_BYTES and MAX_DEPTH, without NaN/Infinity or
    duplicate keys; Refused otherwise."""
    if not isinstance(text, str):
        raise _refuse(cm, key, f"is not a string ({type(text).__name__})")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _refuse(cm, key, f"is larger than {MAX_BYTES} bytes")
    if _depth(text) > MAX_DEPTH:
        raise _refuse(cm, key, f"nests deeper than {MAX_DEPTH} levels")

    def constant(name: str) -> Any:
        raise _refuse(cm, key, f"contains {name}, which is not JSON")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise _refuse(cm, key, f"has the key {_show(k)} twice")
            out[k] = v
        return out

    try:
        return json.loads(text, parse_constant=constant, object_pairs_hook=pairs)
    except ValueError as e:
        raise _refuse(cm, key, f"is not valid JSON ({str(e)[:80]})") from None


def _depth(text: str) -> int:
    """How deep brackets nest in `text`, outside strings (the deepest level, in one linear pass)."""
    depth = deepest = 0
    in_string = False
    skip = -1
    for m in _SPECIAL.finditer(text):
        at, ch = m.start(), m.group()
        if at == skip:          # the character after a backslash in a string
            continue
        if in_string:
            if ch == "\\":
                skip = at + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def is_ip(value: Any) -> bool:
    """An IPv4 or IPv6 address in its plain form (no zone, no brackets, no whitespace)."""
    if not isinstance(value, str) or not value or value != value.strip():
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _str(cm: str, field: str, value: Any, *, pattern: re.Pattern[str] | None = None, ip: bool = False) -> str:
    if not isinstance(value, str):
        raise _refuse(cm, field, f"is {_show(value)}, not a string")
    if ip and not is_ip(value):
        raise _refuse(cm, field, f"is {_show(value)}, not an IP address")
    if pattern is not None and not pattern.fullmatch(value):
        raise _refuse(cm, field, f"is {_show(value)}, not {'a decimal id' if pattern is _DIGITS else 'a name'}")
    return value


def _int32(cm: str, field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not -2 ** 31 <= value < 2 ** 31:
        raise _refuse(cm, field, f"is {_show(value)}, not an int32")


def _list(cm: str, field: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _refuse(cm, field, f"is {_show(value)}, not a list")
    return value


def _obj(cm: str, field: str, value: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _refuse(cm, field, f"is {_show(value)}, not an object")
    extra = sorted(set(value) - allowed)
    if extra:
        raise _refuse(cm, f"{field}.{extra[0]}", "is not a field the Ascend Operator writes")
    return value


def _plain(cm: str, field: str, value: Any) -> None:
    """levelList (A5): strings, ints and lists/objects of them, nothing else (depth is bounded by load)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _plain(cm, f"{field}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _plain(cm, f"{field}[{i}]", v)
    elif isinstance(value, float) or not isinstance(value, (str, int)) or (
            isinstance(value, str) and not value.isprintable()):
        raise _refuse(cm, field, f"is {_show(value)}, not a string or an integer")


def check_table(cm: str, key: str, table: Any) -> None:
    """A completed per-instance table against the operator's schema (module docstring); Refused naming the
    first field that is not."""
    if not isinstance(table, dict):
        raise _refuse(cm, key, "is not a JSON object")
    version = table.get("version", "1.0")
    if version not in VERSIONS:
        raise _refuse(cm, f"{key} version", f"is {_show(version)}, not one of {', '.join(VERSIONS)}")
    servers = _list(cm, f"{key} server_list", table.get("server_list"))
    if "server_count" in table and _str(cm, f"{key} server_count", table["server_count"],
                                        pattern=_DIGITS) != str(len(servers)):
        raise _refuse(cm, f"{key} server_count", f"is {_show(table['server_count'])} but server_list has "
                                                 f"{len(servers)} server(s)")
    ranks: dict[str, str] = {}
    for i, raw in enumerate(servers):
        where = f"{key} server_list[{i}]"
        server = _obj(cm, where, raw, SERVER_KEYS)
        _str(cm, f"{where}.server_id", server.get("server_id"), pattern=_NAME)
        for field in ("host_ip", "container_ip"):
            # the operator writes host_ip always (empty when the annotation had none), container_ip when set
            if field in server and server[field] != "":
                _str(cm, f"{where}.{field}", server[field], ip=True)
        if "hardware_type" in server:
            _str(cm, f"{where}.hardware_type", server["hardware_type"], pattern=_NAME)
        ids: set[str] = set()
        for j, dev in enumerate(_list(cm, f"{where}.device", server.get("device"))):
            at = f"{where}.device[{j}]"
            device = _obj(cm, at, dev, DEVICE_KEYS)
            dev_id = _str(cm, f"{at}.device_id", device.get("device_id"), pattern=_DIGITS)
            if dev_id in ids:
                raise _refuse(cm, f"{at}.device_id", f"{_show(dev_id)} is listed twice in the server")
            ids.add(dev_id)
            rank = _str(cm, f"{at}.rank_id", device.get("rank_id"), pattern=_DIGITS)
            if rank in ranks:
                raise _refuse(cm, f"{at}.rank_id", f"{_show(rank)} is also the rank of {ranks[rank]}")
            ranks[rank] = at
            ip = device.get("device_ip")
            if not (version != "1.0" and ip in ("", DEVICE_IP_ERROR)):
                _str(cm, f"{at}.device_ip", ip, ip=True)
            if "super_device_id" in device:
                _str(cm, f"{at}.super_device_id", device["super_device_id"], pattern=_DIGITS)
            if "server_id" in device:
                _str(cm, f"{at}.server_id", device["server_id"], pattern=_NAME)
            for field in ("rack_id", "super_pod_id"):
                if field in device:
                    _int32(cm, f"{at}.{field}", device[field])
            if "levelList" in device:
                _plain(cm, f"{at}.levelList", _list(cm, f"{at}.levelList", device["levelList"]))
    for i, raw in enumerate(_list(cm, f"{key} super_pod_list", table.get("super_pod_list") or [])):
        where = f"{key} super_pod_list[{i}]"
        sp = _obj(cm, where, raw, SUPER_POD_KEYS)
        _str(cm, f"{where}.super_pod_id", sp.get("super_pod_id"), pattern=_DIGITS)
        for j, member in enumerate(_list(cm, f"{where}.server_list", sp.get("server_list"))):
            _str(cm, f"{where}.server_list[{j}].server_id",
                 _obj(cm, f"{where}.server_list[{j}]", member, frozenset({"server_id"})).get("server_id"),
                 pattern=_NAME)


def check_pods(cm: str, key: str, table: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> None:
    """Each server whose container_ip is a live pod's IP names that pod's node: host_ip is the pod's
    status.hostIP (buildServerInfo). A server whose pod is gone is left to the caller (not ready)."""
    by_ip = {str((p.get("status") or {}).get("podIP")): p for p in pods if (p.get("status") or {}).get("podIP")}
    for i, server in enumerate(table.get("server_list") or []):
        pod = by_ip.get(str(server.get("container_ip") or ""))
        if pod is None:
            continue
        host = str((pod.get("status") or {}).get("hostIP") or "")
        if server.get("host_ip") and server["host_ip"] != host:
            name = (pod.get("metadata") or {}).get("name")
            raise _refuse(cm, f"{key} server_list[{i}].host_ip",
                          f"is {_show(server['host_ip'])} but pod {name} (container_ip {server['container_ip']}) "
                          f"runs on {host or 'no node yet'}")


def check_instances(configmaps: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]],
                    key: str = "hccl.json") -> None:
    """Every per-instance ConfigMap's table parsed within bounds, and the completed ones checked against the
    schema and the live pods; Refused at the first problem."""
    pods = list(pods)
    for cm in configmaps:
        name = str((cm.get("metadata") or {}).get("name", "?"))
        data = cm.get("data") or {}
        if key not in data:
            continue
        table = load(name, key, data[key])
        if isinstance(table, dict) and table.get("status") == "completed":
            check_table(name, key, table)
            check_pods(name, key, table, pods)


def check_global(cm: str, table: Mapping[str, Any]) -> None:
    """The global table before it is written: every server_id and server_ip an IP (MindIE Motor's
    RankTableLoader requires it), no pod listed twice, and plain JSON (no NaN)."""
    seen: dict[str, str] = {}
    for g, group in enumerate(table.get("server_group_list") or []):
        for s, server in enumerate(group.get("server_list") or []):
            where = f"server_group_list[{g}].server_list[{s}]"
            for field in ("server_id", "server_ip"):
                _str(cm, f"global ranktable {where}.{field}", server.get(field), ip=True)
            ip = server["server_ip"]
            if ip in seen:
                raise _refuse(cm, f"global ranktable {where}.server_ip", f"{ip} is also {seen[ip]}")
            seen[ip] = where
    try:
        json.dumps(table, allow_nan=False)
    except ValueError as e:
        raise _refuse(cm, "global ranktable", f"is not plain JSON ({e})") from None
