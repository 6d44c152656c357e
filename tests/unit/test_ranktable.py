"""Unit tests for kubectl_ascend.ranktable (global ranktable of a PD release).

Scenarios:
- not ready: coordinator pod without IP; a prefill pod without IP; a
  per-instance hccl.json still "initializing"; hccl.json naming a pod IP no
  current pod has (pod recreated); two controller pods during a rollout;
  everything missing at once is reported together;
- ready: 1 two-pod Prefill + 1 Decode instance -> groups 0 coordinator,
  1 controller, 2 prefill-0 (both pods, hccl order), 3 decode-0, with pod IPs,
  devices and device_logical_id, status completed, data() and message();
- 3P1D group numbering (prefill first, then decode);
- Atlas A3 format (no container_ip: servers mapped to pods by host IP,
  super_pod_list kept, version 1.2);
- objects of other releases and terminating pods are ignored;
- a namespace without the release's global ConfigMap raises RanktableError;
- selectors and differs_from();
- hostile or broken per-instance tables (issue 22 item 3, kubectl_ascend.rankvalidate), refused naming
  the ConfigMap and the field, nothing written: host_ip that is not an IP ("$(reboot)\\n...") or not
  the pod's node; container_ip not an IP; duplicate device ids in a server and rank ids in a table;
  server_count that disagrees; NaN / Infinity / -Infinity; duplicate keys; wrong types, fields the
  operator never writes, an unknown version; 50,000-deep nesting and more than 1 MiB refused before
  json.loads recurses, the same nesting in the global ConfigMap or a pod's device annotation does not
  crash; a valid table still builds (device_ip "-1" only in a 1.2 table); the depth scan is not fooled
  by brackets or escaped quotes in strings; a pod IP that is not an IP is refused in the global table;
  wait_for_ranktables raises the refusal even with --wait and patches nothing; `status` shows a
  hostile global table (deep nesting, a status that is not one of the operator's) as "unreadable".
"""
from __future__ import annotations

import json

import pytest

from kubectl_ascend import errors, rankvalidate
from kubectl_ascend.ranktable import (
    GLOBAL_KEY,
    RanktableError,
    build_global_ranktable,
    configmap_selector,
    pod_selector,
)

pytestmark = pytest.mark.unit

REL = "rel"
FULL = "rel-mindie-service"


def pod(name, role, ip, index=None, release=REL, host_ip="192.168.0.1", **meta):
    labels = {"app.kubernetes.io/instance": release, "mindie.huawei.com/role": role}
    if index is not None:
        labels["mindie.huawei.com/instance-index"] = str(index)
    status = {"phase": "Running" if ip else "Pending", "hostIP": host_ip}
    if ip:
        status["podIP"] = ip
    return {"metadata": {"name": name, "labels": labels, **meta}, "status": status}


def global_cm(prefill=1, decode=1, p_pods=1, d_pods=1, release=REL):
    return {
        "metadata": {
            "name": f"{release}-mindie-service-global-ranktable",
            "labels": {"app.kubernetes.io/instance": release, "mindie.huawei.com/ranktable": "global"},
            "annotations": {
                "mindie.huawei.com/prefill-instances": str(prefill),
                "mindie.huawei.com/decode-instances": str(decode),
                "mindie.huawei.com/prefill-pods-per-instance": str(p_pods),
                "mindie.huawei.com/decode-pods-per-instance": str(d_pods),
            },
        },
        "data": {GLOBAL_KEY: '{"status":"initializing"}'},
    }


def devices(first_ip, n=2):
    base = first_ip.rsplit(".", 1)
    return [{"device_id": str(i), "device_ip": f"{base[0]}.{int(base[1]) + i}", "rank_id": str(i)}
            for i in range(n)]


def hccl(servers, status="completed", **extra):
    """The operator's table: rank_id = server position * devices per server + device position
    (mind-cluster v26.0.0 ascend-operator pkg/ranktable/common/common.go getDeviceList)."""
    for n, srv in enumerate(servers):
        for i, dev in enumerate(srv.get("device") or []):
            dev["rank_id"] = str(n * len(srv["device"]) + i)
    return json.dumps({"status": status, "server_count": str(len(servers)),
                       "server_list": servers, "version": "1.0", **extra})


