"""The operator emulator's ranktable path against fixtures derived from Huawei's Ascend Operator v26.0.0.

Each expectation is what component/ascend-operator at tag v26.0.0 does with the
same objects (function named in each test); the API is a recording fake, so these
are pure-logic tests of hack/ascend_operator_emulator.py `RankTables`.

Scenarios:
- a 2-pod instance on two nodes: indices in list order (not by pod name), one
  PUT per pod, server_id = node IP (setOnePodOneNode, never from a pod
  annotation), hccl.json byte-for-byte as Go's json.Marshal writes it, data key
  `version` "0" on the first write;
- two pods on one node: server_id = the device plugin's id; a persisted
  `OnePodOneNode`/`onePodOneNode` annotation changes nothing;
- nothing written before completion; a pass that fails (pod without IP) numbers
  the pods but writes nothing, the next one completes;
- one pod of a completed instance lost, then recreated next to the survivor:
  "initializing" with the old server_list, the new pod never numbered, never
  completed (updateRandIndex); the replacement seen before the loss: stays
  "completed" with the dead pod; all pods recreated: numbered afresh, completed,
  `version` = time of the previous write;
- a single-pod instance recovers by itself;
- workloads without NPU requests, A3 SuperPoD (table v1.2) and A5 (v2.0) get nothing;
- MindIE EP jobs (labels jobID + app) carry hardware_type.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

_PATH = Path(__file__).resolve().parents[2] / "hack" / "ascend_operator_emulator.py"
_spec = importlib.util.spec_from_file_location("ascend_operator_emulator", _PATH)
assert _spec and _spec.loader
emu = importlib.util.module_from_spec(_spec)
sys.modules["ascend_operator_emulator"] = emu
_spec.loader.exec_module(emu)

NS = "llm"
DEVICE = "ascend.kubectl.kubernetes.io/ascend-910-configuration"


class FakeApi:
    """Records what the operator would send; pods come back as the API server would return them."""

    def __init__(self, configmaps: tuple[str, ...] = ("rings-config-inst",)) -> None:
        self.configmaps = set(configmaps)
        self.updates: list[tuple[str, str]] = []
        self.writes: list[tuple[str, dict[str, str]]] = []

    def update_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        self.updates.append((pod["metadata"]["name"], pod["metadata"]["annotations"]["hccl/rankIndex"]))
        return copy.deepcopy(pod)

    def configmap_exists(self, namespace: str, name: str) -> bool:
        return name in self.configmaps

    def write_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.writes.append((name, dict(data)))


def statefulset(name="inst", replicas=2, labels=None, node_selector=None, resource="huawei.com/Ascend910",
                npus=2, uid=None):
    return {"metadata": {"name": name, "namespace": NS, "uid": uid or f"uid-{name}",
                         "labels": {"ring-controller.atlas": "ascend-910b", **(labels or {})}},
            "spec": {"replicas": replicas, "template": {"spec": {
                "nodeSelector": node_selector or {},
                "containers": [{"name": "server", "resources": {"requests": {resource: str(npus)},
                                                                  "limits": {resource: str(npus)}}}]}}}}


def pod(name, node, host_ip, ip="", devices=(0, 1), rank=None, workload="inst", uid=None, deleting=False,
        extra_annotations=None):
    ann: dict[str, str] = {}
    if devices is not None:
        ann[DEVICE] = json.dumps({"pod_name": name, "server_id": uid or f"uid-{name}", "server_ip": host_ip,
                                  "host_ip": host_ip, "super_pod_id": -1,
                                  "devices": [{"device_id": str(d), "device_ip": f"29.0.0.{d + 1}"}
                                              for d in devices]})
    if rank is not None:
        ann["hccl/rankIndex"] = str(rank)
    ann.update(extra_annotations or {})
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid or f"uid-{name}",
                            "labels": {"deploy-name": workload}, "annotations": ann}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-07T20:00:00Z"
    status = {"phase": "Running", "hostIP": host_ip}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [
        {"name": "server", "resources": {"requests": {"huawei.com/Ascend910": "2"},
                                         "limits": {"huawei.com/Ascend910": "2"}}}]},
            "status": status}


def tables(api, order=None, now=1000):
    clock = {"t": now}
    t = emu.RankTables(api, order=order or (lambda pods: None), clock=lambda: clock["t"], sleep=lambda s: None)
    return t, clock


def reverse_by_name(pods):
    pods.sort(key=lambda p: p["metadata"]["name"], reverse=True)


def hccl(api, i=-1):
    return json.loads(api.writes[i][1]["hccl.json"])


def test_two_pods_on_two_nodes_completed_like_go():
    """updateRandIndex, setOnePodOneNode, buildServerInfo, GatherServerList, writeRanktableToCm."""
    api = FakeApi()
    t, _ = tables(api, order=reverse_by_name)
    sts = statefulset()
    t.seen("StatefulSet", sts)
    pods = [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5"), pod("inst-1", "n2", "192.168.0.2", "10.0.2.5")]
    t.reconcile("StatefulSet", sts, pods)
    # list order (here: reversed names), not sorted by name
    assert api.updates == [("inst-1", "0"), ("inst-0", "1")]
    assert len(api.writes) == 1
    name, data = api.writes[0]
    assert name == "rings-config-inst"
    assert set(data) == {"hccl.json", "version"}
    assert data["version"] == "0"
    assert data["hccl.json"] == (
        '{"status":"completed","server_list":['
        '{"device":[{"device_id":"0","device_ip":"29.0.0.1","rank_id":"0"},'
        '{"device_id":"1","device_ip":"29.0.0.2","rank_id":"1"}],'
        '"server_id":"192.168.0.2","host_ip":"192.168.0.2","container_ip":"10.0.2.5"},'
        '{"device":[{"device_id":"0","device_ip":"29.0.0.1","rank_id":"2"},'
        '{"device_id":"1","device_ip":"29.0.0.2","rank_id":"3"}],'
        '"server_id":"192.168.0.1","host_ip":"192.168.0.1","container_ip":"10.0.1.5"}],'
        '"server_count":"2","version":"1.0"}')
    # the pods given to reconcile are the cache's: not changed in place
    assert "hccl/rankIndex" not in pods[0]["metadata"]["annotations"]
    # nothing changes: nothing is written again
    numbered = [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5", rank=1),
                pod("inst-1", "n2", "192.168.0.2", "10.0.2.5", rank=0)]
    t.reconcile("StatefulSet", sts, numbered)
    assert len(api.writes) == 1 and len(api.updates) == 2


@pytest.mark.parametrize("persisted", [{}, {"OnePodOneNode": "true"}, {"onePodOneNode": "true"}])
def test_two_pods_on_one_node_keep_the_device_plugins_server_id(persisted):
    """setOnePodOneNode is computed in memory; a pod annotation never decides it."""
    api = FakeApi()
    t, _ = tables(api)
    sts = statefulset()
    t.seen("StatefulSet", sts)
    t.reconcile("StatefulSet", sts, [
        pod("inst-0", "n1", "192.168.0.1", "10.0.1.5", devices=(0, 1), extra_annotations=persisted),
        pod("inst-1", "n1", "192.168.0.1", "10.0.1.6", devices=(2, 3), extra_annotations=persisted)])
    servers = hccl(api)["server_list"]
    assert [s["server_id"] for s in servers] == ["uid-inst-0", "uid-inst-1"]
    assert [s["host_ip"] for s in servers] == ["192.168.0.1", "192.168.0.1"]


def test_persisted_annotation_does_not_make_a_shared_node_look_alone():
    api = FakeApi()
    t, _ = tables(api)
    sts = statefulset(replicas=1)
    t.seen("StatefulSet", sts)
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5",
                                         extra_annotations={"OnePodOneNode": "false"})])
    # one pod is always alone on its node: the node IP, whatever the pod says
    assert hccl(api)["server_list"][0]["server_id"] == "192.168.0.1"


def test_nothing_written_until_complete_and_failed_pass_numbers_but_writes_nothing():
    """genRankTable: no write before all replicas are allocated; cachePods fails on a pod without IP."""
    api = FakeApi()
    t, _ = tables(api)
    sts = statefulset()
    t.seen("StatefulSet", sts)
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5")])
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5"),
                                     pod("inst-1", "n2", "192.168.0.2", devices=None)])
    assert api.updates == [] and api.writes == []
    # all allocated, one without IP: numbered (updateRandIndex runs first), but not written
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5"),
                                     pod("inst-1", "n2", "192.168.0.2")])
    assert api.updates == [("inst-0", "0"), ("inst-1", "1")] and api.writes == []
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5", rank=0),
                                     pod("inst-1", "n2", "192.168.0.2", "10.0.2.5", rank=1)])
    assert len(api.updates) == 2
    assert [w[0] for w in api.writes] == ["rings-config-inst"] and hccl(api)["status"] == "completed"


def completed(t, api, sts):
    t.seen("StatefulSet", sts)
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5"),
                                     pod("inst-1", "n2", "192.168.0.2", "10.0.2.5")])
    assert hccl(api)["status"] == "completed"
    return copy.deepcopy(hccl(api)["server_list"])


def test_recreated_pod_next_to_a_survivor_is_never_numbered():
    """checkPodDelete + DeletePod, then updateRandIndex returns early: stuck in initializing."""
    api = FakeApi()
    t, clock = tables(api)
    sts = statefulset()
    old = completed(t, api, sts)
    clock["t"] = 2000
    survivor = pod("inst-1", "n2", "192.168.0.2", "10.0.2.5", rank=1)
    t.reconcile("StatefulSet", sts, [survivor])  # inst-0 is gone
    assert len(api.writes) == 2
    # "initializing" with the previous server_list and server_count still in it
    assert api.writes[1][1]["hccl.json"] == go_json_of({"status": "initializing", "server_list": old,
                                                        "server_count": "2", "version": "1.0"})
    assert api.writes[1][1]["version"] == "1000"
    replacement = pod("inst-0", "n3", "192.168.0.3", "10.0.3.5", uid="uid-inst-0-new")
    for _ in range(3):
        t.reconcile("StatefulSet", sts, [replacement, survivor])
    assert api.updates == [("inst-0", "0"), ("inst-1", "1")]  # only the first numbering
    assert len(api.writes) == 2  # never completed again


def go_json_of(value):
    return emu.go_json(value)


def test_replacement_seen_before_the_loss_keeps_the_dead_pod_completed():
    """checkPodDelete resets only when fewer pods than replicas are listed."""
    api = FakeApi()
    t, _ = tables(api)
    sts = statefulset()
    old = completed(t, api, sts)
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5", rank=0, deleting=True),
                                     pod("inst-1", "n2", "192.168.0.2", "10.0.2.5", rank=1),
                                     pod("inst-0", "n3", "192.168.0.3", "10.0.3.5", uid="uid-inst-0-new")])
    t.reconcile("StatefulSet", sts, [pod("inst-1", "n2", "192.168.0.2", "10.0.2.5", rank=1),
                                     pod("inst-0", "n3", "192.168.0.3", "10.0.3.5", uid="uid-inst-0-new")])
    assert len(api.writes) == 1 and len(api.updates) == 2
    assert "10.0.1.5" in {s["container_ip"] for s in old}


def test_all_pods_recreated_complete_again():
    """The action that works: every pod of the instance recreated."""
    api = FakeApi()
    t, clock = tables(api)
    sts = statefulset()
    completed(t, api, sts)
    clock["t"] = 2000
    t.reconcile("StatefulSet", sts, [])
    clock["t"] = 3000
    new = [pod("inst-0", "n3", "192.168.0.3", "10.0.3.5", uid="n0"),
           pod("inst-1", "n4", "192.168.0.4", "10.0.4.5", uid="n1")]
    t.reconcile("StatefulSet", sts, new)
    assert api.updates[2:] == [("inst-0", "0"), ("inst-1", "1")]
    assert [hccl(api, i)["status"] for i in range(3)] == ["completed", "initializing", "completed"]
    assert {s["container_ip"] for s in hccl(api)["server_list"]} == {"10.0.3.5", "10.0.4.5"}
    assert api.writes[2][1]["version"] == "2000"


def test_single_pod_instance_recovers_by_itself():
    """One pod: no survivor keeps an index, so the replacement is numbered 0."""
    api = FakeApi()
    t, _ = tables(api)
    sts = statefulset(replicas=1)
    t.seen("StatefulSet", sts)
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5")])
    t.reconcile("StatefulSet", sts, [])
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n2", "192.168.0.2", "10.0.2.5", uid="new")])
    assert api.updates == [("inst-0", "0"), ("inst-0", "0")]
    assert [hccl(api, i)["status"] for i in range(3)] == ["completed", "initializing", "completed"]
    assert hccl(api)["server_list"][0]["container_ip"] == "10.0.2.5"


def test_configmap_missing_at_first_completion_is_never_written():
    """configmapExist caches "does not exist"."""
    api = FakeApi(configmaps=())
    t, _ = tables(api)
    sts = statefulset(replicas=1)
    t.seen("StatefulSet", sts)
    t.reconcile("StatefulSet", sts, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5")])
    api.configmaps.add("rings-config-inst")
    t.reconcile("StatefulSet", sts, [])
    assert api.writes == []


@pytest.mark.parametrize("workload", [
    statefulset(npus=0),
    statefulset(node_selector={"accelerator-type": "module-a3-16-super-pod"}),
    statefulset(resource="huawei.com/npu"),
    {**statefulset(), "metadata": {**statefulset()["metadata"], "labels": {}}},
])
def test_workloads_upstream_skips_or_writes_another_format_get_nothing(workload):
    api = FakeApi()
    t, _ = tables(api)
    t.seen("StatefulSet", workload)
    t.reconcile("StatefulSet", workload, [pod("inst-0", "n1", "192.168.0.1", "10.0.1.5"),
                                          pod("inst-1", "n2", "192.168.0.2", "10.0.2.5")])
    assert api.updates == [] and api.writes == []


def test_vcjob_replicas_and_ep_hardware_type():
    """getTotalReplicas over a Volcano Job's tasks; setExtendedServerInfo for MindIE EP jobs."""
    api = FakeApi(configmaps=("rings-config-job",))
    t, _ = tables(api)
    job = {"metadata": {"name": "job", "namespace": NS, "uid": "uid-job",
                        "labels": {"ring-controller.atlas": "ascend-910b", "jobID": "j", "app": "mindie-server"}},
           "spec": {"tasks": [{"name": "server", "replicas": 1, "template": statefulset()["spec"]["template"]}]}}
    t.seen("Job.batch.volcano.sh", job)
    p = pod("job-server-0", "n1", "192.168.0.1", "10.0.1.5", workload="job",
            extra_annotations={"mind-cluster/hardware-type": "800I-A2"})
    t.reconcile("Job.batch.volcano.sh", job, [p])
    assert hccl(api)["server_list"][0]["hardware_type"] == "800I-A2"
    assert list(hccl(api)["server_list"][0]) == ["device", "hardware_type", "server_id", "host_ip", "container_ip"]


def test_go_json_escapes_like_encoding_json():
    assert emu.go_json({"a": "<&>", "b": ["é"]}) == '{"a":"\\u003c\\u0026\\u003e","b":["é"]}'
