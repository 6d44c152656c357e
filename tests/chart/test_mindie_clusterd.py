"""mindie-service with clusterd.enabled: the global ranktable comes from ClusterD.

Scenarios:
- pd + clusterd: no global-ranktable ConfigMap, no PD pod mounts or waits for
  one; the controller gets MINDX_TASK_ID (jobID, default the full name),
  MINDX_SERVER_DOMAIN, MINDX_SERVER_IP (only when the address is an IP; a
  name is resolved by the entrypoint) and cluster_port; every PD pod, PodGroup
  and rings-config ConfigMap carries the labels ClusterD reads; a multi-pod
  server still waits for its own hccl.json; the render passes the MindIE
  contract reader (tests/contract/mindie_reader.py, run by helmutil.render);
- the contract reader catches each ClusterD-mode breakage (missing job id,
  unresolved address, cluster_tls_enable on, wrong labels, a pod mounting a
  ConfigMap nobody writes);
- refusals: clusterd with mode single, with a scheduler other than volcano,
  a jobID that is no label value, an empty address, cluster_port in
  controller.rawConfig, unknown keys;
- NOTES say ClusterD builds the table (and no longer that pods wait for it).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from tests.chart.helmutil import find, one, render, render_error
from tests.chart.mindie_values import CHART, FULL, pd_values, values
from tests.contract.mindie_reader import check_release

pytestmark = pytest.mark.chart

CD = {"clusterd": {"enabled": True}}


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj["spec"]["template"]["metadata"]["labels"]


def ctr(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


@pytest.fixture(scope="module")
def cd_objs() -> list[dict[str, Any]]:
    return render(CHART, pd_values(**CD, prefill={"podsPerInstance": 2}))


def test_no_global_ranktable_configmap_mount_or_wait(cd_objs) -> None:
    assert not [o for o in find(cd_objs, "ConfigMap") if "global-ranktable" in o["metadata"]["name"]]
    workloads = find(cd_objs, "Deployment") + find(cd_objs, "StatefulSet")
    assert len(workloads) == 4
    for w in workloads:
        vols = [v["name"] for v in w["spec"]["template"]["spec"]["volumes"]]
        assert "global-ranktable" not in vols, w["metadata"]["name"]
        script = ctr(w)["command"][-1]
        assert "pod_uids" not in script and "mindie ranktable" not in script, w["metadata"]["name"]
    # the default render of the same values does wait (so the assertions above can fail)
    plain = render(CHART, pd_values(prefill={"podsPerInstance": 2}))
    assert "pod_uids" in ctr(one(plain, "Deployment", f"{FULL}-controller"))["command"][-1]
    assert one(plain, "ConfigMap", f"{FULL}-global-ranktable")


def test_multi_pod_server_still_waits_for_its_hccl_json(cd_objs) -> None:
    script = ctr(one(cd_objs, "StatefulSet", f"{FULL}-prefill-0"))["command"][-1]
    assert "/user/serverid/devindex/config/hccl.json" in script and 'cp "$hccl" "$RANKTABLEFILE"' in script
    vols = {v["name"]: v for v in one(cd_objs, "StatefulSet", f"{FULL}-prefill-0")["spec"]["template"]["spec"]["volumes"]}
    assert vols["ranktable"]["configMap"]["name"] == f"rings-config-{FULL}-prefill-0"


def test_controller_env_and_config(cd_objs) -> None:
    c = ctr(one(cd_objs, "Deployment", f"{FULL}-controller"))
    e = env(c)
    assert e["MINDX_TASK_ID"] == FULL
    assert e["MINDX_SERVER_DOMAIN"] == "clusterd-grpc-svc.mindx-dl.svc.cluster.local"
    assert "MINDX_SERVER_IP" not in e  # a name: resolved at start
    script = c["command"][-1]
    assert 'getent hosts "$MINDX_SERVER_DOMAIN"' in script
    assert script.index("export MINDX_SERVER_IP") < script.index("exec ")
    assert e["GLOBAL_RANK_TABLE_FILE_PATH"] == "/var/run/mindie/global_ranktable.json"
    ctrl = json.loads(one(cd_objs, "ConfigMap", f"{FULL}-config")["data"]["ms_controller.json"])
    assert ctrl["cluster_port"] == 8899
    assert ctrl["tls_config"]["cluster_tls_enable"] is False and "cluster_tls_items" in ctrl["tls_config"]
    for name in (f"{FULL}-coordinator", f"{FULL}-decode-0", f"{FULL}-prefill-0"):
        w = [o for o in cd_objs if o["metadata"]["name"] == name and o["kind"] in ("Deployment", "StatefulSet")][0]
        assert "MINDX_TASK_ID" not in env(ctr(w)), name  # only the controller subscribes


def test_ip_address_job_id_and_port() -> None:
    objs = render(CHART, pd_values(clusterd={"enabled": True, "address": "10.96.0.42", "jobID": "qwen-pd",
                                             "port": 18899}))
    e = env(ctr(one(objs, "Deployment", f"{FULL}-controller")))
    assert e["MINDX_SERVER_IP"] == "10.96.0.42" and e["MINDX_TASK_ID"] == "qwen-pd"
    ctrl = json.loads(one(objs, "ConfigMap", f"{FULL}-config")["data"]["ms_controller.json"])
    assert ctrl["cluster_port"] == 18899
    assert pod_labels(one(objs, "StatefulSet", f"{FULL}-decode-0"))["jobID"] == "qwen-pd"


def test_labels_clusterd_reads(cd_objs) -> None:
    expect = {f"{FULL}-controller": "mindie-ms-controller", f"{FULL}-coordinator": "mindie-ms-coordinator",
              f"{FULL}-prefill-0": "mindie-ms-server", f"{FULL}-decode-0": "mindie-ms-server"}
    for w in find(cd_objs, "Deployment") + find(cd_objs, "StatefulSet"):
        labels = pod_labels(w)
        assert (labels["jobID"], labels["app"]) == (FULL, expect[w["metadata"]["name"]])
        # selectors stay as they were (immutable on upgrade)
        assert "jobID" not in w["spec"]["selector"]["matchLabels"] and "app" not in w["spec"]["selector"]["matchLabels"]
    cms = [o for o in find(cd_objs, "ConfigMap") if o["metadata"]["name"].startswith("rings-config-")]
    assert len(cms) == 2
    for cm in cms:
        labels = cm["metadata"]["labels"]
        assert labels["jobID"] == FULL and labels["mx-consumer-cim"] == "true"
        assert labels["grt-group/deploy-server"] in ("1", "2")
    pg = one(cd_objs, "PodGroup", f"{FULL}-prefill-0")
    assert (pg["metadata"]["labels"]["jobID"], pg["metadata"]["labels"]["app"]) == (FULL, "mindie-ms-server")


def test_default_pd_has_no_clusterd_labels() -> None:
    objs = render(CHART, pd_values())
    for w in find(objs, "Deployment") + find(objs, "StatefulSet"):
        assert "jobID" not in pod_labels(w) and "app" not in pod_labels(w)
        assert "MINDX_TASK_ID" not in env(ctr(w))


# --- the contract reader in ClusterD mode -----------------------------------------------------------

def _controller(objs):
    return one(objs, "Deployment", f"{FULL}-controller")


def _set_env(objs, name, value):
    c = ctr(_controller(objs))
    c["env"] = [e for e in c["env"] if e["name"] != name] + [{"name": name, "value": value}]


def drop_job_id(objs):
    _set_env(objs, "MINDX_TASK_ID", "")


def no_address_resolution(objs):
    c = ctr(_controller(objs))
    c["command"][-1] = c["command"][-1].replace("export MINDX_SERVER_IP", "true")


def cluster_tls_on(objs):
    cm = one(objs, "ConfigMap", f"{FULL}-config")
    ctrl = json.loads(cm["data"]["ms_controller.json"])
    ctrl["tls_config"]["cluster_tls_enable"] = True
    cm["data"]["ms_controller.json"] = json.dumps(ctrl)


def no_cluster_port(objs):
    cm = one(objs, "ConfigMap", f"{FULL}-config")
    ctrl = json.loads(cm["data"]["ms_controller.json"])
    del ctrl["cluster_port"]
    cm["data"]["ms_controller.json"] = json.dumps(ctrl)


def server_app_label_wrong(objs):
    pod_labels(one(objs, "StatefulSet", f"{FULL}-decode-0"))["app"] = "mindie-server"


def rings_config_without_job(objs):
    del one(objs, "ConfigMap", f"rings-config-{FULL}-decode-0")["metadata"]["labels"]["jobID"]


def mounts_missing_global_ranktable(objs):
    w = one(objs, "StatefulSet", f"{FULL}-decode-0")
    w["spec"]["template"]["spec"]["volumes"].append(
        {"name": "global-ranktable", "configMap": {"name": f"{FULL}-global-ranktable"}})


def ranktable_path_in_configmap(objs):
    _set_env(objs, "GLOBAL_RANK_TABLE_FILE_PATH", "/etc/mindie/config/global_ranktable.json")


@pytest.mark.parametrize("breakage, needle", [
    (drop_job_id, "MINDX_TASK_ID is empty"),
    (no_address_resolution, "MINDX_SERVER_IP is neither an IP nor resolved"),
    (cluster_tls_on, "cluster_tls_enable is not false"),
    (no_cluster_port, "never talks to ClusterD"),
    (server_app_label_wrong, "app=mindie-ms-server for ClusterD"),
    (rings_config_without_job, f"rings-config-{FULL}-decode-0: ClusterD reads it only with label jobID"),
    (mounts_missing_global_ranktable, f"mounts ConfigMap {FULL}-global-ranktable, which the release does not"),
    (ranktable_path_in_configmap, "is inside ConfigMap mount /etc/mindie/config"),
], ids=lambda x: getattr(x, "__name__", None))
def test_reader_catches_clusterd_breakage(breakage: Callable, needle: str) -> None:
    objs = render(CHART, pd_values(**CD))
    assert check_release(objs) == []
    broken = copy.deepcopy(objs)
    breakage(broken)
    problems = check_release(broken)
    assert any(needle in p for p in problems), problems


# --- refusals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("vals, needle", [
    (values(**CD), "clusterd.enabled=true needs mode=pd"),
    (pd_values(**CD, schedulerName="default-scheduler"), "needs schedulerName volcano"),
    (pd_values(clusterd={"enabled": True, "jobID": "bad job!"}), "is not a valid label value"),
    (pd_values(clusterd={"enabled": True, "address": ""}), "clusterd.address is empty"),
    (pd_values(**CD, controller={"rawConfig": {"cluster_port": 1}}), "clusterd.port"),
    (pd_values(clusterd={"enabled": True, "adress": "x"}), "adress"),
    (pd_values(clusterd={"enabled": True, "port": 0}), "port"),
])
def test_refusals(vals: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, vals)


def test_notes_say_clusterd_builds_the_table() -> None:
    from tests.chart.test_mindie_release import _notes

    notes = _notes(pd_values(**CD))
    assert "The global ranktable comes from ClusterD (clusterd-grpc-svc.mindx-dl.svc.cluster.local:8899" in notes
    assert "Every PD pod waits for the global ranktable" not in notes
    assert "Every PD pod waits for the global ranktable" in _notes(pd_values())
