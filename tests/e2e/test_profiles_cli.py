"""MindCluster release profiles (26.0.0 -> 26.1.0) on a real API server: install, upgrade, label-node, doctor.

Scenario (own cluster "profilescli-*", default layout: mgmt-0 and four NPU nodes):
- 26.0.0: `label-node --all` says it uses the default profile and writes `accelerator`;
  `install --wait` says "MindCluster 26.0.0 (default)"; the device plugin is one DaemonSet per
  chip family; doctor has no FAIL (WARNs only where true: Volcano v1.7.0 does not support the
  cluster's Kubernetes 1.34, KWOK serves no pod logs);
- `label-node --mindcluster-version 26.1.0 --dry-run` does not plan `accelerator`/`servertype`
  and says the device plugin sets them; `--noded` plans nodeDEnable=on; an unknown version is
  a usage error that changes nothing;
- upgrade with `--mindcluster-version 26.1.0 --wait`: the plan calls it an upgrade from 26.0.0;
  the device plugin becomes one DaemonSet on workerselector=dls-worker-node (the per-family
  ones are gone) with a pod on every worker; Volcano runs v1.9.0 images; doctor has no FAIL,
  its profile checks pass and the Kubernetes range check WARNs naming v1.9.0's range; a rerun
  of `install` keeps 26.1.0 ("kept from release ascend-stack");
- under the installed 26.1.0, a new NPU node labelled by name gets the worker labels and
  accelerator-type but no accelerator, and doctor's labels-profile check passes for it;
- NodeD on in the release: `label-node --all` adds nodeDEnable=on to the workers only; a rerun
  has nothing to do;
- `mindie ranktable` with a pod labelled app=clusterd (a hand-installed ClusterD): for a PD
  release rendered without ClusterD (its global ranktable ConfigMap) it fails naming
  `--set clusterd.enabled=true` and leaves the ConfigMap alone; `--force` goes on to build
  it (and says what is missing); for a release rendered with clusterd.enabled (its
  rings-config ConfigMaps, no global one) it defers and exits 0; without ClusterD it does
  not defer.
"""
from __future__ import annotations

import json
import secrets

import pytest

from tests.chart.helmutil import render
from tests.chart.mindie_values import pd_values
from tests.clusters import reset_stack

pytestmark = pytest.mark.e2e

DP = "app.kubernetes.io/part-of=mindcluster,app.kubernetes.io/component=device-plugin"
WORKERS = ["atlas-300i-duo-0", "atlas-800i-a2-0", "atlas-800i-a2-1", "atlas-800t-a2-0"]


@pytest.fixture(scope="module")
def pcluster(cluster):
    """The shared default cluster, clean (reset_stack) before and after this module's tests."""
    reset_stack(cluster)
    yield cluster
    reset_stack(cluster)


def _json(proc) -> dict:
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _daemonsets(c) -> list[dict]:
    return c.get_json("daemonsets", "-n", "kube-system", "-l", DP)["items"]


def _checks(doc: dict) -> dict[str, dict]:
    return {x["check"]: x for x in doc["checks"]}


@pytest.fixture(scope="module")
def at_260(pcluster):
    """The stack installed without a version (26.0.0); what label-node, install and doctor said then."""
    c = pcluster
    labelled = c.plugin("label-node", "--all", "-o", "json")
    assert labelled.returncode == 0, labelled.stderr
    assert c.plugin("label-node", "mgmt-0", "--role", "master").returncode == 0
    installed = c.plugin("install", "--wait", "--timeout", "5m")
    assert installed.returncode == 0, installed.stderr
    return {"label": json.loads(labelled.stdout), "install": installed, "doctor": c.plugin("doctor", "-o", "json"),
            "daemonsets": _daemonsets(c)}


def test_26_0_install_and_doctor(at_260):
    label = at_260["label"]
    assert label["mindcluster"]["version"] == "26.0.0" and label["mindcluster"]["source"] == "default"
    assert label["leftToDevicePlugin"] == [] and label["noded"] is False
    assert {n["node"]: n["labels"]["accelerator"] for n in label["nodes"]} == {
        "atlas-300i-duo-0": "huawei-Ascend310P", "atlas-800i-a2-0": "huawei-Ascend910",
        "atlas-800i-a2-1": "huawei-Ascend910", "atlas-800t-a2-0": "huawei-Ascend910"}
    assert "  - profile: MindCluster 26.0.0 (default)\n" in at_260["install"].stdout
    assert sorted(d["metadata"]["name"] for d in at_260["daemonsets"]) == [
        "ascend-device-plugin-daemonset-310p", "ascend-device-plugin-daemonset-910"]
    doc = _json(at_260["doctor"])
    checks = _checks(doc)
    assert doc["mindcluster"]["version"] == "26.0.0" and doc["mindcluster"]["source"] == "release"
    assert not doc["failed"], [c for c in doc["checks"] if c["status"] == "FAIL"]
    for name in ("labels-profile", "device-plugin", "device-plugin-layout", "volcano-version"):
        assert checks[name]["status"] == "PASS", checks[name]
    assert "one DaemonSet per chip family" in checks["device-plugin-layout"]["message"]
    rng = checks["volcano-kubernetes"]
    assert rng["status"] == "WARN" and "outside Volcano v1.7.0's supported range 1.19-1.28" in rng["message"]


