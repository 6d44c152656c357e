"""Build MindIE's global ranktable for a PD release of the mindie-service chart.

Pure logic: no Kubernetes client, no CLI. The caller (``kubectl ascend
mindie ranktable RELEASE``) lists the release's ConfigMaps and Pods
(``kubectl get -o json`` items, as plain dicts), calls
:func:`build_global_ranktable`, and either reports what is still missing or
writes :meth:`RanktableResult.data` into the global ranktable ConfigMap.

What the chart puts on objects, and what this module relies on (keep in step
with ``charts/mindie-service/templates/_helpers.tpl`` and ``pd-*.yaml``):

Labels (every object carries ``app.kubernetes.io/instance: <release>``)
  ``mindie.huawei.com/role``            on pods and per-instance ConfigMaps:
                                        ``coordinator`` | ``controller`` |
                                        ``prefill`` | ``decode``
  ``mindie.huawei.com/instance-index``  on prefill/decode pods and their
                                        per-instance ConfigMaps: ``"0"``, ``"1"``...
  ``mindie.huawei.com/ranktable``       on ranktable ConfigMaps: ``global`` (one
                                        per release) | ``instance`` (one per
                                        prefill/decode instance)

ConfigMaps
  ``<fullname>-global-ranktable``        key ``global_ranktable.json``; created
      with ``{"status":"initializing"}``. Annotations tell what to expect:
      ``mindie.huawei.com/prefill-instances``, ``.../decode-instances``,
      ``.../prefill-pods-per-instance``, ``.../decode-pods-per-instance``.
  ``rings-config-<fullname>-<role>-<n>``  key ``hccl.json``, filled by the
      Ascend Operator (``initializing`` -> ``completed``); annotation
      ``mindie.huawei.com/pods`` = pods of that instance.

Selectors for listing: :func:`configmap_selector` and :func:`pod_selector`.

The global ranktable, in the form MindIE Motor's controller reads it
(``RankTableLoader.cpp``; checked against Ascend/MindIE-Motor 3.0.0.beta.1
and mind-cluster v26.0.0 ClusterD ``epranktable/ranktable_util.go``):
``server_group_list`` with the coordinator as group "0" and the controller as
group "1" (each ``{"server_id": <host IP>, "server_ip": <pod IP>}``), then
the servers, each ``{"server_id": <host IP>, "server_ip": <pod IP>,
"device": [...]}`` with the devices of its per-instance ``hccl.json`` (plus
``device_logical_id``):

* every instance is one pod (``multi_node_infer_enable`` false in
  ms_controller.json): the controller reads only group "2"
  (``ParseServerNodes``), so **all** prefill and decode servers go into that
  one group (upstream ``gen_global_ranktable.py`` and its test fixture);
* some instance has several pods (cross-node, ``multi_node_infer_enable``
  true): one group per instance from "2" on - prefill instances in index
  order, then decode - each with ``deploy_server`` ("2" prefill, "1" decode,
  as MindIE Motor's ``deploy_ac_job.py`` labels them and
  ``ControllerConfig::GetPDInitRole`` reads them), taken from the
  per-instance ConfigMap's ``grt-group/deploy-server`` label when present.

A per-instance table is used only when it describes the live pods: every
server pod carries ``hccl/rankIndex`` and each listed server's devices are the
ones in its pod's device-plugin annotation. Huawei's operator (mind-cluster
v26.0.0 ``pkg/controllers/v1/pod.go`` ``updateRandIndex``, ``checkPodDelete``)
never numbers a pod recreated while another pod of the instance keeps its index,
and keeps a completed table it did not see shrink, so waiting does not fix
either: the message gives the command that recreates every pod of the instance.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from kubectl_ascend import rankvalidate

GLOBAL_KEY = "global_ranktable.json"
"""Data key of the global ranktable ConfigMap (the file pods wait for)."""

UIDS_KEY = "pod_uids"
"""Data key listing (one per line) the UIDs of the pods the global ranktable was built from.

Pod IPs get reused, so a pod recreated after the table was written could find
its IP in a stale table; each pod instead waits until its own UID is listed."""

HCCL_KEY = "hccl.json"
"""Data key of a per-instance ranktable ConfigMap (written by the Ascend Operator)."""

RANK_INDEX_ANNO = "hccl/rankIndex"
"""Pod annotation the Ascend Operator numbers a pod with before listing it in ``hccl.json``."""

DEVICE_ANNOS = ("ascend.kubectl.kubernetes.io/ascend-910-configuration",
                "ascend.kubectl.kubernetes.io/ascend-npu-configuration")
"""Pod annotations holding the devices the device plugin gave the pod (the operator reads the first, then the second)."""

STUCK_WHY = ("the Ascend Operator never numbers a pod recreated while another pod of its instance keeps "
             "an index, nor rebuilds a completed table it did not see shrink (mind-cluster v26.0.0 "
             "ascend-operator pkg/controllers/v1/pod.go updateRandIndex, checkPodDelete)")
"""Why waiting does not help once an instance's pods and its table disagree."""

