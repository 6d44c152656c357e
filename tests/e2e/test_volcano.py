"""Gang scheduling by the real Volcano v1.7.0 scheduler, under the chart's own RBAC.

The cluster (tests/conftest.py `volcano_cluster`) has the MindCluster stack
installed; hack/volcano.sh runs vc-scheduler and vc-controller-manager as host
processes with the ascend-volcano chart's ServiceAccounts and its scheduler
conf. Its NPU nodes with accelerator-type=module-910b-8 hold 3 x 8 Ascend910.

Scenarios:
- a PD release whose instances have 2 pods each (each a Volcano Job, gangs keyed
  by the Job's name): every pod is bound by
  `volcano` (source of its Scheduled event), the PodGroups reach Running, and
  `kubectl ascend status` shows them Running;
- over-subscription: a release takes every module-910b-8 NPU, a second one
  waits whole (no pod of it bound, PodGroups Unschedulable with Volcano's
  reason, shown by status); removing one instance of the first (helm upgrade)
  frees 8 NPUs and exactly one waiting instance binds, whole, while the first
  release's remaining instances keep their pods;
- queues: a release in a Queue whose capability is below the gang's
  minResources stays in PodGroup phase Pending ("queue resource quota
  insufficient", shown by status); raising the capability lets it bind;
- RBAC: without the `pods/binding create` rule in the chart's ClusterRole the
  scheduler's binds are forbidden and nothing is placed; restoring the rule
  places the pods (the processes run with the chart's credentials);
- the scheduler conf follows the ConfigMap: dropping the `allocate` action
  stops placement, restoring it resumes.
"""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from kubectl_ascend import doctor, gang
from kubectl_ascend.kube import Kube
from tests.e2e.mindie_helpers import NPU, Releases, npu_request, pods, running, until

pytestmark = pytest.mark.e2e

TYPE = "module-910b-8"
SLOT = 4  # NPUs per pod in these tests: two pods per 8-NPU node


def gang_values(prefill: int, decode: int, npus: int = SLOT, pods_per_instance: int = 2,
                **extra: Any) -> dict[str, Any]:
    return {
        "mode": "pd",
        "image": {"repository": "swr.example.com/ascendhub/mindie", "tag": "2.1.RC1-800I-A2-py311-openeuler24.03-lts"},
        "model": {"name": "qwen2.5-7b", "path": "/data/qwen2.5-7b"},
        "accelerator": {"family": "910", "type": TYPE},
        "prefill": {"instances": prefill, "podsPerInstance": pods_per_instance, "npusPerPod": npus},
        "decode": {"instances": decode, "podsPerInstance": pods_per_instance, "npusPerPod": npus},
        **extra,
    }


@pytest.fixture(scope="module")
def cluster(volcano_cluster):
    return volcano_cluster


@pytest.fixture
def releases(cluster, namespace, tmp_path):
    r = Releases(cluster, namespace, tmp_path)
    yield r
    r.cleanup()
    cluster.kubectl("wait", "-n", namespace, "--for=delete", "pod", "--all", "--timeout=90s", check=False)


def cluster_dir(cluster) -> Path:
    """hack/cluster.sh keeps <workdir>/<name>.kubeconfig next to <workdir>/clusters/<name>/."""
    kc = Path(cluster.kubeconfig)
    return kc.parent / "clusters" / kc.name.removesuffix(".kubeconfig")


def scheduler_log(cluster) -> str:
    return (cluster_dir(cluster) / "logs" / "volcano-scheduler.log").read_text(errors="replace")


def podgroups(cluster, ns: str) -> dict[str, dict]:
    """PodGroups by the instance they gang: a multi-pod instance is a Volcano Job, whose PodGroup
    (<job>-<uid>, made by Volcano) is listed under the Job's name; others under their own."""
    out = {}
    for g in cluster.get_json("podgroups.scheduling.volcano.sh", "-n", ns)["items"]:
        owner = [r["name"] for r in g["metadata"].get("ownerReferences") or []
                 if r.get("controller") and r.get("kind") == "Job"]
        out[owner[0] if owner else g["metadata"]["name"]] = g
    return out


