"""`kubectl ascend mindie scale` on the local cluster: real Volcano, the Ascend Operator's stand-in, real helm.

Scenarios (pd releases of 2-NPU single-pod instances unless said; nodes: two Atlas 800I A2 and one
800T A2, all module-910b-8, 8 NPUs each):
- scale up within capacity (1P1D -> 2P2D, --wait): one Helm upgrade; the new instances' pods are
  bound and Running and their PodGroups Running (whole gangs); the old prefill/decode pods keep
  their UIDs; the global ranktable lists every server and the new pods' UIDs; `helm get values`
  holds the new counts and the release's other values; `status` shows P:D 2:2 and the band;
- pymotor up: the engine pods of the existing instances keep their UIDs (their checksum leaves
  the instance counts out);
- beyond capacity (--prefill 10 of 8 NPUs each): exit 1 naming what fits and what is missing; the
  release's revision is unchanged and no pod was created;
- outside the band (scaling.ratio 1:1, and --ratio): refused, revision unchanged;
- --dry-run prints the plan (-o json) and changes nothing;
- one role up and the other down (2P1D -> 1P2D): two upgrades, decode-1 runs before prefill-1 is
  deleted, and the global ranktable stops listing prefill-1 while its pod still runs, never
  listing it once the pod is going;
- --watch: the command creates ConfigMap mindie-scale-<release> with the current counts; a wish
  outside the band is refused (status says why, revision unchanged), a wish within it is applied
  (new instance running, status "applied", one more revision).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e.mindie_helpers import INDEX, INSTANCE, ROLE, AscendOperator, Releases, helm, pd_values, pods, running, \
    until

pytestmark = pytest.mark.e2e
FULL = "{release}-mindie-service"


@pytest.fixture(scope="module")
def cluster(volcano_cluster):
    return volcano_cluster


@pytest.fixture(scope="module")
def ready_cluster(cluster):
    """NPU labels on the nodes (the chart's nodeSelector) and the Ascend Operator's stand-in (rings-config)."""
    assert cluster.plugin("label-node", "--all").returncode == 0
    op = AscendOperator(cluster)
    op.install()
    yield cluster
    op.uninstall()


@pytest.fixture
def releases(ready_cluster, namespace, tmp_path):
    r = Releases(ready_cluster, namespace, tmp_path)
    yield r
    r.cleanup()


def scale(cluster, ns: str, release: str, *args: str):
    return cluster.plugin("-n", ns, "mindie", "scale", release, *args)


def revision(cluster, ns: str, release: str) -> int:
    [row] = json.loads(helm(cluster, "list", "-n", ns, "-o", "json").stdout)
    return int(row["revision"])


def servers(cluster, ns: str, release: str) -> dict[str, dict]:
    """prefill-0, decode-1, ... -> pod (single-pod instances)."""
    return {f"{p['metadata']['labels'][ROLE]}-{p['metadata']['labels'][INDEX]}": p
            for p in pods(cluster, ns, release) if p["metadata"]["labels"].get(ROLE) in ("prefill", "decode")}


def uids(items) -> set[str]:
    return {p["metadata"]["uid"] for p in items}


def global_cm(cluster, ns: str, release: str) -> dict:
    return cluster.get_json("configmap", "-n", ns, f"{FULL.format(release=release)}-global-ranktable")


def install_with_table(cluster, releases: Releases, ns: str, release: str, values: dict) -> dict[str, dict]:
    releases.install(release, values, wait=False)
    want = values["prefill"]["instances"] + values["decode"]["instances"] + 2
    until(f"{want} running pods", lambda: len([p for p in pods(cluster, ns, release) if running(p)]) == want,
          timeout=120)
    proc = cluster.plugin("-n", ns, "mindie", "ranktable", release, "--wait", "--timeout", "2m")
    assert proc.returncode == 0, proc.stderr
    return servers(cluster, ns, release)


def test_scale_up_within_capacity_keeps_old_pods_and_binds_new_gangs_whole(ready_cluster, namespace, releases):
    c, ns, rel = ready_cluster, namespace, "up"
    before = install_with_table(c, releases, ns, rel, {**pd_values(), "scaling": {"ratio": "1:2"}})
    rev = revision(c, ns, rel)
    proc = scale(c, ns, rel, "--prefill", "2", "--decode", "2", "--wait", "--timeout", "3m", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["instances"] for s in doc["applied"]] == [{"prefill": 2, "decode": 2}]
    assert doc["applied"][0]["ranktable"] == "written"
    assert revision(c, ns, rel) == rev + 1
    after = servers(c, ns, rel)
    assert set(after) == {"prefill-0", "prefill-1", "decode-0", "decode-1"}
    for name in ("prefill-0", "decode-0"):
        assert after[name]["metadata"]["uid"] == before[name]["metadata"]["uid"], f"{name} was recreated"
    for name in ("prefill-1", "decode-1"):
        p = after[name]
        assert running(p) and p["spec"]["nodeName"] and p["spec"]["schedulerName"] == "volcano"
        group = p["metadata"]["annotations"]["scheduling.k8s.io/group-name"]
        assert c.get_json("podgroup", "-n", ns, group)["status"]["phase"] == "Running"
    data = global_cm(c, ns, rel)["data"]
    table = json.loads(data["global_ranktable.json"])
    listed = {s["server_ip"] for g in table["server_group_list"][2:] for s in g["server_list"]}
    assert listed == {p["status"]["podIP"] for p in after.values()}
    assert uids(after.values()) <= set(data["pod_uids"].split())
    got = json.loads(helm(c, "get", "values", rel, "-n", ns, "-o", "json").stdout)
    assert got["prefill"]["instances"] == 2 and got["decode"]["instances"] == 2
    assert got["scaling"] == {"ratio": "1:2"} and got["model"]["name"] == "qwen2.5-7b"
    status = json.loads(c.plugin("status", "-o", "json").stdout)
    [svc] = [s for s in status["services"] if (s["namespace"], s["release"]) == (ns, rel)]
    assert svc["scale"] == {"prefill": 2, "decode": 2, "ratio": "2:2 (1.00)", "band": "1:2", "inBand": True}


def test_pymotor_scale_up_keeps_the_engine_pods(ready_cluster, namespace, releases):
    c, ns, rel = ready_cluster, namespace, "pm"
    values = {**pd_values(), "mode": "pymotor",
              "pymotor": {"parallel": {"prefill": {"tp": 2}, "decode": {"tp": 2}}}}
    releases.install(rel, values, wait=False)
    before = until("4 running pods", lambda: (lambda ps: ps if len(ps) == 4 else None)(
        [p for p in pods(c, ns, rel) if running(p)]), timeout=120)
    engines = {p["metadata"]["uid"] for p in before if p["metadata"]["labels"][ROLE] in ("prefill", "decode")}
    proc = scale(c, ns, rel, "--decode", "2", "--wait", "--timeout", "3m")
    assert proc.returncode == 0, proc.stderr
    after = servers(c, ns, rel)
    assert set(after) == {"prefill-0", "decode-0", "decode-1"} and running(after["decode-1"])
    assert engines <= uids(after.values()), "an existing engine pod was recreated"


def test_beyond_capacity_is_refused_and_changes_nothing(ready_cluster, namespace, releases):
    c, ns, rel = ready_cluster, namespace, "big"
    releases.install(rel, pd_values(npus=8), wait=False)
    until("4 running pods", lambda: len([p for p in pods(c, ns, rel) if running(p)]) == 4, timeout=120)
    rev, before = revision(c, ns, rel), uids(pods(c, ns, rel))
    proc = scale(c, ns, rel, "--prefill", "10")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not enough free NPUs for every new instance as a whole gang: prefill: 9 new" in proc.stderr
    assert "missing:" in proc.stderr and "nothing was changed" in proc.stderr
    time.sleep(2)  # anything an upgrade had started would show by now
    assert revision(c, ns, rel) == rev
    assert uids(pods(c, ns, rel)) == before


def test_outside_the_ratio_band_is_refused(ready_cluster, namespace, releases):
    c, ns, rel = ready_cluster, namespace, "band"
    releases.install(rel, {**pd_values(), "scaling": {"ratio": "1:1"}}, wait=False)
    rev = revision(c, ns, rel)
    proc = scale(c, ns, rel, "--prefill", "2")
    assert proc.returncode == 1 and "outside the P:D band 1:1 (value scaling.ratio)" in proc.stderr, proc.stderr
    proc = scale(c, ns, rel, "--prefill", "3", "--ratio", "1:2")
    assert proc.returncode == 1 and "outside the P:D band 1:2 (--ratio)" in proc.stderr, proc.stderr
    assert revision(c, ns, rel) == rev
    assert not [p for p in pods(c, ns, rel) if p["metadata"]["labels"].get(INDEX) not in (None, "0")]


def test_dry_run_prints_the_plan_and_changes_nothing(ready_cluster, namespace, releases):
    c, ns, rel = ready_cluster, namespace, "dry"
    releases.install(rel, pd_values(), wait=False)
    until("4 running pods", lambda: len([p for p in pods(c, ns, rel) if running(p)]) == 4, timeout=120)
    rev, before = revision(c, ns, rel), uids(pods(c, ns, rel))
    proc = scale(c, ns, rel, "--prefill", "2", "--decode", "2", "--dry-run", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dryRun"] is True and doc["applied"] == []
    assert doc["steps"] == [{"instances": {"prefill": 2, "decode": 2}, "add": {"prefill": [1], "decode": [1]},
                             "remove": {}}]
    time.sleep(2)
    assert revision(c, ns, rel) == rev
    assert uids(pods(c, ns, rel)) == before


class Recorder(threading.Thread):
    """Samples the release's global ranktable and pods until stopped: (uids in the table, pods) per sample."""

    def __init__(self, cluster, ns: str, release: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.ns, self.release = cluster, ns, release
        self.samples: list[tuple[set[str], list[dict]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            items = self.cluster.get_json("configmaps,pods", "-n", self.ns, "-l", f"{INSTANCE}={self.release}")["items"]
            table = next((i for i in items if i["kind"] == "ConfigMap"
                          and i["metadata"]["name"].endswith("-global-ranktable")), None)
            listed = set(((table or {}).get("data") or {}).get("pod_uids", "").split())
            self.samples.append((listed, [i for i in items if i["kind"] == "Pod"]))
            time.sleep(0.2)


def test_one_role_up_the_other_down_orders_upgrades_and_drops_removed_instances_first(ready_cluster, namespace,
                                                                                       releases):
    c, ns, rel = ready_cluster, namespace, "swap"
    before = install_with_table(c, releases, ns, rel, pd_values(prefill=2, decode=1))
    rev = revision(c, ns, rel)
    gone_uid = before["prefill-1"]["metadata"]["uid"]
    rec = Recorder(c, ns, rel)
    rec.start()
    try:
        proc = scale(c, ns, rel, "--prefill", "1", "--decode", "2", "--wait", "--timeout", "3m", "-o", "json")
    finally:
        rec.done.set()
        rec.join()
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(s["instances"], s["add"], s["remove"]) for s in doc["steps"]] == [
        ({"prefill": 2, "decode": 2}, {"decode": [1]}, {}),
        ({"prefill": 1, "decode": 2}, {}, {"prefill": [1]})]
    assert revision(c, ns, rel) == rev + 2

    def alive(ps: list[dict], uid: str) -> bool:
        return any(p["metadata"]["uid"] == uid and not p["metadata"].get("deletionTimestamp") for p in ps)

    def decode1_running(ps: list[dict]) -> bool:
        return any(p["metadata"]["labels"].get(ROLE) == "decode" and p["metadata"]["labels"].get(INDEX) == "1"
                   and running(p) for p in ps)

    # decode-1 ran before prefill-1 went
    first_gone = next(i for i, (_, ps) in enumerate(rec.samples) if not alive(ps, gone_uid))
    assert any(decode1_running(ps) for _, ps in rec.samples[:first_gone]), "prefill-1 went before decode-1 ran"
    # the table stopped listing prefill-1 while its pod still ran, and never listed it once it was going
    assert any(gone_uid not in listed and alive(ps, gone_uid) for listed, ps in rec.samples), \
        "never saw the table without prefill-1 while its pod ran"
    assert not any(gone_uid in listed for listed, ps in rec.samples if not alive(ps, gone_uid)), \
        "the global ranktable listed prefill-1 after its pod started going"
    after = servers(c, ns, rel)
    assert set(after) == {"prefill-0", "decode-0", "decode-1"}
    for name in ("prefill-0", "decode-0"):
        assert after[name]["metadata"]["uid"] == before[name]["metadata"]["uid"]
    assert uids(after.values()) <= set(global_cm(c, ns, rel)["data"]["pod_uids"].split())


def test_watch_puts_each_wish_through_the_same_checks(ready_cluster, namespace, releases, tmp_path):
    c, ns, rel = ready_cluster, namespace, "watched"
    install_with_table(c, releases, ns, rel, {**pd_values(), "scaling": {"ratio": "1:2"}})
    rev = revision(c, ns, rel)
    name = f"mindie-scale-{rel}"

    def status() -> str:
        cm = c.get_json("configmap", "-n", ns, name) if c.kubectl("get", "configmap", "-n", ns, name,
                                                                  check=False).returncode == 0 else {}
        return (cm.get("data") or {}).get("status", "")

    log = open(tmp_path / "watch.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_ascend", "--kubeconfig", c.kubeconfig, "-n", ns,
                             "mindie", "scale", rel, "--watch", "--timeout", "3m"],
                            stdout=log, stderr=log, start_new_session=True)
    try:
        until("the wish ConfigMap", lambda: status().startswith("nothing to do"), timeout=60)
        assert c.get_json("configmap", "-n", ns, name)["data"]["prefill"] == "1"
        c.kubectl("patch", "configmap", "-n", ns, name, "--type", "merge", "-p",
                  json.dumps({"data": {"prefill": "3"}}))
        until("the refusal", lambda: status().startswith("refused:"), timeout=60)
        assert "outside the P:D band 1:2 (value scaling.ratio)" in status()
        assert revision(c, ns, rel) == rev
        c.kubectl("patch", "configmap", "-n", ns, name, "--type", "merge", "-p",
                  json.dumps({"data": {"prefill": "2", "decode": "2"}}))
        until("the wish applied", lambda: status().startswith("applied:"), timeout=240)
        assert revision(c, ns, rel) == rev + 1
        after = servers(c, ns, rel)
        assert set(after) == {"prefill-0", "prefill-1", "decode-0", "decode-1"}
        assert all(running(p) for p in after.values())
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert "refused:" in (tmp_path / "watch.log").read_text()
