"""Gang state of MindIE instances (Volcano PodGroups): phase, pods waiting, and Volcano's reason in one line."""
from __future__ import annotations

from typing import Any, Callable

from kubectl_ascend.kubeapi import KubeAPI

MINDIE_ROLE = "mindie.huawei.com/role"
MINDIE_INDEX = "mindie.huawei.com/instance-index"
ROLE_ORDER = ("single", "coordinator", "controller", "prefill", "decode")
#: pod annotation naming the pod's PodGroup (Volcano and the mindie-service chart)
GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
VOLCANO_SCHEDULER = "volcano"
#: PodGroup phases in which the gang is placed
PLACED_PHASES = ("Running", "Completed")


def _condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = (obj.get("status") or {}).get("conditions") or []
    for c in conditions:
        if c.get("type") == ctype:
            return c
    return None


def unbound(pod: dict[str, Any]) -> bool:
    return not (pod.get("spec") or {}).get("nodeName") and not pod["metadata"].get("deletionTimestamp")


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _latest_event(events: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    return max(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", default=None)


def volcano_reason(pg: dict[str, Any] | None, pods: list[dict[str, Any]],
                   events: list[dict[str, Any]] | None = None) -> str:
    """Why a gang waits, in Volcano's own words and one line.

    A PodGroup still Pending was not admitted by Volcano's enqueue action: its
    newest Normal `Unschedulable` event says why ("queue resource quota
    insufficient"), to which the queue and the gang's minResources are added.
    Otherwise: the per-node fit errors vc-scheduler writes into each waiting
    pod's PodScheduled condition, else the PodGroup's Unschedulable condition
    ("2/2 tasks in gang unschedulable: ..."), else nothing has looked at it.
    """
    if pg is None:
        return "no PodGroup"
    spec = pg.get("spec") or {}
    needs = ", ".join(f"{k}: {v}" for k, v in sorted((spec.get("minResources") or {}).items()))
    context = f"queue {spec.get('queue') or 'default'}" + (f", needs {needs}" if needs else "")
    phase = (pg.get("status") or {}).get("phase") or "Pending"
    cond = _condition(pg, "Unschedulable")
    if phase == "Pending":
        ev = _latest_event([e for e in events or [] if e.get("type") == "Normal"], pg["metadata"]["name"])
        if ev and ev.get("message"):
            return _one_line(f"{ev['message']} ({context})")
    for p in pods:
        pcond = _condition(p, "PodScheduled")
        if unbound(p) and pcond and pcond.get("status") == "False" and pcond.get("message") and \
                not (cond and pcond["message"] == cond.get("message")):
            return _one_line(pcond["message"])
    if cond and cond.get("status") == "True" and cond.get("message"):
        return _one_line(f"{cond['message']} ({context})")
    return "no scheduler has looked at it yet"


def podgroup_events(kube: KubeAPI) -> Callable[[str], list[dict[str, Any]]]:
    """Volcano's Unschedulable events on PodGroups, per namespace, listed once on first use."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def get(ns: str) -> list[dict[str, Any]]:
        if ns not in cache:
            cache[ns] = kube.list_events(ns, "involvedObject.kind=PodGroup,reason=Unschedulable")
        return cache[ns]
    return get


def gang_instances(pods: list[dict[str, Any]], podgroups: dict[tuple[str, str], dict[str, Any]],
                   events: Callable[[str], list[dict[str, Any]]] | None = None,
                   release: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Per MindIE instance with a PodGroup: phase, pods, pods pending, Volcano's reason when stuck.

    With ``release`` (namespace, release name), PodGroups labelled as that release's
    prefill/decode instances that no pod points at count too: a Volcano Job creates
    its pods only once Volcano lets its PodGroup out of Pending (v1.7.0
    pkg/controllers/job/job_controller_actions.go syncJob), so all minMember pods of
    such an instance are counted as pending.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in pods:
        name = (p["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION)
        # PD instances only: vc-controller-manager also gives the controller, the
        # coordinator and single-mode Deployments one-pod / per-ReplicaSet PodGroups.
        if name and (p["metadata"].get("labels") or {}).get(MINDIE_ROLE) in ("prefill", "decode"):
            groups.setdefault(name, []).append(p)
    out = []
    for name, members in groups.items():
        labels = members[0]["metadata"].get("labels") or {}
        ns = members[0]["metadata"]["namespace"]
        pg = podgroups.get((ns, name))
        phase = ((pg or {}).get("status") or {}).get("phase") or ("Pending" if pg else "-")
        pending = sum(unbound(p) for p in members)
        row = {"instance": f"{labels.get(MINDIE_ROLE, '?')}-{labels.get(MINDIE_INDEX, '?')}", "podGroup": name,
               "phase": phase, "minMember": ((pg or {}).get("spec") or {}).get("minMember"),
               "pods": len(members), "pending": pending, "unschedulable": False, "reason": None}
        if pending:
            cond = _condition(pg or {}, "Unschedulable")
            row["unschedulable"] = bool(cond and cond.get("status") == "True")
            row["reason"] = volcano_reason(pg, members, events(ns) if events else None)
        out.append(row)
    for (ns, name), pg in podgroups.items():
        labels = pg["metadata"].get("labels") or {}
        if release is None or (ns, labels.get("app.kubernetes.io/instance")) != release or name in groups \
                or labels.get(MINDIE_ROLE) not in ("prefill", "decode"):
            continue
        want = int((pg.get("spec") or {}).get("minMember") or 0)
        cond = _condition(pg, "Unschedulable")
        out.append({"instance": f"{labels[MINDIE_ROLE]}-{labels.get(MINDIE_INDEX, '?')}", "podGroup": name,
                    "phase": (pg.get("status") or {}).get("phase") or "Pending", "minMember": want,
                    "pods": want, "pending": want, "unschedulable": bool(cond and cond.get("status") == "True"),
                    "reason": volcano_reason(pg, [], events(ns) if events else None) if want else None})
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    return sorted(out, key=lambda r: (order.get(r["instance"].rsplit("-", 1)[0], 99),
                                      int(r["instance"].rsplit("-", 1)[1]) if r["instance"].rsplit("-", 1)[1].isdigit()
                                      else 0, r["podGroup"]))


def gang_line(row: dict[str, Any]) -> str:
    """`prefill-1: Inqueue, Unschedulable, 2/2 pods pending: <Volcano's reason>` (or `prefill-0: Running`)."""
    line = f"{row['instance']}: {row['phase']}"
    if row["unschedulable"]:
        line += ", Unschedulable"
    if row["pending"]:
        line += f", {row['pending']}/{row['pods']} pods pending: {row['reason']}"
    return line


#: seconds a PodGroup may wait with pods unplaced before `doctor` warns
STUCK_AFTER = 300.0
#: seconds a volcano pod may wait before `doctor` expects a Volcano scheduler to have looked at it
UNATTENDED_AFTER = 60.0
#: vc-scheduler refreshes the conditions of a waiting PodGroup at least every 90 s
#: (v1.7.0 pkg/scheduler/framework/job_updater.go: 1 min + up to 30 s jitter)
CONDITION_REFRESH = 180.0


def timestamp(ts: str | None) -> float | None:
    from datetime import datetime, timezone

    if not ts:
        return None
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def age(obj: dict[str, Any], now: float) -> float:
    created = timestamp(obj["metadata"].get("creationTimestamp"))
    return now - created if created is not None else 0.0


def attended(pod: dict[str, Any], pg: dict[str, Any] | None, now: float) -> bool:
    """Has a Volcano scheduler looked at this waiting pod recently?

    A running vc-scheduler writes, every session, a PodScheduled=False
    condition into each pod it could not place, and Unschedulable
    conditions into its PodGroup, refreshing their time at least every
    90 s. No PodScheduled condition and no fresh PodGroup condition means
    nothing is scheduling it.
    """
    if pg is None:  # vc-controller-manager gives every volcano pod a PodGroup; until then, the pod's condition
        return _condition(pod, "PodScheduled") is not None
    times = [timestamp(c.get("lastTransitionTime")) for c in (pg.get("status") or {}).get("conditions") or []]
    return any(t is not None and now - t < CONDITION_REFRESH for t in times)