def gangs(cluster, ns: str, release: str) -> dict[str, list[dict]]:
    """Instance (its Volcano Job's name) -> its pods, for the release's multi-pod P/D instances.

    A Volcano Job creates its pods only once Volcano lets its PodGroup out of Pending
    (v1.7.0 job_controller_actions.go syncJob): such an instance is listed with no pods."""
    jobs = cluster.get_json("jobs.batch.volcano.sh", "-n", ns, "-l", f"app.kubernetes.io/instance={release}")
    out: dict[str, list[dict]] = {j["metadata"]["name"]: [] for j in jobs["items"]}
    for p in pods(cluster, ns, release):
        name = p["metadata"]["labels"].get("volcano.sh/job-name")
        if p["metadata"]["labels"].get("mindie.huawei.com/role") in ("prefill", "decode") and name:
            out.setdefault(name, []).append(p)
    return out


def bound(items: list[dict]) -> int:
    return sum(bool(p["spec"].get("nodeName")) for p in items)


def unschedulable(pg: dict) -> dict | None:
    for c in (pg.get("status") or {}).get("conditions") or []:
        if c["type"] == "Unschedulable" and c["status"] == "True":
            return c
    return None


def status_instances(cluster, ns: str, release: str) -> dict[str, dict]:
    proc = cluster.plugin("status", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    [svc] = [s for s in json.loads(proc.stdout)["services"] if (s["namespace"], s["release"]) == (ns, release)]
    return {i["instance"]: i for i in svc["instances"]}


def free_slots(cluster) -> int:
    """SLOT-NPU pods that fit right now on the module-910b-8 nodes."""
    free = {n["metadata"]["name"]: int(n["status"]["allocatable"].get(NPU, "0"))
            for n in cluster.get_json("nodes", "-l", f"accelerator-type={TYPE}")["items"]}
    for p in cluster.get_json("pods", "-A")["items"]:
        if p["spec"].get("nodeName") in free and p["status"].get("phase") not in ("Succeeded", "Failed"):
            free[p["spec"]["nodeName"]] -= npu_request(p)
    return sum(max(f, 0) // SLOT for f in free.values())


def test_pd_instances_are_bound_by_volcano(cluster, namespace, releases):
    releases.install("gang", gang_values(prefill=1, decode=1))
    items = until("6 running pods", lambda: (lambda x: x if len(x) == 6 and all(map(running, x)) else None)(
        pods(cluster, namespace, "gang")), timeout=90)
    events = cluster.get_json("events", "-n", namespace, "--field-selector", "reason=Scheduled")["items"]
    by_pod = {e["involvedObject"]["name"]: e for e in events if e["involvedObject"]["kind"] == "Pod"}
    for p in items:
        assert p["spec"]["schedulerName"] == "volcano"
        assert by_pod[p["metadata"]["name"]]["source"]["component"] == "volcano", by_pod.get(p["metadata"]["name"])
    groups = gangs(cluster, namespace, "gang")
    assert sorted(groups) == ["gang-mindie-service-decode-0", "gang-mindie-service-prefill-0"]
    assert all(len(v) == 2 for v in groups.values())
    pgs = until("both PodGroups Running", lambda: (lambda g: g if all(
        (g.get(n, {}).get("status") or {}).get("phase") == "Running" for n in groups) else None)(
        podgroups(cluster, namespace)), timeout=60)
    for name in groups:
        assert pgs[name]["spec"]["minMember"] == 2
        assert pgs[name]["spec"]["minResources"][NPU] == "8"
    inst = status_instances(cluster, namespace, "gang")
    assert {k: (v["phase"], v["pending"]) for k, v in inst.items()} == {"prefill-0": ("Running", 0),
                                                                        "decode-0": ("Running", 0)}


def test_oversubscribed_instance_waits_whole_then_binds(cluster, namespace, releases):
    until("NPUs of earlier tests to be free", lambda: free_slots(cluster) == 6, timeout=120)
    # hog: 3 instances x 2 pods x 4 NPUs = all 24 module-910b-8 NPUs
    releases.install("hog", gang_values(prefill=2, decode=1))
    until("hog placed", lambda: free_slots(cluster) == 0 and all(
        bound(v) == 2 for v in gangs(cluster, namespace, "hog").values()), timeout=90)
    releases.install("late", gang_values(prefill=1, decode=1), wait=False)

    def both_refused():
        g = gangs(cluster, namespace, "late")
        pgs = podgroups(cluster, namespace)
        # never half-placed, and nothing of it placed while no NPU is free
        assert all(bound(v) == 0 for v in g.values()), {k: bound(v) for k, v in g.items()}
        if len(g) == 2 and all(k in pgs and unschedulable(pgs[k]) for k in g):
            return pgs
        return None
    pgs = until("late's PodGroups Unschedulable", both_refused, timeout=90)
    for name in ("late-mindie-service-prefill-0", "late-mindie-service-decode-0"):
        cond = unschedulable(pgs[name])
        assert cond["reason"] == "NotEnoughResources"
        assert "tasks in gang unschedulable" in cond["message"], cond
        assert pgs[name]["status"]["phase"] in ("Pending", "Inqueue")
    inst = status_instances(cluster, namespace, "late")
    for key in ("prefill-0", "decode-0"):
        assert inst[key]["pending"] == 2 and inst[key]["unschedulable"] is True, inst[key]
        assert inst[key]["reason"], inst[key]
    text = cluster.plugin("status").stdout
    assert f"{namespace}/late prefill-0: " in text and "Unschedulable, 2/2 pods pending: " in text, text

    # make room: hog loses one prefill instance (its Volcano Job and PodGroup go)
    kept = {g: sorted(p["metadata"]["uid"] for p in v) for g, v in gangs(cluster, namespace, "hog").items()
            if g != "hog-mindie-service-prefill-1"}
    releases.upgrade("hog", gang_values(prefill=1, decode=1))
    # the instances that stay keep running: their pods' checksum covers only the
    # files they mount, and the changed P/D ratio is the controller's
    assert {g: sorted(p["metadata"]["uid"] for p in v)
            for g, v in gangs(cluster, namespace, "hog").items() if g in kept} == kept

    def one_placed():
        g = gangs(cluster, namespace, "late")
        counts = sorted(bound(v) for v in g.values())
        return counts if counts and counts[-1] == 2 else None
    assert until("one late instance to bind", one_placed, timeout=120) == [0, 2]
    # the other one still waits whole, and no node holds more NPUs than it has
    g = gangs(cluster, namespace, "late")
    assert sorted(bound(v) for v in g.values()) == [0, 2]
    assert free_slots(cluster) == 0


def test_queue_capability_keeps_gang_pending(cluster, namespace, releases):
    queue = f"small-{secrets.token_hex(3)}"
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": queue},
        "spec": {"weight": 1, "reclaimable": False, "capability": {NPU: "4"}}}))
    try:
        until("NPUs of earlier tests to be free", lambda: free_slots(cluster) >= 4, timeout=120)
        releases.install("queued", gang_values(prefill=1, decode=1, gang={"enabled": True, "queue": queue}),
                         wait=False)

        def pending():
            g = gangs(cluster, namespace, "queued")
            pgs = podgroups(cluster, namespace)
            assert all(bound(v) == 0 for v in g.values())
            if len(g) == 2 and all(k in pgs and unschedulable(pgs[k]) for k in g):
                return pgs
            return None
        pgs = until("the queued PodGroups to be refused", pending, timeout=90)
        for name in ("queued-mindie-service-prefill-0", "queued-mindie-service-decode-0"):
            assert pgs[name]["spec"]["queue"] == queue
            assert pgs[name]["status"]["phase"] == "Pending"
        inst = status_instances(cluster, namespace, "queued")
        assert inst["prefill-0"]["phase"] == "Pending" and inst["prefill-0"]["pending"] == 2
        assert f"queue {queue}" in inst["prefill-0"]["reason"], inst
        assert "queue resource quota insufficient" in inst["prefill-0"]["reason"], inst
        text = cluster.plugin("status").stdout
        assert f"{namespace}/queued prefill-0: Pending, Unschedulable, 2/2 pods pending: " in text, text
        # the queue was the reason: room in it lets both gangs in
        cluster.kubectl("patch", "queue", queue, "--type=merge", "-p", json.dumps({"spec": {"capability": {NPU: "16"}}}))
        until("the queued gangs to bind", lambda: (lambda g: len(g) == 2 and all(bound(v) == 2 for v in g.values()))(
            gangs(cluster, namespace, "queued")), timeout=90)
    finally:
        cluster.kubectl("delete", "queue", queue, "--ignore-not-found", check=False)


