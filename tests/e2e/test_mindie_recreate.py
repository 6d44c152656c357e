"""A PD instance of two pods loses one pod: what Huawei's Ascend Operator does, and what gets it back.

Own cluster ("recreate-*", real Volcano, --long-running-jobs so KWOK keeps Volcano Job
pods running as a kubelet would), the stack, then the ascend-operator chart so the
operator emulator runs (hack/ascend_operator_emulator.py, which does what mind-cluster
v26.0.0 component/ascend-operator does with the same pods). Releases: 1 prefill instance
of 2 pods, 1 decode instance of 1 pod, 2 NPUs per pod, pd mode (no ClusterD).

Scenarios:
- StatefulSet instance (no Volcano: gang.enabled=false, schedulerName default-scheduler):
  one prefill pod deleted; its replacement gets its devices but never `hccl/rankIndex`
  (pod.go updateRandIndex: the surviving pod keeps its index), rings-config stays
  unusable, and `kubectl ascend mindie ranktable` refuses naming the new pod and the
  `kubectl delete pod -l ...` that recreates the instance; running that command
  gets both pods numbered afresh, the table completed with them, and the global
  table written without the dead pods;
- Volcano Job instance (the default under Volcano): one prefill pod deleted; Volcano
  restarts the whole Job (PodEvicted -> RestartJob), the operator numbers the new pods,
  hccl.json ends `completed` with the new pods only, and `mindie ranktable` writes a
  global table without the dead pod - nobody runs anything but the ranktable command.
"""
from __future__ import annotations

import json
import time

import pytest

from tests.e2e.mindie_helpers import configmap, pd_values, pods, running, running_pods, operator_cluster, \
    scratch_namespace, until

pytestmark = pytest.mark.e2e

RANK = "hccl/rankIndex"
DEVICE = "ascend.kubectl.kubernetes.io/ascend-910-configuration"
RELEASE = "rc"
FULL = f"{RELEASE}-mindie-service"
RINGS = f"rings-config-{FULL}-prefill-0"


@pytest.fixture(scope="module")
def rcluster(volcano_cluster):
    with operator_cluster("recreate") as c:
        yield c


def two_pod_prefill(**extra) -> dict:
    vals = pd_values()
    vals["prefill"]["podsPerInstance"] = 2
    return {**vals, **extra}


def ranktable(c, ns: str, *args: str):
    return c.plugin("-n", ns, "mindie", "ranktable", RELEASE, *args)


def hccl(c, ns: str) -> dict:
    return json.loads(configmap(c, ns, RINGS)["data"]["hccl.json"])


def completed_ips(c, ns: str) -> list[str] | None:
    table = hccl(c, ns)
    if table.get("status") != "completed":
        return None
    return sorted(s["container_ip"] for s in table["server_list"])


def prefill_pods(c, ns: str) -> list[dict]:
    return sorted((p for p in pods(c, ns, RELEASE, "prefill") if running(p)), key=lambda p: p["metadata"]["name"])


def written_global(c, ns: str) -> tuple[list[str], set[str]]:
    """Prefill servers' pod IPs in the global table, and the pod UIDs it was built from."""
    cm = configmap(c, ns, f"{FULL}-global-ranktable")
    table = json.loads(cm["data"]["global_ranktable.json"])
    assert table["status"] == "completed"
    [group] = [g for g in table["server_group_list"] if g.get("deploy_server") == "2"]
    return sorted(s["server_ip"] for s in group["server_list"]), set(cm["data"]["pod_uids"].split())


def start_release(c, ns: str, releases, vals: dict) -> list[dict]:
    releases.install(RELEASE, vals, wait=False)
    running_pods(c, ns, RELEASE, 5, timeout=180)
    first = prefill_pods(c, ns)
    assert until("prefill-0 hccl.json completed", lambda: completed_ips(c, ns), timeout=90) == \
        sorted(p["status"]["podIP"] for p in first)
    proc = ranktable(c, ns, "--wait", "--timeout", "90s")
    assert proc.returncode == 0, proc.stderr
    return first


