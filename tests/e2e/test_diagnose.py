"""`kubectl ascend diagnose RELEASE` on releases of the mindie-service chart, broken one layer at a time.

Runs on the shared volcano_cluster (stack, real Volcano, the operator and device-plugin emulators of
hack/cluster.sh): each test installs a release into a scratch namespace and checks that diagnose
names exactly the layer that is broken first, with the exit code, and passes a healthy release.
- scheduling: a PD release whose prefill gang needs more whole 910B nodes than exist;
- devices: the device plugin's stand-in without `patch` on pods (its chart RBAC), so no pod gets
  its allocation annotation;
- ranktable: pods running but no Ascend Operator, so every rings-config-* stays initializing;
- healthy: operator installed, tables completed, global ranktable written, hccn.conf mounted.
"""
from __future__ import annotations

import json
import secrets
import pytest

from tests.e2e.mindie_helpers import AscendOperator, configmap, pd_values, pods, running, scratch_namespace, \
    single_values, until

pytestmark = pytest.mark.e2e

HCCN = {"extraVolumes": [{"name": "hccn-conf", "hostPath": {"path": "/etc/hccn.conf", "type": "File"}}],
        "extraVolumeMounts": [{"name": "hccn-conf", "mountPath": "/etc/hccn.conf", "readOnly": True}]}


@pytest.fixture(scope="module")
def cluster(volcano_cluster):
    return volcano_cluster


@pytest.fixture
def operator(cluster):
    op = AscendOperator(cluster)
    yield op
    op.uninstall()


def diagnose(cluster, ns: str, release: str, *args: str) -> tuple[int, dict]:
    proc = cluster.plugin("diagnose", release, "-n", ns, "-o", "json", *args)
    assert proc.returncode in (0, 1) and proc.stdout.startswith("{"), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def verdicts(report: dict) -> dict[str, str]:
    return {lay["layer"]: lay["verdict"] for lay in report["layers"]}


def findings(report: dict, layer: str) -> str:
    [lay] = [x for x in report["layers"] if x["layer"] == layer]
    return " | ".join(f["what"] for f in lay["findings"])


def running_count(cluster, ns: str, release: str, count: int) -> list[dict]:
    return until(f"{count} running pods of {release}",
                 lambda: (lambda ps: ps if len(ps) == count else None)(
                     [p for p in pods(cluster, ns, release) if running(p)]), timeout=120)


def test_gang_too_big_for_the_free_nodes_is_scheduling(cluster, tmp_path):
    with scratch_namespace(cluster, "dg-sched", tmp_path) as (ns, releases):
        values = pd_values(npus=8)
        values["prefill"]["podsPerInstance"] = 4  # 4 whole 8-NPU nodes; the cluster has 3 of module-910b-8
        releases.install("big", values, wait=False)

        def stuck():
            code, rep = diagnose(cluster, ns, "big")
            t = findings(rep, "scheduling")  # Volcano's own words, once vc-scheduler has looked at the gang
            return (code, rep) if "Volcano: " in t and "no scheduler has looked at it yet" not in t else None
        code, rep = until("diagnose to see the prefill gang waiting", stuck, timeout=120, interval=3)
    assert code == 1
    assert rep["firstFailing"] == "scheduling" and verdicts(rep)["scheduling"] == "FAIL"
    text = findings(rep, "scheduling")
    assert "prefill-0" in text
    assert "the gang needs 4 pod(s) x 8 NPU(s) on accelerator-type=module-910b-8 nodes" in text
    assert [lay["layer"] for lay in rep["layers"]] == ["scheduling", "devices", "network", "ranktable", "service"]
    assert set(rep) == {"release", "namespace", "layers", "firstFailing"}


def test_pods_without_device_annotation_is_devices(cluster, tmp_path):
    """The device plugin's stand-in acts with the ascend-device-plugin chart's RBAC: without `patch` on pods
    it cannot write the allocation annotation (as in test_mindie.py's device-plugin RBAC test)."""
    saved = cluster.get_json("clusterrole", "ascend-device-plugin")["rules"]
    [index] = [i for i, r in enumerate(saved) if r.get("resources") == ["pods"]]
    rules = json.loads(json.dumps(saved))
    rules[index]["verbs"] = [v for v in rules[index]["verbs"] if v != "patch"]
    cluster.kubectl("patch", "clusterrole", "ascend-device-plugin", "--type", "merge", "-p", json.dumps({"rules": rules}))
    try:
        with scratch_namespace(cluster, "dg-dev", tmp_path) as (ns, releases):
            releases.install("nodev", single_values(replicas=1, npus=2), wait=False)
            [pod] = running_count(cluster, ns, "nodev", 1)
            code, rep = diagnose(cluster, ns, "nodev")
    finally:
        cluster.kubectl("patch", "clusterrole", "ascend-device-plugin", "--type", "merge",
                        "-p", json.dumps({"rules": saved}))
    assert code == 1, rep
    assert rep["firstFailing"] == "devices"
    assert verdicts(rep)["scheduling"] == "PASS"
    assert f"pod {pod['metadata']['name']} on {pod['spec']['nodeName']} requests 2 NPU(s) but carries no " \
        "device-plugin allocation annotation" in findings(rep, "devices")


