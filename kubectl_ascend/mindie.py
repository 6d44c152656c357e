"""MindIE services (mindie-service chart releases) as `status` shows them, and waiting for a PD release's ranktables."""
from __future__ import annotations

from typing import Any, Callable

from kubectl_ascend import errors, rankvalidate
from kubectl_ascend.clusterd import find_clusterd
from kubectl_ascend.gang import GROUP_ANNOTATION, MINDIE_ROLE, ROLE_ORDER, gang_instances, podgroup_events
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.pymotor import control_plane
from kubectl_ascend.ranktable import RanktableError, RanktableResult, build_global_ranktable, configmap_selector, \
    pod_selector
from kubectl_ascend.workloads import pod_npu_requests
from kubectl_ascend.wait import Snapshot, wait_until


#: Label the mindie-service chart puts on every pod of a `mode: pymotor` release (value "pymotor").
PYMOTOR_LABEL = "mindie.huawei.com/engine"


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
                                        "ranktable": None, "instances": [], "pymotor": False})
        # mode pymotor (MindIE 3.x): the chart labels every PyMotor pod; no global ranktable.
        svc["pymotor"] = svc["pymotor"] or labels.get(PYMOTOR_LABEL) == "pymotor"
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
            services[key]["instances"] = gang_instances(ps, podgroups, events, key)
    if services:
        ranktables = kube.list_configmaps(None, "mindie.huawei.com/ranktable")
        for svc in services.values():
            svc["scale"] = None
        for key, scale in scale_rows(ranktables).items():
            if key in services:
                services[key]["scale"] = scale
        for cm in ranktables:
            if (cm["metadata"].get("labels") or {}).get("mindie.huawei.com/ranktable") != "global":
                continue
            key = (cm["metadata"]["namespace"], (cm["metadata"].get("labels") or {}).get("app.kubernetes.io/instance"))
            if key in services:
                # anyone who edits ConfigMaps can write it: parsed within bounds, only a known status shown
                try:
                    text = next(iter((cm.get("data") or {}).values()), "{}")
                    status = rankvalidate.load(cm["metadata"]["name"], "data", text).get("status")
                except (rankvalidate.Refused, AttributeError):
                    status = None
                services[key]["ranktable"] = status if status in rankvalidate.STATUSES else "unreadable"
    out = []
    for svc in sorted(services.values(), key=lambda s: (s["namespace"], s["release"])):
        svc["mode"] = "single" if "single" in svc["roles"] else "pymotor" if svc.pop("pymotor") else "pd"
        # pymotor: what its controller and coordinator say (kubectl_ascend/pymotor.py), else None
        svc["controlPlane"] = control_plane(kube, svc["namespace"], svc["release"]) \
            if svc["mode"] == "pymotor" else None
        svc["roles"] = {k: svc["roles"][k] for k in ROLE_ORDER if k in svc["roles"]}
        out.append(svc)
    return out


#: Annotation of a release's per-instance ranktable ConfigMaps carrying values scaling.ratio.
RATIO_BAND = "mindie.huawei.com/ratio-band"


