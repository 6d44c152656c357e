#!/usr/bin/env python3
"""Emulate the Ascend Operator's ranktable path, or the device plugin's pod annotation, on a cluster without NPUs.

Long-lived processes for the local KWOK cluster (started by `hack/cluster.sh up`
through hack/ascend-operator-emulator.sh), one per emulated component:
`--step operator` runs with the credentials of the ascend-operator chart's
ServiceAccount (mindx-dl/ascend-operator-manager), `--step device-plugin` with
those of the ascend-device-plugin chart's (kube-system/ascend-device-plugin).
So each chart's RBAC is what its stand-in has: a missing rule fails here as it
fails the real component. Read from Ascend/mind-cluster tag v26.0.0,
component/ascend-operator (paths below are relative to it); one line per
behaviour (1-12: operator step):

1. Watched kinds: Deployments, StatefulSets, Volcano Jobs, AscendJobs and pods
   (pkg/controllers/v1/ascendjob_controller.go `watchRelatedResource`). A 403
   ends the process with exit code 3, as the real operator's caches never sync
   and it exits. Simplifications: a 403 on a later call ends it too (upstream
   logs those); a kind whose CRD is missing (404) is skipped with a log line;
   workloads are re-listed every --interval seconds instead of watched (pods
   are watched).
2. Reconcile on every pod event (the pod watches of `watchRelatedResource`).
   Simplification: upstream's work queue may merge events; the emulator
   reconciles after each one, so where upstream's outcome depends on timing it
   takes the timeline in which every event is seen.
3. Ranktable state per workload UID, created when the workload is first seen
   and dropped when it is gone (`onOwnerCreateFunc`, `onOwnerDeleteFunc`;
   pkg/ranktable/common/common.go `NewBaseGenerator`): status, the status last
   written to the ConfigMap, the server list, the timestamp. Lost on restart,
   like the real operator's.
4. Which workloads (pkg/ranktable/plugins.go `ShouldGenerateRankTable`,
   `hasRankTableMount`; `ranktablePipeline` + pkg/controllers/v1/utils.go
   `getJobRequiredNpu`): label `ring-controller.atlas` or a pod-template volume
   named `ranktable`, and some container requesting a `huawei.com/` resource.
   Replicas: spec.replicas, or the sum of a Volcano Job's tasks (`getTotalReplicas`).
5. Their pods (pkg/controllers/v1/jobinfo.go `genLabels`, `getPodsForJob`):
   label `deploy-name=<name>` (Deployments, StatefulSets) or
   `volcano.sh/job-name=<name>` (Volcano Jobs) in the workload's namespace,
   terminating pods included, in the cache's list order: a Go map's (client-go
   thread_safe_store.go `ByIndex`), i.e. unspecified - the emulator shuffles.
   Simplification: AscendJobs are watched but their pods are not created.
6. A completed table is only ever reset, never rebuilt (pkg/controllers/v1/pod.go
   `genRankTable`, `checkPodDelete`, common.go `DeletePod`): when fewer pods
   than replicas are listed, status goes back to "initializing" and that is
   written with the previous server_list and server_count still in it.
7. Allocated pods (pkg/ranktable/utils/util.go `PodHasAllocated`): not being
   deleted and, if requesting a `huawei.com/` resource, carrying the device
   plugin's annotation; nothing happens until exactly `replicas` are.
8. Rank index (pkg/controllers/v1/pod.go `updateRandIndex`): if any allocated
   pod already has `hccl/rankIndex`, nothing is numbered (a recreated pod next
   to a survivor never gets one); otherwise 0, 1, ... in list order, each with
   a pod update (PUT); a failed update is logged and the index still used.
9. server_id (pod.go `setOnePodOneNode`, common.go `buildServerInfo`): the
   node's IP when every allocated pod is on its own node - decided in memory
   on each pass, never written to the pod - else the annotation's server_id.
10. Servers (common.go `AddPod`, `parseDeviceInfo`, `buildServerInfo`,
    `getDeviceList`, `setExtendedServerInfo`; pkg/ranktable/common/server.go):
    one per NPU pod: device [{device_id, device_ip, rank_id = rankIndex x
    devices + i}], hardware_type (MindIE EP jobs: labels jobID and app), server_id,
    host_ip, container_ip; a pod without IP or without rankIndex fails the pass
    (status stays "initializing"), sorted by the first device's rank_id
    (`GatherServerList`).
11. The ConfigMap (pod.go `saveRankTable`, `saveRankTableConfigmap`,
    `configmapExist`; ascendjob_controller.go `writeRanktableToCm`):
    `rings-config-<workload>`, get + update (no patch), written only when the
    status differs from the one last written (so "initializing" is never written
    before a first completion), up to 3 tries; `hccl.json` is the table as Go's
    json.Marshal writes it (compact, field order of the structs), `version` the
    Unix time of the previous write ("0" for the first since start). Whether the
    ConfigMap exists is asked once and remembered.
12. Table format (pkg/ranktable/factory.go `NewGenerator`, v1/ranktable.go):
    version "1.0". Simplification: workloads that would get the A3 SuperPoD
    table (1.2: accelerator-type *-super-pod, sp-block, schedule policy) or the
    A5 one (2.0: `huawei.com/npu` requests) are not emulated: logged and left
    alone. The ranktable file under /user/mindx-dl/ranktable is not written.

The device plugin (component/ascend-device-plugin/pkg/device/ascendcommon.go
`AddPodAnnotation`, `getConfigAnno`; pkg/common/common.go `GetPodConfiguration`;
pkg/kubeclient/client_server.go `TryUpdatePodAnnotation`, a pod patch)
annotates each scheduled pod that requests `huawei.com/Ascend910` with
`huawei.com/AscendReal` (the devices it got) and
`ascend.kubectl.kubernetes.io/ascend-910-configuration` (JSON: pod_name,
server_id = pod UID, server_ip and host_ip = node IP, devices [{device_id,
device_ip}]) with a merge patch. No device plugin runs here, so `--step
device-plugin` plays that step, allocating the lowest free device ids of the
node and made-up device IPs. Simplification: one process serves every node
(the real plugin is a DaemonSet and lists only the pods of its own node).

Usage: ascend_operator_emulator.py --step operator|device-plugin --kubeconfig SA_KUBECONFIG
           [--interval SECONDS] [--once]
Exit codes: 3 forbidden (missing RBAC rule), 4 credentials rejected (token
expired or ServiceAccount recreated), 1 other failure at start.
"""
from __future__ import annotations