COMPLETED = "completed"
ROLES_SERVER = ("prefill", "decode")

COORDINATOR_GROUP = 0
CONTROLLER_GROUP = 1
FIRST_SERVER_GROUP = 2
"""MindIE Motor's fixed group ids: 0 coordinator, 1 controller, servers from 2."""

DEPLOY_SERVER_LABEL = "grt-group/deploy-server"
"""Label of a per-instance ranktable ConfigMap giving its group's ``deploy_server`` (ClusterD reads it too)."""

DEPLOY_SERVER = {"prefill": "2", "decode": "1"}
"""``deploy_server`` of prefill and decode groups (MindIE Motor PREFILL_DEPLOY / DECODE_DEPLOY)."""


@dataclass(frozen=True)
class ChartLabels:
    """Label and annotation keys of the mindie-service chart."""

    instance: str = "app.kubernetes.io/instance"
    role: str = "mindie.huawei.com/role"
    index: str = "mindie.huawei.com/instance-index"
    ranktable: str = "mindie.huawei.com/ranktable"
    pods: str = "mindie.huawei.com/pods"
    instances_fmt: str = "mindie.huawei.com/{role}-instances"
    pods_per_instance_fmt: str = "mindie.huawei.com/{role}-pods-per-instance"


CHART_LABELS = ChartLabels()


class RanktableError(Exception):
    """The objects do not describe a mindie-service PD release."""


@dataclass(frozen=True)
class RanktableResult:
    """Outcome of :func:`build_global_ranktable`.

    ``ready`` is False while something is missing; ``missing`` then says
    what, one sentence per item. When ready, ``ranktable`` is the completed
    global ranktable and ``configmap`` the ConfigMap to write it into.
    """

    configmap: str
    missing: tuple[str, ...] = ()
    ranktable: dict[str, Any] | None = None
    groups: tuple[str, ...] = field(default=())
    """Human-readable description of each group, in group-id order."""
    pod_uids: tuple[str, ...] = ()
    """UIDs of the pods the table describes (sorted)."""

    @property
    def ready(self) -> bool:
        return not self.missing and self.ranktable is not None

    def data(self) -> dict[str, str]:
        """The ConfigMap ``data`` to write (ready results only)."""
        if not self.ready:
            raise ValueError("the global ranktable is not ready: " + "; ".join(self.missing))
        return {GLOBAL_KEY: json.dumps(self.ranktable, indent=2, sort_keys=False, allow_nan=False) + "\n",
                UIDS_KEY: "".join(uid + "\n" for uid in self.pod_uids)}

    def message(self) -> str:
        """One line for the user: not ready yet (and why), or what was built."""
        if not self.ready:
            return "not ready yet: " + "; ".join(self.missing)
        return f"global ranktable completed: {len(self.groups)} groups ({', '.join(self.groups)})"

    def differs_from(self, current: str | None, current_uids: str | None = None) -> bool:
        """True when ``current`` (the ConfigMap's present table) or its pod UID list is not this one."""
        if not self.ready:
            return False
        if (current_uids or "") != self.data()[UIDS_KEY]:
            return True
        try:
            return bool(rankvalidate.load("global", GLOBAL_KEY, current or "null") != self.ranktable)
        except rankvalidate.Refused:
            return True


def configmap_selector(release: str, labels: ChartLabels = CHART_LABELS) -> str:
    """Label selector of the release's ranktable ConfigMaps (global and per-instance)."""
    return f"{labels.instance}={release},{labels.ranktable}"


def pod_selector(release: str, labels: ChartLabels = CHART_LABELS) -> str:
    """Label selector of the release's MindIE pods (every role)."""
    return f"{labels.instance}={release},{labels.role}"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name", "?"))


def _int_annotation(cm: Mapping[str, Any], key: str) -> int:
    raw = _annotations(cm).get(key)
    try:
        value = int(str(raw))
    except ValueError:
        raise RanktableError(
            f"ConfigMap {_name(cm)} has no valid annotation {key} (got {raw!r}); "
            "was it created by the mindie-service chart?") from None
    if value < 0:
        raise RanktableError(f"ConfigMap {_name(cm)}: annotation {key} is negative ({value})")
    return value


