"""`kubectl ascend mindie ranktable` against hostile or broken rings-config-* data on a real API server
(issue 22 item 3).

A PD release is planted by hand in a fresh namespace, as the mindie-service chart and the Ascend
Operator leave it: the global ranktable ConfigMap ("initializing", the chart's labels and shape
annotations), coordinator/controller/prefill/decode pods on the cluster's nodes (the device plugin's
device annotation and the operator's hccl/rankIndex on the server pods), and the two per-instance
ConfigMaps with completed hccl.json built from the pods' real IPs.

Scenarios:
- the planted release as the operator writes it builds (dry run), so the refusals below are about the
  planted fields alone;
- each hostile or broken prefill table: host_ip "$(reboot)\\n..." (the issue's server_id injection),
  host_ip of another node, duplicate rank ids, NaN, a wrong type, 50,000-deep nesting: exit 1 with a
  one-line message naming the ConfigMap and the field (never "internal error"), and the global
  ConfigMap keeps its resourceVersion and "initializing";
- the valid table again: the command writes the global table, whose server_ids are the pods' nodes.
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

REL = "rt"
FULL = f"{REL}-mindie-service"
GLOBAL = f"{FULL}-global-ranktable"
PREFILL = f"rings-config-{FULL}-prefill-0"
LABELS = {"app.kubernetes.io/instance": REL}


def _pod(name: str, role: str, node: str, index: int | None = None, device_ip: str = "") -> dict:
    labels = {**LABELS, "mindie.huawei.com/role": role}
    annotations = {}
    if index is not None:
        labels["mindie.huawei.com/instance-index"] = str(index)
        annotations = {"hccl/rankIndex": "0", "ascend.kubectl.kubernetes.io/ascend-910-configuration": json.dumps(
            {"pod_name": name, "devices": [{"device_id": "0", "device_ip": device_ip},
                                           {"device_id": "1", "device_ip": device_ip[:-1] + "2"}]})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


def _cm(name: str, labels: dict, data: dict, annotations: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {**LABELS, **labels}, "annotations": annotations or {}},
            "data": data}


def _instance(role: str, pod: dict, device_ip: str) -> dict:
    """The per-instance table the Ascend Operator writes for a one-pod instance (buildServerInfo, getDeviceList)."""
    st = pod["status"]
    return {"status": "completed", "version": "1.0", "server_count": "1", "server_list": [{
        "server_id": st["hostIP"], "host_ip": st["hostIP"], "container_ip": st["podIP"],
        "device": [{"device_id": "0", "device_ip": device_ip, "rank_id": "0"},
                   {"device_id": "1", "device_ip": device_ip[:-1] + "2", "rank_id": "1"}]}]}


@pytest.fixture
def planted(cluster, namespace):
    nodes = [n["metadata"]["name"] for n in cluster.get_json("nodes")["items"]]
    pods = [_pod("coord", "coordinator", nodes[0]), _pod("ctrl", "controller", nodes[0]),
            _pod(f"{FULL}-prefill-0-0", "prefill", nodes[1 % len(nodes)], 0, "29.0.0.1"),
            _pod(f"{FULL}-decode-0-0", "decode", nodes[2 % len(nodes)], 0, "29.0.1.1")]
    for p in pods:
        cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(p))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod", "--all", "--timeout=120s")
    live = {p["metadata"]["name"]: p for p in cluster.get_json("pods", "-n", namespace)["items"]}
    shape = {f"mindie.huawei.com/{r}-{k}": "1" for r in ("prefill", "decode") for k in ("instances", "pods-per-instance")}
    cms = [_cm(GLOBAL, {"mindie.huawei.com/ranktable": "global"}, {"global_ranktable.json": '{"status":"initializing"}'},
               shape)]
    tables = {}
    for role, ip in (("prefill", "29.0.0.1"), ("decode", "29.0.1.1")):
        tables[role] = _instance(role, live[f"{FULL}-{role}-0-0"], ip)
        cms.append(_cm(f"rings-config-{FULL}-{role}-0",
                       {"mindie.huawei.com/ranktable": "instance", "mindie.huawei.com/role": role,
                        "mindie.huawei.com/instance-index": "0"},
                       {"hccl.json": json.dumps(tables[role])}, {"mindie.huawei.com/pods": "1"}))
    for cm in cms:
        cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(cm))
    return namespace, tables["prefill"], live


def _put(cluster, ns: str, text: str) -> None:
    cluster.kubectl("patch", "-n", ns, "configmap", PREFILL, "--type=merge", "-p",
                    json.dumps({"data": {"hccl.json": text}}))


def _global(cluster, ns: str) -> tuple[str, str]:
    cm = cluster.get_json("configmap", "-n", ns, GLOBAL)
    return cm["metadata"]["resourceVersion"], cm["data"]["global_ranktable.json"]


def test_hostile_rings_config_is_refused_and_nothing_is_written(cluster, planted):
    ns, table, live = planted
    dry = cluster.plugin("-n", ns, "mindie", "ranktable", REL, "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    before = _global(cluster, ns)
    assert before[1] == '{"status":"initializing"}'
    valid = json.dumps(table)

    def server(**changes):
        t = json.loads(valid)
        t["server_list"][0].update(changes)
        return json.dumps(t)

    other_node = next(p["status"]["hostIP"] for p in live.values()
                      if p["status"]["hostIP"] != table["server_list"][0]["host_ip"])
    cases = [
        (server(host_ip="$(reboot)\n" + table["server_list"][0]["host_ip"]),
         "server_list[0].host_ip is '$(reboot)\\n"),
        (server(host_ip=other_node), f"server_list[0].host_ip is '{other_node}' but pod {FULL}-prefill-0-0"),
        (server(device=[{"device_id": "0", "device_ip": "29.0.0.1", "rank_id": "0"},
                        {"device_id": "1", "device_ip": "29.0.0.2", "rank_id": "0"}]),
         "server_list[0].device[1].rank_id '0' is also the rank of"),
        (valid.replace('"rank_id": "1"', '"rank_id": "1", "rack_id": NaN'), "contains NaN, which is not JSON"),
        (server(device="0,1"), "server_list[0].device is '0,1', not a list"),
        ("[" * 50_000 + "]" * 50_000, "nests deeper than 12 levels"),
    ]
    for text, fragment in cases:
        _put(cluster, ns, text)
        proc = cluster.plugin("-n", ns, "mindie", "ranktable", REL, "--wait", "--timeout", "20s")
        assert proc.returncode == 1, (fragment, proc.stdout, proc.stderr)
        err = proc.stderr.strip()
        assert err.startswith(f"error: ConfigMap {PREFILL}: hccl.json "), err
        assert fragment in err and "nothing was written" in err, (fragment, err)
        assert "internal error" not in err and "\n" not in err
        assert _global(cluster, ns) == before, fragment

    _put(cluster, ns, valid)
    proc = cluster.plugin("-n", ns, "mindie", "ranktable", REL, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(_global(cluster, ns)[1])
    servers = written["server_group_list"][2]["server_list"]
    assert {s["server_id"] for s in servers} == {live[f"{FULL}-{r}-0-0"]["status"]["hostIP"]
                                                 for r in ("prefill", "decode")}