def test_scheduler_needs_the_charts_binding_rule(cluster, namespace, releases, tmp_path):
    saved = cluster.get_json("clusterrole", "volcano-scheduler")
    [index] = [i for i, r in enumerate(saved["rules"]) if r.get("resources") == ["pods/binding"]]
    saved["metadata"].pop("resourceVersion", None)
    backup = tmp_path / "clusterrole.json"
    backup.write_text(json.dumps(saved))
    cluster.kubectl("patch", "clusterrole", "volcano-scheduler", "--type=json", "-p", json.dumps([
        {"op": "test", "path": f"/rules/{index}/resources/0", "value": "pods/binding"},
        {"op": "remove", "path": f"/rules/{index}"}]))
    try:
        releases.install("norbac", gang_values(prefill=1, decode=1, pods_per_instance=1, npus=1), wait=False)

        def refused():
            items = pods(cluster, namespace, "norbac")
            log = scheduler_log(cluster)
            assert not any(p["spec"].get("nodeName") for p in items), "a pod was bound without pods/binding"
            return len(items) == 4 and all(f"Failed to bind pod <{namespace}/{p['metadata']['name']}>" in log
                                           for p in items)
        until("vc-scheduler to try and fail to bind every pod", refused, timeout=90)
        line = [ln for ln in scheduler_log(cluster).splitlines() if f"Failed to bind pod <{namespace}/" in ln][-1]
        assert "system:serviceaccount:volcano-system:volcano-scheduler" in line and "pods/binding" in line, line
    finally:
        cluster.kubectl("replace", "-f", str(backup))
    until("the pods to bind once the rule is back", lambda: (lambda x: len(x) == 4 and all(map(running, x)))(
        pods(cluster, namespace, "norbac")), timeout=90)


