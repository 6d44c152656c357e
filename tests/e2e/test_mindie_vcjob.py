"""mindie-service in ClusterD mode runs its PD roles as Volcano Jobs, on the real vc-controller-manager v1.7.0.

Scenario (own cluster "vcjob-*", default layout, real Volcano, the stack less the
operator, then the ascend-operator chart so the operator emulator runs): a PD release
(1 prefill instance of 2 pods, 1 decode of 1 pod, 2 NPUs per pod) with
clusterd.enabled=true:
- four Volcano Jobs (controller, coordinator, prefill-0, decode-0), all Running; their
  five pods Running, placed by vc-scheduler, each owned (controller) by its Job (the
  cluster runs with --long-running-jobs: KWOK would otherwise complete every pod owned
  by a kind "Job", which no kubelet does to restartPolicy Always pods);
- each Job has exactly one PodGroup, made by Volcano (the chart makes none), that
  carries the Job's jobID/app labels and whose controlling owner is the same object
  as its pods' - computed as ClusterD does it (mind-cluster v26.1.0 clusterd
  pkg/domain/podgroup/pg_util.go GetJobKeyAndNameByPG, pkg/domain/pod/pod_util.go
  GetJobKeyByPod: the UID of the first owner reference with controller true;
  pkg/domain/job/job_util.go getJobBasicInfoByPG reads jobID/app from the
  PodGroup's labels); minMember 2 for the two-pod instance;
- the contract reader (tests/contract/mindie_reader.py) accepts the release's
  manifest as helm applied it;
- the operator emulator finds the Jobs' pods by volcano.sh/job-name (as upstream's
  operator does) and completes rings-config-*-prefill-0 with both pods' IPs;
- `kubectl ascend status` shows the release's roles and the prefill instance's
  gang (Volcano's PodGroup of the Job, Running, minMember 2);
- deleting one prefill pod restarts the whole instance (policy PodEvicted ->
  RestartJob): both pods are replaced (new UIDs), Running again under the same Job
  and PodGroup key, and the emulator rewrites hccl.json with the new pods.

What this cannot check: ClusterD itself (no image here) and MindIE.
"""
from __future__ import annotations

import json

import pytest
import yaml

from tests.contract.mindie_reader import check_release
from tests.e2e.mindie_helpers import clusterd_pd_values, configmap, helm, pods, running, running_pods, operator_cluster, \
    scratch_namespace, until

pytestmark = pytest.mark.e2e

RELEASE, FULL = "vj", "vj-mindie-service"
APPS = {"controller": "mindie-ms-controller", "coordinator": "mindie-ms-coordinator",
        "prefill": "mindie-ms-server", "decode": "mindie-ms-server"}