import argparse
import copy
import json
import queue
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol
from urllib.parse import quote

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube

ATLAS_TASK_LABEL = "ring-controller.atlas"
RANKTABLE_VOLUME = "ranktable"
DEPLOY_LABEL = "deploy-name"
VCJOB_LABEL = "volcano.sh/job-name"
DEVICE_ANNO = "ascend.kubectl.kubernetes.io/ascend-910-configuration"
NPU_DEVICE_ANNO = "ascend.kubectl.kubernetes.io/ascend-npu-configuration"
REAL_ANNO = "huawei.com/AscendReal"
RANK_ANNO = "hccl/rankIndex"
HARDWARE_ANNO = "mind-cluster/hardware-type"
RESOURCE_PREFIX = "huawei.com/"
NPU_RESOURCE = "huawei.com/Ascend910"
A5_RESOURCE = "huawei.com/npu"
SUPER_POD_TYPES = ("module-a3-16-super-pod", "module-a3-8-super-pod")
SCHEDULE_POLICY_ANNO = "huawei.com/schedule_policy"
SUPER_POD_POLICIES = ("chip2-node16-sp", "chip2-node8-sp", "multilevel")
SP_BLOCK_ANNO = "sp-block"
CONFIGMAP_PREFIX = "rings-config-"
HCCL_KEY = "hccl.json"
VERSION_KEY = "version"
INITIALIZING, COMPLETED, UNKNOWN = "initializing", "completed", "unknown"
TABLE_VERSION = "1.0"
CM_TRIES = 3
"""pkg/controllers/v1/consts.go cmRetryTime: ConfigMap write attempts, 1 s apart."""