def test_scheduler_conf_follows_the_configmap(cluster, namespace, releases):
    cm = cluster.get_json("configmap", "-n", "volcano-system", "volcano-scheduler-configmap")
    conf = cm["data"]["volcano-scheduler.conf"]
    assert "allocate" in conf
    marker = "Successfully loaded scheduler conf, actions: "

    def set_conf(text: str) -> None:
        cluster.kubectl("patch", "configmap", "-n", "volcano-system", "volcano-scheduler-configmap", "--type=merge",
                        "-p", json.dumps({"data": {"volcano-scheduler.conf": text}}))

    before = scheduler_log(cluster).count(marker)
    set_conf(conf.replace("enqueue, allocate, backfill", "enqueue, backfill"))
    try:
        until("vc-scheduler to load the conf without allocate", lambda: scheduler_log(cluster).count(
            f"{marker}[enqueue backfill]") > 0 and scheduler_log(cluster).count(marker) > before, timeout=60)
        releases.install("noalloc", gang_values(prefill=1, decode=1, pods_per_instance=1, npus=1), wait=False)

        def looked_at_not_placed():
            items = [p for p in pods(cluster, namespace, "noalloc") if npu_request(p)]
            assert not any(p["spec"].get("nodeName") for p in items), "placed without the allocate action"
            return len(items) == 2 and all(any(c["type"] == "PodScheduled" and c["status"] == "False"
                                               for c in p["status"].get("conditions") or []) for p in items)
        until("the NPU pods to be looked at and left unplaced", looked_at_not_placed, timeout=90)
    finally:
        set_conf(conf)
    until("the NPU pods to bind once allocate is back", lambda: (lambda x: len(x) == 4 and all(map(running, x)))(
        pods(cluster, namespace, "noalloc")), timeout=90)


