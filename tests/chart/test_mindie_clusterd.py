"""mindie-service with clusterd.enabled: the global ranktable comes from ClusterD.

Scenarios:
- pd + clusterd: no global-ranktable ConfigMap, no PD pod mounts or waits for
  one; the controller gets MINDX_TASK_ID (jobID, default the full name),
  MINDX_SERVER_DOMAIN, MINDX_SERVER_IP (only when the address is an IP; a
  name is resolved by the entrypoint) and cluster_port; every PD pod, PodGroup
  and rings-config ConfigMap carries the labels ClusterD reads; a multi-pod
  server still waits for its own hccl.json; the render passes the MindIE
  contract reader (tests/contract/mindie_reader.py, run by helmutil.render);
- every PD role is a Volcano Job (batch.volcano.sh/v1alpha1): one task, replicas and
  minAvailable = pods of the role, queue, maxRetry, RestartJob on PodEvicted/PodFailed,
  the Job labelled jobID/app (Volcano copies them onto its PodGroup), the same pod
  templates, no chart PodGroup, no group-name annotation;
- the contract reader catches each ClusterD-mode breakage (missing job id,
  unresolved address, cluster_tls_enable on, wrong labels, a pod mounting a
  ConfigMap nobody writes, a role whose PodGroup lacks jobID/app or does not share
  its pods' controlling owner);
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
from tests.chart.mindie_values import notes as _notes
from tests.contract.mindie_reader import VCJOB, _as_workload, check_release

pytestmark = pytest.mark.chart

CD = {"clusterd": {"enabled": True}}


def cd_render(vals: dict[str, Any]) -> list[dict[str, Any]]:
    """The render, each Volcano Job seen as a workload (kind VCJOB, its task's template and replicas)."""
    return [_as_workload(o) for o in render(CHART, vals)]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj["spec"]["template"]["metadata"]["labels"]


def ctr(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


@pytest.fixture(scope="module")
def cd_objs() -> list[dict[str, Any]]:
    return cd_render(pd_values(**CD, prefill={"podsPerInstance": 2}))


def test_no_global_ranktable_configmap_mount_or_wait(cd_objs) -> None:
    assert not [o for o in find(cd_objs, "ConfigMap") if "global-ranktable" in o["metadata"]["name"]]
    assert not find(cd_objs, "Deployment") and not find(cd_objs, "StatefulSet")
    workloads = find(cd_objs, VCJOB)
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
    script = ctr(one(cd_objs, VCJOB, f"{FULL}-prefill-0"))["command"][-1]
    assert "/user/serverid/devindex/config/hccl.json" in script and 'cp "$hccl" "$RANKTABLEFILE"' in script
    vols = {v["name"]: v for v in one(cd_objs, VCJOB, f"{FULL}-prefill-0")["spec"]["template"]["spec"]["volumes"]}
    assert vols["ranktable"]["configMap"]["name"] == f"rings-config-{FULL}-prefill-0"


def test_controller_env_and_config(cd_objs) -> None:
    c = ctr(one(cd_objs, VCJOB, f"{FULL}-controller"))
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
        w = [o for o in cd_objs if o["metadata"]["name"] == name and o["kind"] == VCJOB][0]
        assert "MINDX_TASK_ID" not in env(ctr(w)), name  # only the controller subscribes


def test_ip_address_job_id_and_port() -> None:
    objs = cd_render(pd_values(clusterd={"enabled": True, "address": "10.96.0.42", "jobID": "qwen-pd",
                                             "port": 18899}))
    e = env(ctr(one(objs, VCJOB, f"{FULL}-controller")))
    assert e["MINDX_SERVER_IP"] == "10.96.0.42" and e["MINDX_TASK_ID"] == "qwen-pd"
    ctrl = json.loads(one(objs, "ConfigMap", f"{FULL}-config")["data"]["ms_controller.json"])
    assert ctrl["cluster_port"] == 18899
    assert pod_labels(one(objs, VCJOB, f"{FULL}-decode-0"))["jobID"] == "qwen-pd"


def test_labels_clusterd_reads(cd_objs) -> None:
    expect = {f"{FULL}-controller": "mindie-ms-controller", f"{FULL}-coordinator": "mindie-ms-coordinator",
              f"{FULL}-prefill-0": "mindie-ms-server", f"{FULL}-decode-0": "mindie-ms-server"}
    for w in find(cd_objs, VCJOB):
        # on the pods and on the Job, whose labels Volcano copies onto its PodGroup
        for labels in (pod_labels(w), w["metadata"]["labels"]):
            assert (labels["jobID"], labels["app"]) == (FULL, expect[w["metadata"]["name"]])
    cms = [o for o in find(cd_objs, "ConfigMap") if o["metadata"]["name"].startswith("rings-config-")]
    assert len(cms) == 2
    for cm in cms:
        labels = cm["metadata"]["labels"]
        assert labels["jobID"] == FULL and labels["mx-consumer-cim"] == "true"
        assert labels["grt-group/deploy-server"] in ("1", "2")
    # Volcano creates each Job's PodGroup (owned by the Job); the chart creates none
    assert not find(cd_objs, "PodGroup")


def test_roles_are_volcano_jobs(cd_objs) -> None:
    raw = {o["metadata"]["name"]: o for o in render(CHART, pd_values(**CD, prefill={"podsPerInstance": 2}))
           if o["kind"] == "Job"}
    assert sorted(raw) == sorted(f"{FULL}-{r}" for r in ("controller", "coordinator", "prefill-0", "decode-0"))
    for name, job in raw.items():
        spec = job["spec"]
        assert job["apiVersion"] == "batch.volcano.sh/v1alpha1"
        assert (spec["schedulerName"], spec["queue"], spec["maxRetry"]) == ("volcano", "default", 100)
        assert spec["policies"] == [{"events": ["PodEvicted", "PodFailed"], "action": "RestartJob"}]
        [task] = spec["tasks"]
        pods = 2 if name.endswith("prefill-0") else 1
        assert (task["replicas"], spec["minAvailable"]) == (pods, pods)
        assert task["name"] == ("server" if "-prefill-" in name or "-decode-" in name else name.rsplit("-", 1)[1])
        tpl = task["template"]
        assert tpl["spec"]["schedulerName"] == "volcano"
        assert tpl["spec"].get("restartPolicy", "Always") == "Always"  # a service restarts in place
        # Volcano names the pods' PodGroup itself (<job>-<uid>); a chart annotation would point elsewhere
        assert "scheduling.k8s.io/group-name" not in (tpl["metadata"].get("annotations") or {})
        if "-prefill-" in name or "-decode-" in name:
            assert job["metadata"]["labels"]["ring-controller.atlas"] == "ascend-910b"
            assert spec["priorityClassName"] == tpl["spec"]["priorityClassName"]
    # the same pod templates as the Deployments / StatefulSets outside ClusterD mode, plus the labels
    plain = {o["metadata"]["name"]: o["spec"]["tasks"][0] if o["kind"] == "Job" else o["spec"]
             for o in render(CHART, pd_values(prefill={"podsPerInstance": 2}))
             if o["kind"] in ("Deployment", "StatefulSet", "Job")}
    for name, job in raw.items():
        tpl, before = job["spec"]["tasks"][0]["template"], copy.deepcopy(plain[name]["template"])
        (before["metadata"].get("annotations") or {}).pop("scheduling.k8s.io/group-name", None)
        assert {k: v for k, v in tpl["metadata"]["labels"].items() if k not in ("jobID", "app")} == \
            before["metadata"]["labels"]
        assert tpl["spec"]["volumes"] == [v for v in before["spec"]["volumes"] if v["name"] != "global-ranktable"]
        assert [c["image"] for c in tpl["spec"]["containers"]] == [c["image"] for c in before["spec"]["containers"]]
    maxed = render(CHART, pd_values(clusterd={"enabled": True, "maxRetry": 7}, gang={"enabled": False},
                                    prefill={"podsPerInstance": 2}))
    job = one(maxed, "Job", f"{FULL}-prefill-0")
    assert (job["spec"]["maxRetry"], job["spec"]["minAvailable"], job["spec"]["tasks"][0]["replicas"]) == (7, 1, 2)


def test_default_pd_has_no_clusterd_labels() -> None:
    objs = render(CHART, pd_values())
    for w in find(objs, "Deployment") + find(objs, "StatefulSet"):
        assert "jobID" not in pod_labels(w) and "app" not in pod_labels(w)
        assert "MINDX_TASK_ID" not in env(ctr(w))


# --- the contract reader in ClusterD mode -----------------------------------------------------------

def _controller(objs):
    return one(objs, VCJOB, f"{FULL}-controller")


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
    pod_labels(one(objs, VCJOB, f"{FULL}-decode-0"))["app"] = "mindie-server"


def rings_config_without_job(objs):
    del one(objs, "ConfigMap", f"rings-config-{FULL}-decode-0")["metadata"]["labels"]["jobID"]


def mounts_missing_global_ranktable(objs):
    w = one(objs, VCJOB, f"{FULL}-decode-0")
    w["spec"]["template"]["spec"]["volumes"].append(
        {"name": "global-ranktable", "configMap": {"name": f"{FULL}-global-ranktable"}})


def job_without_job_id(objs):
    del one(objs, VCJOB, f"{FULL}-decode-0")["metadata"]["labels"]["jobID"]


def decode_as_statefulset_with_chart_podgroup(objs):
    # what the chart rendered before: a StatefulSet and a PodGroup of its own (no owner)
    w = one(objs, VCJOB, f"{FULL}-decode-0")
    w["kind"] = "StatefulSet"
    w["spec"]["template"]["metadata"].setdefault("annotations", {})["scheduling.k8s.io/group-name"] = w["metadata"]["name"]
    objs.append({"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
                 "metadata": {"name": w["metadata"]["name"], "labels": dict(w["metadata"]["labels"])}})


def controller_as_deployment(objs):
    # Volcano's own PodGroup for it shares the ReplicaSet owner but carries no labels
    one(objs, VCJOB, f"{FULL}-controller")["kind"] = "Deployment"


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
    (job_without_job_id, f"{FULL}-decode-0: its PodGroup needs labels jobID={FULL} app=mindie-ms-server"),
    (decode_as_statefulset_with_chart_podgroup, f"{FULL}-decode-0: its PodGroup and its pods do not share"),
    (controller_as_deployment, f"{FULL}-controller: its PodGroup needs labels jobID={FULL} app=mindie-ms-controller"),
], ids=lambda x: getattr(x, "__name__", None))
def test_reader_catches_clusterd_breakage(breakage: Callable, needle: str) -> None:
    objs = cd_render(pd_values(**CD))
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
    (pd_values(clusterd={"enabled": True, "maxRetry": 0}), "maxRetry"),
])
def test_refusals(vals: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, vals)


