"""The mindie-service chart installed on the simulated cluster, with `kubectl ascend mindie ranktable`.

Scenarios:
- single mode: every instance runs on an NPU node labelled
  accelerator=huawei-Ascend910, requests = limits = npusPerInstance NPUs,
  config.json follows the NPU count, the entry Service points at the pods;
- single mode with more instances than the free Ascend910 NPUs: exactly the
  instances that fit run, the rest stay Pending, Unschedulable in Volcano's
  words ("all nodes are unavailable");
- pd mode: controller, coordinator, Prefill and Decode pods are created, P/D
  pods land on accelerator-type=module-910b-8 nodes with their NPUs and
  priorities, the global ranktable starts "initializing";
- pd mode ranktable: before the Ascend Operator is installed (its stand-in,
  hack/ascend_operator_emulator.py, runs as a hack/cluster.sh addon with the
  ascend-operator chart's ServiceAccount and RBAC), the command without
  --wait exits 1 with "not ready yet" and writes nothing; with --wait it
  waits; installing the operator chart completes the per-instance tables
  (device annotation, hccl/rankIndex, rings-config-*) and the command writes
  groups 0 coordinator, 1 controller and 2 with every P and D server, with
  the pods' IPs; a rerun reports "unchanged";
- the operator finds pods only the way the real one does: a StatefulSet whose
  pods lack deploy-name, or an operator ClusterRole without the apps rule,
  leaves rings-config-* "initializing" and the global ranktable never
  completes; likewise a device-plugin ClusterRole without `patch` on pods
  (the device plugin's stand-in, a second addon, runs with that chart's
  ServiceAccount): no pod gets its device annotation until the rule is back;
- helm upgrade changing model.name rolls the server pods (new UIDs) and the
  ConfigMap carries the new name; in pd mode the completed ranktables are
  kept and the command rewrites the table with the new pods' IPs;
- helm uninstall removes every object of the release in the namespace and
  its cluster-scoped PriorityClasses;
- two pd releases in one namespace install side by side, stay apart
  (Services, ranktables, PriorityClasses) and uninstalling one leaves the
  other untouched.

The cluster is KWOK: pods bound to a node become Running with an IP, but no
container runs (MindIE never starts). The MindCluster stack is installed and
the real Volcano (vc-scheduler, vc-controller-manager; hack/volcano.sh) places
every pod: the releases keep the chart's default schedulerName volcano.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e.mindie_helpers import INDEX, INSTANCE, MODEL_PATH, NPU, ROLE, AscendOperator, Releases, \
    configmap, helm, npu_request, pd_values, pods, running, single_values, until
from tests.tooling import need_tool

pytestmark = pytest.mark.e2e

# Labels `label-node` may add; the fixture removes the ones it added.
LABEL_KEYS = ("accelerator", "accelerator-type", "host-arch", "node-role.kubernetes.io/worker", "workerselector",
              "masterselector", "server-usage", "servertype")


# -- helpers ----------------------------------------------------------------

def settled_pods(cluster, ns: str, release: str, count: int, exclude_uids: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """Wait until the release has exactly COUNT pods, all Running with an IP, none of EXCLUDE_UIDS."""
    seen: list[str] = []

    def check():
        items = pods(cluster, ns, release)
        ok = (len(items) == count and all(running(p) for p in items)
              and not {p["metadata"]["uid"] for p in items} & set(exclude_uids))
        seen[:] = [f"{p['metadata']['name']} {p['status'].get('phase')}"
                   f"{' terminating' if p['metadata'].get('deletionTimestamp') else ''}"
                   f"{' (old)' if p['metadata']['uid'] in exclude_uids else ''}" for p in items]
        return items if ok else None
    try:
        return until(f"{count} running pods of {release}", check, timeout=90)
    except AssertionError as e:
        raise AssertionError(f"{e}; pods: {seen}") from None


def by_role(items: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in items:
        out.setdefault(p["metadata"]["labels"][ROLE], []).append(p)
    for v in out.values():
        v.sort(key=lambda p: int(p["metadata"]["labels"].get(INDEX, "0")))
    return out


def node_labels(cluster) -> dict[str, dict[str, str]]:
    return {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in cluster.get_json("nodes")["items"]}


@pytest.fixture
def operator(cluster):
    op = AscendOperator(cluster)
    yield op
    op.uninstall()


def hccl_status(cluster, ns: str, name: str) -> str:
    return json.loads(configmap(cluster, ns, name)["data"]["hccl.json"]).get("status", "")


def ranktable_cmd(cluster, ns: str, release: str, *args: str) -> subprocess.CompletedProcess:
    return cluster.plugin("-n", ns, "mindie", "ranktable", release, *args)


def mindie_status(cluster, ns: str, release: str) -> dict:
    """The release's entry in `kubectl ascend status -o json`."""
    proc = cluster.plugin("status", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    [svc] = [s for s in json.loads(proc.stdout)["services"] if (s["namespace"], s["release"]) == (ns, release)]
    return svc


def global_table(cluster, ns: str, release: str) -> dict:
    cm = configmap(cluster, ns, f"{release}-mindie-service-global-ranktable")
    return json.loads(cm["data"]["global_ranktable.json"])


def assert_table_matches_pods(table: dict, items: list[dict], prefill: int, decode: int, npus: int) -> None:
    """Single-pod instances: group 0 coordinator, 1 controller, and group 2 holding every P then D server
    (the only server group MindIE's controller reads with multi_node_infer_enable false)."""
    roles = by_role(items)
    assert table["status"] == "completed"
    groups = table["server_group_list"]
    assert [g["group_id"] for g in groups] == ["0", "1", "2"]
    for group, role in ((groups[0], "coordinator"), (groups[1], "controller")):
        status = roles[role][0]["status"]
        assert group["server_list"] == [{"server_id": status["hostIP"], "server_ip": status["podIP"]}]
    assert (len(roles["prefill"]), len(roles["decode"])) == (prefill, decode)
    expected = roles["prefill"] + roles["decode"]
    servers = groups[2]["server_list"]
    assert groups[2]["server_count"] == str(len(expected)) == str(len(servers))
    for server, pod in zip(servers, expected):
        assert server["server_ip"] == pod["status"]["podIP"], pod["metadata"]["name"]
        assert server["server_id"] == pod["status"]["hostIP"]
        assert len(server["device"]) == npus
        assert [d["device_logical_id"] for d in server["device"]] == [str(i) for i in range(npus)]
    ips = [p["status"]["podIP"] for p in items]
    assert len(set(ips)) == len(ips)


def leftovers(cluster, ns: str, release: str) -> list[str]:
    """Every namespaced object labelled with the release, of every listable type."""
    kinds = cluster.kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").stdout.split()
    out = cluster.kubectl("get", ",".join(kinds), "-n", ns, "-l", f"{INSTANCE}={release}", "-o", "name",
                          "--ignore-not-found").stdout
    return out.split()


def priority_classes(cluster, ns: str, release: str) -> list[str]:
    """The release's PriorityClasses (cluster-scoped: the name carries the namespace, the labels do not)."""
    items = cluster.get_json("priorityclasses", "-l", f"{INSTANCE}={release}")["items"]
    return sorted(p["metadata"]["name"] for p in items if p["metadata"]["name"].startswith(f"{ns}-"))


def endpoint_ips(cluster, ns: str, service: str) -> set[str]:
    slices = cluster.get_json("endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={service}")["items"]
    return {a for s in slices for e in (s.get("endpoints") or []) for a in e.get("addresses") or []}


# -- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(volcano_cluster):
    """This module runs on the cluster with the stack and the real Volcano (tests/conftest.py)."""
    return volcano_cluster


@pytest.fixture(scope="module")
def npu_labels(cluster):
    """MindCluster labels on every NPU node (the chart's nodeSelector needs them).

    label-node is idempotent; the labels it added here are removed afterwards so
    that modules expecting bare nodes still see them bare.
    """
    need_tool("helm")
    before = node_labels(cluster)
    proc = cluster.plugin("label-node", "--all")
    assert proc.returncode == 0, proc.stderr
    after = node_labels(cluster)
    assert after["atlas-800i-a2-0"]["accelerator"] == "huawei-Ascend910"
    assert after["atlas-800i-a2-0"]["accelerator-type"] == "module-910b-8"
    yield after
    for name, labels in after.items():
        added = [k for k in LABEL_KEYS if k in labels and k not in before.get(name, {})]
        if added:
            cluster.kubectl("label", "node", name, *(f"{k}-" for k in added), check=False)


@pytest.fixture
def releases(cluster, namespace, tmp_path):
    r = Releases(cluster, namespace, tmp_path)
    yield r
    r.cleanup()


# -- single mode --------------------------------------------------------------

def test_single_instances_run_on_npu_nodes(cluster, namespace, npu_labels, releases):
    releases.install("qwen", single_values(replicas=2, npus=2))
    items = settled_pods(cluster, namespace, "qwen", 2)
    labels = node_labels(cluster)
    for p in items:
        assert p["metadata"]["labels"][ROLE] == "single"
        assert p["spec"]["schedulerName"] == "volcano"
        assert p["spec"]["nodeSelector"] == {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8"}
        node = p["spec"]["nodeName"]
        assert labels[node]["accelerator"] == "huawei-Ascend910", node
        [c] = p["spec"]["containers"]
        assert c["resources"]["requests"][NPU] == "2"
        assert c["resources"]["limits"][NPU] == "2"
        assert not any(k.startswith("huawei.com/") and k != NPU for k in c["resources"]["limits"])
    # the scheduler's accounting: no node hosts more Ascend910 than it has
    allocatable = {n["metadata"]["name"]: int(n["status"]["allocatable"].get(NPU, "0"))
                   for n in cluster.get_json("nodes")["items"]}
    everything = cluster.get_json("pods", "-A", "--field-selector", "status.phase=Running")["items"]
    for node in {p["spec"]["nodeName"] for p in items}:
        used = sum(npu_request(p) for p in everything if p["spec"].get("nodeName") == node)
        assert 2 <= used <= allocatable[node] == 8, (node, used)
    config = json.loads(configmap(cluster, namespace, "qwen-mindie-service-config")["data"]["config.json"])
    model = config["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]
    assert (model["modelName"], model["modelWeightPath"], model["worldSize"]) == ("qwen2.5-7b", MODEL_PATH, 2)
    assert config["BackendConfig"]["npuDeviceIds"] == [[0, 1]]
    assert config["ServerConfig"]["inferMode"] == "standard"
    # the entry Service reaches exactly the instances
    want = {p["status"]["podIP"] for p in items}
    until("the entry Service's endpoints", lambda: endpoint_ips(cluster, namespace, "qwen-mindie-service") == want)
    pdb = cluster.get_json("pdb", "-n", namespace, "qwen-mindie-service")
    assert pdb["spec"]["maxUnavailable"] == 1


def _no_npu_pods_leaving(cluster) -> bool:
    """No pod holding Ascend910 is being deleted, nor sits in a namespace being deleted."""
    terminating_ns = {n["metadata"]["name"] for n in cluster.get_json("namespaces")["items"]
                      if n["status"].get("phase") == "Terminating"}
    for p in cluster.get_json("pods", "-A")["items"]:
        if npu_request(p) and (p["metadata"].get("deletionTimestamp") or p["metadata"]["namespace"] in terminating_ns):
            return False
    return True


def _free_slots(cluster, npus: int) -> int:
    """How many more pods of NPUS Ascend910 fit on the nodes the chart selects, right now."""
    free = {}
    for n in cluster.get_json("nodes")["items"]:
        labels = n["metadata"].get("labels") or {}
        ready = [c for c in n["status"].get("conditions", []) if c["type"] == "Ready"]
        blocked = n["spec"].get("unschedulable") or any(
            t.get("effect") in ("NoSchedule", "NoExecute") for t in n["spec"].get("taints") or [])
        if labels.get("accelerator") == "huawei-Ascend910" and labels.get("accelerator-type") == "module-910b-8" \
                and ready and ready[0]["status"] == "True" and not blocked:
            free[n["metadata"]["name"]] = int(n["status"]["allocatable"].get(NPU, "0"))
    for p in cluster.get_json("pods", "-A")["items"]:
        node = p["spec"].get("nodeName")
        if node in free and p["status"].get("phase") not in ("Succeeded", "Failed"):
            free[node] -= npu_request(p)
    return sum(max(f, 0) // npus for f in free.values())


def test_more_instances_than_npus_leave_the_rest_pending(cluster, namespace, npu_labels, releases):
    # Other modules' pods may hold NPUs: measure what is free once nothing is on its way out.
    until("NPU pods of deleted namespaces to go", lambda: _no_npu_pods_leaving(cluster), timeout=90)
    fit = _free_slots(cluster, 2)
    assert fit >= 1, "no free Ascend910 at all: another module holds every NPU"
    extra = 2
    releases.install("many", single_values(replicas=fit + extra, npus=2), wait=False)
    try:
        def split():
            items = pods(cluster, namespace, "many")
            run_ = [p for p in items if running(p)]
            pending = [p for p in items if p["status"].get("phase") == "Pending" and not p["spec"].get("nodeName")
                       and any(c["type"] == "PodScheduled" and c["status"] == "False"
                               for c in p["status"].get("conditions", []))]
            if len(items) == fit + extra and len(run_) + len(pending) == len(items):
                return run_, pending
            return None
        run_, pending = until("the instances to be placed or refused", split, timeout=90)
        assert len(run_) == fit, f"{len(run_)} instances run, {fit} fit"
        assert len(pending) == extra
        labels = node_labels(cluster)
        assert all(labels[p["spec"]["nodeName"]]["accelerator"] == "huawei-Ascend910" for p in run_)
        for p in pending:
            cond = [c for c in p["status"]["conditions"] if c["type"] == "PodScheduled"][0]
            # Volcano v1.7.0's words for a task no node fits
            assert cond["reason"] == "Unschedulable"
            assert cond["message"] == "all nodes are unavailable" or f"Insufficient {NPU}" in cond["message"], cond

        dep = cluster.get_json("deployment", "-n", namespace, "many-mindie-service")
        assert dep["status"].get("availableReplicas") == fit
    finally:
        # Give the NPUs back now rather than when the namespace goes: later tests need them.
        helm(cluster, "uninstall", "many", "-n", namespace, "--wait", "--timeout", "60s", check=False)
        cluster.kubectl("wait", "-n", namespace, "--for=delete", "pod", "-l", f"{INSTANCE}=many",
                        "--timeout=60s", check=False)


def test_upgrade_model_name_rolls_single_pods(cluster, namespace, npu_labels, releases):
    releases.install("roll", single_values(replicas=2, model="model-a"))
    old = settled_pods(cluster, namespace, "roll", 2)
    old_uids = {p["metadata"]["uid"] for p in old}
    old_sum = old[0]["metadata"]["annotations"]["checksum/config"]
    releases.upgrade("roll", single_values(replicas=2, model="model-b"))
    new = settled_pods(cluster, namespace, "roll", 2, exclude_uids=old_uids)
    assert {p["metadata"]["annotations"]["checksum/config"] for p in new} != {old_sum}
    assert len({p["metadata"]["annotations"]["checksum/config"] for p in new}) == 1
    config = json.loads(configmap(cluster, namespace, "roll-mindie-service-config")["data"]["config.json"])
    assert config["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["modelName"] == "model-b"
    dep = cluster.get_json("deployment", "-n", namespace, "roll-mindie-service")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0


# -- pd mode ------------------------------------------------------------------

def test_pd_components_created_and_placed(cluster, namespace, npu_labels, releases):
    releases.install("ds", pd_values(prefill=2, decode=1))
    items = settled_pods(cluster, namespace, "ds", 5)
    roles = by_role(items)
    assert {r: len(v) for r, v in roles.items()} == {"coordinator": 1, "controller": 1, "prefill": 2, "decode": 1}
    assert [p["metadata"]["name"] for p in roles["prefill"] + roles["decode"]] == [
        "ds-mindie-service-prefill-0-0", "ds-mindie-service-prefill-1-0", "ds-mindie-service-decode-0-0"]
    labels = node_labels(cluster)
    priority = {}
    for p in roles["prefill"] + roles["decode"]:
        node = p["spec"]["nodeName"]
        assert labels[node]["accelerator"] == "huawei-Ascend910", node
        assert labels[node]["accelerator-type"] == "module-910b-8", node
        assert p["spec"]["nodeSelector"] == {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8"}
        assert p["spec"]["schedulerName"] == "volcano"
        assert p["metadata"]["labels"]["ring-controller.atlas"] == "ascend-910b"
        [c] = p["spec"]["containers"]
        assert c["resources"]["requests"][NPU] == c["resources"]["limits"][NPU] == "2"
        role = p["metadata"]["labels"][ROLE]
        assert p["spec"]["priorityClassName"] == f"{namespace}-ds-mindie-service-{role}"
        priority[role] = p["spec"]["priority"]
    assert priority == {"prefill": 100000, "decode": 200000}
    for role in ("controller", "coordinator"):
        [p] = roles[role]
        assert p["spec"]["nodeName"] and npu_request(p) == 0
        assert p["metadata"]["name"].startswith(f"ds-mindie-service-{role}-")
    sts = {s["metadata"]["name"]: s for s in cluster.get_json("statefulsets", "-n", namespace)["items"]}
    assert sorted(sts) == ["ds-mindie-service-decode-0", "ds-mindie-service-prefill-0", "ds-mindie-service-prefill-1"]
    assert {s["spec"]["podManagementPolicy"] for s in sts.values()} == {"Parallel"}
    glob = configmap(cluster, namespace, "ds-mindie-service-global-ranktable")
    assert json.loads(glob["data"]["global_ranktable.json"]) == {"status": "initializing"}
    assert glob["metadata"]["annotations"]["mindie.huawei.com/prefill-instances"] == "2"
    assert glob["metadata"]["annotations"]["mindie.huawei.com/decode-instances"] == "1"
    for inst in ("prefill-0", "prefill-1", "decode-0"):
        rings = configmap(cluster, namespace, f"rings-config-ds-mindie-service-{inst}")
        assert json.loads(rings["data"]["hccl.json"]) == {"status": "initializing"}
    controller = json.loads(configmap(cluster, namespace, "ds-mindie-service-config")["data"]["ms_controller.json"])
    assert (controller["default_p_rate"], controller["default_d_rate"]) == (2, 1)
    until("the coordinator Service's endpoints",
          lambda: endpoint_ips(cluster, namespace, "ds-mindie-service-coordinator")
          == {roles["coordinator"][0]["status"]["podIP"]})


def test_pd_global_ranktable(cluster, namespace, npu_labels, releases, operator):
    releases.install("ds", pd_values(prefill=2, decode=1))
    items = settled_pods(cluster, namespace, "ds", 5)

    # Before the Ascend Operator filled the per-instance tables: refused, nothing written.
    early = ranktable_cmd(cluster, namespace, "ds")
    assert early.returncode == 1, early
    assert early.stderr.startswith("error: not ready yet: ")
    for inst in ("prefill-0", "prefill-1", "decode-0"):
        assert f"rings-config-ds-mindie-service-{inst}: hccl.json is still 'initializing'" in early.stderr
    assert "--wait" in early.stderr
    assert global_table(cluster, namespace, "ds") == {"status": "initializing"}
    assert mindie_status(cluster, namespace, "ds")["ranktable"] == "initializing"

    # --wait keeps checking; installing the Ascend Operator then completes the per-instance tables.
    cmd = [sys.executable, "-m", "kubectl_ascend", "--kubeconfig", cluster.kubeconfig, "-n", namespace,
           "mindie", "ranktable", "ds", "--wait", "--timeout", "60s", "-o", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    err_lines: list[str] = []
    waiting = threading.Event()

    def pump():
        for line in proc.stderr:
            err_lines.append(line)
            if line.startswith("waiting: not ready yet: "):
                waiting.set()
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert waiting.wait(30), f"the command did not report waiting: {err_lines}"
        assert proc.poll() is None
        operator.install()
        out = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, "".join(err_lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    result = json.loads(out)
    assert result["state"] == "written"
    assert result["configMap"] == "ds-mindie-service-global-ranktable"
    assert result["groups"] == ["0 coordinator", "1 controller", "2 servers (prefill-0, prefill-1, decode-0)"]

    table = global_table(cluster, namespace, "ds")
    assert table == result["ranktable"]
    assert_table_matches_pods(table, items, prefill=2, decode=1, npus=2)
    # the pods of the release are still the ones the table was built from
    assert {p["metadata"]["uid"] for p in pods(cluster, namespace, "ds")} == {p["metadata"]["uid"] for p in items}
    # and the ConfigMap names exactly those pods' UIDs: what each pod's entrypoint waits for
    uids = configmap(cluster, namespace, "ds-mindie-service-global-ranktable")["data"]["pod_uids"].split()
    assert sorted(uids) == sorted(p["metadata"]["uid"] for p in items)

    status = mindie_status(cluster, namespace, "ds")
    assert status["ranktable"] == "completed" and status["mode"] == "pd" and status["npus"] == 6
    assert status["roles"] == {"coordinator": {"ready": 1, "pods": 1}, "controller": {"ready": 1, "pods": 1},
                               "prefill": {"ready": 2, "pods": 2}, "decode": {"ready": 1, "pods": 1}}

    again = ranktable_cmd(cluster, namespace, "ds")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ("global ranktable completed: 3 groups (0 coordinator, 1 controller, "
                                    "2 servers (prefill-0, prefill-1, decode-0)); "
                                    "configmap/ds-mindie-service-global-ranktable unchanged")
    # what the operator emulation did, as the real operator and device plugin would
    for p in pods(cluster, namespace, "ds"):
        ann = p["metadata"].get("annotations") or {}
        if p["metadata"]["labels"][ROLE] in ("prefill", "decode"):
            assert ann["hccl/rankIndex"] == "0"
            assert json.loads(ann["ascend.kubectl.kubernetes.io/ascend-910-configuration"])["server_id"] \
                == p["metadata"]["uid"]


def test_pd_upgrade_rolls_servers_and_keeps_ranktables(cluster, namespace, npu_labels, releases, operator):
    releases.install("up", pd_values(model="model-a"))
    old = settled_pods(cluster, namespace, "up", 4)
    operator.install()
    assert ranktable_cmd(cluster, namespace, "up", "--wait", "--timeout", "90s").returncode == 0
    old_table = configmap(cluster, namespace, "up-mindie-service-global-ranktable")["data"]["global_ranktable.json"]
    old_hccl = configmap(cluster, namespace, "rings-config-up-mindie-service-prefill-0")["data"]["hccl.json"]

    releases.upgrade("up", pd_values(model="model-b"))
    new = settled_pods(cluster, namespace, "up", 4, exclude_uids={p["metadata"]["uid"] for p in old})
    assert sorted(by_role(new)) == ["controller", "coordinator", "decode", "prefill"]
    data = configmap(cluster, namespace, "up-mindie-service-config")["data"]
    for key in ("config-prefill.json", "config-decode.json"):
        assert json.loads(data[key])["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["modelName"] == "model-b"
    # the upgrade keeps what the command wrote instead of resetting it
    assert configmap(cluster, namespace, "up-mindie-service-global-ranktable")["data"]["global_ranktable.json"] \
        == old_table
    # the operator rewrites the per-instance tables for the new pods; the command follows
    until("the operator to rewrite rings-config for the new pods",
          lambda: configmap(cluster, namespace, "rings-config-up-mindie-service-prefill-0")["data"]["hccl.json"]
          != old_hccl and hccl_status(cluster, namespace, "rings-config-up-mindie-service-prefill-0") == "completed")
    proc = ranktable_cmd(cluster, namespace, "up", "--wait", "--timeout", "90s", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert_table_matches_pods(global_table(cluster, namespace, "up"), new, prefill=1, decode=1, npus=2)


def test_uninstall_removes_everything(cluster, namespace, npu_labels, releases, operator):
    releases.install("bye", pd_values())
    settled_pods(cluster, namespace, "bye", 4)
    # objects the release's pods and the plugin touch after install go too
    operator.install()
    assert ranktable_cmd(cluster, namespace, "bye", "--wait", "--timeout", "90s").returncode == 0
    assert priority_classes(cluster, namespace, "bye") == [f"{namespace}-bye-mindie-service-decode",
                                                f"{namespace}-bye-mindie-service-prefill"]
    kinds = {o.split("/")[0] for o in leftovers(cluster, namespace, "bye")}
    assert {"pod", "configmap", "service", "deployment.apps", "statefulset.apps"} <= kinds

    helm(cluster, "uninstall", "bye", "-n", namespace, "--wait", "--timeout", "60s")
    # pods, ReplicaSets, ControllerRevisions, EndpointSlices go through the garbage collector
    until("every object of the release to be deleted", lambda: not leftovers(cluster, namespace, "bye"), timeout=90)
    assert priority_classes(cluster, namespace, "bye") == []
    for role in ("prefill", "decode"):
        gone = cluster.kubectl("get", "priorityclass", f"{namespace}-bye-mindie-service-{role}", check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert helm(cluster, "list", "-n", namespace, "-q").stdout.strip() == ""


def test_two_releases_side_by_side(cluster, namespace, npu_labels, releases, operator):
    releases.install("alpha", pd_values())
    releases.install("beta", pd_values(model="other-model"))
    a = settled_pods(cluster, namespace, "alpha", 4)
    b = settled_pods(cluster, namespace, "beta", 4)
    listed = json.loads(helm(cluster, "list", "-n", namespace, "-o", "json").stdout)
    assert sorted((r["name"], r["status"]) for r in listed) == [("alpha", "deployed"), ("beta", "deployed")]
    assert all(p["metadata"]["name"].startswith("alpha-mindie-service-") for p in a)
    assert all(p["metadata"]["name"].startswith("beta-mindie-service-") for p in b)
    # each Service reaches its own release only
    for rel, items in (("alpha", a), ("beta", b)):
        want = {by_role(items)["coordinator"][0]["status"]["podIP"]}
        until(f"{rel}'s coordinator endpoints",
              lambda rel=rel, want=want: endpoint_ips(cluster, namespace, f"{rel}-mindie-service-coordinator") == want)
        servers = {p["status"]["podIP"] for p in items if p["metadata"]["labels"][ROLE] in ("prefill", "decode")}
        until(f"{rel}'s server endpoints",
              lambda rel=rel, servers=servers: endpoint_ips(cluster, namespace, f"{rel}-mindie-service-servers")
              == servers)
    assert priority_classes(cluster, namespace, "alpha") == [f"{namespace}-alpha-mindie-service-decode",
                                                             f"{namespace}-alpha-mindie-service-prefill"]
    assert priority_classes(cluster, namespace, "beta") == [f"{namespace}-beta-mindie-service-decode",
                                                            f"{namespace}-beta-mindie-service-prefill"]

    # before the operator, neither release can complete; the message names only the release asked about
    beta_early = ranktable_cmd(cluster, namespace, "beta")
    assert beta_early.returncode == 1 and "rings-config-beta-mindie-service-prefill-0" in beta_early.stderr
    assert "alpha" not in beta_early.stderr
    # the operator and the command work per release
    operator.install()
    proc = ranktable_cmd(cluster, namespace, "alpha", "--wait", "--timeout", "90s")
    assert proc.returncode == 0, proc.stderr
    assert_table_matches_pods(global_table(cluster, namespace, "alpha"), a, prefill=1, decode=1, npus=2)
    assert global_table(cluster, namespace, "beta") == {"status": "initializing"}
    beta_cfg = configmap(cluster, namespace, "beta-mindie-service-config")["data"]["config-prefill.json"]
    assert json.loads(beta_cfg)["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["modelName"] == "other-model"

    # removing one leaves the other as it was
    helm(cluster, "uninstall", "alpha", "-n", namespace, "--wait", "--timeout", "60s")
    until("alpha's objects to be deleted", lambda: not leftovers(cluster, namespace, "alpha"), timeout=90)
    assert priority_classes(cluster, namespace, "alpha") == []
    assert len(priority_classes(cluster, namespace, "beta")) == 2
    still = pods(cluster, namespace, "beta")
    assert {p["metadata"]["uid"] for p in still} == {p["metadata"]["uid"] for p in b}
    assert all(running(p) for p in still)
    assert leftovers(cluster, namespace, "beta")


# -- the operator finds pods only the way the real one does -------------------

def test_pd_pods_without_deploy_name_never_get_a_ranktable(cluster, namespace, npu_labels, releases, operator):
    """The v26.0.0 operator lists a StatefulSet's pods by deploy-name only (jobinfo.go genLabels)."""
    releases.install("nolabel", pd_values())
    # A chart that forgot the label: the prefill StatefulSet's pods lose it (they are recreated).
    cluster.kubectl("patch", "statefulset", "nolabel-mindie-service-prefill-0", "-n", namespace, "--type", "json",
                    "-p", json.dumps([{"op": "remove", "path": "/spec/template/metadata/labels/deploy-name"}]))
    until("the prefill pod to be recreated without deploy-name",
          lambda: [p for p in pods(cluster, namespace, "nolabel", "prefill")
                   if "deploy-name" not in p["metadata"]["labels"] and running(p)])
    operator.install()
    until("the decode instance's ranktable to complete (the operator works)",
          lambda: hccl_status(cluster, namespace, "rings-config-nolabel-mindie-service-decode-0") == "completed",
          timeout=90)
    time.sleep(5)
    assert hccl_status(cluster, namespace, "rings-config-nolabel-mindie-service-prefill-0") == "initializing"
    proc = ranktable_cmd(cluster, namespace, "nolabel", "--wait", "--timeout", "10s")
    assert proc.returncode != 0
    assert "rings-config-nolabel-mindie-service-prefill-0: hccl.json is still 'initializing'" in proc.stderr
    assert global_table(cluster, namespace, "nolabel") == {"status": "initializing"}


def test_pd_operator_without_apps_rbac_never_completes(cluster, namespace, npu_labels, releases, operator):
    """Without get/list/watch on apps the real operator's caches never sync: it exits, nothing is written."""
    operator.install()
    role = cluster.get_json("clusterrole", "ascend-operator-manager-role")
    rules = [r for r in role["rules"] if "apps" not in r["apiGroups"]]
    assert len(rules) == len(role["rules"]) - 1
    cluster.kubectl("patch", "clusterrole", "ascend-operator-manager-role", "--type", "merge",
                    "-p", json.dumps({"rules": rules}))
    releases.install("norbac", pd_values())
    settled_pods(cluster, namespace, "norbac", 4)
    proc = ranktable_cmd(cluster, namespace, "norbac", "--wait", "--timeout", "20s")
    assert proc.returncode != 0
    for inst in ("prefill-0", "decode-0"):
        assert hccl_status(cluster, namespace, f"rings-config-norbac-mindie-service-{inst}") == "initializing"
    if cluster.started_here and operator.real:
        # Huawei's operator: client-go reports the forbidden lists, then controller-runtime's
        # cache-sync timeout (2 min by default) makes mgr.Start fail and main logs
        # "problem running manager" (component/ascend-operator/main.go) before it exits
        until("the real operator to report the forbidden apps lists",
              lambda: "forbidden" in operator.log() and "apps" in operator.log())
        until("the real operator to give up on its caches",
              lambda: "problem running manager" in operator.log(), timeout=240)
    elif cluster.started_here:
        until("the emulator to report the missing permission",
              lambda: "forbidden" in operator.log() and "caches never sync" in operator.log())


def test_pd_device_plugin_without_pod_patch_rule_never_completes(cluster, namespace, npu_labels, releases,
                                                                  operator):
    """The device plugin's stand-in annotates pods with the ascend-device-plugin chart's own RBAC.

    Upstream's device plugin writes the device annotation with a pod patch
    (component/ascend-device-plugin/pkg/kubeclient/client_server.go
    `TryUpdatePodAnnotation`); without `patch` on pods in the chart's ClusterRole
    no pod gets it, so the operator never counts a pod as allocated.
    """
    device = "ascend.kubectl.kubernetes.io/ascend-910-configuration"
    saved = cluster.get_json("clusterrole", "ascend-device-plugin")["rules"]
    [index] = [i for i, r in enumerate(saved) if r.get("resources") == ["pods"]]
    assert "patch" in saved[index]["verbs"]
    rules = json.loads(json.dumps(saved))
    rules[index]["verbs"] = [v for v in rules[index]["verbs"] if v != "patch"]
    cluster.kubectl("patch", "clusterrole", "ascend-device-plugin", "--type", "merge",
                    "-p", json.dumps({"rules": rules}))
    try:
        operator.install()
        releases.install("nodev", pd_values())
        settled_pods(cluster, namespace, "nodev", 4)
        proc = ranktable_cmd(cluster, namespace, "nodev", "--wait", "--timeout", "15s")
        assert proc.returncode != 0
        for p in pods(cluster, namespace, "nodev"):
            assert device not in (p["metadata"].get("annotations") or {}), p["metadata"]["name"]
        for inst in ("prefill-0", "decode-0"):
            assert hccl_status(cluster, namespace, f"rings-config-nodev-mindie-service-{inst}") == "initializing"
        if cluster.started_here:
            until("the device-plugin emulator to report the missing permission",
                  lambda: "forbidden" in operator.log("device-plugin") and "no device annotation"
                  in operator.log("device-plugin"))
    finally:
        cluster.kubectl("patch", "clusterrole", "ascend-device-plugin", "--type", "merge",
                        "-p", json.dumps({"rules": saved}))
    # the rule back: the pods get their devices and the operator completes both tables
    for inst in ("prefill-0", "decode-0"):
        until(f"{inst}'s ranktable to complete",
              lambda: hccl_status(cluster, namespace, f"rings-config-nodev-mindie-service-{inst}") == "completed",
              timeout=90)