def controller_uid(obj: dict) -> str:
    """ClusterD's job key of a PodGroup or a pod: the UID of its first controller owner reference."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref["uid"]
    return ""


@pytest.fixture(scope="module")
def vcluster(volcano_cluster):
    with operator_cluster("vcjob") as c:
        yield c


def test_pd_roles_run_as_volcano_jobs_clusterd_can_key(vcluster, tmp_path):
    c = vcluster
    with scratch_namespace(c, "vj", tmp_path) as (ns, releases):
        vals = clusterd_pd_values()
        vals["prefill"]["podsPerInstance"] = 2
        releases.install(RELEASE, vals, wait=False)
        items = running_pods(c, ns, RELEASE, 5, timeout=180)
        assert {p["spec"]["schedulerName"] for p in items} == {"volcano"}
        jobs = {j["metadata"]["name"]: j for j in c.get_json("jobs.batch.volcano.sh", "-n", ns)["items"]}
        assert sorted(jobs) == sorted(f"{FULL}-{r}" for r in ("controller", "coordinator", "prefill-0", "decode-0"))
        assert not c.get_json("deployments,statefulsets", "-n", ns)["items"]
        for job in jobs.values():
            assert job["status"]["state"]["phase"] == "Running", job["status"]

        # ClusterD's view: PodGroups and pods keyed by their controlling owner, jobID/app from the PodGroup
        pgs = c.get_json("podgroups.scheduling.volcano.sh", "-n", ns)["items"]
        assert len(pgs) == 4, [g["metadata"]["name"] for g in pgs]
        for pg in pgs:
            key = controller_uid(pg)
            [job] = [j for j in jobs.values() if j["metadata"]["uid"] == key]
            role = job["metadata"]["labels"]["mindie.huawei.com/role"]
            labels = pg["metadata"]["labels"]
            assert (labels.get("jobID"), labels.get("app")) == (FULL, APPS[role]), pg["metadata"]
            mine = [p for p in items if controller_uid(p) == key]
            assert len(mine) == job["spec"]["tasks"][0]["replicas"] == (2 if role == "prefill" else 1)
            assert pg["spec"]["minMember"] == len(mine)
            for p in mine:
                assert p["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == pg["metadata"]["name"]
                assert (p["metadata"]["labels"]["jobID"], p["metadata"]["labels"]["app"]) == (FULL, APPS[role])
        assert {controller_uid(p) for p in items} == {j["metadata"]["uid"] for j in jobs.values()}

        manifest = [o for o in yaml.safe_load_all(helm(c, "get", "manifest", RELEASE, "-n", ns).stdout) if o]
        assert check_release(manifest) == []

        # the operator emulator finds a Volcano Job's pods by volcano.sh/job-name
        prefill = sorted((p for p in items if p["metadata"]["labels"]["mindie.huawei.com/role"] == "prefill"),
                         key=lambda p: p["metadata"]["name"])
        rings = f"rings-config-{FULL}-prefill-0"

        def hccl_ips():
            table = json.loads(configmap(c, ns, rings)["data"]["hccl.json"])
            if table.get("status") != "completed":
                return None
            return sorted(s["container_ip"] for s in table["server_list"])

        assert until("prefill-0 hccl.json completed", hccl_ips, timeout=90) == \
            sorted(p["status"]["podIP"] for p in prefill)

        status = json.loads(c.plugin("status", "-o", "json").stdout)
        [svc] = [s for s in status["services"] if (s["namespace"], s["release"]) == (ns, RELEASE)]
        assert {r: v["pods"] for r, v in svc["roles"].items()} == \
            {"controller": 1, "coordinator": 1, "prefill": 2, "decode": 1}
        # gang.py finds the PodGroup Volcano made for the Job through the pods' group-name annotation
        [gang] = [r for r in svc["instances"] if r["instance"] == "prefill-0"]
        [pg] = [g for g in pgs if controller_uid(g) == jobs[f"{FULL}-prefill-0"]["metadata"]["uid"]]
        assert (gang["podGroup"], gang["phase"], gang["minMember"], gang["pods"], gang["pending"]) == \
            (pg["metadata"]["name"], "Running", 2, 2, 0), gang

        # one prefill pod lost: Volcano restarts the whole instance (PodEvicted -> RestartJob)
        old = {p["metadata"]["uid"] for p in prefill}
        c.kubectl("delete", "pod", "-n", ns, prefill[0]["metadata"]["name"], "--wait=false")

        def replaced():
            now = [p for p in pods(c, ns, RELEASE, "prefill") if running(p)]
            fresh = [p for p in now if p["metadata"]["uid"] not in old]
            return fresh if len(now) == 2 and len(fresh) == 2 else None

        fresh = until("both prefill pods replaced and Running", replaced, timeout=180)
        job = c.get_json("jobs.batch.volcano.sh", "-n", ns, f"{FULL}-prefill-0")
        assert job["status"].get("retryCount", 0) >= 1 and job["status"]["state"]["phase"] == "Running", job["status"]
        assert {controller_uid(p) for p in fresh} == {job["metadata"]["uid"]}
        assert job["metadata"]["uid"] in {controller_uid(g) for g in
                                          c.get_json("podgroups.scheduling.volcano.sh", "-n", ns)["items"]}
        until("hccl.json rewritten for the new pods",
              lambda: hccl_ips() == sorted(p["status"]["podIP"] for p in fresh), timeout=90)