def test_label_node_plans_per_profile(at_260, pcluster):
    c = pcluster
    plan = _json(c.plugin("label-node", "--all", "--mindcluster-version", "26.1.0", "--noded", "--dry-run",
                          "-o", "json"))
    assert plan["mindcluster"]["source"] == "flag" and plan["leftToDevicePlugin"] == ["accelerator", "servertype"]
    for n in plan["nodes"]:
        assert "accelerator" not in n["labels"] and n["labels"]["nodeDEnable"] == "on"
        assert n["changes"] == {"nodeDEnable": {"old": None, "new": "on"}}  # accelerator is kept, not removed
    text = c.plugin("label-node", "--all", "--mindcluster-version", "26.1.0", "--dry-run")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == ("profile: MindCluster 26.1.0 (from --mindcluster-version); not writing "
                                           "accelerator, servertype: the device plugin sets them itself")
    before = {n["metadata"]["name"]: n["metadata"]["labels"] for n in c.get_json("nodes")["items"]}
    bad = c.plugin("label-node", "--all", "--mindcluster-version", "26.2.0")
    assert bad.returncode == 2 and "--mindcluster-version '26.2.0': this plugin installs 26.0.0 or 26.1.0" in bad.stderr
    assert {n["metadata"]["name"]: n["metadata"]["labels"] for n in c.get_json("nodes")["items"]} == before


@pytest.fixture(scope="module")
def at_261(at_260, pcluster):
    """The 26.0.0 stack upgraded with --mindcluster-version 26.1.0; what install and doctor said."""
    c = pcluster
    up = c.plugin("install", "--mindcluster-version", "26.1.0", "--wait", "--timeout", "5m")
    assert up.returncode == 0, up.stderr
    return {"install": up, "doctor": c.plugin("doctor", "-o", "json"), "daemonsets": _daemonsets(c)}


def test_upgrade_to_26_1(at_261, pcluster):
    c = pcluster
    out = at_261["install"].stdout
    assert out.startswith("Upgrading release ascend-stack in namespace mindx-dl:\n")
    assert ("  - profile: MindCluster 26.1.0 (from --mindcluster-version); the installed release runs 26.0.0: "
            "this is an upgrade to 26.1.0\n") in out
    assert "device plugin: one DaemonSet on workerselector=dls-worker-node (4 nodes)" in out
    [ds] = at_261["daemonsets"]
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"].get("workerselector") == "dls-worker-node" and "accelerator" not in spec["nodeSelector"]
    assert ds["status"]["desiredNumberScheduled"] == len(WORKERS) == ds["status"]["numberReady"]
    pods = c.get_json("pods", "-n", "kube-system", "-l", DP)["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods if not p["metadata"].get("deletionTimestamp")) == WORKERS
    sched = c.get_json("deployment", "-n", "volcano-system", "volcano-scheduler")
    assert sched["spec"]["template"]["spec"]["containers"][0]["image"].split(":")[-1].startswith("v1.9.0-v26.1.0")
    values = json.loads(c.plugin("install", "--dry-run", "-o", "json").stdout)
    assert values["mindcluster"]["why"] == "kept from release ascend-stack" and values["action"] == "upgrade"
    assert values["values"]["global"]["mindcluster"]["version"] == "26.1.0"


def test_doctor_after_upgrade(at_261):
    doc = _json(at_261["doctor"])
    checks = _checks(doc)
    assert doc["mindcluster"]["version"] == "26.1.0"
    assert not doc["failed"], [c for c in doc["checks"] if c["status"] == "FAIL"]
    for name in ("labels-profile", "device-plugin", "device-plugin-layout", "volcano-version", "npu-nodes-labelled"):
        assert checks[name]["status"] == "PASS", checks[name]
    assert "one DaemonSet for every worker" in checks["device-plugin-layout"]["message"]
    assert "Volcano v1.9.0" in checks["volcano-version"]["message"]
    rng = checks["volcano-kubernetes"]
    assert rng["status"] == "WARN" and "outside Volcano v1.9.0's supported range 1.21-1.29" in rng["message"]
    warned = sorted(c["check"] for c in doc["checks"] if c["status"] == "WARN")
    assert set(warned) <= {"volcano-kubernetes", "volcano-npu-plugin"}, warned


def test_new_node_under_26_1(at_261, pcluster, node_prefix):
    c = pcluster
    c.nodes("--layout", "single", "--prefix", node_prefix, "--offset", "600")
    name = f"{node_prefix}atlas-800i-a2-0"
    try:
        proc = c.plugin("label-node", name, "-o", "json")
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["mindcluster"]["why"] == "kept from release ascend-stack"
        labels = c.get_json("node", name)["metadata"]["labels"]
        assert labels["workerselector"] == "dls-worker-node" and labels["accelerator-type"] == "module-910b-8"
        assert "accelerator" not in labels
        doc = _json(c.plugin("doctor", "-o", "json"))
        assert _checks(doc)["labels-profile"]["status"] == "PASS"
    finally:
        c.nodes("--layout", "single", "--prefix", node_prefix, "--delete")


def test_noded_labels_workers(at_261, pcluster):
    c = pcluster
    on = c.plugin("install", "--set", "ascend-noded.enabled=true", "--wait", "--timeout", "5m")
    assert on.returncode == 0, on.stderr
    assert "  - profile: MindCluster 26.1.0 (kept from release ascend-stack)\n" in on.stdout
    proc = c.plugin("label-node", "--all")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith("; NodeD on: workers get nodeDEnable=on")
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in c.get_json("nodes")["items"]}
    assert sorted(n for n, labels in nodes.items() if labels.get("nodeDEnable") == "on") == WORKERS
    assert "nodeDEnable" not in nodes["mgmt-0"]
    again = c.plugin("label-node", "--all")
    assert again.returncode == 0 and "nothing to do" in again.stdout


