"""Gang state in status and doctor (kubectl_ascend.gang and kubectl_ascend.doctor), from Volcano objects as v1.7.0 writes them.

The objects below are shaped like those the real vc-scheduler left on the local
cluster (tests/e2e/test_volcano.py exercises the same code against it):
a PodGroup refused by the enqueue action stays phase Pending with an
Unschedulable/NotEnoughResources condition and a Normal `Unschedulable`
event "queue resource quota insufficient"; each waiting pod gets a
PodScheduled=False condition.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kubectl_ascend import doctor, gang

NOW = 1_800_000_000.0
NPU = "huawei.com/Ascend910"


def ts(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, group: str | None, *, role: str = "prefill", index: int = 0, node: str | None = None,
        age: float = 600, scheduled: str | None = None, ns: str = "ai") -> dict[str, Any]:
    p: dict[str, Any] = {
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": ts(age),
                     "labels": {"mindie.huawei.com/role": role, "mindie.huawei.com/instance-index": str(index),
                                "app.kubernetes.io/part-of": "mindie-service", "app.kubernetes.io/instance": "llm"},
                     "annotations": {"scheduling.k8s.io/group-name": group} if group else {}},
        "spec": {"schedulerName": "volcano", "containers": [{"resources": {"requests": {NPU: "4"}}}]},
        "status": {"phase": "Running" if node else "Pending", "conditions": []},
    }
    if node:
        p["spec"]["nodeName"] = node
    if scheduled is not None:
        p["status"]["conditions"].append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                          "message": scheduled})
    return p


def podgroup(name: str, phase: str | None, *, cond_age: float | None = None, age: float = 600, queue: str = "default",
             message: str = "2/2 tasks in gang unschedulable: pod group is not ready, 2 Pending, 2 minAvailable; "
                            "Pending: 2 Unschedulable", ns: str = "ai") -> dict[str, Any]:
    status: dict[str, Any] = {}
    if phase:
        status["phase"] = phase
    if cond_age is not None:
        status["conditions"] = [{"type": "Unschedulable", "status": "True", "reason": "NotEnoughResources",
                                 "message": message, "lastTransitionTime": ts(cond_age)}]
    return {"metadata": {"name": name, "namespace": ns, "creationTimestamp": ts(age)},
            "spec": {"minMember": 2, "queue": queue, "minResources": {NPU: "8"}}, "status": status}


def event(pg: str, message: str, kind: str = "Normal", seconds_ago: float = 1) -> dict[str, Any]:
    return {"involvedObject": {"kind": "PodGroup", "name": pg}, "type": kind, "reason": "Unschedulable",
            "message": message, "lastTimestamp": ts(seconds_ago)}


class FakeKube:
    def __init__(self, pods: list[dict], pgs: list[dict], events: list[dict] | None = None):
        self.pods, self.pgs, self.events = pods, pgs, events or []
        self.calls: list[str] = []

    def list_pods(self, namespace=None, label_selector=None, field_selector=None):
        self.calls.append(f"pods {field_selector}")
        out = self.pods
        if field_selector and "spec.nodeName=" in field_selector.split(","):
            out = [p for p in out if not p["spec"].get("nodeName")]
        return out

    def list_podgroups(self, namespace=None):
        self.calls.append("podgroups")
        return self.pgs

    def list_events(self, namespace, field_selector=None):
        self.calls.append(f"events {namespace}")
        return self.events


def test_placed_instance_is_one_word():
    pg = podgroup("llm-prefill-0", "Running")
    rows = gang.gang_instances([pod("a", "llm-prefill-0", node="n1"), pod("b", "llm-prefill-0", node="n2")],
                                {("ai", "llm-prefill-0"): pg})
    assert rows == [{"instance": "prefill-0", "podGroup": "llm-prefill-0", "phase": "Running", "minMember": 2,
                     "pods": 2, "pending": 0, "unschedulable": False, "reason": None}]
    assert gang.gang_line(rows[0]) == "prefill-0: Running"


def test_queue_refusal_reads_volcanos_event():
    pg = podgroup("llm-decode-1", "Pending", cond_age=5, queue="small")
    events = [event("llm-decode-1", "queue resource quota insufficient"),
              event("llm-decode-1", "2/2 tasks in gang unschedulable: ...", kind="Warning"),
              event("other", "something else")]
    members = [pod(n, "llm-decode-1", role="decode", index=1, scheduled="2/2 tasks in gang unschedulable: "
                   "pod group is not ready, 2 Pending, 2 minAvailable; Pending: 2 Unschedulable") for n in "ab"]
    [row] = gang.gang_instances(members, {("ai", "llm-decode-1"): pg}, lambda ns: events)
    assert gang.gang_line(row) == ("decode-1: Pending, Unschedulable, 2/2 pods pending: queue resource quota "
                                    "insufficient (queue small, needs huawei.com/Ascend910: 8)")


def test_inqueue_gang_prefers_the_pods_fit_errors():
    pg = podgroup("llm-prefill-1", "Inqueue", cond_age=5)
    members = [pod("a", "llm-prefill-1", index=1, scheduled="0/5 nodes are unavailable: 3 Insufficient "
                   "huawei.com/Ascend910, 2 node(s) didn't match node selector."),
               pod("b", "llm-prefill-1", index=1)]
    [row] = gang.gang_instances(members, {("ai", "llm-prefill-1"): pg}, lambda ns: [])
    assert gang.gang_line(row) == ("prefill-1: Inqueue, Unschedulable, 2/2 pods pending: 0/5 nodes are "
                                    "unavailable: 3 Insufficient huawei.com/Ascend910, 2 node(s) didn't match "
                                    "node selector.")


def test_instances_sorted_and_non_pd_pods_ignored():
    pgs = {("ai", n): podgroup(n, "Running") for n in ("llm-prefill-10", "llm-prefill-2", "llm-decode-0", "pg-x")}
    members = [pod("d", "llm-decode-0", role="decode", node="n"), pod("p10", "llm-prefill-10", index=10, node="n"),
               pod("p2", "llm-prefill-2", index=2, node="n"), pod("c", "pg-x", role="controller", node="n")]
    assert [r["instance"] for r in gang.gang_instances(members, pgs)] == ["prefill-2", "prefill-10", "decode-0"]


def test_no_podgroup_and_never_looked_at():
    [row] = gang.gang_instances([pod("a", "gone")], {})
    assert (row["phase"], row["reason"]) == ("-", "no PodGroup")
    [row] = gang.gang_instances([pod("a", "fresh")], {("ai", "fresh"): podgroup("fresh", None)})
    assert gang.gang_line(row) == "prefill-0: Pending, 1/1 pods pending: no scheduler has looked at it yet"


def checks(kube: FakeKube, ready: bool | None = True) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.gang_checks(kube, ready, now=NOW)}


def test_doctor_unattended_volcano_pods():
    # created 10 minutes ago, PodGroup without any condition: nothing schedules them
    kube = FakeKube([pod("a", "g"), pod("b", "g")], [podgroup("g", None)])
    c = checks(kube, ready=False)
    assert c["volcano-scheduling"].status == "WARN"
    assert "2 pod(s) with schedulerName volcano waited over 60s" in c["volcano-scheduling"].message
    assert "ai/a, ai/b" in c["volcano-scheduling"].message
    assert "the volcano-scheduler Deployment is not ready" in c["volcano-scheduling"].message
    assert "pods spec.schedulerName=volcano,spec.nodeName=" in kube.calls


def test_doctor_stale_conditions_mean_the_scheduler_stopped():
    # conditions written once, 10 minutes ago: a running vc-scheduler refreshes them within 90 s
    kube = FakeKube([pod("a", "g")], [podgroup("g", "Pending", cond_age=600)])
    assert checks(kube)["volcano-scheduling"].status == "WARN"
    # refreshed 30 s ago: attended
    kube = FakeKube([pod("a", "g")], [podgroup("g", "Pending", cond_age=30)])
    assert checks(kube)["volcano-scheduling"].message == \
        "a Volcano scheduler is attending the 1 volcano pod(s) waiting over 60s"


def test_doctor_young_pods_and_pods_without_podgroup():
    kube = FakeKube([pod("young", "g", age=10)], [podgroup("g", None, age=10)])
    assert checks(kube)["volcano-scheduling"].message == "1 volcano pod(s) waiting, none longer than 60s"
    # no PodGroup (yet): the pod's own PodScheduled condition is the sign of a scheduler
    assert checks(FakeKube([pod("a", None, scheduled="all nodes are unavailable")], []))[
        "volcano-scheduling"].status == "PASS"
    assert checks(FakeKube([pod("a", None)], []))["volcano-scheduling"].status == "WARN"


def test_doctor_stuck_podgroups():
    pgs = [podgroup("old", "Pending", cond_age=20, age=900, queue="small"), podgroup("new", "Inqueue", cond_age=5, age=60),
           podgroup("done", "Running", age=900)]
    kube = FakeKube([pod("a", "old"), pod("b", "old"), pod("c", "new"), pod("d", "done", node="n")], pgs,
                    [event("old", "queue resource quota insufficient")])
    c = checks(kube)
    assert c["volcano-scheduling"].status == "PASS"
    assert c["podgroups"].status == "WARN"
    assert c["podgroups"].message == ("1 PodGroup(s) waiting over 300s: ai/old (Pending, 2 pod(s) pending: queue "
                                      "resource quota insufficient (queue small, needs huawei.com/Ascend910: 8))")
    assert checks(FakeKube([], [podgroup("done", "Running")]))["podgroups"].status == "PASS"


def test_doctor_nothing_waits():
    c = checks(FakeKube([], []))
    assert c["volcano-scheduling"].message == "no pod waits for Volcano"
    assert "podgroups" not in c


def test_timestamps_parse():
    assert gang.timestamp(ts(0)) == NOW
    assert gang.timestamp("not a time") is None and gang.timestamp(None) is None
    assert abs(gang.age({"metadata": {"creationTimestamp": ts(42)}}, NOW) - 42) < 1e-6


def test_volcano_job_instance_without_pods_yet_counts_its_podgroup():
    """A Volcano Job creates no pod while its PodGroup is Pending (v1.7.0 job_controller_actions.go syncJob)."""
    pg = podgroup("llm-prefill-0-0a1b", "Pending", cond_age=5, queue="small")
    pg["metadata"]["labels"] = {"app.kubernetes.io/instance": "llm", "mindie.huawei.com/role": "prefill",
                                "mindie.huawei.com/instance-index": "0"}
    other = podgroup("x-prefill-0-9f", "Pending")
    other["metadata"]["labels"] = dict(pg["metadata"]["labels"], **{"app.kubernetes.io/instance": "x"})
    events = [event("llm-prefill-0-0a1b", "queue resource quota insufficient")]
    pgs = {("ai", "llm-prefill-0-0a1b"): pg, ("ai", "x-prefill-0-9f"): other}
    [row] = gang.gang_instances([], pgs, lambda ns: events, ("ai", "llm"))
    assert gang.gang_line(row) == ("prefill-0: Pending, Unschedulable, 2/2 pods pending: queue resource quota "
                                   "insufficient (queue small, needs huawei.com/Ascend910: 8)")
    # without the release, only pods say which instances exist
    assert gang.gang_instances([], pgs, lambda ns: events) == []