def scale_rows(configmaps: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (namespace, release): prefill/decode instances (one per-instance ranktable ConfigMap each),
    the P:D ratio, and the band from values scaling.ratio with whether the ratio is inside it."""
    from kubectl_ascend.scale import parse_ratio, ratio_text

    out: dict[tuple[str, str], dict[str, Any]] = {}
    for cm in configmaps:
        labels = cm["metadata"].get("labels") or {}
        role = labels.get(MINDIE_ROLE)
        if labels.get("mindie.huawei.com/ranktable") != "instance" or role not in ("prefill", "decode"):
            continue
        key = (cm["metadata"]["namespace"], labels.get("app.kubernetes.io/instance", "?"))
        row = out.setdefault(key, {"prefill": 0, "decode": 0, "ratio": None, "band": None, "inBand": None})
        row[role] += 1
        row["band"] = row["band"] or (cm["metadata"].get("annotations") or {}).get(RATIO_BAND)
    for row in out.values():
        row["ratio"] = ratio_text(row["prefill"], row["decode"]) if row["decode"] else None
        if row["band"]:
            try:
                row["inBand"] = parse_ratio(row["band"], "scaling.ratio").holds(row["prefill"], row["decode"])
            except errors.InvalidInput:
                row["inBand"] = None
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

    def done(snapshot: Snapshot) -> bool:
        nonlocal result, cms, last
        cms = snapshot["cms"]
        result = check(cms, snapshot["pods"])
        if result.ready:
            return True
        msg = result.message()
        if msg != last:
            report(msg)
            last = msg
        return False

    if wait_until(kube, f"wait for release {release}", sources, done, seconds) is not None:
        return result, cms
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


#: Label ClusterD groups a MindIE job by; the mindie-service chart puts it on a release's
#: rings-config-* ConfigMaps only with clusterd.enabled (mind-cluster v26.1.0 clusterd
#: constant/constants.go MindIeJobIdLabelKey).
JOB_ID_LABEL = "jobID"
CONFIGMAP, CLUSTERD = "configmap", "clusterd"


def ranktable_source(kube: KubeAPI, ns: str, release: str) -> str:
    """Where a PD release's controller gets its global ranktable: CONFIGMAP or CLUSTERD.

    CONFIGMAP: the release renders <release>-global-ranktable and its pods wait for it;
    CLUSTERD: rendered with clusterd.enabled (no such ConfigMap; its rings-config-* carry jobID).
    errors.NotFound when ``release`` is no mindie-service PD release in ``ns``.
    """
    cms = kube.list_configmaps(ns, configmap_selector(release))
    try:
        build_global_ranktable(release, cms, [])
        return CONFIGMAP
    except RanktableError as e:
        if cms and all(JOB_ID_LABEL in ((c["metadata"].get("labels") or {})) for c in cms):
            return CLUSTERD
        raise errors.NotFound(f"release {release} in namespace {ns}: {e} (is it a mindie-service release "
                              "with mode: pd? pass -n NAMESPACE)") from None


def clusterd_plan(kube: KubeAPI, ns: str, release: str, force: bool) -> list[str]:
    """What `mindie ranktable` does about ClusterD: [] = build and write the ConfigMap; else defer to these.

    Deferring (the ClusterD entries returned) needs both ClusterD running (clusterd.find_clusterd)
    and the release rendered with clusterd.enabled; every other mix is an error saying what to
    change, because the release's controller would never get a table.
    """
    source = ranktable_source(kube, ns, release)
    clusterd = find_clusterd(kube)
    global_cm = next((c["metadata"]["name"] for c in kube.list_configmaps(ns, configmap_selector(release))
                      if (c["metadata"].get("labels") or {}).get("mindie.huawei.com/ranktable") == "global"),
                     "the global ranktable ConfigMap")
    if source == CLUSTERD:
        if clusterd:
            return clusterd
        raise errors.AscendError(
            f"release {release} takes its global ranktable from ClusterD (clusterd.enabled=true), but ClusterD is "
            "not installed, so its MindIE controller never gets one; install ClusterD (kubectl ascend install "
            f"--set ascend-clusterd.enabled=true), or render the release without it (helm upgrade {release} "
            f"-n {ns} <chart> --reuse-values --set clusterd.enabled=false) and rerun this command")
    if clusterd and not force:
        raise errors.AscendError(
            f"ClusterD runs ({', '.join(clusterd)}), but release {release} was not rendered for it: its pods wait "
            f"for {global_cm}, which ClusterD never writes; render it in ClusterD mode "
            f"(helm upgrade {release} -n {ns} <chart> --reuse-values --set clusterd.enabled=true; as part of "
            "ascend-stack: --set mindie-service.clusterd.enabled=true), or rerun with --force to write the "
            "ConfigMap yourself")
    return []