def test_no_operator_is_ranktable_and_bundle_holds_what_was_read(cluster, tmp_path):
    secret_value = f"s3cret-{secrets.token_hex(8)}"
    with scratch_namespace(cluster, "dg-rt", tmp_path) as (ns, releases):
        cluster.kubectl("create", "secret", "generic", "api-key", "-n", ns, f"--from-literal=key={secret_value}")
        values = {**pd_values(), "extraEnv": [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {
            "name": "api-key", "key": "key"}}}]}
        releases.install("noop", values, wait=False)
        running_count(cluster, ns, "noop", 4)
        until("the device annotations", lambda: all(
            "ascend.kubectl.kubernetes.io/ascend-910-configuration" in (p["metadata"].get("annotations") or {})
            for p in pods(cluster, ns, "noop") if p["metadata"]["labels"]["mindie.huawei.com/role"]
            in ("prefill", "decode")))
        names = {p["metadata"]["name"] for p in pods(cluster, ns, "noop")}
        bundle = tmp_path / "bundle"
        code, rep = diagnose(cluster, ns, "noop", "--bundle", str(bundle))
        again = cluster.plugin("diagnose", "noop", "-n", ns, "--bundle", str(bundle))
    assert code == 1, rep
    assert rep["firstFailing"] == "ranktable"
    assert verdicts(rep)["scheduling"] == verdicts(rep)["devices"] == "PASS"
    text = findings(rep, "ranktable")
    for inst in ("prefill-0", "decode-0"):
        assert f"rings-config-noop-mindie-service-{inst} is initializing, not completed" in text
    files = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()}
    assert {"diagnose.json", "kubernetes/pods.json", "kubernetes/events.json", "kubernetes/podgroups.json",
            "kubernetes/nodes.json", "kubernetes/configmaps/rings-config-noop-mindie-service-prefill-0.json",
            "kubernetes/configmaps/noop-mindie-service-global-ranktable.json",
            "kubernetes/configmaps/noop-mindie-service-config.json"} <= files, files
    assert json.loads((bundle / "diagnose.json").read_text())["firstFailing"] == "ranktable"
    assert {p["metadata"]["name"] for p in json.loads((bundle / "kubernetes/pods.json").read_text())} == names
    for f in bundle.rglob("*"):
        if f.is_file():
            assert secret_value not in f.read_text(), f
    # a second run never writes into a bundle that is there
    assert again.returncode == 2 and "exists and is not an empty directory" in again.stderr


def test_healthy_release_passes_every_layer(cluster, tmp_path, operator):
    with scratch_namespace(cluster, "dg-ok", tmp_path) as (ns, releases):
        operator.install()
        releases.install("ok", {**pd_values(), **HCCN}, wait=False)
        running_count(cluster, ns, "ok", 4)
        for inst in ("prefill-0", "decode-0"):
            until(f"{inst}'s ranktable", lambda: json.loads(configmap(
                cluster, ns, f"rings-config-ok-mindie-service-{inst}")["data"]["hccl.json"]).get("status")
                == "completed", timeout=90)
        proc = cluster.plugin("-n", ns, "mindie", "ranktable", "ok")
        assert proc.returncode == 0, proc.stderr
        code, rep = diagnose(cluster, ns, "ok")
        text = cluster.plugin("diagnose", "ok", "-n", ns)
    assert code == 0, rep
    assert rep["firstFailing"] is None
    assert verdicts(rep) == dict.fromkeys(("scheduling", "devices", "network", "ranktable", "service"), "PASS"), rep
    assert text.returncode == 0 and text.stdout.rstrip().endswith("no layer fails")
    assert "[PASS] ranktable: every rings-config completed; the global ranktable is completed" in text.stdout


def test_usage_errors_are_one_line(cluster):
    unknown = cluster.plugin("diagnose", "nope", "-n", "default")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: no mindie-service release 'nope' in namespace default")
    assert len(unknown.stderr.strip().splitlines()) == 1
    bad_ns = cluster.plugin("diagnose", "x", "-n", "Bad_NS")
    assert bad_ns.returncode == 2 and bad_ns.stderr.startswith("error: ") and "-n/--namespace" in bad_ns.stderr
    missing = cluster.plugin("diagnose", "x", "-n", "no-such-ns-here")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: namespace 'no-such-ns-here' not found"
    bad_release = cluster.plugin("diagnose", "Bad_Release")
    assert bad_release.returncode == 2 and "release" in bad_release.stderr.splitlines()[0]