def test_doctor_on_gangs(cluster, namespace, releases):
    """With the real scheduler running, a waiting gang is attended; stuck ones are named past the threshold."""
    queue = f"tiny-{secrets.token_hex(3)}"
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": queue},
        "spec": {"weight": 1, "reclaimable": False, "capability": {NPU: "1"}}}))
    try:
        releases.install("waits", gang_values(prefill=1, decode=1, gang={"enabled": True, "queue": queue}), wait=False)
        def refused():
            mine = {k: v for k, v in podgroups(cluster, namespace).items() if k.startswith("waits-")}
            return len(mine) == 2 and all(unschedulable(v) for v in mine.values())
        until("the gangs to be refused", refused, timeout=90)
        doc = json.loads(cluster.plugin("doctor", "-o", "json").stdout)
        checks = {c["check"]: c for c in doc["checks"]}
        assert checks["volcano-scheduling"]["status"] == "PASS", checks["volcano-scheduling"]
        # the refused gangs are Volcano Jobs, which create no pod while the queue keeps their
        # PodGroups Pending (v1.7.0 syncJob); pods of earlier tests may still be leaving
        assert not [p for p in pods(cluster, namespace, "waits") if p["metadata"]["labels"].get(
            "mindie.huawei.com/role") in ("prefill", "decode")]
        assert re.fullmatch(r"no pod waits for Volcano|\d+ volcano pod\(s\) waiting, none longer than 60s|"
                            r"a Volcano scheduler is attending the \d+ volcano pod\(s\) waiting over 60s",
                            checks["volcano-scheduling"]["message"]), checks["volcano-scheduling"]
        # younger than the 300 s threshold: not stuck yet
        assert checks["podgroups"]["status"] == "PASS", checks["podgroups"]
    finally:
        cluster.kubectl("delete", "queue", queue, "--ignore-not-found", check=False)


def test_doctor_warns_when_no_volcano_scheduler_runs(bare_cluster):
    """A cluster without the stack (so without Volcano): a volcano pod nobody looks at is reported after 60 s.

    The real pod, read from the real API; the 60 s pass on an injected clock (doctor's `clock`), not in
    the test's time."""
    c = bare_cluster
    ns = f"t-{secrets.token_hex(3)}"
    c.kubectl("create", "namespace", ns)
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "namespace": ns},
        "spec": {"schedulerName": "volcano", "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}))

    def check():
        doc = json.loads(c.plugin("doctor", "-o", "json").stdout)
        return {x["check"]: x for x in doc["checks"]}["volcano-scheduling"]
    first = check()
    assert first["status"] == "PASS" and "waiting" in first["message"], first
    created = gang.timestamp(c.get_json("pod", "-n", ns, "orphan")["metadata"]["creationTimestamp"])
    assert created is not None

    def report_at(seconds: float) -> dict:
        report = doctor.doctor(Kube(c.kubeconfig), clock=lambda: created + seconds)
        return {x.name: x.as_dict() for x in report.checks}["volcano-scheduling"]
    young = report_at(gang.UNATTENDED_AFTER - 1)
    assert young["status"] == "PASS" and "none longer than 60s" in young["message"], young
    warned = report_at(gang.UNATTENDED_AFTER + 2)
    assert warned["status"] == "WARN", warned
    assert f"{ns}/orphan" in warned["message"] and "no Volcano scheduler has looked at them" in warned["message"]
    assert "no volcano-scheduler Deployment is installed" in warned["message"]
    assert c.get_json("pod", "-n", ns, "orphan")["spec"].get("nodeName") is None
    c.kubectl("delete", "namespace", ns, "--wait=false")