def _live_pods(pods: Iterable[Mapping[str, Any]], release: str,
               labels: ChartLabels) -> list[Mapping[str, Any]]:
    """Pods of the release that are neither finished nor being deleted."""
    out = []
    for pod in pods:
        if _labels(pod).get(labels.instance) != release:
            continue
        if _meta(pod).get("deletionTimestamp"):
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        out.append(pod)
    return out


def _pod_ip(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def _single_pod_group(role: str, group_id: int, pods: list[Mapping[str, Any]],
                      labels: ChartLabels, missing: list[str]) -> dict[str, Any] | None:
    """Group 0 (coordinator) or 1 (controller): exactly one pod with an IP."""
    mine = [p for p in pods if _labels(p).get(labels.role) == role]
    if not mine:
        missing.append(f"no {role} pod exists")
        return None
    if len(mine) > 1:
        names = ", ".join(sorted(_name(p) for p in mine))
        missing.append(f"{len(mine)} {role} pods exist ({names}); wait until only one is left")
        return None
    ip = _pod_ip(mine[0])
    host = str((mine[0].get("status") or {}).get("hostIP") or "")
    if not ip or not host:
        missing.append(f"{role} pod {_name(mine[0])} has no IP yet")
        return None
    # RankTableLoader reads server_id (an IP: the node's) and server_ip (the pod's) of groups 0 and 1.
    return {"group_id": str(group_id), "server_count": "1",
            "server_list": [{"server_id": host, "server_ip": ip}]}


def _parse_hccl(cm: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """hccl.json of a per-instance ConfigMap, or (None, why not usable)."""
    text = (cm.get("data") or {}).get(HCCL_KEY)
    if text is None:
        return None, f"{_name(cm)} has no {HCCL_KEY}"
    try:
        hccl = json.loads(text)
    except ValueError:
        return None, f"{_name(cm)}: {HCCL_KEY} is not valid JSON"
    if not isinstance(hccl, dict):
        return None, f"{_name(cm)}: {HCCL_KEY} is not a JSON object"
    status = hccl.get("status")
    if status != COMPLETED:
        return None, (f"{_name(cm)}: {HCCL_KEY} is still {status!r} (the Ascend Operator "
                      "completes it once all pods of the instance are scheduled)")
    return hccl, None


def recreate_command(pods: list[Mapping[str, Any]], release: str, role: str, index: int,
                     labels: ChartLabels = CHART_LABELS) -> str:
    """The kubectl command that recreates every pod of one prefill/decode instance at once."""
    namespaces = {str(_meta(p).get("namespace")) for p in pods if _meta(p).get("namespace")}
    ns = f" -n {namespaces.pop()}" if len(namespaces) == 1 else ""
    return (f"kubectl delete pod{ns} -l {labels.instance}={release},{labels.role}={role},"
            f"{labels.index}={index}")


def _pod_devices(pod: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """(device_id, device_ip) of the devices in the pod's device-plugin annotation, None without one."""
    anno = _annotations(pod)
    raw = next((anno[k] for k in DEVICE_ANNOS if k in anno), None)
    if raw is None:
        return None
    try:   # written by the device plugin, but anyone who creates pods can set it: parsed within bounds
        devices = rankvalidate.load(_name(pod), "annotation", raw).get("devices") or []
        return [(str(d.get("device_id", "")), str(d.get("device_ip", ""))) for d in devices]
    except (rankvalidate.Refused, AttributeError, TypeError):
        return None


def _devices_match(server: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The server's devices are the pod's (ids, and IPs where the table has them), in order."""
    mine = _pod_devices(pod)
    listed = server.get("device") or []
    if mine is None or len(mine) != len(listed):
        return False
    return all(str(d.get("device_id", "")) == dev_id and ("device_ip" not in d or str(d["device_ip"]) == dev_ip)
               for d, (dev_id, dev_ip) in zip(listed, mine))


def _server_entry(server: Mapping[str, Any], pods: list[Mapping[str, Any]],
                  where: str, missing: list[str], action: str) -> dict[str, Any] | None:
    """One server of a group: its pod IP (checked against live pods) and devices (checked against the pod's)."""
    ips = {_pod_ip(p) for p in pods}
    ip = str(server.get("container_ip") or "")
    by_ip = {_pod_ip(p): p for p in pods}
    if not ip:
        # Formats without container_ip (e.g. Atlas A3) identify the node; map it to the pod on it.
        host = str(server.get("host_ip") or server.get("server_id") or "")
        on_host = [p for p in pods if (p.get("status") or {}).get("hostIP") == host]
        if len(on_host) != 1:
            missing.append(f"{where}: cannot tell which pod is server {host or '?'} "
                           f"({len(on_host)} pods of the instance on that node)")
            return None
        ip = _pod_ip(on_host[0])
        by_ip[ip] = on_host[0]
    elif ip not in ips:
        missing.append(f"{where}: lists pod IP {ip}, which no current pod of the instance has: "
                       f"a pod was recreated and {STUCK_WHY}; {action}")
        return None
    if not _devices_match(server, by_ip[ip]):
        missing.append(f"{where}: server {ip} lists devices {[str(d.get('device_id')) for d in server.get('device') or []]}"
                       f" but pod {_name(by_ip[ip])} has {[d for d, _ in _pod_devices(by_ip[ip]) or []]} "
                       f"(its device-plugin annotation): the table describes an earlier pod with that IP and "
                       f"{STUCK_WHY}; {action}")
        return None
    devices = []
    for logical_id, device in enumerate(server.get("device") or []):
        entry = dict(device)
        entry.setdefault("device_logical_id", str(logical_id))
        devices.append(entry)
    if not devices:
        missing.append(f"{where}: server {ip} lists no devices")
        return None
    # server_id is the node's IP (ClusterD convertGrtServerId; RankTableLoader checks it is an IP).
    host = str(server.get("host_ip") or ((by_ip.get(ip) or {}).get("status") or {}).get("hostIP")
               or server.get("server_id") or "")
    out: dict[str, Any] = {
        "server_id": host,
        "server_ip": ip,
        "device": devices,
    }
    if server.get("hardware_type"):
        out["hardware_type"] = server["hardware_type"]
    return out


def _instance_group(release: str, role: str, index: int, group_id: int, expected_pods: int,
                    cms: list[Mapping[str, Any]], pods: list[Mapping[str, Any]],
                    labels: ChartLabels, missing: list[str]) -> tuple[dict[str, Any] | None, str]:
    """The group of one prefill/decode instance, and its ranktable version."""
    def mine(obj: Mapping[str, Any]) -> bool:
        lab = _labels(obj)
        return lab.get(labels.role) == role and lab.get(labels.index) == str(index)

    what = f"{role} instance {index}"
    my_cms = [c for c in cms if mine(c)]
    if len(my_cms) != 1:
        missing.append(f"{what}: expected one per-instance ranktable ConfigMap, found {len(my_cms)}")
        return None, ""
    cm = my_cms[0]
    my_pods = [p for p in pods if mine(p)]
    with_ip = [p for p in my_pods if _pod_ip(p)]
    if len(with_ip) < expected_pods:
        missing.append(f"{what}: {len(with_ip)} of {expected_pods} pods have an IP")
        return None, ""
    if len(my_pods) > expected_pods:
        missing.append(f"{what}: {len(my_pods)} pods exist, expected {expected_pods} "
                       "(wait for the rollout to finish)")
        return None, ""
    action = ("recreate all pods of the instance (a Volcano Job instance does so by itself): "
              + recreate_command(my_pods, release, role, index, labels))
    hccl, why = _parse_hccl(cm)
    unnumbered = [p for p in my_pods if RANK_INDEX_ANNO not in _annotations(p)]
    numbered = len(my_pods) - len(unnumbered)
    if unnumbered and (hccl is not None or numbered):
        # Stuck: a completed table cannot list an unnumbered pod, and none gets a number while another has one.
        missing.append(f"{what}: pod {_name(unnumbered[0])} has no {RANK_INDEX_ANNO} "
                       f"({numbered} of {len(my_pods)} pods have one) and {STUCK_WHY}; {action}")
        return None, ""
    if hccl is None:
        missing.append(why or f"{_name(cm)} is not usable")
        return None, ""
    servers = hccl.get("server_list") or []
    if len(servers) != expected_pods:
        missing.append(f"{_name(cm)}: {HCCL_KEY} lists {len(servers)} servers, expected {expected_pods}")
        return None, ""
    entries = []
    for server in servers:
        entry = _server_entry(server, with_ip, _name(cm), missing, action)
        if entry is None:
            return None, ""
        entries.append(entry)
    group: dict[str, Any] = {"group_id": str(group_id)}
    group["deploy_server"] = str(_labels(cm).get(DEPLOY_SERVER_LABEL) or DEPLOY_SERVER[role])
    group["server_count"] = str(len(entries))
    group["server_list"] = entries
    if hccl.get("super_pod_list"):
        group["super_pod_list"] = hccl["super_pod_list"]
    return group, str(hccl.get("version") or "1.0")


def build_global_ranktable(release: str, configmaps: Iterable[Mapping[str, Any]],
                           pods: Iterable[Mapping[str, Any]],
                           labels: ChartLabels = CHART_LABELS) -> RanktableResult:
    """Build the global ranktable of PD release ``release``.

    ``configmaps`` and ``pods`` are ``kubectl get -o json`` items (plain
    dicts); objects of other releases are ignored, so a whole namespace's
    listing is fine. Returns a :class:`RanktableResult`: not ready (with
    the list of what is missing) until the coordinator and controller pods
    have IPs, every prefill/decode instance has all its pods with IPs, and
    every per-instance ``hccl.json`` is completed and lists exactly those
    pods; then ready with the completed ranktable.

    Raises :class:`RanktableError` when the release has no (or more than
    one) global ranktable ConfigMap, i.e. it is not a mindie-service release
    in pd mode.
    """
    cms = [c for c in configmaps if _labels(c).get(labels.instance) == release]
    globals_ = [c for c in cms if _labels(c).get(labels.ranktable) == "global"]
    if not globals_:
        raise RanktableError(
            f"release {release!r} has no global ranktable ConfigMap (label "
            f"{labels.ranktable}=global); is it a mindie-service release in mode=pd, "
            "in this namespace?")
    if len(globals_) > 1:
        names = ", ".join(sorted(_name(c) for c in globals_))
        raise RanktableError(f"release {release!r} has several global ranktable ConfigMaps: {names}")
    global_cm = globals_[0]
    instance_cms = [c for c in cms if _labels(c).get(labels.ranktable) == "instance"]
    live = _live_pods(pods, release, labels)
    # hostile or broken per-instance tables are refused before anything is built from them
    rankvalidate.check_instances(instance_cms, live, HCCL_KEY)

    missing: list[str] = []
    groups: list[dict[str, Any]] = []
    described: list[str] = []
    coordinator = _single_pod_group("coordinator", COORDINATOR_GROUP, live, labels, missing)
    controller = _single_pod_group("controller", CONTROLLER_GROUP, live, labels, missing)
    if coordinator and controller:
        groups += [coordinator, controller]
        described += ["0 coordinator", "1 controller"]

    versions = set()
    group_id = FIRST_SERVER_GROUP
    shape = {role: (_int_annotation(global_cm, labels.instances_fmt.format(role=role)),
                    _int_annotation(global_cm, labels.pods_per_instance_fmt.format(role=role)))
             for role in ROLES_SERVER}
    multi_node = any(per_instance > 1 for _, per_instance in shape.values())
    instance_groups: list[dict[str, Any]] = []
    for role in ROLES_SERVER:
        count, per_instance = shape[role]
        for index in range(count):
            group, version = _instance_group(release, role, index, group_id, per_instance,
                                             instance_cms, live, labels, missing)
            if group is not None:
                instance_groups.append(group)
                described.append(f"{group_id} {role}-{index}" if multi_node else f"{role}-{index}")
                versions.add(version)
            if multi_node:
                group_id += 1
    if multi_node:
        groups += instance_groups
    elif instance_groups:
        # Single-pod instances: the controller reads group "2" only - every server goes there.
        merged: dict[str, Any] = {"group_id": str(FIRST_SERVER_GROUP),
                                  "server_count": str(sum(len(g["server_list"]) for g in instance_groups)),
                                  "server_list": [s for g in instance_groups for s in g["server_list"]]}
        super_pods = [sp for g in instance_groups for sp in g.get("super_pod_list") or []]
        if super_pods:
            merged["super_pod_list"] = super_pods
        groups.append(merged)
        described[2:] = [f"2 servers ({', '.join(described[2:])})"]

    if missing:
        return RanktableResult(configmap=_name(global_cm), missing=tuple(missing))
    ranktable = {
        # A3 per-instance tables (version 1.2, with super_pod_list) make the global one 1.2 too.
        "version": max(versions | {"1.0"}),
        "status": COMPLETED,
        "server_group_list": groups,
    }
    rankvalidate.check_global(_name(global_cm), ranktable)
    ips = {s.get("server_ip") for g in groups for s in g["server_list"]}
    uids = sorted(str(_meta(p).get("uid")) for p in live
                  if _labels(p).get(labels.role) in ("coordinator", "controller", *ROLES_SERVER)
                  and _pod_ip(p) in ips and _meta(p).get("uid"))
    return RanktableResult(configmap=_name(global_cm), ranktable=ranktable, groups=tuple(described),
                           pod_uids=tuple(uids))
