#!/usr/bin/env python3
"""Emulate the Ascend Operator's ranktable path, or the device plugin's pod annotation, on a cluster without NPUs.

Long-lived processes for the local KWOK cluster (started by `hack/cluster.sh up`
through hack/ascend-operator-emulator.sh), one per emulated component:
`--step operator` runs with the credentials of the ascend-operator chart's
ServiceAccount (mindx-dl/ascend-operator-manager), `--step device-plugin` with
those of the ascend-device-plugin chart's (kube-system/ascend-device-plugin).
So each chart's RBAC is what its stand-in has: a missing rule fails here as it
fails the real component. Checked against Ascend/mind-cluster tag v26.0.0; what
it emulates, and where it comes from (1-6: operator step):

1. Watched kinds (component/ascend-operator/pkg/controllers/v1/ascendjob_controller.go
   `SetupWithManager`, `watchRelatedResource`): Deployments, StatefulSets,
   Volcano Jobs (batch.volcano.sh) and AscendJobs are listed and watched at start.
   A 403 on any of them ends the process with exit code 3, as the real
   operator's informer caches never sync and it exits (crash loop).
   Simplification: a kind whose CRD is not installed (404) is skipped with a log
   line; afterwards the kinds are polled with list calls every --interval
   seconds instead of kept watches.
2. Which workloads get a ranktable (pkg/ranktable/plugins.go
   `ShouldGenerateRankTable`; pkg/ranktable/utils/util.go `hasRankTableVolume`):
   the object carries label `ring-controller.atlas`, or its pod template has a
   volume named `ranktable`.
3. How their pods are found (pkg/controllers/v1/jobinfo.go `genLabels`, consts.go):
   Deployments and StatefulSets by label `deploy-name=<name>`, Volcano Jobs by
   `volcano.sh/job-name=<name>`, in the workload's namespace - nothing else.
   Simplification: AscendJobs are watched but their pods are not created (the
   real operator creates them; our charts never use AscendJobs).
4. When a pod counts (pkg/ranktable/utils/util.go `PodHasAllocated`): not being
   deleted and, if it requests NPUs, carrying the device plugin's annotation
   `ascend.kubectl.kubernetes.io/ascend-910-configuration`.
5. Rank index (pkg/controllers/v1/pod.go `updateRandIndex`): allocated pods get
   annotation `hccl/rankIndex` 0, 1, ... through an update (PUT) of the pod.
   Simplification: a pod recreated later gets the lowest free index (upstream
   keeps indices once any pod has one).
6. hccl.json (pkg/ranktable/common/common.go `parseDeviceInfo`, `buildServerInfo`,
   `getDeviceList`, `GatherServerList`): one server per pod - server_id from the
   annotation (the pod UID; the host IP with annotation OnePodOneNode=true),
   host_ip, container_ip = pod IP, devices with rank_id = rankIndex x devices +
   i - sorted by rank, status "completed" once every replica is allocated and
   has an IP, "initializing" otherwise. It is written into ConfigMap
   `rings-config-<workload>` (consts.go `configmapPrefix`) with get + update,
   the verbs upstream's ClusterRole grants on configmaps (no patch).

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
import json
import sys
import time
from typing import Any
from urllib.parse import quote

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube

ATLAS_TASK_LABEL = "ring-controller.atlas"
RANKTABLE_VOLUME = "ranktable"
DEPLOY_LABEL = "deploy-name"
VCJOB_LABEL = "volcano.sh/job-name"
DEVICE_ANNO = "ascend.kubectl.kubernetes.io/ascend-910-configuration"
REAL_ANNO = "huawei.com/AscendReal"
RANK_ANNO = "hccl/rankIndex"
ONE_POD_ONE_NODE = "OnePodOneNode"
NPU_RESOURCE = "huawei.com/Ascend910"
CONFIGMAP_PREFIX = "rings-config-"
HCCL_KEY = "hccl.json"

# kind -> (list path, how its pods are labelled); None: watched only.
WATCHED = {
    "Deployment": ("/apis/apps/v1/deployments", DEPLOY_LABEL),
    "StatefulSet": ("/apis/apps/v1/statefulsets", DEPLOY_LABEL),
    "Job.batch.volcano.sh": ("/apis/batch.volcano.sh/v1alpha1/jobs", VCJOB_LABEL),
    "AscendJob": ("/apis/mindxdl.gitee.com/v1/ascendjobs", None),
}


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def npus(pod: dict[str, Any]) -> int:
    total = 0
    for c in pod["spec"].get("containers") or []:
        total += int(((c.get("resources") or {}).get("limits") or {}).get(NPU_RESOURCE, 0))
    return total


def replicas(kind: str, obj: dict[str, Any]) -> int:
    if kind == "Job.batch.volcano.sh":
        return sum(int(t.get("replicas", 1)) for t in obj["spec"].get("tasks") or [])
    return int(obj["spec"].get("replicas", 1))


def templates(kind: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "Job.batch.volcano.sh":
        return [t.get("template") or {} for t in obj["spec"].get("tasks") or []]
    return [obj["spec"].get("template") or {}]


def should_generate(kind: str, obj: dict[str, Any]) -> bool:
    if ATLAS_TASK_LABEL in (obj["metadata"].get("labels") or {}):
        return True
    return any(v.get("name") == RANKTABLE_VOLUME
               for t in templates(kind, obj) for v in (t.get("spec") or {}).get("volumes") or [])


class Emulator:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.kinds: dict[str, tuple[str, str | None]] = {}

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

    # -- 2-6. ranktables ----------------------------------------------------
    def reconcile(self) -> None:
        for kind, (path, how) in self.kinds.items():
            objs = self.kube.paginate(f"list {kind}", path)
            if how is None:
                continue
            for obj in objs:
                if should_generate(kind, obj) and not obj["metadata"].get("deletionTimestamp"):
                    self.ranktable(kind, obj, how)

    def ranktable(self, kind: str, obj: dict[str, Any], label: str) -> None:
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        pods = [p for p in self.kube.paginate(f"list pods of {kind} {ns}/{name}", f"/api/v1/namespaces/{ns}/pods",
                                            labelSelector=f"{label}={name}")
                if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        allocated = [p for p in pods if (not npus(p) or DEVICE_ANNO in (p["metadata"].get("annotations") or {}))
                     and (p.get("status") or {}).get("podIP")]
        want = replicas(kind, obj)
        hccl: dict[str, Any] = {"status": "initializing"}
        if len(allocated) == want == len(pods) and want > 0:
            self.rank_indices(allocated)
            servers = [self.server(p) for p in allocated if npus(p)]
            servers.sort(key=lambda s: int(s["device"][0]["rank_id"]) if s["device"] else 0)
            hccl = {"status": "completed", "version": "1.0", "server_count": str(len(servers)),
                    "server_list": servers}
        cm_name = CONFIGMAP_PREFIX + name
        cm_path = f"/api/v1/namespaces/{ns}/configmaps/{quote(cm_name)}"
        cm = self.kube.get_optional(f"get configmap {ns}/{cm_name}", cm_path)
        if cm is None:
            log(f"{kind} {ns}/{name}: ConfigMap {cm_name} does not exist; no ranktable written")
            return
        current = (cm.get("data") or {}).get(HCCL_KEY)
        try:
            same = json.loads(current or "null") == hccl
        except ValueError:
            same = False
        if same:
            return
        cm.setdefault("data", {})[HCCL_KEY] = json.dumps(hccl, indent=4)
        self.kube.request(f"update configmap {ns}/{cm_name}", "PUT", cm_path, body=cm, discard=True)
        log(f"{kind} {ns}/{name}: {cm_name} {hccl['status']} ({len(allocated)} of {want} pods allocated)")

    def rank_indices(self, pods: list[dict[str, Any]]) -> None:
        taken = {(p["metadata"].get("annotations") or {}).get(RANK_ANNO) for p in pods}
        free = (str(i) for i in range(len(pods) * 2) if str(i) not in taken)
        for p in sorted(pods, key=lambda p: p["metadata"]["name"]):
            meta = p["metadata"]
            if RANK_ANNO in (meta.get("annotations") or {}):
                continue
            meta.setdefault("annotations", {})[RANK_ANNO] = next(free)
            updated = self.kube.request(f"update pod {meta['namespace']}/{meta['name']}", "PUT",
                                      f"/api/v1/namespaces/{meta['namespace']}/pods/{quote(meta['name'])}",
                                      body=p)
            p["metadata"] = updated["metadata"]
            log(f"pod {meta['namespace']}/{meta['name']}: {RANK_ANNO}={meta['annotations'][RANK_ANNO]}")

    @staticmethod
    def server(pod: dict[str, Any]) -> dict[str, Any]:
        anno = pod["metadata"].get("annotations") or {}
        instance = json.loads(anno[DEVICE_ANNO])
        rank = int(anno[RANK_ANNO])
        devices = instance.get("devices") or []
        server_id = instance["host_ip"] if anno.get(ONE_POD_ONE_NODE) == "true" else instance["server_id"]
        return {"server_id": server_id, "host_ip": instance["host_ip"], "container_ip": pod["status"]["podIP"],
                "device": [{"device_id": d["device_id"], "device_ip": d["device_ip"],
                            "rank_id": str(rank * len(devices) + i)} for i, d in enumerate(devices)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", choices=("operator", "device-plugin"), required=True,
                    help="which component to play: the Ascend Operator's ranktables or the device plugin's annotation")
    ap.add_argument("--kubeconfig", required=True, help="kubeconfig of that component's ServiceAccount")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--once", action="store_true", help="one reconcile pass, then exit")
    args = ap.parse_args()
    try:
        emu = Emulator(Kube(args.kubeconfig))
        operator = args.step == "operator"
        if operator:
            emu.sync_informers()
        while True:
            try:
                if operator:
                    emu.reconcile()
                else:
                    emu.annotate_devices()
            except (errors.Forbidden, errors.Unauthorized):
                raise
            except errors.AscendError as e:
                log(f"reconcile failed, retrying: {e}")
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
