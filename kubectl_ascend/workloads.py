"""The stack's workloads and pods as plain rows: readiness, versions, NPU requests.

The workloads are found by the labels every chart of the stack puts on them:
`app.kubernetes.io/part-of=mindcluster` and `app.kubernetes.io/component`.
"""
from __future__ import annotations

from typing import Any

from kubectl_ascend.kube import quantity
from kubectl_ascend.kubeapi import KubeAPI

PART_OF = "app.kubernetes.io/part-of=mindcluster"
COMPONENT = "app.kubernetes.io/component"
#: component label -> what operators call it
COMPONENT_NAMES = {
    "device-plugin": "Ascend Device Plugin",
    "volcano-scheduler": "Volcano scheduler",
    "volcano-controllers": "Volcano controllers",
    "ascend-operator": "Ascend Operator",
    "docker-runtime": "Ascend Docker Runtime installer",
    "clusterd": "ClusterD",
    "noded": "NodeD",
    "npu-exporter": "NPU Exporter",
}


def workload_ready(obj: dict[str, Any]) -> tuple[int, int, bool]:
    """(ready, desired, rolled-out) for a Deployment or DaemonSet."""
    st = obj.get("status") or {}
    gen_ok = st.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
    if obj.get("kind") == "DaemonSet" or "desiredNumberScheduled" in st:
        desired = st.get("desiredNumberScheduled", 0)
        ready = st.get("numberReady", 0)
        updated = st.get("updatedNumberScheduled", 0)
        return ready, desired, gen_ok and ready == desired and updated == desired
    desired = (obj.get("spec") or {}).get("replicas", 1)
    ready = st.get("readyReplicas", 0)
    updated = st.get("updatedReplicas", 0)
    return ready, desired, gen_ok and ready == desired and updated == desired and st.get("replicas", 0) == desired


def image_version(obj: dict[str, Any]) -> str:
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    if not containers:
        return "?"
    image = containers[0].get("image", "")
    tail = image.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else (image.split("@")[-1] if "@" in image else "?")


def components(kube: KubeAPI) -> list[dict[str, Any]]:
    """Every MindCluster workload in the cluster, as plain rows."""
    return component_rows(kube.list_daemonsets(PART_OF), kube.list_deployments(PART_OF))


def component_rows(daemonsets: list[dict[str, Any]], deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    objs = []
    for kind, items in (("DaemonSet", daemonsets), ("Deployment", deployments)):
        for o in items:
            o["kind"] = kind
            objs.append(o)
    rows = []
    for o in sorted(objs, key=lambda o: (o["metadata"]["labels"].get(COMPONENT, ""), o["metadata"]["name"])):
        ready, desired, done = workload_ready(o)
        rows.append({"component": o["metadata"]["labels"].get(COMPONENT, "?"), "kind": o["kind"],
                     "namespace": o["metadata"]["namespace"], "name": o["metadata"]["name"],
                     "ready": ready, "desired": desired, "rolledOut": done, "version": image_version(o),
                     "nodeSelector": ((o["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}})
    return rows


def npu_count(value: Any) -> int | None:
    """A whole, non-negative number of devices from a resource quantity ("8", "1k" is 1000), else None.

    Anyone who may create a pod writes these quantities: callers report a None, never crash on it.
    """
    try:
        q = quantity(value)
    except (ValueError, ArithmeticError):
        return None
    return int(q) if q >= 0 and q == q.to_integral_value() else None


def npu_request_values(pod: dict[str, Any]) -> list[tuple[str, Any]]:
    """(resource, quantity as written) of every huawei.com/* request of the pod's containers."""
    return [(k, v) for c in (pod.get("spec") or {}).get("containers") or []
            for k, v in ((c.get("resources") or {}).get("requests") or {}).items() if k.startswith("huawei.com/")]


def pod_npu_requests(pod: dict[str, Any]) -> dict[str, int]:
    """NPUs the pod requests per resource; a request that is not a whole number counts 0 (see npu_count)."""
    out: dict[str, int] = {}
    for k, v in npu_request_values(pod):
        out[k] = out.get(k, 0) + (npu_count(v) or 0)
    return out


def allocatable_npus(node: dict[str, Any]) -> int:
    """NPUs (every huawei.com/* resource) the node's status says are allocatable."""
    return sum(npu_count(v) or 0 for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()
               if k.startswith("huawei.com/"))


def pod_state(pod: dict[str, Any]) -> str:
    st = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for cs in st.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str(st.get("phase", "Unknown"))