def instance_cm(role, index, hccl_text, pods=1, release=REL):
    return {
        "metadata": {
            "name": f"rings-config-{release}-mindie-service-{role}-{index}",
            "labels": {"app.kubernetes.io/instance": release, "mindie.huawei.com/role": role,
                       "mindie.huawei.com/instance-index": str(index),
                       "mindie.huawei.com/ranktable": "instance",
                       "ring-controller.atlas": "ascend-910b"},
            "annotations": {"mindie.huawei.com/pods": str(pods)},
        },
        "data": {"hccl.json": hccl_text},
    }


def server(pod_ip, node_ip, dev_ip):
    return {"server_id": node_ip, "container_ip": pod_ip, "device": devices(dev_ip)}


def operated(cms, pods):
    """Annotate the server pods as the device plugin and the operator left them when they wrote ``cms``.

    Each pod a completed hccl.json lists (by container_ip, else host_ip/server_id)
    gets the device plugin's annotation with that server's devices and the
    operator's hccl/rankIndex (rank_id of its first device / devices per server).
    """
    for cm in cms:
        text = (cm.get("data") or {}).get("hccl.json")
        if not text or json.loads(text).get("status") != "completed":
            continue
        for srv in json.loads(text).get("server_list") or []:
            for p in pods:
                st = p["status"]
                if srv.get("container_ip", "") == st.get("podIP") or (
                        "container_ip" not in srv and srv.get("server_id") == st.get("hostIP")
                        and p["metadata"]["labels"].get("mindie.huawei.com/role") in ("prefill", "decode")):
                    devs = srv["device"]
                    ann = p["metadata"].setdefault("annotations", {})
                    ann["hccl/rankIndex"] = str(int(devs[0]["rank_id"]) // len(devs))
                    ann["ascend.kubectl.kubernetes.io/ascend-910-configuration"] = json.dumps(
                        {"pod_name": p["metadata"]["name"], "devices": [
                            {"device_id": d["device_id"], "device_ip": d.get("device_ip", "")} for d in devs]})
    return pods


def cluster_1p2_1d():
    """One Prefill instance of two pods, one Decode instance of one pod, all completed."""
    pods = [
        pod("coord", "coordinator", "10.0.0.2"),
        pod("ctrl", "controller", "10.0.0.3"),
        pod(f"{FULL}-prefill-0-0", "prefill", "10.0.1.10", 0, host_ip="192.168.0.11"),
        pod(f"{FULL}-prefill-0-1", "prefill", "10.0.1.11", 0, host_ip="192.168.0.12"),
        pod(f"{FULL}-decode-0-0", "decode", "10.0.2.10", 0, host_ip="192.168.0.13"),
    ]
    cms = [
        global_cm(prefill=1, decode=1, p_pods=2, d_pods=1),
        instance_cm("prefill", 0, hccl([server("10.0.1.10", "192.168.0.11", "29.0.0.1"),
                                        server("10.0.1.11", "192.168.0.12", "29.0.1.1")]), pods=2),
        instance_cm("decode", 0, hccl([server("10.0.2.10", "192.168.0.13", "29.0.2.1")])),
    ]
    return cms, operated(cms, pods)


class TestMindieRanktableReady:
    """A completed global ranktable, once everything is in place."""

    def test_selectors_name_release_and_chart_labels(self):
        assert configmap_selector("r1") == "app.kubernetes.io/instance=r1,mindie.huawei.com/ranktable"
        assert pod_selector("r1") == "app.kubernetes.io/instance=r1,mindie.huawei.com/role"

    def test_completed_ranktable_has_groups_ips_and_devices(self):
        cms, pods = cluster_1p2_1d()
        result = build_global_ranktable(REL, cms, pods)
        assert result.ready, result.missing
        assert result.configmap == f"{FULL}-global-ranktable"
        rt = result.ranktable
        assert rt["status"] == "completed"
        assert rt["version"] == "1.0"
        groups = rt["server_group_list"]
        assert [g["group_id"] for g in groups] == ["0", "1", "2", "3"]
        assert groups[0]["server_list"] == [{"server_id": "192.168.0.1", "server_ip": "10.0.0.2"}]
        assert groups[1]["server_list"] == [{"server_id": "192.168.0.1", "server_ip": "10.0.0.3"}]
        # A two-pod instance: cross-node form, one group per instance with deploy_server (2 = P, 1 = D).
        prefill = groups[2]
        assert (prefill["deploy_server"], groups[3]["deploy_server"]) == ("2", "1")
        assert prefill["server_count"] == "2"
        assert [s["server_ip"] for s in prefill["server_list"]] == ["10.0.1.10", "10.0.1.11"]
        assert [s["server_id"] for s in prefill["server_list"]] == ["192.168.0.11", "192.168.0.12"]
        first = prefill["server_list"][0]["device"]
        assert first == [
            {"device_id": "0", "device_ip": "29.0.0.1", "rank_id": "0", "device_logical_id": "0"},
            {"device_id": "1", "device_ip": "29.0.0.2", "rank_id": "1", "device_logical_id": "1"},
        ]
        assert groups[3]["server_list"][0]["server_ip"] == "10.0.2.10"
        assert result.groups == ("0 coordinator", "1 controller", "2 prefill-0", "3 decode-0")
        # data() is what gets written: valid JSON equal to the ranktable.
        assert json.loads(result.data()[GLOBAL_KEY]) == rt
        assert result.message().startswith("global ranktable completed: 4 groups")

    def test_three_prefill_one_decode_numbering(self):
        pods = [pod("coord", "coordinator", "10.0.0.2"), pod("ctrl", "controller", "10.0.0.3")]
        cms = [global_cm(prefill=3, decode=1)]
        for i in range(3):
            ip = f"10.0.1.{10 + i}"
            pods.append(pod(f"p{i}", "prefill", ip, i))
            cms.append(instance_cm("prefill", i, hccl([server(ip, "192.168.0.1", f"29.0.{i}.1")])))
        pods.append(pod("d0", "decode", "10.0.2.10", 0))
        cms.append(instance_cm("decode", 0, hccl([server("10.0.2.10", "192.168.0.1", "29.1.0.1")])))
        result = build_global_ranktable(REL, cms, operated(cms, pods))
        assert result.ready, result.missing
        # Single-pod instances: the controller reads group "2" only, so every P and D server is there.
        groups = result.ranktable["server_group_list"]
        assert [g["group_id"] for g in groups] == ["0", "1", "2"]
        assert [s["server_ip"] for s in groups[2]["server_list"]] == ["10.0.1.10", "10.0.1.11", "10.0.1.12",
                                                                      "10.0.2.10"]
        assert groups[2]["server_count"] == "4"
        assert "deploy_server" not in groups[2]
        assert all(s["server_id"] == "192.168.0.1" for s in groups[2]["server_list"])
        assert result.groups == ("0 coordinator", "1 controller", "2 servers (prefill-0, prefill-1, prefill-2, decode-0)")

    def test_deploy_server_comes_from_the_configmap_label_like_clusterd(self):
        cms, pods = cluster_1p2_1d()
        cms[1]["metadata"]["labels"]["grt-group/deploy-server"] = "1"
        result = build_global_ranktable(REL, cms, pods)
        assert result.ranktable["server_group_list"][2]["deploy_server"] == "1"

    def test_other_releases_and_terminating_pods_are_ignored(self):
        cms, pods = cluster_1p2_1d()
        other_cms, other_pods = [global_cm(release="other")], [
            pod("other-coord", "coordinator", "10.9.0.2", release="other"),
            pod("other-p", "prefill", "10.9.0.3", 0, release="other"),
        ]
        dying = pod("old-coord", "coordinator", "10.0.0.250", deletionTimestamp="2026-01-01T00:00:00Z")
        finished = pod("old-ctrl", "controller", "10.0.0.251")
        finished["status"]["phase"] = "Failed"
        result = build_global_ranktable(REL, other_cms + cms, other_pods + pods + [dying, finished])
        assert result.ready, result.missing
        groups = result.ranktable["server_group_list"]
        assert groups[0]["server_list"] == [{"server_id": "192.168.0.1", "server_ip": "10.0.0.2"}]
        assert groups[1]["server_list"] == [{"server_id": "192.168.0.1", "server_ip": "10.0.0.3"}]

    def test_a3_format_maps_servers_to_pods_by_host_and_keeps_super_pods(self):
        pods = [pod("coord", "coordinator", "10.0.0.2"), pod("ctrl", "controller", "10.0.0.3"),
                pod("p0", "prefill", "10.0.1.10", 0, host_ip="192.168.0.21"),
                pod("d0", "decode", "10.0.2.10", 0, host_ip="192.168.0.22")]
        super_pods = [{"super_pod_id": "0", "server_list": [{"server_id": "192.168.0.21"}]}]
        a3 = [{"server_id": "192.168.0.21",
               "device": [{"device_id": "0", "device_ip": "29.0.0.1", "super_device_id": "37748736",
                           "rank_id": "0"}]}]
        a3_d = [{"server_id": "192.168.0.22",
                 "device": [{"device_id": "0", "device_ip": "29.0.0.9", "rank_id": "0"}]}]
        cms = [global_cm(),
               instance_cm("prefill", 0, json.dumps({"status": "completed", "version": "1.2",
                                                     "server_count": "1", "server_list": a3,
                                                     "super_pod_list": super_pods})),
               instance_cm("decode", 0, hccl(a3_d))]
        result = build_global_ranktable(REL, cms, operated(cms, pods))
        assert result.ready, result.missing
        assert result.ranktable["version"] == "1.2"
        prefill = result.ranktable["server_group_list"][2]
        assert prefill["server_list"][0]["server_ip"] == "10.0.1.10"
        assert prefill["server_list"][0]["device"][0]["super_device_id"] == "37748736"
        assert prefill["super_pod_list"] == super_pods

    def test_differs_from_compares_parsed_json(self):
        cms, pods = cluster_1p2_1d()
        result = build_global_ranktable(REL, cms, pods)
        assert result.differs_from('{"status":"initializing"}')
        assert result.differs_from(None)
        assert result.differs_from("not json")
        assert not result.differs_from(json.dumps(result.ranktable))


class TestMindieRanktableNotReady:
    """What is still missing is reported, one sentence each."""

    def test_not_ready_when_coordinator_has_no_ip(self):
        cms, pods = cluster_1p2_1d()
        pods[0] = pod("coord", "coordinator", None)
        result = build_global_ranktable(REL, cms, pods)
        assert not result.ready
        assert result.ranktable is None
        assert result.missing == ("coordinator pod coord has no IP yet",)
        assert result.message() == "not ready yet: coordinator pod coord has no IP yet"
        with pytest.raises(ValueError):
            result.data()

    def test_not_ready_when_a_prefill_pod_has_no_ip(self):
        cms, pods = cluster_1p2_1d()
        pods[3] = pod(f"{FULL}-prefill-0-1", "prefill", None, 0)
        result = build_global_ranktable(REL, cms, pods)
        assert result.missing == ("prefill instance 0: 1 of 2 pods have an IP",)

    def test_not_ready_while_instance_ranktable_initializing(self):
        cms, pods = cluster_1p2_1d()
        cms[2] = instance_cm("decode", 0, '{"status":"initializing"}')
        result = build_global_ranktable(REL, cms, pods)
        assert not result.ready
        assert len(result.missing) == 1
        assert result.missing[0].startswith(f"rings-config-{FULL}-decode-0: hccl.json is still 'initializing'")

    def test_not_ready_when_hccl_names_a_pod_that_is_gone(self):
        cms, pods = cluster_1p2_1d()
        new = pod(f"{FULL}-decode-0-0", "decode", "10.0.2.99", 0)  # recreated: new IP, carrying an old index
        new["metadata"]["annotations"] = dict(pods[4]["metadata"]["annotations"])
        pods[4] = new
        result = build_global_ranktable(REL, cms, pods)
        assert len(result.missing) == 1
        assert "lists pod IP 10.0.2.10, which no current pod of the instance has" in result.missing[0]
        assert "recreate all pods of the instance" in result.missing[0]
        assert "wait for" not in result.missing[0]


class TestRecreatedPods:
    """What upstream's operator leaves when some pods of an instance are recreated (pod.go updateRandIndex)."""

    RECREATE = (f"kubectl delete pod -n llm -l app.kubernetes.io/instance={REL},mindie.huawei.com/role=prefill,"
                "mindie.huawei.com/instance-index=0")

    def recreated(self, ip="10.0.1.11", host_ip="192.168.0.12"):
        cms, pods = cluster_1p2_1d()
        for p in pods:
            p["metadata"]["namespace"] = "llm"
        # prefill-0-1 recreated: the operator never numbers it next to prefill-0-0
        pods[3] = pod(f"{FULL}-prefill-0-1", "prefill", ip, 0, host_ip=host_ip, namespace="llm")
        return cms, pods

    def test_completed_table_and_a_pod_without_rank_index_is_refused_with_the_command(self):
        cms, pods = self.recreated()  # same IP again: the table looks current
        result = build_global_ranktable(REL, cms, pods)
        assert not result.ready
        [msg] = result.missing
        assert msg.startswith(f"prefill instance 0: pod {FULL}-prefill-0-1 has no hccl/rankIndex (1 of 2 pods have one)")
        assert "updateRandIndex" in msg
        assert msg.endswith(self.RECREATE)

    def test_initializing_table_with_some_pods_numbered_is_refused(self):
        cms, pods = self.recreated(ip="10.0.1.99")
        cms[1] = instance_cm("prefill", 0, '{"status":"initializing"}', pods=2)
        [msg] = build_global_ranktable(REL, cms, pods).missing
        assert "has no hccl/rankIndex" in msg and msg.endswith(self.RECREATE)

    def test_initializing_table_with_no_pod_numbered_is_a_plain_wait(self):
        cms, pods = cluster_1p2_1d()
        for p in pods[2:4]:  # the prefill pods: not numbered yet
            p["metadata"]["annotations"].pop("hccl/rankIndex")
        cms[1] = instance_cm("prefill", 0, '{"status":"initializing"}', pods=2)
        [msg] = build_global_ranktable(REL, cms, pods).missing
        assert "still 'initializing'" in msg and "kubectl delete" not in msg

    def test_devices_of_the_table_must_be_the_pods(self):
        cms, pods = self.recreated()
        # numbered, same IP, but the device plugin gave the new pod other devices
        pods[3]["metadata"]["annotations"] = {
            "hccl/rankIndex": "1",
            "ascend.kubectl.kubernetes.io/ascend-910-configuration": json.dumps(
                {"devices": [{"device_id": "4", "device_ip": "29.0.1.5"}, {"device_id": "5", "device_ip": "29.0.1.6"}]})}
        [msg] = build_global_ranktable(REL, cms, pods).missing
        assert f"server 10.0.1.11 lists devices ['0', '1'] but pod {FULL}-prefill-0-1 has ['4', '5']" in msg
        assert msg.endswith(self.RECREATE)

    def test_a_pod_without_device_annotation_does_not_match(self):
        cms, pods = self.recreated()
        pods[3]["metadata"]["annotations"] = {"hccl/rankIndex": "1"}
        [msg] = build_global_ranktable(REL, cms, pods).missing
        assert f"pod {FULL}-prefill-0-1 has []" in msg

    def test_not_ready_with_two_controllers_and_all_problems_reported(self):
        cms, pods = cluster_1p2_1d()
        pods.append(pod("ctrl-new", "controller", "10.0.0.4"))
        cms[1] = instance_cm("prefill", 0, '{"status":"initializing"}', pods=2)
        result = build_global_ranktable(REL, cms, pods)
        assert result.missing[0] == "2 controller pods exist (ctrl, ctrl-new); wait until only one is left"
        assert "hccl.json is still 'initializing'" in result.missing[1]
        assert len(result.missing) == 2

    def test_missing_instance_configmap_and_missing_coordinator(self):
        cms, pods = cluster_1p2_1d()
        del cms[2]
        pods = [p for p in pods if p["metadata"]["name"] != "coord"]
        result = build_global_ranktable(REL, cms, pods)
        assert result.missing == (
            "no coordinator pod exists",
            "decode instance 0: expected one per-instance ranktable ConfigMap, found 0",
        )


class TestMindieRanktableErrors:
    """Objects that are not a mindie-service PD release."""

    def test_release_without_global_configmap_is_an_error(self):
        cms, pods = cluster_1p2_1d()
        with pytest.raises(RanktableError, match="no global ranktable ConfigMap"):
            build_global_ranktable("absent", cms, pods)

    def test_global_configmap_without_annotations_is_an_error(self):
        cms, pods = cluster_1p2_1d()
        del cms[0]["metadata"]["annotations"]
        with pytest.raises(RanktableError, match="mindie.huawei.com/prefill-instances"):
            build_global_ranktable(REL, cms, pods)


def test_pod_uids_written_and_compared():
    """The table names the UIDs of the pods it was built from; a recreated pod (new UID, reused IP) differs."""
    import kubectl_ascend.ranktable as rt

    res = rt.RanktableResult(configmap="cm", ranktable={"status": "completed", "server_group_list": []},
                             groups=(), pod_uids=("u1", "u2"))
    data = res.data()
    assert data[rt.UIDS_KEY] == "u1\nu2\n"
    assert not res.differs_from(data[rt.GLOBAL_KEY], data[rt.UIDS_KEY])
    assert res.differs_from(data[rt.GLOBAL_KEY], "u1\nu3\n")
    assert res.differs_from(data[rt.GLOBAL_KEY], None)


class _RanktableKube:
    """What kubectl_ascend.mindie reads and writes: the release's ConfigMaps and pods, one watch snapshot."""

    def __init__(self, cms, pods, snapshots=()):
        self.cms, self.pods, self.snapshots, self.patched = cms, pods, list(snapshots), []

    def list_configmaps(self, namespace, label_selector=None):
        return self.cms

    def list_pods(self, namespace=None, label_selector=None, field_selector=None):
        return self.pods

    def observe(self, what, sources, timeout):
        yield from self.snapshots

    def patch_configmap_data(self, namespace, name, data):
        self.patched.append((namespace, name, data))
        return {}


class TestWaitAndWrite:
    """kubectl_ascend.mindie: waiting for a release's ranktables, writing the global one only when it changed."""

    def test_incomplete_without_wait_is_an_error_naming_what_is_missing(self):
        from kubectl_ascend import errors
        from kubectl_ascend.mindie import wait_for_ranktables

        cms, pods = cluster_1p2_1d()
        kube = _RanktableKube(cms, pods[:-1])
        with pytest.raises(errors.AscendError, match="rerun with --wait"):
            wait_for_ranktables(kube, "ns", REL, wait=False, seconds=1, timeout_text="1s", report=print)

    def test_wait_reports_each_new_state_then_writes_once(self):
        from kubectl_ascend.mindie import wait_for_ranktables, write_global_ranktable

        cms, pods = cluster_1p2_1d()
        seen: list[str] = []
        kube = _RanktableKube(cms, pods[:-1], [{"cms": cms, "pods": pods[:-1]}, {"cms": cms, "pods": pods}])
        result, got = wait_for_ranktables(kube, "ns", REL, wait=True, seconds=5, timeout_text="5s",
                                          report=seen.append)
        assert result.ready and got == cms and len(seen) == 1 and "decode" in seen[0]
        assert write_global_ranktable(kube, "ns", result, got, dry_run=True) == "would write" and not kube.patched
        assert write_global_ranktable(kube, "ns", result, got, dry_run=False) == "written"
        assert kube.patched == [("ns", f"{FULL}-global-ranktable", result.data())]
        current = [{**cm, "data": result.data()} if cm["metadata"]["name"] == result.configmap else cm for cm in cms]
        assert write_global_ranktable(kube, "ns", result, current, dry_run=False) == "unchanged"
        assert len(kube.patched) == 1

    def test_timeout_names_what_is_still_missing(self):
        from kubectl_ascend import errors
        from kubectl_ascend.mindie import wait_for_ranktables

        cms, pods = cluster_1p2_1d()
        kube = _RanktableKube(cms, pods[:-1], [{"cms": cms, "pods": pods[:-1]}])
        with pytest.raises(errors.AscendError, match="timed out after 2s: "):
            wait_for_ranktables(kube, "ns", REL, wait=True, seconds=2, timeout_text="2s", report=lambda m: None)


# -- hostile or broken per-instance tables (issue 22 item 3) ---------------------------------

PREFILL = f"rings-config-{FULL}-prefill-0"
GLOBAL_NAME = f"{FULL}-global-ranktable"


def _with(mutate=None, text=None):
    """The 1P2+1D release with prefill-0's hccl.json changed by `mutate` (on the parsed table) or set to `text`."""
    cms, pods = cluster_1p2_1d()
    cm = next(c for c in cms if c["metadata"]["name"] == PREFILL)
    if text is None:
        table = json.loads(cm["data"]["hccl.json"])
        mutate(table)
        text = json.dumps(table)
    cm["data"]["hccl.json"] = text
    return cms, pods


def _refused(cms, pods, *fragments):
    with pytest.raises(errors.AscendError) as e:
        build_global_ranktable(REL, cms, pods)
    msg = str(e.value)
    assert msg.startswith(f"ConfigMap {PREFILL}: hccl.json "), msg
    assert "nothing was written" in msg
    for f in fragments:
        assert f in msg, (f, msg)
    assert "\n" not in msg
    return msg


def _set(path, value):
    def mutate(table):
        obj = table
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return mutate


def test_a_valid_table_still_builds():
    cms, pods = cluster_1p2_1d()
    assert build_global_ranktable(REL, cms, pods).ready


def test_host_ip_that_is_a_command_is_refused():
    cms, pods = _with(_set(["server_list", 0, "host_ip"], "$(reboot)\n192.168.0.11"))
    _refused(cms, pods, "server_list[0].host_ip is '$(reboot)\\n192.168.0.11', not an IP address")


def test_host_ip_of_another_node_is_refused():
    cms, pods = _with(_set(["server_list", 1, "host_ip"], "192.168.0.99"))
    _refused(cms, pods, "server_list[1].host_ip is '192.168.0.99' but pod rel-mindie-service-prefill-0-1 "
                        "(container_ip 10.0.1.11) runs on 192.168.0.12")


def test_host_ip_of_its_own_node_is_accepted_and_becomes_server_id():
    cms, pods = _with(_set(["server_list", 1, "host_ip"], "192.168.0.12"))
    result = build_global_ranktable(REL, cms, pods)
    assert result.ready and result.ranktable["server_group_list"][2]["server_list"][1]["server_id"] == "192.168.0.12"


def test_container_ip_not_an_ip_is_refused():
    cms, pods = _with(_set(["server_list", 0, "container_ip"], "10.0.1.10; reboot"))
    _refused(cms, pods, "server_list[0].container_ip", "not an IP address")


def test_duplicate_device_and_rank_ids_are_refused():
    def dup_device(table):
        table["server_list"][0]["device"][1]["device_id"] = "0"
    _refused(*_with(dup_device), "server_list[0].device[1].device_id '0' is listed twice in the server")

    def dup_rank(table):
        table["server_list"][1]["device"][0]["rank_id"] = "1"
    _refused(*_with(dup_rank), "server_list[1].device[0].rank_id '1' is also the rank of hccl.json "
                               "server_list[0].device[1]")


def test_server_count_must_match():
    _refused(*_with(_set(["server_count"], "3")), "server_count is '3' but server_list has 2 server(s)")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(constant):
    cms, pods = cluster_1p2_1d()
    text = next(c for c in cms if c["metadata"]["name"] == PREFILL)["data"]["hccl.json"]
    text = text.replace('"rank_id": "0"', f'"rank_id": "0", "rack_id": {constant}', 1)
    _refused(*_with(text=text), f"contains {constant}, which is not JSON")


def test_duplicate_keys_are_refused():
    text = '{"status": "completed", "status": "completed", "server_list": []}'
    _refused(*_with(text=text), "has the key 'status' twice")


@pytest.mark.parametrize("path, value, fragment", [
    (["server_list"], "abc", "server_list is 'abc', not a list"),
    (["server_list", 0], 7, "server_list[0] is 7, not an object"),
    (["server_list", 0, "device"], {"0": 1}, "server_list[0].device is {'0': 1}, not a list"),
    (["server_list", 0, "device", 0, "device_id"], 0, "server_list[0].device[0].device_id is 0, not a string"),
    (["server_list", 0, "device", 0, "rank_id"], "0x1", "server_list[0].device[0].rank_id is '0x1', not a decimal id"),
    (["server_list", 0, "device", 0, "rack_id"], 1.5, "server_list[0].device[0].rack_id is 1.5, not an int32"),
    (["server_list", 0, "device", 0, "super_pod_id"], True, "super_pod_id is True, not an int32"),
    (["server_list", 0, "device", 0, "device_ip"], "29.0.0.300", "device_ip is '29.0.0.300', not an IP address"),
    (["server_list", 0, "device", 0, "evil"], "x", "server_list[0].device[0].evil is not a field the Ascend "
                                                   "Operator writes"),
    (["server_list", 0, "hardware_type"], "a b\x1b[2J", "hardware_type is 'a b\\x1b[2J', not a name"),
    (["version"], "9.9", "version is '9.9', not one of 1.0, 1.2"),
    (["super_pod_list"], [{"super_pod_id": "0", "server_list": [{"server_id": ["x"]}]}],
     "super_pod_list[0].server_list[0].server_id is ['x'], not a string"),
])
def test_wrong_types_and_fields_are_refused(path, value, fragment):
    _refused(*_with(_set(path, value)), fragment)


def test_deep_nesting_and_size_are_refused_before_parsing():
    _refused(*_with(text="[" * 50_000 + "]" * 50_000), "nests deeper than 12 levels")
    _refused(*_with(text='{"status": "completed", "x": "' + "a" * (1024 * 1024) + '"}'), "is larger than 1048576 bytes")


def test_the_depth_scan_ignores_brackets_in_strings():
    assert rankvalidate.load("cm", "k", '{"a": "[[[[[[[[[[[[[[[[\\"{{{{{{{{{{{{{{{"}') == {"a": '[[[[[[[[[[[[[[[["{{{{{{{{{{{{{{{'}
    assert rankvalidate._depth('["\\\\", [[1]]]') == 3


def test_deep_nesting_elsewhere_does_not_crash():
    cms, pods = cluster_1p2_1d()
    result = build_global_ranktable(REL, cms, pods)
    assert result.differs_from("[" * 50_000 + "]" * 50_000, result.data()["pod_uids"])
    ann = pods[2]["metadata"]["annotations"]
    ann["ascend.kubectl.kubernetes.io/ascend-910-configuration"] = "[" * 50_000 + "]" * 50_000
    assert not build_global_ranktable(REL, cms, pods).ready


def test_device_ip_error_code_is_accepted_in_a_12_table_only():
    """validateDeviceIP refuses "-1" in 1.0 tables; 1.2 tables (one logical super pod) may carry it."""
    def minus_one(table):
        table["server_list"][0]["device"][0]["device_ip"] = "-1"
    _refused(*_with(minus_one), "device_ip is '-1', not an IP address")

    def v12(table):
        minus_one(table)
        table["version"] = "1.2"
    cms, _ = _with(v12)
    table = json.loads(next(c for c in cms if c["metadata"]["name"] == PREFILL)["data"]["hccl.json"])
    rankvalidate.check_table(PREFILL, "hccl.json", table)


def test_a_pod_ip_that_is_not_an_ip_is_refused_in_the_global_table():
    cms, pods = cluster_1p2_1d()
    pods[0]["status"]["podIP"] = "10.0.0.2\n"
    with pytest.raises(errors.AscendError, match=r"global ranktable server_group_list\[0\]\.server_list\[0\]\."
                                                 r"server_ip is '10.0.0.2\\n', not an IP address"):
        build_global_ranktable(REL, cms, pods)


def test_the_command_refuses_even_with_wait_and_writes_nothing():
    from kubectl_ascend.mindie import wait_for_ranktables

    cms, pods = _with(_set(["server_list", 0, "host_ip"], "$(reboot)"))
    kube = _RanktableKube(cms, pods, [{"cms": cms, "pods": pods}])
    with pytest.raises(errors.InvalidInput, match="server_list\\[0\\].host_ip is '\\$\\(reboot\\)'"):
        wait_for_ranktables(kube, "ns", REL, wait=True, seconds=5, timeout_text="5s", report=lambda m: None)
    assert kube.patched == []


@pytest.mark.parametrize("text", ["[" * 50_000 + "]" * 50_000, '{"status": {"x": 1}}', '{"status": "\u001b[2J"}',
                                  "not json"])
def test_status_shows_a_hostile_global_table_as_unreadable(text):
    from kubectl_ascend.mindie import mindie_services

    labels = {"app.kubernetes.io/instance": REL, "app.kubernetes.io/part-of": "mindie-service",
              "mindie.huawei.com/role": "coordinator"}
    pods = [{"metadata": {"name": "c", "namespace": "ns", "labels": labels}, "spec": {"containers": []},
             "status": {}}]
    cm = {"metadata": {"name": GLOBAL_NAME, "namespace": "ns", "labels": {"app.kubernetes.io/instance": REL,
                                                                         "mindie.huawei.com/ranktable": "global"}},
          "data": {GLOBAL_KEY: text}}
    [svc] = mindie_services(_RanktableKube([cm], pods), pods)
    assert svc["ranktable"] == "unreadable"
    cm["data"][GLOBAL_KEY] = '{"status": "completed"}'
    assert mindie_services(_RanktableKube([cm], pods), pods)[0]["ranktable"] == "completed"
