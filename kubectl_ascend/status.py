"""`kubectl ascend status` and `install --wait`: nodes, components, MindIE services; waiting for readiness."""
from __future__ import annotations

from typing import Any, Callable

from kubectl_ascend import errors
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.labels import ACCELERATOR, ACCELERATOR_TYPE, MASTER_NODE, MASTER_SELECTOR, npu_resources
from kubectl_ascend.mindie import mindie_services
from kubectl_ascend.wait import Snapshot, wait_until
from kubectl_ascend.workloads import COMPONENT, PART_OF, allocatable_npus, component_rows, components, pod_npu_requests, pod_state


def cluster_status(kube: KubeAPI) -> dict[str, Any]:
    nodes = kube.list_nodes()
    pods = kube.list_pods(field_selector="status.phase!=Succeeded,status.phase!=Failed")
    requested: dict[str, int] = {}
    dp_pods: dict[str, str] = {}
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName")
        if not node:
            continue
        requested[node] = requested.get(node, 0) + sum(pod_npu_requests(p).values())
        if (p["metadata"].get("labels") or {}).get(COMPONENT) == "device-plugin" and \
                (p["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") == "mindcluster":
            dp_pods[node] = pod_state(p)
    rows = []
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        labels = n["metadata"].get("labels") or {}
        name = n["metadata"]["name"]
        cap = sum(npu_resources(n).values())
        alloc = allocatable_npus(n)
        role = "master" if labels.get(MASTER_SELECTOR) == MASTER_NODE else ""
        if labels.get(ACCELERATOR):
            role = f"{role},worker" if role else "worker"
        rows.append({"node": name, "role": role or "-", "accelerator": labels.get(ACCELERATOR),
                     "acceleratorType": labels.get(ACCELERATOR_TYPE), "npuCapacity": cap,
                     "npuAllocatable": alloc, "npuRequested": requested.get(name, 0),
                     "devicePlugin": dp_pods.get(name)})
    return {"nodes": rows, "components": components(kube), "services": mindie_services(kube, pods)}


def wait_ready(kube: KubeAPI, expect_components: list[str], timeout: float,
               report: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    """Watch the stack's workloads until all are rolled out (or raise on timeout). Reports each change."""
    last: list[tuple[Any, ...]] | None = None
    rows: list[dict[str, Any]] = []
    missing = list(expect_components)
    sources = {"DaemonSet": ("/apis/apps/v1/daemonsets", {"labelSelector": PART_OF}),
               "Deployment": ("/apis/apps/v1/deployments", {"labelSelector": PART_OF})}

    def done(snapshot: Snapshot) -> bool:
        nonlocal rows, missing, last
        rows = component_rows(snapshot["DaemonSet"], snapshot["Deployment"])
        present = {r["component"] for r in rows}
        summary = [(r["name"], r["ready"], r["desired"], r["rolledOut"]) for r in rows]
        if summary != last:
            report(rows)
            last = summary
        missing = [c for c in expect_components if c not in present]
        return bool(rows) and not missing and all(r["rolledOut"] for r in rows)

    if wait_until(kube, "wait for the stack's workloads", sources, done, timeout) is not None:
        return rows
    waiting = [f"{r['name']} {r['ready']}/{r['desired']}" for r in rows if not r["rolledOut"]] + \
              [f"{c} (no workload yet)" for c in missing]
    raise errors.AscendError(f"timed out waiting for: {', '.join(waiting)}; "
                             "run `kubectl ascend doctor` to see why")
