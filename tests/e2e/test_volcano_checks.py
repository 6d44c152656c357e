"""`kubectl ascend doctor` on what the v26.0.0 device plugin and Volcano do with NPU pods (real API server).

Scenarios:
- a device-plugin pod running with -volcanoType=true on a node: a pod there asking
  for part of the node's NPUs with the default scheduler is a FAIL that names it
  and says to schedule it with Volcano; a pod with schedulerName volcano, a pod
  asking for the whole node and a pod on a node whose device plugin runs without
  -volcanoType are not named;
- the Volcano scheduler's log: on KWOK no kubelet serves pod logs, so the check
  reports that it cannot read it (WARN) instead of passing.
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

PART_OF = {"app.kubernetes.io/part-of": "mindcluster"}


def _pod(name: str, ns: str, node: str, *, npus: int = 0, scheduler: str | None = None,
         labels: dict[str, str] | None = None, args: list[str] | None = None) -> dict:
    container = {"name": "c", "image": "registry.example/x:1"}
    if npus:
        container["resources"] = {"limits": {"huawei.com/Ascend910": str(npus)}}
    if args:
        container["args"] = args
    spec = {"nodeName": node, "containers": [container]}
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": spec}


def _doctor(cluster) -> dict[str, dict]:
    doc = json.loads(cluster.plugin("doctor", "-o", "json").stdout)
    return {x["check"]: x for x in doc["checks"]}


def test_partial_node_npu_pods_not_scheduled_by_volcano_fail(cluster, namespace):
    dp = dict(PART_OF, **{"app.kubernetes.io/component": "device-plugin"})
    pods = [
        # the device plugins: Volcano mode on atlas-800t-a2-0, without it on atlas-800t-a2-1
        _pod("dp-volcano", namespace, "atlas-800t-a2-0", labels=dp,
             args=["device-plugin -useAscendDocker=true -volcanoType=true -presetVirtualDevice=true"]),
        _pod("dp-plain", namespace, "atlas-800t-a2-1", labels=dp, args=["-volcanoType=false"]),
        _pod("part-default", namespace, "atlas-800t-a2-0", npus=2),
        _pod("part-volcano", namespace, "atlas-800t-a2-0", npus=2, scheduler="volcano"),
        _pod("whole-default", namespace, "atlas-800t-a2-0", npus=8),
        _pod("part-plain-node", namespace, "atlas-800t-a2-1", npus=2),
    ]
    for p in pods:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(p))
    check = _doctor(cluster)["npu-pods-via-volcano"]
    assert check["status"] == "FAIL", check
    assert f"{namespace}/part-default (2 of 8 huawei.com/Ascend910, on atlas-800t-a2-0, " \
           "schedulerName default-scheduler)" in check["message"]
    for other in ("part-volcano", "whole-default", "part-plain-node"):
        assert f"{namespace}/{other} " not in check["message"], other
    assert "schedulerName: volcano" in check["fix"]

    cluster.kubectl("delete", "pod", "-n", namespace, "part-default", "--grace-period=0", "--force")
    check = _doctor(cluster)["npu-pods-via-volcano"]
    assert check["status"] == "PASS", check


def test_volcano_scheduler_log_is_read_through_the_api(cluster, namespace):
    labels = dict(PART_OF, **{"app.kubernetes.io/component": "volcano-scheduler"})
    cluster.kubectl("apply", "-f", "-", input=json.dumps(_pod("vc-scheduler", namespace, "mgmt-0", labels=labels)))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/vc-scheduler", "-n", namespace, "--timeout=60s")
    check = _doctor(cluster)["volcano-npu-plugin"]
    # KWOK's nodes serve no logs: the API server accepts the request, fails to reach the (simulated) kubelet's
    # containerLogs endpoint, and doctor reports that it cannot read the log.
    assert check["status"] == "WARN", check
    assert check["message"].startswith("cannot read the Volcano scheduler's log: read the log of pod "
                                       f"{namespace}/vc-scheduler")
    assert f"containerLogs/{namespace}/vc-scheduler/c?tailLines=5000" in check["message"], check["message"]
    assert check["fix"] == f"kubectl logs -n {namespace} vc-scheduler | grep 'Failed to get plugin'"
