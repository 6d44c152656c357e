"""MindIE services (mindie-service chart releases) as `status` shows them, and waiting for a PD release's ranktables."""
from __future__ import annotations

import json
from typing import Any, Callable

from kubectl_ascend import errors
from kubectl_ascend.gang import GROUP_ANNOTATION, MINDIE_ROLE, ROLE_ORDER, gang_instances, podgroup_events
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.ranktable import RanktableError, RanktableResult, build_global_ranktable, configmap_selector, \
    pod_selector
from kubectl_ascend.workloads import pod_npu_requests


def mindie_services(kube: KubeAPI, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MindIE releases (mindie-service chart) found from their pods: ready pods per role, ranktable state."""
    services: dict[tuple[str, str], dict[str, Any]] = {}
    members: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in pods:
        labels = p["metadata"].get("labels") or {}
        role = labels.get(MINDIE_ROLE)
        if not role or labels.get("app.kubernetes.io/part-of") != "mindie-service":
            continue
        key = (p["metadata"]["namespace"], labels.get("app.kubernetes.io/instance", "?"))
        svc = services.setdefault(key, {"namespace": key[0], "release": key[1], "roles": {}, "npus": 0,
                                        "ranktable": None, "instances": []})
        members.setdefault(key, []).append(p)
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or [])
        r = svc["roles"].setdefault(role, {"ready": 0, "pods": 0})
        r["pods"] += 1
        r["ready"] += int(ready)
        svc["npus"] += sum(pod_npu_requests(p).values())
    if any((p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION) for ps in members.values() for p in ps):
        podgroups = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in kube.list_podgroups()}
        events = podgroup_events(kube)
        for key, ps in members.items():
            services[key]["instances"] = gang_instances(ps, podgroups, events)
    if services:
        for cm in kube.list_configmaps(None, "mindie.huawei.com/ranktable=global"):
            key = (cm["metadata"]["namespace"], (cm["metadata"].get("labels") or {}).get("app.kubernetes.io/instance"))
            if key in services:
                try:
                    text = next(iter((cm.get("data") or {}).values()), "{}")
                    services[key]["ranktable"] = json.loads(text).get("status")
                except (ValueError, AttributeError):
                    services[key]["ranktable"] = "unreadable"
    out = []
    for svc in sorted(services.values(), key=lambda s: (s["namespace"], s["release"])):
        svc["mode"] = "single" if "single" in svc["roles"] else "pd"
        svc["roles"] = {k: svc["roles"][k] for k in ROLE_ORDER if k in svc["roles"]}
        out.append(svc)
    return out


def wait_for_ranktables(kube: KubeAPI, ns: str, release: str, *, wait: bool, seconds: float, timeout_text: str,
                        report: Callable[[str], None]) -> tuple[RanktableResult, list[dict[str, Any]]]:
    """The release's global ranktable once its per-instance ranktables and pod IPs are complete.

    Lists the release's ConfigMaps and pods once; without `wait` an incomplete release is an
    error; with it, follows them (watches) for `seconds`, calling `report` with each new state.
    Returns the result and the ConfigMaps it was built from.
    """
    def check(cms: list[dict[str, Any]], pods: list[dict[str, Any]]) -> RanktableResult:
        try:
            return build_global_ranktable(release, cms, pods)
        except RanktableError as e:
            raise errors.NotFound(f"release {release} in namespace {ns}: {e} (is it a mindie-service release "
                                  "with mode: pd? pass -n NAMESPACE)") from None

    cms = kube.list_configmaps(ns, configmap_selector(release))
    result = check(cms, kube.list_pods(ns, label_selector=pod_selector(release)))
    if result.ready:
        return result, cms
    if not wait:
        raise errors.AscendError(f"{result.message()}; rerun with --wait to keep checking")
    last = result.message()
    report(last)
    sources = {"cms": (f"/api/v1/namespaces/{ns}/configmaps", {"labelSelector": configmap_selector(release)}),
               "pods": (f"/api/v1/namespaces/{ns}/pods", {"labelSelector": pod_selector(release)})}
    for snapshot in kube.observe(f"wait for release {release}", sources, seconds):
        cms = snapshot["cms"]
        result = check(cms, snapshot["pods"])
        if result.ready:
            return result, cms
        msg = result.message()
        if msg != last:
            report(msg)
            last = msg
    raise errors.AscendError(f"timed out after {timeout_text}: {result.message()}")


def write_global_ranktable(kube: KubeAPI, ns: str, result: RanktableResult, configmaps: list[dict[str, Any]],
                           dry_run: bool) -> str:
    """Write the global ranktable ConfigMap when it changed: "written", "would write" or "unchanged"."""
    current = next((cm for cm in configmaps if cm["metadata"]["name"] == result.configmap), None)
    current_data = (current or {}).get("data") or {}
    changed = result.differs_from(current_data.get("global_ranktable.json"), current_data.get("pod_uids"))
    if not dry_run and changed:
        kube.patch_configmap_data(ns, result.configmap, result.data())
    return "would write" if dry_run and changed else "written" if changed else "unchanged"


#: How ClusterD is found: the Deployment of our ascend-clusterd chart by its labels; a hand-installed
#: one by its pods, since upstream's Deployment carries no labels of its own and only its pod
#: template is labelled `app: clusterd` (mind-cluster v26.1.0 component/clusterd/build/clusterd.yaml).
CLUSTERD_DEPLOYMENT = "app.kubernetes.io/part-of=mindcluster,app.kubernetes.io/component=clusterd"
CLUSTERD_POD = "app=clusterd"


def clusterd_running(kube: KubeAPI) -> list[str]:
    """What shows ClusterD runs: "deployment ns/name" of our chart, "pod ns/name" of a hand-installed one.

    With ClusterD running, it builds MindIE's global ranktable itself from the per-instance
    hccl.json ConfigMaps (mind-cluster v26.1.0 component/clusterd/pkg/domain/epranktable/
    ranktable_manager.go, ranktable_util.go) and the MindIE controller receives it over gRPC
    (SubscribeRankTable, v26.1.0 docs/en/scheduling/api/clusterd/05_service_configuration_apis.md),
    so `mindie ranktable` defers to it.
    """
    found = [f"deployment {d['metadata']['namespace']}/{d['metadata']['name']}"
             for d in kube.list_deployments(CLUSTERD_DEPLOYMENT)]
    if not found:
        found = [f"pod {p['metadata']['namespace']}/{p['metadata']['name']}"
                 for p in kube.list_pods(label_selector=CLUSTERD_POD) if not p["metadata"].get("deletionTimestamp")]
    return sorted(found)


def defer_to_clusterd(kube: KubeAPI, ns: str, release: str) -> list[str]:
    """`clusterd_running` for a PD release that exists (errors.NotFound otherwise, as without ClusterD)."""
    try:
        build_global_ranktable(release, kube.list_configmaps(ns, configmap_selector(release)), [])
    except RanktableError as e:
        raise errors.NotFound(f"release {release} in namespace {ns}: {e} (is it a mindie-service release "
                              "with mode: pd? pass -n NAMESPACE)") from None
    return clusterd_running(kube)