# kind -> (list path, how its pods are labelled); None: watched only.
WATCHED = {
    "Deployment": ("/apis/apps/v1/deployments", DEPLOY_LABEL),
    "StatefulSet": ("/apis/apps/v1/statefulsets", DEPLOY_LABEL),
    "Job.batch.volcano.sh": ("/apis/batch.volcano.sh/v1alpha1/jobs", VCJOB_LABEL),
    "AscendJob": ("/apis/mindxdl.gitee.com/v1/ascendjobs", None),
}


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def go_json(value: Any) -> str:
    """What Go's json.Marshal writes for the same value: compact, UTF-8, <>& and U+2028/9 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _quantity(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def npus(pod: dict[str, Any]) -> int:
    """NPUs the device plugin hands this pod (its huawei.com/Ascend910 limit)."""
    total = 0
    for c in pod["spec"].get("containers") or []:
        total += _quantity(((c.get("resources") or {}).get("limits") or {}).get(NPU_RESOURCE, 0))
    return total


def _requests(container: dict[str, Any]) -> dict[str, Any]:
    return (container.get("resources") or {}).get("requests") or {}


def pod_uses_npu(pod: dict[str, Any]) -> bool:
    """utils.go `podUseNpu`: some container requests more than 0 of a huawei.com/ resource."""
    return any(RESOURCE_PREFIX in name and _quantity(value) > 0
               for c in pod["spec"].get("containers") or [] for name, value in _requests(c).items())


def pod_has_allocated(pod: dict[str, Any]) -> bool:
    """utils.go `PodHasAllocated`: not being deleted, and NPU pods carry a device annotation."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    if not pod_uses_npu(pod):
        return True
    anno = pod["metadata"].get("annotations") or {}
    return DEVICE_ANNO in anno or NPU_DEVICE_ANNO in anno


def replicas(kind: str, obj: dict[str, Any]) -> int:
    """controllers/v1/utils.go `getTotalReplicas` over the specs plugins.go `ExtractObjToAscendJob` builds."""
    if kind == "Job.batch.volcano.sh":
        return sum(int(t.get("replicas", 0)) for t in obj["spec"].get("tasks") or [])
    return int(obj["spec"].get("replicas", 1))


