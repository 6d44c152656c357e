"""The rules of each `diagnose` layer on hand-built objects (kubectl_ascend/diagnose.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubectl_ascend import diagnose as dg
from kubectl_ascend.ranktable import build_global_ranktable

NS, REL = "llm", "qwen"
DEV_ANNO = "ascend.kubectl.kubernetes.io/ascend-910-configuration"
NOW = 1_800_000_000.0


def node(name: str, npus: int = 8, atype: str = "module-910b-8", ip: str = "10.0.0.1") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"accelerator": "huawei-Ascend910", "accelerator-type": atype}},
            "status": {"allocatable": {"huawei.com/Ascend910": str(npus)}, "addresses": [{"address": ip}]}}


def pod(name: str, role: str, index: str = "0", npus: int = 0, node_name: str | None = "n0", ip: str = "10.1.0.1",
        host: str = "10.0.0.1", ready: bool = True, devices: list[int] | None = None, env: list[dict] | None = None,
        group: str | None = None, uid: str | None = None, mounts: list[dict] | None = None, ns: str = NS,
        release: str = REL, host_network: bool = False, ports: list[dict] | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/instance": release, "app.kubernetes.io/part-of": "mindie-service",
              "mindie.huawei.com/role": role}
    if role in ("prefill", "decode"):
        labels["mindie.huawei.com/instance-index"] = index
    annotations: dict[str, str] = {}
    if group:
        annotations["scheduling.k8s.io/group-name"] = group
    if devices is not None:
        annotations[DEV_ANNO] = json.dumps({"pod_name": name, "server_id": uid or name, "devices": [
            {"device_id": str(d), "device_ip": f"29.0.0.{d + 1}"} for d in devices]})
        annotations["hccl/rankIndex"] = "0"
    res = {"requests": {"huawei.com/Ascend910": str(npus)}, "limits": {"huawei.com/Ascend910": str(npus)}} \
        if npus else {}
    container = {"name": "mindie", "resources": res, "env": env or [], "volumeMounts": mounts or [],
                 "ports": ports or []}
    spec: dict[str, Any] = {"containers": [container], "schedulerName": "volcano",
                            "nodeSelector": {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8"}}
    if host_network:
        spec["hostNetwork"] = True
    status: dict[str, Any] = {"phase": "Pending", "conditions": []}
    if node_name:
        spec["nodeName"] = node_name
        status = {"phase": "Running", "podIP": ip, "hostIP": host,
                  "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                  "containerStatuses": [{"name": "mindie", "state": {"running": {}}, "restartCount": 0}]}
    return {"metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "labels": labels,
                         "annotations": annotations}, "spec": spec, "status": status}


def rings(role: str, index: int, status: str = "completed", servers: list[dict] | None = None) -> dict[str, Any]:
    table: dict[str, Any] = {"status": status}
    if status == "completed":
        table.update({"version": "1.0", "server_count": str(len(servers or [])), "server_list": servers or []})
    return {"metadata": {"name": f"rings-config-{REL}-mindie-service-{role}-{index}", "namespace": NS,
                         "labels": {"app.kubernetes.io/instance": REL, "mindie.huawei.com/ranktable": "instance",
                                    "mindie.huawei.com/role": role, "mindie.huawei.com/instance-index": str(index)},
                         "annotations": {"mindie.huawei.com/pods": "1"}},
            "data": {"hccl.json": json.dumps(table)}}


def global_cm(data: dict[str, str] | None = None, written: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"{REL}-mindie-service-global-ranktable", "namespace": NS,
        "labels": {"app.kubernetes.io/instance": REL, "mindie.huawei.com/ranktable": "global",
                   "app.kubernetes.io/part-of": "mindie-service"},
        "annotations": {"mindie.huawei.com/prefill-instances": "1", "mindie.huawei.com/decode-instances": "1",
                        "mindie.huawei.com/prefill-pods-per-instance": "1",
                        "mindie.huawei.com/decode-pods-per-instance": "1"}}
    if written:
        meta["managedFields"] = [{"manager": "kubectl-ascend", "time": written,
                                  "fieldsV1": {"f:data": {"f:global_ranktable.json": {}}}}]
    return {"metadata": meta, "data": data or {"global_ranktable.json": '{"status": "initializing"}'}}


def server(p: dict[str, Any]) -> dict[str, Any]:
    devs = json.loads(p["metadata"]["annotations"][DEV_ANNO])["devices"]
    return {"server_id": p["status"]["hostIP"], "host_ip": p["status"]["hostIP"], "container_ip": p["status"]["podIP"],
            "device": [{"device_id": d["device_id"], "device_ip": d["device_ip"], "rank_id": str(i)}
                       for i, d in enumerate(devs)]}


def healthy_pd() -> dg.Snapshot:
    """A PD release where every layer passes: tables completed and the global one written from the live pods."""
    ps = [pod("coord", "coordinator", ip="10.1.0.2"), pod("ctrl", "controller", ip="10.1.0.3"),
          pod("p0", "prefill", npus=2, devices=[0, 1], ip="10.1.0.4",
              mounts=[{"name": "hccn", "mountPath": "/etc/hccn.conf"}]),
          pod("d0", "decode", npus=2, devices=[2, 3], ip="10.1.0.5",
              mounts=[{"name": "hccn", "mountPath": "/etc/hccn.conf"}])]
    cms = [rings("prefill", 0, servers=[server(ps[2])]), rings("decode", 0, servers=[server(ps[3])]), global_cm()]
    result = build_global_ranktable(REL, cms, ps)
    assert result.ready, result.missing
    cms[2] = global_cm(result.data(), written="2020-01-01T00:00:00Z")
    return dg.Snapshot(REL, NS, ps, configmaps=cms, nodes=[node("n0")], cluster_pods=ps, now=NOW)


def layer(snap: dg.Snapshot, name: str) -> dict[str, Any]:
    report = dg.diagnose(snap)
    [lay] = [x for x in report["layers"] if x["layer"] == name]
    return lay


def text(lay: dict[str, Any]) -> str:
    return " | ".join(f"{f['what']} -> {f['fix']}" for f in lay["findings"])


# -- the report --------------------------------------------------------------------

def test_healthy_release_passes_every_layer_in_order():
    report = dg.diagnose(healthy_pd())
    assert [x["layer"] for x in report["layers"]] == ["scheduling", "devices", "network", "ranktable", "service"]
    assert {x["layer"]: x["verdict"] for x in report["layers"]} == dict.fromkeys(dg.LAYERS, "PASS"), report
    assert report["firstFailing"] is None
    assert set(report) == {"release", "namespace", "layers", "firstFailing"}
    assert all(set(f) == {"what", "fix"} for x in report["layers"] for f in x["findings"])


def test_first_failing_is_the_earliest_fail_not_a_warn():
    snap = healthy_pd()
    for p in snap.pods:
        p["spec"]["containers"][0]["volumeMounts"] = []  # network WARN only
    snap.pods[3]["status"]["conditions"][0]["status"] = "False"  # service FAIL
    report = dg.diagnose(snap)
    assert [x["verdict"] for x in report["layers"]] == ["PASS", "PASS", "WARN", "PASS", "FAIL"]
    assert report["firstFailing"] == "service"


# -- scheduling -----------------------------------------------------------------------

def gang_snapshot(pending_pods: int = 2, free_nodes: int = 1) -> dg.Snapshot:
    pg = {"metadata": {"name": "pg-prefill-0", "namespace": NS,
                       "labels": {"app.kubernetes.io/instance": REL, "mindie.huawei.com/role": "prefill",
                                  "mindie.huawei.com/instance-index": "0"}},
          "spec": {"minMember": pending_pods, "queue": "default",
                   "minResources": {"huawei.com/Ascend910": str(8 * pending_pods)}},
          "status": {"phase": "Pending"}}
    event = {"involvedObject": {"kind": "PodGroup", "name": "pg-prefill-0"}, "type": "Normal",
             "reason": "Unschedulable", "lastTimestamp": "2027-01-01T00:00:00Z",
             "message": "0/5 nodes are unavailable: 3 Insufficient huawei.com/Ascend910."}
    nodes = [node(f"n{i}") for i in range(3)]
    busy = [pod(f"other{i}", "single", npus=8, node_name=f"n{i}", release="other") for i in range(free_nodes, 3)]
    vcjob = {"metadata": {"name": f"{REL}-prefill-0", "labels": {
        "app.kubernetes.io/instance": REL, "app.kubernetes.io/part-of": "mindie-service",
        "mindie.huawei.com/role": "prefill", "mindie.huawei.com/instance-index": "0"}},
        "spec": {"tasks": [{"template": {"spec": {"nodeSelector": {"accelerator-type": "module-910b-8"}}}}]}}
    return dg.Snapshot(REL, NS, [pod("coord", "coordinator")], podgroups=[pg], events=[event], nodes=nodes,
                       cluster_pods=busy, vcjobs=[vcjob], queues={"default": {"status": {"state": "Open"}}})


def test_scheduling_names_volcano_reason_and_gang_vs_free_nodes():
    lay = layer(gang_snapshot(pending_pods=2, free_nodes=1), "scheduling")
    assert lay["verdict"] == "FAIL"
    t = text(lay)
    assert "prefill-0 (PodGroup pg-prefill-0, Pending): 2/2 pod(s) not placed" in t
    assert "Volcano: 0/5 nodes are unavailable: 3 Insufficient huawei.com/Ascend910." in t
    assert ("the gang needs 2 pod(s) x 8 NPU(s) on accelerator-type=module-910b-8 nodes; those 3 node(s) have "
            "room for 1 such pod(s) now (1 whole free node(s))") in t


def test_scheduling_unplaced_plain_pod_gives_its_podscheduled_message():
    p = pod("s0", "single", npus=4, node_name=None)
    p["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                  "message": "0/3 nodes are unavailable: 3 Insufficient huawei.com/Ascend910."}]
    snap = dg.Snapshot(REL, NS, [p], nodes=[node("n0")], cluster_pods=[pod("x", "single", npus=6, release="o")])
    t = text(layer(snap, "scheduling"))
    assert "pod s0 is not placed: 0/3 nodes are unavailable: 3 Insufficient huawei.com/Ascend910." in t
    assert "room for 0 such pod(s) now (0 whole free node(s))" in t


def test_scheduling_queue_closed_and_capability_below_gang():
    snap = gang_snapshot()
    snap.queues = {"default": {"spec": {"capability": {"huawei.com/Ascend910": "8"}}, "status": {"state": "Closed"}}}
    t = text(layer(snap, "scheduling"))
    assert "Volcano queue default is Closed: it admits no new gang" in t
    assert "Volcano queue default caps huawei.com/Ascend910 at 8, below the gang's 16" in t
    snap.queues = {"default": None}
    assert "names Volcano queue 'default', which does not exist" in text(layer(snap, "scheduling"))


def test_scheduling_passes_when_every_pod_is_placed():
    lay = layer(healthy_pd(), "scheduling")
    assert lay["verdict"] == "PASS" and lay["findings"][0]["what"] == "all 4 pod(s) placed"


# -- devices -----------------------------------------------------------------------------

def test_devices_npu_pod_without_allocation_annotation():
    snap = healthy_pd()
    del snap.pods[2]["metadata"]["annotations"][DEV_ANNO]
    snap.device_plugin_pods = [{"metadata": {"name": "dp"}, "spec": {"nodeName": "n0"},
                                "status": {"phase": "Running"}}]
    lay = layer(snap, "devices")
    assert lay["verdict"] == "FAIL"
    assert text(lay).startswith("pod p0 on n0 requests 2 NPU(s) but carries no device-plugin allocation annotation "
                                f"({DEV_ANNO}); device plugin on n0: Running")


def test_devices_annotation_with_other_device_count():
    snap = healthy_pd()
    snap.pods[3]["metadata"]["annotations"][DEV_ANNO] = json.dumps({"devices": [{"device_id": "2"}]})
    assert "pod d0 requests 2 NPU(s) but its allocation annotation lists 1 device(s) (2)" in \
        text(layer(snap, "devices"))


def test_devices_container_sets_visible_devices_itself_or_from_another_field():
    snap = healthy_pd()
    snap.pods[2]["spec"]["containers"][0]["env"] = [{"name": "ASCEND_VISIBLE_DEVICES", "value": "0,1"}]
    snap.pods[3]["spec"]["containers"][0]["env"] = [{"name": "ASCEND_VISIBLE_DEVICES", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.annotations['huawei.com/npu']"}}}]
    t = text(layer(snap, "devices"))
    assert "pod p0 container mindie sets ASCEND_VISIBLE_DEVICES='0,1' itself" in t
    assert ("pod d0 container mindie takes ASCEND_VISIBLE_DEVICES from metadata.annotations['huawei.com/npu'], "
            "which the device plugin does not accept (only metadata.annotations['huawei.com/Ascend910'])") in t
    # the downward-API form the device plugin reads is fine
    snap = healthy_pd()
    snap.pods[2]["spec"]["containers"][0]["env"] = [{"name": "ASCEND_VISIBLE_DEVICES", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.annotations['huawei.com/Ascend910']"}}}]
    assert layer(snap, "devices")["verdict"] == "PASS"


@pytest.mark.parametrize("value,ok", [("0,1", True), ("1", True), ("2", False), ("0,0", False), ("a", False)])
def test_devices_rt_visible_devices_must_be_logical_ids_below_the_pods_npus(value, ok):
    snap = healthy_pd()
    snap.pods[2]["spec"]["containers"][0]["env"] = [{"name": "ASCEND_RT_VISIBLE_DEVICES", "value": value}]
    lay = layer(snap, "devices")
    assert (lay["verdict"] == "PASS") is ok, lay
    if not ok:
        assert f"sets ASCEND_RT_VISIBLE_DEVICES={value!r}, but it sees 2 NPU(s), numbered 0..1" in text(lay)


# -- network -------------------------------------------------------------------------------

def test_network_warns_when_pd_server_pods_lack_hccn_conf_but_not_in_single_mode():
    snap = healthy_pd()
    snap.pods[3]["spec"]["containers"][0]["volumeMounts"] = []
    lay = layer(snap, "network")
    assert lay["verdict"] == "WARN"
    assert text(lay).startswith("/etc/hccn.conf is not mounted in server pod(s) d0")
    single = dg.Snapshot(REL, NS, [pod("s0", "single", npus=2, devices=[0, 1])], nodes=[node("n0")])
    assert layer(single, "network")["verdict"] == "PASS"


def test_network_hccl_if_ip_must_be_the_pods_own_address():
    snap = healthy_pd()
    snap.pods[2]["spec"]["containers"][0]["env"] = [{"name": "HCCL_IF_IP", "value": "192.168.9.9"}]
    lay = layer(snap, "network")
    assert lay["verdict"] == "FAIL"
    assert "pod p0 sets HCCL_IF_IP='192.168.9.9', not its own address 10.1.0.4 (the pod IP)" in text(lay)
    snap.pods[2]["spec"]["containers"][0]["env"] = [{"name": "HCCL_IF_IP", "value": "10.1.0.4"}]
    assert layer(snap, "network")["verdict"] == "PASS"


def test_network_host_network_port_clash_on_a_node():
    snap = healthy_pd()
    other = pod("web", "single", release="other", ns="web", host_network=True, ports=[{"containerPort": 1025}])
    snap.pods[0]["spec"]["hostNetwork"] = True
    snap.pods[0]["spec"]["containers"][0]["ports"] = [{"containerPort": 1025}]
    snap.cluster_pods = snap.pods + [other]
    assert "host-network pods llm/coord, web/web on n0 all use port 1025" in text(layer(snap, "network"))


# -- ranktable --------------------------------------------------------------------------------

def test_ranktable_rings_config_not_completed():
    snap = healthy_pd()
    snap.configmaps[0] = rings("prefill", 0, status="initializing")
    lay = layer(snap, "ranktable")
    assert lay["verdict"] == "FAIL"
    assert text(lay).startswith(f"rings-config-{REL}-mindie-service-prefill-0 is initializing, not completed")


def test_ranktable_global_not_written():
    snap = healthy_pd()
    snap.configmaps[2] = global_cm()
    t = text(layer(snap, "ranktable"))
    assert f"configmap/{REL}-mindie-service-global-ranktable is still initializing" in t
    assert f"kubectl ascend -n {NS} mindie ranktable {REL}" in t


def test_ranktable_global_written_for_other_pods_is_stale():
    snap = healthy_pd()
    snap.pods[3]["metadata"]["uid"] = "uid-recreated"
    assert "describes other pods than the live ones" in text(layer(snap, "ranktable"))


def test_ranktable_recently_written_warns_about_kubelet_sync():
    snap = healthy_pd()
    snap.configmaps[2]["metadata"]["managedFields"][0]["time"] = "2027-01-15T08:00:00Z"
    snap.now = dg.timestamp("2027-01-15T08:00:30Z") or 0.0
    snap.pods[2]["status"]["conditions"][0]["status"] = "False"
    lay = layer(snap, "ranktable")
    assert lay["verdict"] == "WARN"
    assert "written 30s ago; the kubelet may take up to 120s" in text(lay)


def test_ranktable_clusterd_mode_needs_clusterd():
    snap = healthy_pd()
    snap.configmaps = snap.configmaps[:2]
    for cm in snap.configmaps:
        cm["metadata"]["labels"]["jobID"] = "j"
    assert snap.mode == "clusterd"
    assert "but ClusterD is not installed" in text(layer(snap, "ranktable"))
    snap.clusterd = ["deployment mindx-dl/clusterd"]
    assert layer(snap, "ranktable")["verdict"] == "PASS"


def test_ranktable_single_mode_has_none():
    snap = dg.Snapshot(REL, NS, [pod("s0", "single", npus=2, devices=[0, 1])])
    assert layer(snap, "ranktable") == {"layer": "ranktable", "verdict": "PASS", "findings": [
        {"what": "single mode: the instances use no ranktable", "fix": ""}]}


# -- service -----------------------------------------------------------------------------------

def test_service_pod_not_ready():
    snap = healthy_pd()
    snap.pods[1]["status"]["conditions"][0]["status"] = "False"
    snap.pods[1]["status"]["containerStatuses"][0] = {"name": "mindie", "restartCount": 3,
                                                      "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    assert "controller pod ctrl is not Ready (CrashLoopBackOff, 3 restarts)" in text(layer(snap, "service"))


@pytest.mark.parametrize("line,meaning", [
    ("[ERROR] HCCL EI0013: An error CQE occurred during operator execution.", "error completion (CQE) on a RoCE link"),
    ("EJ0002: Environment Error", "HCCP (the NPU network process) reports an environment error"),
    ("link HcclCommPrepare failed ret=0x13", "KV-transfer link between prefill and decode NPUs"),
    ("dcmi get device info failed, ret = -8005", "(DCMI) returned -8005"),
    ("EE1001 Invalid device ID 9", "a device id given to the runtime is not one the container sees"),
    ("RuntimeError: The KV transfer failed.Check logs.", "could not pull the KV cache"),
])
def test_service_log_signatures(line, meaning):
    snap = healthy_pd()
    snap.logs = {"d0/mindie": f"starting\n{line}\nmore\n", "p0/mindie": "fine\n"}
    lay = layer(snap, "service")
    assert lay["verdict"] == "FAIL"
    [finding] = lay["findings"]
    assert finding["what"].startswith("d0/mindie: ") and meaning in finding["what"]
    assert repr(" ".join(line.split())) in finding["what"]
    assert finding["fix"]


def test_service_signature_needs_the_exact_token():
    snap = healthy_pd()
    snap.logs = {"d0/mindie": "port 18005 open\nEI00130 other\nid -80051\n"}
    assert layer(snap, "service")["verdict"] == "PASS"


# -- the bundle ---------------------------------------------------------------------------------

def test_bundle_is_in_faultdiag_layout_and_refuses_a_used_directory(tmp_path: Path):
    snap = healthy_pd()
    snap.logs = {"d0/mindie": "EI0013 x\n"}
    report = dg.diagnose(snap)
    out = tmp_path / "b"
    files = dg.write_bundle(str(out), snap, report, {"device-plugin": {"dp-1": "dp log\n"},
                                                     "volcano-scheduler": {"vs": "vs log\n"},
                                                     "volcano-controllers": {"vc": "vc log\n"}})
    assert set(files) == {
        "diagnose.json", "kubernetes/pods.json", "kubernetes/podgroups.json", "kubernetes/volcano-jobs.json",
        "kubernetes/events.json", "kubernetes/nodes.json", "kubernetes/queues.json",
        f"kubernetes/configmaps/rings-config-{REL}-mindie-service-prefill-0.json",
        f"kubernetes/configmaps/rings-config-{REL}-mindie-service-decode-0.json",
        f"kubernetes/configmaps/{REL}-mindie-service-global-ranktable.json",
        "mindie/log/mindie_cluster_log/d0_mindie.log",
        "dl_log/devicePlugin/dp-1/devicePlugin.log", "dl_log/volcano-scheduler/vs/volcano-scheduler.log",
        "dl_log/volcano-controller/vc/volcano-controller.log"}
    assert (out / "mindie/log/mindie_cluster_log/d0_mindie.log").read_text() == "EI0013 x\n"
    assert json.loads((out / "diagnose.json").read_text()) == report
    with pytest.raises(dg.errors.InvalidInput, match="exists and is not an empty directory"):
        dg.write_bundle(str(out), snap, report, {})


def test_devices_a_pod_placed_moments_ago_may_still_wait_for_its_allocation():
    snap = healthy_pd()
    p = snap.pods[2]
    del p["metadata"]["annotations"][DEV_ANNO]
    p["status"]["containerStatuses"] = [{"name": "mindie", "state": {"waiting": {"reason": "ContainerCreating"}}}]
    p["status"]["conditions"].append({"type": "PodScheduled", "status": "True",
                                      "lastTransitionTime": "2027-01-15T08:00:00Z"})
    snap.now = (dg.timestamp("2027-01-15T08:00:00Z") or 0.0) + 10
    lay = layer(snap, "devices")
    assert lay["verdict"] == "WARN" and "placed moments ago" in text(lay)
    snap.now += 60
    assert layer(snap, "devices")["verdict"] == "FAIL"