CLUSTERD_POD = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "clusterd-hand-installed", "labels": {"app": "clusterd"}},
                "spec": {"tolerations": [{"operator": "Exists"}],
                         "containers": [{"name": "clusterd", "image": "registry.example/clusterd:v26.1.0"}]}}


def test_mindie_ranktable_defers_to_clusterd(pcluster):
    c = pcluster
    ns = f"rt-{secrets.token_hex(3)}"
    c.kubectl("create", "namespace", ns)
    try:
        [cm] = [o for o in render("mindie-service", pd_values(), release="qwen", namespace=ns)
                if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("mindie.huawei.com/ranktable")
                == "global"]
        cm["metadata"]["namespace"] = ns
        c.kubectl("apply", "-f", "-", input=json.dumps(cm))
        without = c.plugin("-n", ns, "mindie", "ranktable", "qwen", "-o", "json")
        # no ClusterD: it builds the table itself, and says what is still missing
        assert without.returncode == 1 and "rerun with --wait" in without.stderr, without.stderr
        c.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(CLUSTERD_POD))
        c.kubectl("wait", "-n", ns, "pod/clusterd-hand-installed", "--for=condition=PodScheduled", "--timeout=60s")
        before = c.get_json("configmap", "-n", ns, cm["metadata"]["name"])["metadata"]["resourceVersion"]
        # rendered without ClusterD while ClusterD runs: its pods would wait forever; say how to fix
        wrong = c.plugin("-n", ns, "mindie", "ranktable", "qwen", "-o", "json")
        assert wrong.returncode == 1 and "--set clusterd.enabled=true" in wrong.stderr, wrong.stderr
        assert f"ClusterD runs (pod {ns}/clusterd-hand-installed)" in wrong.stderr
        assert c.get_json("configmap", "-n", ns, cm["metadata"]["name"])["metadata"]["resourceVersion"] == before
        forced = c.plugin("-n", ns, "mindie", "ranktable", "qwen", "--force")
        assert forced.returncode == 1 and forced.stderr == without.stderr  # builds it: the same missing parts
        # rendered with clusterd.enabled: rings-config ConfigMaps labelled jobID, no global one
        for o in render("mindie-service", pd_values(clusterd={"enabled": True}), release="cdq", namespace=ns):
            if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("rings-config-"):
                o["metadata"]["namespace"] = ns
                c.kubectl("apply", "-f", "-", input=json.dumps(o))
        deferred = c.plugin("-n", ns, "mindie", "ranktable", "cdq", "-o", "json")
        assert deferred.returncode == 0, deferred.stderr
        data = json.loads(deferred.stdout)
        assert data["state"] == "deferred" and data["clusterd"] == [f"pod {ns}/clusterd-hand-installed"]
        text = c.plugin("-n", ns, "mindie", "ranktable", "cdq")
        assert text.returncode == 0 and text.stdout.startswith(f"ClusterD runs (pod {ns}/clusterd-hand-installed): "
                                                               "it builds the global ranktable of release cdq")
        assert c.plugin("-n", ns, "mindie", "ranktable", "nope").returncode == 1  # an unknown release is no deferral
    finally:
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)