def test_statefulset_instance_never_numbers_a_recreated_pod(rcluster, tmp_path):
    c = rcluster
    with scratch_namespace(c, "rc-sts", tmp_path) as (ns, releases):
        first = start_release(c, ns, releases, two_pod_prefill(gang={"enabled": False},
                                                                schedulerName="default-scheduler"))
        assert c.get_json("statefulset", "-n", ns, f"{FULL}-prefill-0")["spec"]["replicas"] == 2
        old = {p["metadata"]["uid"] for p in first}
        lost = first[0]["metadata"]["name"]
        # --wait=false: the StatefulSet recreates the pod under the same name at once, and kubectl's
        # wait for the deletion can miss it and hang (the replacement is waited for by UID below)
        c.kubectl("delete", "pod", "-n", ns, lost, "--wait=false")

        def replacement():
            new = [p for p in prefill_pods(c, ns) if p["metadata"]["uid"] not in old
                   and DEVICE in (p["metadata"].get("annotations") or {})]
            return new[0] if new else None

        new = until("the replacement pod to run with its devices", replacement, timeout=90)
        assert new["metadata"]["name"] == lost
        # upstream numbers nobody while the survivor keeps its index: watch it stay so for a while
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            p = c.get_json("pod", "-n", ns, lost)
            assert RANK not in (p["metadata"].get("annotations") or {}), "the recreated pod got a rank index"
            time.sleep(1)

        proc = ranktable(c, ns)
        assert proc.returncode != 0
        command = (f"kubectl delete pod -n {ns} -l app.kubernetes.io/instance={RELEASE},"
                   "mindie.huawei.com/role=prefill,mindie.huawei.com/instance-index=0")
        assert f"pod {lost} has no {RANK}" in proc.stderr and command in proc.stderr, proc.stderr
        assert "wait for the" not in proc.stderr

        # the action it names: every pod of the instance recreated at once
        before = {p["metadata"]["uid"] for p in prefill_pods(c, ns)}
        c.kubectl(*command.split()[1:], "--wait=false")

        def fresh():
            now = prefill_pods(c, ns)
            return now if len(now) == 2 and not {p["metadata"]["uid"] for p in now} & before else None

        renewed = until("both prefill pods recreated", fresh, timeout=120)
        ips = sorted(p["status"]["podIP"] for p in renewed)
        until("hccl.json completed with the new pods", lambda: completed_ips(c, ns) == ips, timeout=90)
        assert sorted(p["metadata"]["annotations"][RANK] for p in prefill_pods(c, ns)) == ["0", "1"]
        proc = ranktable(c, ns, "--wait", "--timeout", "90s")
        assert proc.returncode == 0, proc.stderr
        servers, uids = written_global(c, ns)
        assert servers == ips
        assert not uids & (old | before)


def test_volcano_job_instance_recovers_by_itself(rcluster, tmp_path):
    c = rcluster
    with scratch_namespace(c, "rc-vj", tmp_path) as (ns, releases):
        first = start_release(c, ns, releases, two_pod_prefill())
        job = c.get_json("jobs.batch.volcano.sh", "-n", ns, f"{FULL}-prefill-0")
        assert job["spec"]["policies"] == [{"events": ["PodEvicted", "PodFailed"], "action": "RestartJob"}]
        assert not c.get_json("statefulsets", "-n", ns, "-l", "mindie.huawei.com/role=prefill")["items"]
        old = {p["metadata"]["uid"] for p in first}
        _, written_uids = written_global(c, ns)
        assert old <= written_uids
        c.kubectl("delete", "pod", "-n", ns, first[0]["metadata"]["name"], "--wait=false")

        def replaced():
            now = prefill_pods(c, ns)
            return now if len(now) == 2 and not {p["metadata"]["uid"] for p in now} & old else None

        fresh = until("both prefill pods replaced by Volcano", replaced, timeout=180)
        ips = sorted(p["status"]["podIP"] for p in fresh)
        until("hccl.json completed with the new pods", lambda: completed_ips(c, ns) == ips, timeout=90)
        numbered = {p["metadata"]["name"]: p["metadata"]["annotations"].get(RANK) for p in prefill_pods(c, ns)}
        assert sorted(numbered.values()) == ["0", "1"], numbered
        proc = ranktable(c, ns, "--wait", "--timeout", "90s")
        assert proc.returncode == 0, proc.stderr
        servers, uids = written_global(c, ns)
        assert servers == ips
        assert not uids & old and {p["metadata"]["uid"] for p in fresh} <= uids