def test_notes_say_clusterd_builds_the_table() -> None:
    notes = _notes(pd_values(**CD))
    assert "The global ranktable comes from ClusterD (clusterd-grpc-svc.mindx-dl.svc.cluster.local:8899" in notes
    assert "Every PD pod waits for the global ranktable" not in notes
    assert "Every PD pod waits for the global ranktable" in _notes(pd_values())
    # no Deployment to wait for: the roles are Volcano Jobs
    assert "rollout status deployment/" not in notes
    assert "get jobs.batch.volcano.sh -l app.kubernetes.io/instance=rel" in notes
    assert "wait pod --for=condition=Ready -l app.kubernetes.io/instance=rel,app.kubernetes.io/component=coordinator" \
        in notes
    assert "rollout status deployment/rel-mindie-service-coordinator" in _notes(pd_values())


# --- ClusterD's grouping against the controller's limits ----------------------------------------------

def test_default_1p1d_sets_multi_node_infer_and_clusterd_table_passes_the_controller() -> None:
    """ClusterD v26.1.0 makes one group per rings-config (ranktable_util.go GenerateServerGroupList): a
    default 1P+1D is four groups, which the controller accepts only with multi_node_infer_enable=true
    (RankTableLoader.cpp MAX_GROUP_LIST_NUM = 3, ParseServerNodes reads group 2 only)."""
    import tests.contract.mindie_reader as reader

    objs = cd_render(pd_values(**CD))
    cm = one(objs, "ConfigMap", f"{FULL}-config")
    ctrl = json.loads(cm["data"]["ms_controller.json"])
    assert ctrl["multi_node_infer_config"]["multi_node_infer_enable"] is True
    # what ClusterD reads: each rings-config carries the deploy-server label (2 prefill, 1 decode)
    for role, deploy in (("prefill", "2"), ("decode", "1")):
        labels = one(objs, "ConfigMap", f"rings-config-{FULL}-{role}-0")["metadata"]["labels"]
        assert labels["grt-group/deploy-server"] == deploy and labels["jobID"] == FULL
    pods = reader._fake_pods(objs)
    table = reader._clusterd_table(reader._operator_fill(objs, pods, []), pods, FULL)
    groups = table["server_group_list"]
    assert [g["group_id"] for g in groups] == ["0", "1", "2", "3"]
    assert [g.get("deploy_server") for g in groups] == [None, None, "2", "1"]
    assert check_release(objs) == []
    # the old flag: the controller would refuse ClusterD's table and retry forever
    ctrl["multi_node_infer_config"]["multi_node_infer_enable"] = False
    cm["data"]["ms_controller.json"] = json.dumps(ctrl)
    problems = check_release(objs)
    assert any("accepts at most 3 groups" in p and "MAX_GROUP_LIST_NUM" in p and "'3'" in p for p in problems), \
        problems
    # outside ClusterD mode the flag still follows pods per instance (our table puts them in group 2)
    plain = json.loads(one(render(CHART, pd_values()), "ConfigMap", f"{FULL}-config")["data"]["ms_controller.json"])
    assert plain["multi_node_infer_config"]["multi_node_infer_enable"] is False