def templates(kind: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "Job.batch.volcano.sh":
        return [t.get("template") or {} for t in obj["spec"].get("tasks") or []]
    return [obj["spec"].get("template") or {}]


def should_generate(kind: str, obj: dict[str, Any]) -> bool:
    """plugins.go `ShouldGenerateRankTable`: label ring-controller.atlas, or a volume named ranktable."""
    if ATLAS_TASK_LABEL in (obj["metadata"].get("labels") or {}):
        return True
    return any(v.get("name") == RANKTABLE_VOLUME
               for t in templates(kind, obj) for v in (t.get("spec") or {}).get("volumes") or [])


def required_npu(kind: str, obj: dict[str, Any]) -> int:
    """controllers/v1/utils.go `getJobRequiredNpu`: per container, its (first) huawei.com/ request."""
    total = 0
    for t in templates(kind, obj):
        for c in (t.get("spec") or {}).get("containers") or []:
            total += next((_quantity(v) for k, v in _requests(c).items() if RESOURCE_PREFIX in k), 0)
    return total


def not_emulated(kind: str, obj: dict[str, Any]) -> str | None:
    """Why the table of this workload would not be version 1.0 (factory.go `useV2dot0`, `useV1dot2`), or None."""
    specs = [t.get("spec") or {} for t in templates(kind, obj)]
    if any(A5_RESOURCE in _requests(c) for s in specs for c in s.get("containers") or []):
        return "ranktable v2.0 (huawei.com/npu requests)"
    annotations = dict(obj["metadata"].get("annotations") or {})
    if kind != "Job.batch.volcano.sh":  # plugins.go merges the template's annotations into the job's
        for t in templates(kind, obj):
            annotations.update((t.get("metadata") or {}).get("annotations") or {})
    if SCHEDULE_POLICY_ANNO in annotations:
        if annotations[SCHEDULE_POLICY_ANNO] in SUPER_POD_POLICIES:
            return f"ranktable v1.2 (schedule policy {annotations[SCHEDULE_POLICY_ANNO]})"
        return None
    if SP_BLOCK_ANNO in annotations:
        return "ranktable v1.2 (sp-block)"
    if any((s.get("nodeSelector") or {}).get("accelerator-type") in SUPER_POD_TYPES for s in specs):
        return "ranktable v1.2 (SuperPoD accelerator-type)"
    return None


def is_mindie_ep_job(obj: dict[str, Any]) -> bool:
    """pkg/utils/job.go `IsMindIEEPJob`: the workload carries labels jobID and app."""
    labels = obj["metadata"].get("labels") or {}
    return "jobID" in labels and "app" in labels


class PassFailed(Exception):
    """One pass over a workload could not build its table (upstream logs it and tries on the next event)."""


@dataclass
class Generator:
    """One workload's ranktable as the operator keeps it in memory (common.go `BaseGenerator`, v1 `RankTable`)."""

    ep_job: bool = False
    status: str = INITIALIZING
    cm_status: str = INITIALIZING
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """pod UID -> server: the sync.Map `AddPod` fills."""
    server_list: list[dict[str, Any]] = field(default_factory=list)
    server_count: str = ""
    timestamp: int = 0
    cm_exists: bool | None = None

    def to_string(self) -> str:
        """`ToString`: json.Marshal of the struct - status, server_list and server_count (omitempty), version."""
        out: dict[str, Any] = {"status": self.status}
        if self.server_list:
            out["server_list"] = self.server_list
        if self.server_count:
            out["server_count"] = self.server_count
        out["version"] = TABLE_VERSION
        return go_json(out)

    def delete_pods(self) -> None:
        """`DeletePod`: forget the servers and go back to initializing; server_list is kept."""
        self.servers = {}
        self.status = INITIALIZING

    def gather(self) -> None:
        """`GatherServerList`: the servers, sorted by their first device's rank_id."""
        self.server_list = sorted(self.servers.values(),
                                  key=lambda s: int(s["device"][0]["rank_id"]) if s["device"] else 0)
        self.server_count = str(len(self.server_list))


class Api(Protocol):
    """The API calls the operator's ranktable path makes."""

    def update_pod(self, pod: dict[str, Any]) -> dict[str, Any]: ...

    def configmap_exists(self, namespace: str, name: str) -> bool: ...

    def write_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None: ...


def _server(pod: dict[str, Any], one_pod_one_node: bool, ep_job: bool) -> dict[str, Any] | None:
    """common.go `AddPod`: the pod's server entry, None without a device annotation; PassFailed if unusable."""
    meta = pod["metadata"]
    anno = meta.get("annotations") or {}
    raw = anno.get(DEVICE_ANNO, anno.get(NPU_DEVICE_ANNO))
    if raw is None:
        return None
    try:
        instance = json.loads(raw)
    except ValueError as e:
        raise PassFailed(f"unmarshal pod({meta['namespace']}/{meta['name']}) deviceInfo failed: {e}") from None
    devices = instance.get("devices") or []
    for d in devices:  # validateDeviceIP, version 1.0
        if d.get("device_ip") == "-1":
            raise PassFailed(f"device({d.get('device_id')}) has invalid IP(-1), cannot generate ranktable")
    ip = (pod.get("status") or {}).get("podIP") or ""
    if not ip:
        raise PassFailed(f"pod({meta['namespace']}/{meta['name']}) ip is empty")
    try:
        rank = int(anno.get(RANK_ANNO, ""))
    except ValueError:
        raise PassFailed(f"parse pod({meta['namespace']}/{meta['name']}) rankIndex"
                         f"({anno.get(RANK_ANNO, '')}) failed") from None
    server: dict[str, Any] = {
        "device": [{"device_id": str(d.get("device_id", "")), "device_ip": str(d.get("device_ip", "")),
                    "rank_id": str(rank * len(devices) + i)} for i, d in enumerate(devices)]}
    if ep_job and anno.get(HARDWARE_ANNO):
        server["hardware_type"] = anno[HARDWARE_ANNO]
    server["server_id"] = str(instance.get("host_ip", "") if one_pod_one_node else instance.get("server_id", ""))
    server["host_ip"] = str(instance.get("host_ip", ""))
    server["container_ip"] = ip
    return server


class RankTables:
    """The operator's ranktable path over plain objects (pod.go `genRankTable` and what it calls).

    ``order`` puts a workload's pods in list order (upstream: a Go map's, so
    unspecified; default a shuffle). ``api`` does the pod updates and ConfigMap writes.
    """

    def __init__(self, api: Api, order: Callable[[list[dict[str, Any]]], None] = random.shuffle,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self.order = order
        self.clock = clock
        self.sleep = sleep
        self.generators: dict[str, Generator] = {}
        self.skipped: set[str] = set()

    def seen(self, kind: str, obj: dict[str, Any]) -> None:
        """`onOwnerCreateFunc`: a workload that should get a table gets its generator."""
        meta = obj["metadata"]
        uid = meta["uid"]
        if uid in self.generators or uid in self.skipped or not should_generate(kind, obj):
            return
        why = not_emulated(kind, obj)
        if why:
            self.skipped.add(uid)
            log(f"{kind} {meta['namespace']}/{meta['name']}: would get {why}, which this emulator does not write")
            return
        self.generators[uid] = Generator(ep_job=is_mindie_ep_job(obj))

    def forget(self, live: set[str]) -> None:
        """`onOwnerDeleteFunc`: drop the generators of workloads that are gone."""
        for uid in set(self.generators) - live:
            del self.generators[uid]
        self.skipped &= live

    def reconcile(self, kind: str, obj: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        """`ranktablePipeline` + `genRankTable` for one workload and its listed pods."""
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        gen = self.generators.get(meta["uid"])
        if gen is None or required_npu(kind, obj) == 0:
            return
        total = replicas(kind, obj)
        pods = [copy.deepcopy(p) for p in pods]  # the cache hands out copies (controller-runtime CacheReader.List)
        self.order(pods)
        if gen.status == COMPLETED:
            if len(pods) < total:  # checkPodDelete
                gen.delete_pods()
                self.save(gen, ns, name)
            return
        allocated = [p for p in pods if pod_has_allocated(p)]
        if total == 0 or len(allocated) != total:
            return
        self.update_rank_index(allocated)
        one_pod_one_node = len({p["spec"].get("nodeName") for p in allocated}) == len(allocated)
        try:
            self.cache_pods(gen, allocated, one_pod_one_node)
        except PassFailed as e:
            log(f"{kind} {ns}/{name}: {e}")
            return
        gen.status = COMPLETED
        gen.gather()
        self.save(gen, ns, name)

    def update_rank_index(self, allocated: list[dict[str, Any]]) -> None:
        """pod.go `updateRandIndex`: number the pods in list order unless one already has an index."""
        if any(RANK_ANNO in (p["metadata"].get("annotations") or {}) for p in allocated):
            return
        for index, p in enumerate(allocated):
            meta = p["metadata"]
            meta.setdefault("annotations", {})[RANK_ANNO] = str(index)
            try:
                p.update(self.api.update_pod(p))
                log(f"pod {meta['namespace']}/{meta['name']}: {RANK_ANNO}={index}")
            except (errors.Forbidden, errors.Unauthorized):
                raise
            except errors.AscendError as e:
                log(f"update pod {meta['namespace']}/{meta['name']} rank index {index} error: {e}")

    @staticmethod
    def cache_pods(gen: Generator, allocated: list[dict[str, Any]], one_pod_one_node: bool) -> None:
        """pod.go `cachePods`: every allocated pod's server, or PassFailed naming those that failed."""
        gen.delete_pods()
        failed = []
        for p in allocated:
            try:
                server = _server(p, one_pod_one_node, gen.ep_job)
            except PassFailed as e:
                failed.append(f"{p['metadata']['name']}: {e}")
                continue
            if server is not None:
                gen.servers[p["metadata"]["uid"]] = server
        if failed:
            raise PassFailed(f"failed to cache {len(failed)} pods, err: [{'; '.join(failed)}]")

    def save(self, gen: Generator, ns: str, name: str) -> None:
        """pod.go `saveRankTable` (ConfigMap part) and the timestamp it leaves for the next write."""
        cm = CONFIGMAP_PREFIX + name
        if gen.cm_exists is None:
            gen.cm_exists = self.api.configmap_exists(ns, cm)
        if gen.cm_exists and gen.cm_status != gen.status:
            data = {HCCL_KEY: gen.to_string(), VERSION_KEY: str(gen.timestamp)}
            for attempt in range(CM_TRIES):
                try:
                    self.api.write_configmap(ns, cm, data)
                    gen.cm_status = gen.status
                    log(f"{ns}/{cm}: {gen.status} ({gen.server_count or 0} servers)")
                    break
                except (errors.Forbidden, errors.Unauthorized):
                    raise
                except errors.AscendError as e:
                    if attempt == CM_TRIES - 1:
                        log(f"failed to write rank table to configmap {ns}/{cm}: {e}")
                        gen.cm_status = UNKNOWN
                    else:
                        self.sleep(1)
        gen.timestamp = int(self.clock())


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True unless ``a`` is known to be older than ``b`` (resourceVersions compared as numbers when they are)."""
    try:
        return int(a["metadata"].get("resourceVersion", "0")) >= int(b["metadata"].get("resourceVersion", "0"))
    except ValueError:
        return True


class ClusterApi:
    """The API calls of `Api`, made with the operator's ServiceAccount."""

    def __init__(self, kube: Kube, remember: Callable[[dict[str, Any]], None]) -> None:
        self.kube = kube
        self.remember = remember

    def update_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        updated = self.kube.request(f"update pod {meta['namespace']}/{meta['name']}", "PUT",
                                    f"/api/v1/namespaces/{meta['namespace']}/pods/{quote(meta['name'])}", body=pod)
        self.remember(updated)
        return updated

    def configmap_exists(self, namespace: str, name: str) -> bool:
        # configmap.go getConfigmapFromApiserver: any error counts as "does not exist"
        try:
            self.kube.request(f"get configmap {namespace}/{name}", "GET",
                              f"/api/v1/namespaces/{namespace}/configmaps/{quote(name)}", discard=True)
        except (errors.Forbidden, errors.Unauthorized):
            raise
        except errors.AscendError as e:
            log(f"ConfigMap {namespace}/{name} not found ({e}); this workload's table is never written")
            return False
        return True

    def write_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps/{quote(name)}"
        cm = self.kube.request(f"get configmap {namespace}/{name}", "GET", path)
        cm.setdefault("data", {}).update(data)
        self.kube.request(f"update configmap {namespace}/{name}", "PUT", path, body=cm, discard=True)


class Emulator:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.kinds: dict[str, tuple[str, str | None]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.workloads: dict[str, tuple[str, dict[str, Any], str]] = {}
        self.tables = RankTables(ClusterApi(kube, self.remember))
        self.events: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.relist = False

    # -- 1. informers -------------------------------------------------------
    def sync_informers(self) -> None:
        for kind, (path, how) in WATCHED.items():
            try:
                self.kube.request(f"list {kind}", "GET", path, query={"limit": 1})
                self.kube.request(f"watch {kind}", "GET", path, query={"watch": "true", "timeoutSeconds": 1},
                                  discard=True)
            except errors.NotFound:
                log(f"{kind}: not served by this cluster (CRD missing); not watching it")
                continue
            self.kinds[kind] = (path, how)
        log("caches synced: " + ", ".join(self.kinds))

    def list_pods(self, watch: bool) -> None:
        items, rv = self.kube.list_with_version("list pods", "/api/v1/pods")
        self.pods = {p["metadata"]["uid"]: p for p in items}
        if watch:
            threading.Thread(target=self.follow, args=(rv,), daemon=True).start()

    def follow(self, rv: str) -> None:
        try:
            for ev in self.kube.watch("watch pods", "/api/v1/pods", rv, 10 ** 9, self.stop):
                self.events.put(ev)
        except errors.AscendError as e:
            self.events.put(e)

    def remember(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if uid not in self.pods or _newer(pod, self.pods[uid]):
            self.pods[uid] = pod

    def poll_workloads(self) -> None:
        found: dict[str, tuple[str, dict[str, Any], str]] = {}
        for kind, (path, how) in self.kinds.items():
            objs = self.kube.paginate(f"list {kind}", path)
            if how is None:
                continue
            for obj in objs:
                found[obj["metadata"]["uid"]] = (kind, obj, how)
                self.tables.seen(kind, obj)
        self.workloads = found
        self.tables.forget(set(found))

    def reconcile(self, uid: str) -> None:
        kind, obj, label = self.workloads[uid]
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        mine = [p for p in self.pods.values() if p["metadata"]["namespace"] == ns
                and (p["metadata"].get("labels") or {}).get(label) == name]
        self.tables.reconcile(kind, obj, mine)

    def on_pod_event(self, ev: Any) -> None:
        if isinstance(ev, (errors.Forbidden, errors.Unauthorized)):
            raise ev
        if isinstance(ev, errors.AscendError) or ev["type"] == "RELIST":
            if isinstance(ev, errors.AscendError):
                log(f"pod watch failed, listing again: {ev}")
            self.relist = True
            return
        pod = ev["object"]
        if ev["type"] == "DELETED":
            self.pods.pop(pod["metadata"]["uid"], None)
        else:
            self.remember(pod)
        labels = pod["metadata"].get("labels") or {}
        for uid, (_, obj, label) in list(self.workloads.items()):
            if obj["metadata"]["namespace"] == pod["metadata"]["namespace"] \
                    and labels.get(label) == obj["metadata"]["name"]:
                self.reconcile(uid)

    def run_operator(self, interval: float, once: bool) -> None:
        self.sync_informers()
        self.list_pods(watch=not once)
        next_poll = 0.0
        while True:
            try:
                if self.relist:
                    self.list_pods(watch=True)
                    self.relist = False
                    next_poll = 0.0
                if time.monotonic() >= next_poll:
                    self.poll_workloads()
                    for uid in list(self.workloads):
                        self.reconcile(uid)
                    next_poll = time.monotonic() + interval
                    if once:
                        return
                try:
                    ev = self.events.get(timeout=max(0.01, next_poll - time.monotonic()))
                except queue.Empty:
                    continue
                self.on_pod_event(ev)
            except (errors.Forbidden, errors.Unauthorized):
                raise
            except errors.AscendError as e:
                log(f"reconcile failed, retrying: {e}")
                time.sleep(interval)

    # -- device plugin ------------------------------------------------------
    def annotate_devices(self) -> None:
        pods = self.kube.paginate("list pods", "/api/v1/pods", fieldSelector="spec.nodeName!=")
        used: dict[str, set[int]] = {}
        for p in pods:
            anno = (p["metadata"].get("annotations") or {}).get(DEVICE_ANNO)
            if anno and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                ids = {int(d["device_id"]) for d in json.loads(anno).get("devices") or []}
                used.setdefault(p["spec"]["nodeName"], set()).update(ids)
        for p in pods:
            meta, status = p["metadata"], p.get("status") or {}
            n = npus(p)
            if not n or DEVICE_ANNO in (meta.get("annotations") or {}) or meta.get("deletionTimestamp"):
                continue
            host = status.get("hostIP")
            if not host or status.get("phase") in ("Succeeded", "Failed"):
                continue
            taken = used.setdefault(p["spec"]["nodeName"], set())
            chosen = [i for i in range(64) if i not in taken][:n]
            taken.update(chosen)
            octets = host.split(".")[-2:] if "." in host else ["0", "0"]
            instance = {"pod_name": meta["name"], "server_id": meta["uid"], "server_ip": host, "host_ip": host,
                        "super_pod_id": -1,
                        "devices": [{"device_id": str(i), "device_ip": f"29.{octets[0]}.{octets[1]}.{i + 1}"}
                                    for i in chosen]}
            body = {"metadata": {"annotations": {
                REAL_ANNO: ",".join(f"Ascend910-{i}" for i in chosen), DEVICE_ANNO: json.dumps(instance)}}}
            self.kube.request(f"annotate pod {meta['namespace']}/{meta['name']}", "PATCH",
                            f"/api/v1/namespaces/{meta['namespace']}/pods/{quote(meta['name'])}",
                            body=body, content_type="application/merge-patch+json", discard=True)
            log(f"device plugin: pod {meta['namespace']}/{meta['name']} got devices {chosen} on {p['spec']['nodeName']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", choices=("operator", "device-plugin"), required=True,
                    help="which component to play: the Ascend Operator's ranktables or the device plugin's annotation")
    ap.add_argument("--kubeconfig", required=True, help="kubeconfig of that component's ServiceAccount")
    ap.add_argument("--interval", type=float, default=1.0,
                    help="seconds between workload listings (operator) or pod listings (device plugin)")
    ap.add_argument("--once", action="store_true", help="one pass, then exit")
    args = ap.parse_args()
    try:
        emu = Emulator(Kube(args.kubeconfig))
        if args.step == "operator":
            emu.run_operator(args.interval, args.once)
            return
        while True:
            try:
                emu.annotate_devices()
            except (errors.Forbidden, errors.Unauthorized):
                raise
            except errors.AscendError as e:
                log(f"device plugin pass failed, retrying: {e}")
            if args.once:
                return
            time.sleep(args.interval)
    except errors.Forbidden as e:
        what = ("the real operator's caches never sync and it exits" if args.step == "operator"
                else "pods get no device annotation, as from a real device plugin without the rule")
        log(f"error: {e} ({what})")
        sys.exit(3)
    except errors.Unauthorized as e:
        log(f"error: {e}")
        sys.exit(4)
    except errors.AscendError as e:
        log(f"error: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
