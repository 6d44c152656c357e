"""`kubectl ascend mindie scale`: plan, check and apply a P/D scale of a pd or pymotor mindie-service release.

Pure planning first (no client): :func:`parse_ratio`, :func:`free_npus`, :func:`queue_room`,
:func:`place` and :func:`make_plan` decide, from the release's values and plain cluster objects,
whether every *new* instance fits as a whole gang and whether the result keeps the P:D band,
and which Helm upgrades to run in which order. :func:`gather` and :func:`apply_plan` are the
only parts that talk to the cluster (through the KubeAPI / ScaleHelm doors).

Order (README, "Scaling P and D"):

* the role that grows is upgraded first, the role that shrinks last: two Helm upgrades when one
  grows and the other shrinks, one otherwise; between them the new instances are placed whole
  (and, pd, listed in the global ranktable);
* every upgrade is the release's own values (`helm get values`) with only
  ``prefill.instances`` / ``decode.instances`` changed, so history, rollback and
  ``helm get values`` stay right; instances are StatefulSets / Volcano Jobs named by index, so
  growing adds the next indices and shrinking removes the highest, and no surviving instance's
  pod template changes (the chart keeps the instance counts out of the servers' checksums);
* pd with the ConfigMap ranktable (not ClusterD): before an upgrade removes instances, the
  global ranktable is rewritten without them (built as `mindie ranktable` builds it, from the
  live objects, for the smaller counts), so it never lists pods about to go; after an upgrade
  it is rewritten once, when every per-instance rings-config is completed.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Protocol

from kubectl_ascend import errors, facts
from kubectl_ascend.kube import quantity
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.workloads import pod_npu_requests

ROLES = ("prefill", "decode")
SCALABLE_MODES = ("pd", "pymotor")
#: PodGroup phases whose minResources Volcano counts against a queue (admitted gangs).
ADMITTED_PHASES = ("Inqueue", "Running")
QUEUES_PATH = "/apis/scheduling.volcano.sh/v1beta1/queues"
_RATIO = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:/[1-9][0-9]*)?)\s*:\s*([0-9]+(?:\.[0-9]+)?(?:/[1-9][0-9]*)?)\s*$")


class Refused(errors.AscendError):
    """The scale cannot be done as asked; nothing was changed."""


class ScaleHelm(Protocol):
    """Helm as `mindie scale` uses it (helm.Helm implements it)."""

    def prepare_chart(self, chart: str | None, name: str = ...) -> str: ...
    def release(self, release: str, namespace: str) -> dict[str, Any] | None: ...
    def user_values(self, release: str, namespace: str) -> dict[str, Any] | None: ...
    def computed_values(self, release: str, namespace: str) -> dict[str, Any]: ...
    def install_or_upgrade(self, chart_ref: str, release: str, namespace: str, values: dict[str, Any], *,
                           timeout: str = "10m", reset_values: bool = False,
                           force_conflicts: bool = False) -> dict[str, Any]: ...


# -- pure logic ---------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """Allowed prefill/decode instance ratio, MIN..MAX inclusive."""

    low: Fraction
    high: Fraction
    text: str
    source: str

    def holds(self, prefill: int, decode: int) -> bool:
        return decode > 0 and self.low <= Fraction(prefill, decode) <= self.high


def parse_ratio(text: str, source: str = "--ratio") -> Band:
    """"MIN:MAX" (decimals or fractions, MIN <= MAX, MAX > 0) as a Band; errors.InvalidInput otherwise."""
    m = _RATIO.match(text or "")
    if not m:
        raise errors.InvalidInput(f"{source} {text!r} is not MIN:MAX (prefill/decode instances, e.g. 1:3 or 0.5:2)")
    low, high = Fraction(m.group(1)), Fraction(m.group(2))
    if low > high:
        raise errors.InvalidInput(f"{source} {text!r}: MIN {m.group(1)} is above MAX {m.group(2)}")
    if high == 0:
        raise errors.InvalidInput(f"{source} {text!r}: MAX must be above 0 (every release has prefill instances)")
    return Band(low, high, f"{m.group(1)}:{m.group(2)}", source)


def ratio_text(prefill: int, decode: int) -> str:
    """`3:1 (3.00)` - the instance counts and their quotient."""
    return f"{prefill}:{decode}" + (f" ({prefill / decode:.2f})" if decode else "")


@dataclass(frozen=True)
class Shape:
    """What the release's values say about its instances (from `helm get values --all`)."""

    mode: str
    instances: dict[str, int]
    pods: dict[str, int]
    npus: dict[str, int]
    resource: str
    selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    volcano: bool
    queues: dict[str, str]
    clusterd: bool
    ratio: str


def shape_of(values: dict[str, Any]) -> Shape:
    """The release's Shape; Refused when it is not a pd/pymotor mindie-service release."""
    mode = str(values.get("mode") or "single")
    if mode not in SCALABLE_MODES:
        raise Refused(f"the release runs mode {mode}: only pd and pymotor releases have prefill and decode "
                      "instances to scale (single mode: helm upgrade --reuse-values --set single.replicas=N)")
    acc = values.get("accelerator") or {}
    family = facts.labels()["families"].get(str(acc.get("family", "910")))
    if not family:
        raise Refused(f"the release's accelerator.family {acc.get('family')!r} is not a known NPU family")
    # the servers' nodeSelector, as the chart's serverPodTemplate / enginePodTemplate build it
    selector = {str(k): str(v) for k, v in (values.get("nodeSelector") or {}).items()}
    selector["accelerator"] = family["accelerator"]
    if acc.get("type"):
        selector["accelerator-type"] = str(acc["type"])
    scheduler = str(values.get("schedulerName") or "volcano")
    clusterd = mode == "pd" and bool((values.get("clusterd") or {}).get("enabled"))
    pods = {r: int((values.get(r) or {}).get("podsPerInstance", 1)) for r in ROLES}
    # mindie-service.instanceVcjob: a Volcano Job (its PodGroup in gang.queue) in ClusterD mode and for
    # multi-pod instances under Volcano; else a StatefulSet whose PodGroup vc-controller-manager puts in
    # queue "default" (the chart sets no queue annotation on those pods).
    gang_queue = str((values.get("gang") or {}).get("queue") or "default")
    queues = {r: gang_queue if (clusterd or (pods[r] > 1 and scheduler == "volcano")) else "default" for r in ROLES}
    return Shape(mode=mode, instances={r: int((values.get(r) or {}).get("instances", 1)) for r in ROLES},
                 pods=pods, npus={r: int((values.get(r) or {}).get("npusPerPod", 8)) for r in ROLES},
                 resource=family["resource"], selector=selector, tolerations=list(values.get("tolerations") or []),
                 volcano=scheduler == "volcano", queues=queues, clusterd=clusterd,
                 ratio=str((values.get("scaling") or {}).get("ratio") or ""))


def _tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and str(t.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def free_npus(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], shape: Shape) -> dict[str, int]:
    """Free NPUs (allocatable minus requested by pods not finished) per node the release's servers may use.

    A node counts when it carries the servers' nodeSelector, is Ready, schedulable, and has no
    NoSchedule/NoExecute taint the release does not tolerate.
    """
    free: dict[str, int] = {}
    for n in nodes:
        labels = n["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in shape.selector.items()):
            continue
        spec, status = n.get("spec") or {}, n.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        taints = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
        if not ready or spec.get("unschedulable") or not all(_tolerated(t, shape.tolerations) for t in taints):
            continue
        alloc = (status.get("allocatable") or {}).get(shape.resource)
        free[n["metadata"]["name"]] = int(quantity(str(alloc))) if alloc is not None else 0
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName")
        if node in free and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            free[node] -= pod_npu_requests(p).get(shape.resource, 0)
    return {k: max(v, 0) for k, v in free.items()}


def queue_room(queue: dict[str, Any] | None, podgroups: list[dict[str, Any]], resource: str) -> int | None:
    """NPUs a Volcano queue still admits: capability minus the minResources of its admitted PodGroups.

    None when the queue sets no capability for `resource` (or does not exist: Volcano then
    refuses the gang itself, which the plan reports separately).
    """
    cap = ((queue or {}).get("spec") or {}).get("capability") or {}
    if resource not in cap:
        return None
    name = (queue or {})["metadata"]["name"]
    used = 0
    for pg in podgroups:
        spec = pg.get("spec") or {}
        if (spec.get("queue") or "default") == name and \
                ((pg.get("status") or {}).get("phase") or "Pending") in ADMITTED_PHASES:
            used += int(quantity(str((spec.get("minResources") or {}).get(resource, "0"))))
    return max(int(quantity(str(cap[resource]))) - used, 0)


@dataclass(frozen=True)
class Gang:
    """One new instance: its role, index, pods and NPUs per pod, queue."""

    role: str
    index: int
    pods: int
    npus: int
    queue: str

    @property
    def total(self) -> int:
        return self.pods * self.npus


def place(gangs: list[Gang], free: dict[str, int], room: dict[str, int | None]) -> tuple[list[Gang], list[Gang]]:
    """(placed, not placed): each gang whole (every pod on a node with room, and its queue's room) or not at all.

    Best fit per pod (the node with the least free NPUs that still holds it), gangs in the
    given order; free and room are not modified.
    """
    free, room = dict(free), dict(room)
    placed, left = [], []
    for g in gangs:
        trial = dict(free)
        ok = room.get(g.queue) is None or (room[g.queue] or 0) >= g.total
        for _ in range(g.pods if ok else 0):
            fits = sorted((n for n, f in trial.items() if f >= g.npus), key=lambda n: (trial[n], n))
            if not fits:
                ok = False
                break
            trial[fits[0]] -= g.npus
        if ok:
            free = trial
            if room.get(g.queue) is not None:
                room[g.queue] = (room[g.queue] or 0) - g.total
            placed.append(g)
        else:
            left.append(g)
    return placed, left


@dataclass
class Step:
    """One Helm upgrade: the instance counts after it, and what it adds and removes."""

    instances: dict[str, int]
    add: dict[str, list[int]]
    remove: dict[str, list[int]]

    def describe(self) -> str:
        parts = [f"add {r} {', '.join(map(str, ix))}" for r, ix in self.add.items() if ix] + \
                [f"remove {r} {', '.join(map(str, ix))}" for r, ix in self.remove.items() if ix]
        return f"prefill {self.instances['prefill']}, decode {self.instances['decode']} ({'; '.join(parts)})"


@dataclass
class Plan:
    """What `mindie scale` will do."""

    release: str
    namespace: str
    mode: str
    current: dict[str, int]
    target: dict[str, int]
    band: Band | None
    steps: list[Step]
    free: dict[str, int]
    room: dict[str, int | None]
    new: list[Gang]
    ranktable: str
    revision: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "namespace": self.namespace, "mode": self.mode,
                "revision": self.revision, "current": self.current, "target": self.target,
                "ratio": {"current": ratio_text(self.current["prefill"], self.current["decode"]),
                          "target": ratio_text(self.target["prefill"], self.target["decode"]),
                          "band": self.band.text if self.band else None,
                          "bandSource": self.band.source if self.band else None},
                "steps": [{"instances": s.instances, "add": s.add, "remove": s.remove} for s in self.steps],
                "newInstances": [f"{g.role}-{g.index}" for g in self.new],
                "freeNpus": self.free, "queueRoom": self.room, "ranktable": self.ranktable}

    def text(self) -> str:
        lines = [f"release {self.release} ({self.mode}) in {self.namespace}: prefill {self.current['prefill']} -> "
                 f"{self.target['prefill']}, decode {self.current['decode']} -> {self.target['decode']}; P:D "
                 f"{ratio_text(self.target['prefill'], self.target['decode'])}"
                 + (f", band {self.band.text} ({self.band.source})" if self.band else ", no band")]
        if not self.steps:
            lines.append("nothing to change")
        if self.new:
            lines.append(f"{len(self.new)} new instance(s) fit as whole gangs ("
                         + ", ".join(f"{g.role}-{g.index}: {g.pods} pod(s) x {g.npus} NPUs" for g in self.new)
                         + f"); free NPUs on eligible nodes: {sum(self.free.values())}")
        for i, s in enumerate(self.steps, 1):
            lines.append(f"step {i} of {len(self.steps)}: helm upgrade to {s.describe()}")
        lines += self.notes
        return "\n".join(lines)


def make_plan(release: str, namespace: str, shape: Shape, target: dict[str, int], band: Band | None,
              free: dict[str, int], room: dict[str, int | None], queues_missing: list[str]) -> Plan:
    """The steps of a scale, or Refused (ratio band, capacity) before anything changes."""
    current = dict(shape.instances)
    for r in ROLES:
        if target[r] < 1:
            raise Refused(f"--{r} {target[r]}: a {shape.mode} release needs at least one {r} instance")
    if band and not band.holds(target["prefill"], target["decode"]):
        raise Refused(f"prefill {target['prefill']} / decode {target['decode']} = "
                      f"{float(Fraction(target['prefill'], target['decode'])):.2f} is outside the P:D band "
                      f"{band.text} ({band.source}); choose counts whose ratio is within it, or change the band")
    grow = [r for r in ROLES if target[r] > current[r]]
    shrink = [r for r in ROLES if target[r] < current[r]]
    # decode first among growing roles: its PriorityClass is higher, Volcano places it first too
    new = [Gang(r, i, shape.pods[r], shape.npus[r], shape.queues[r])
           for r in sorted(grow, key=lambda r: r != "decode") for i in range(current[r], target[r])]
    if new and queues_missing:
        raise Refused(f"Volcano queue {', '.join(queues_missing)} does not exist: no new gang would be admitted")
    placed, left = place(new, free, room)
    if left:
        raise Refused(_capacity_message(shape, new, free, room, left))
    steps: list[Step] = []
    counts = dict(current)
    if grow:
        counts.update({r: target[r] for r in grow})
        steps.append(Step(dict(counts), {r: list(range(current[r], target[r])) for r in grow}, {}))
    if shrink:
        counts.update({r: target[r] for r in shrink})
        steps.append(Step(dict(counts), {}, {r: list(range(target[r], current[r])) for r in shrink}))
    ranktable = "clusterd" if shape.clusterd else "configmap" if shape.mode == "pd" else "none"
    return Plan(release, namespace, shape.mode, current, dict(target), band, steps, free, room, placed, ranktable)


def _capacity_message(shape: Shape, new: list[Gang], free: dict[str, int], room: dict[str, int | None],
                      left: list[Gang]) -> str:
    per_role = []
    for r in ROLES:
        mine = [g for g in new if g.role == r]
        if mine:
            alone, _ = place(mine, free, room)
            per_role.append(f"{r}: {len(mine)} new ({mine[0].pods} pod(s) x {mine[0].npus} {shape.resource}), "
                            f"{len(alone)} fit")
    missing = sum(g.total for g in left)
    where = ",".join(f"{k}={v}" for k, v in sorted(shape.selector.items()))
    nodes = ", ".join(f"{n} {f}" for n, f in sorted(free.items()) if f) or "none"
    rooms = "; ".join(f"queue {q} admits {v} more" for q, v in sorted(room.items()) if v is not None)
    return (f"not enough free NPUs for every new instance as a whole gang: {'; '.join(per_role)}; "
            f"{len(new) - len(left)} of {len(new)} fit together; missing: {missing} {shape.resource} for "
            f"{', '.join(f'{g.role}-{g.index}' for g in left)} on nodes {where} (free: {nodes})"
            + (f"; {rooms}" if rooms else "") + "; nothing was changed")


def values_for(user_values: dict[str, Any], instances: dict[str, int]) -> dict[str, Any]:
    """The release's own values with only prefill/decode.instances set (what --reuse-values would send)."""
    out = copy.deepcopy(user_values)
    for r in ROLES:
        section = out.get(r)
        out[r] = dict(section) if isinstance(section, dict) else {}
        out[r]["instances"] = instances[r]
    return out


def without_instances(configmaps: list[dict[str, Any]], pods: list[dict[str, Any]], instances: dict[str, int],
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ConfigMaps and pods as they will be once instances past `instances` are gone.

    The global ranktable ConfigMap's instance-count annotations are set to `instances` and the
    removed instances' rings-config ConfigMaps and pods are left out, so build_global_ranktable
    builds the table of the smaller release while its pods still run.
    """
    from kubectl_ascend.gang import MINDIE_INDEX, MINDIE_ROLE
    from kubectl_ascend.ranktable import CHART_LABELS

    def kept(obj: dict[str, Any]) -> bool:
        labels = obj["metadata"].get("labels") or {}
        role = labels.get(MINDIE_ROLE)
        index = str(labels.get(MINDIE_INDEX, ""))
        return not (role in ROLES and index.isdigit() and int(index) >= instances[role])

    out_cms = []
    for cm in configmaps:
        if not kept(cm):
            continue
        if (cm["metadata"].get("labels") or {}).get(CHART_LABELS.ranktable) == "global":
            cm = copy.deepcopy(cm)
            annotations = cm["metadata"].setdefault("annotations", {})
            for r in ROLES:
                annotations[CHART_LABELS.instances_fmt.format(role=r)] = str(instances[r])
        out_cms.append(cm)
    return out_cms, [p for p in pods if kept(p)]


# -- against the cluster ------------------------------------------------------

@dataclass
class Context:
    """What gather() read: the release's values and the cluster's capacity for it."""

    user_values: dict[str, Any]
    shape: Shape
    free: dict[str, int]
    room: dict[str, int | None]
    queues_missing: list[str]
    revision: int
    chart: str


def bundled_chart_version() -> str:
    """Version of the mindie-service chart shipped with kubectl-ascend."""
    import yaml

    from kubectl_ascend.helm import charts_root

    meta = yaml.safe_load((charts_root() / "mindie-service" / "Chart.yaml").read_text()) or {}
    return str(meta.get("version") or "")


def gather(kube: KubeAPI, helm: ScaleHelm, release: str, ns: str, chart_given: bool = False) -> Context:
    """Read the release (helm) and the cluster (nodes, pods, Volcano queues and PodGroups)."""
    rel = helm.release(release, ns)
    if rel is None:
        raise errors.NotFound(f"release {release} is not installed in namespace {ns} (pass -n NAMESPACE)")
    chart = str(rel.get("chart") or "")
    if not chart.startswith("mindie-service-"):
        raise Refused(f"release {release} is chart {chart or '?'}, not mindie-service: `mindie scale` scales "
                      "mindie-service releases installed on their own")
    bundled = f"mindie-service-{bundled_chart_version()}"
    if not chart_given and chart != bundled:
        raise Refused(f"release {release} runs chart {chart}, this kubectl-ascend ships {bundled}: a scale must "
                      "not change the chart; pass --chart with the release's chart")
    user = helm.user_values(release, ns) or {}
    shape = shape_of(helm.computed_values(release, ns))
    nodes = kube.list_nodes()
    pods = kube.list_pods(field_selector="status.phase!=Succeeded,status.phase!=Failed")
    free = free_npus(nodes, pods, shape)
    room: dict[str, int | None] = {}
    missing: list[str] = []
    if shape.volcano:
        podgroups = kube.list_podgroups()
        for q in sorted(set(shape.queues.values())):
            obj = kube.get_object(f"{QUEUES_PATH}/{q}")
            if obj is None:
                missing.append(q)
            room[q] = queue_room(obj, podgroups, shape.resource)
    return Context(user, shape, free, room, missing, int(rel.get("revision") or 0), chart)


def plan_scale(kube: KubeAPI, helm: ScaleHelm, release: str, ns: str, prefill: int | None, decode: int | None,
               ratio: str | None, chart_given: bool = False) -> tuple[Plan, Context]:
    """Read everything and decide (Refused / NotFound before any change)."""
    ctx = gather(kube, helm, release, ns, chart_given)
    band = parse_ratio(ratio, "--ratio") if ratio else None
    if band is None and ctx.shape.ratio:
        try:
            band = parse_ratio(ctx.shape.ratio, "value scaling.ratio")
        except errors.InvalidInput as e:
            raise Refused(str(e)) from None
    target = {"prefill": ctx.shape.instances["prefill"] if prefill is None else prefill,
              "decode": ctx.shape.instances["decode"] if decode is None else decode}
    plan = make_plan(release, ns, ctx.shape, target, band, ctx.free, ctx.room, ctx.queues_missing)
    plan.revision = ctx.revision
    if plan.ranktable == "configmap" and plan.steps:
        if any(s.remove for s in plan.steps):
            plan.notes.append("global ranktable: rewritten without the removed instances before an upgrade "
                              "removes them")
        plan.notes.append("global ranktable: rewritten after each upgrade (the last one only with --wait) once "
                          "every rings-config is completed and the restarted controller and coordinator have IPs")
    elif plan.ranktable == "clusterd" and plan.steps:
        plan.notes.append("global ranktable: ClusterD rebuilds it from the rings-config ConfigMaps")
    return plan, ctx


def _release_objects(kube: KubeAPI, ns: str, release: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from kubectl_ascend.ranktable import configmap_selector, pod_selector

    return (kube.list_configmaps(ns, configmap_selector(release)),
            kube.list_pods(ns, label_selector=pod_selector(release)))


def _wait_instances(kube: KubeAPI, ns: str, release: str, instances: dict[str, int], per_instance: dict[str, int],
                    seconds: float, report: Callable[[str], None]) -> None:
    """Until every pod of the release's prefill/decode instances is bound and Running, and no removed one is left."""
    from kubectl_ascend.gang import MINDIE_INDEX, MINDIE_ROLE
    from kubectl_ascend.ranktable import pod_selector

    def state(pods: list[dict[str, Any]]) -> str:
        waiting = []
        for r in ROLES:
            mine = [p for p in pods if (p["metadata"].get("labels") or {}).get(MINDIE_ROLE) == r]
            for i in range(instances[r]):
                pods_i = [p for p in mine if (p["metadata"].get("labels") or {}).get(MINDIE_INDEX) == str(i)
                          and not p["metadata"].get("deletionTimestamp")]
                up = [p for p in pods_i if (p.get("spec") or {}).get("nodeName")
                      and (p.get("status") or {}).get("phase") == "Running"]
                if len(up) < per_instance[r] or len(pods_i) != per_instance[r]:
                    waiting.append(f"{r}-{i} {len(up)}/{per_instance[r]} pods running")
            extra = [p for p in mine if str((p["metadata"].get("labels") or {}).get(MINDIE_INDEX, "")).isdigit()
                     and int(p["metadata"]["labels"][MINDIE_INDEX]) >= instances[r]]
            if extra:
                waiting.append(f"{len(extra)} pod(s) of removed {r} instances still there")
        return "; ".join(waiting)

    _observe_until(kube, ns, pod_selector(release), seconds, report, state)


def _observe_until(kube: KubeAPI, ns: str, selector: str, seconds: float, report: Callable[[str], None],
                   state: Callable[[list[dict[str, Any]]], str]) -> None:
    last = state(kube.list_pods(ns, label_selector=selector))
    if not last:
        return
    report(last)
    sources = {"pods": (f"/api/v1/namespaces/{ns}/pods", {"labelSelector": selector})}
    for snapshot in kube.observe("wait for the scaled instances", sources, seconds):
        now = state(snapshot["pods"])
        if not now:
            return
        if now != last:
            report(now)
            last = now
    raise errors.AscendError(f"timed out waiting for the instances: {last}")


def _rewrite_ranktable(kube: KubeAPI, ns: str, release: str, seconds: float, timeout_text: str,
                       report: Callable[[str], None]) -> str:
    from kubectl_ascend.mindie import wait_for_ranktables, write_global_ranktable

    result, cms = wait_for_ranktables(kube, ns, release, wait=True, seconds=seconds, timeout_text=timeout_text,
                                      report=lambda m: report(f"global ranktable: {m}"))
    return write_global_ranktable(kube, ns, result, cms, False)


def _drop_from_ranktable(kube: KubeAPI, ns: str, release: str, instances: dict[str, int]) -> str:
    """Rewrite the global ranktable for `instances` before the removed instances' pods go."""
    from kubectl_ascend.mindie import write_global_ranktable
    from kubectl_ascend.ranktable import build_global_ranktable

    cms, pods = _release_objects(kube, ns, release)
    kept_cms, kept_pods = without_instances(cms, pods, instances)
    result = build_global_ranktable(release, kept_cms, kept_pods)
    if not result.ready:
        raise Refused(f"the global ranktable of the remaining instances cannot be built ({result.message()}); "
                      "nothing was removed: fix that (kubectl ascend mindie ranktable "
                      f"{release} -n {ns} --wait) and rerun")
    return write_global_ranktable(kube, ns, result, cms, False)


def apply_plan(kube: KubeAPI, helm: ScaleHelm, plan: Plan, ctx: Context, *, chart: str | None, wait: bool,
               seconds: float, timeout_text: str, report: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run the plan's upgrades in order; returns one result row per step."""
    chart_ref = helm.prepare_chart(chart, "mindie-service")
    done: list[dict[str, Any]] = []
    for i, step in enumerate(plan.steps, 1):
        last = i == len(plan.steps)
        row: dict[str, Any] = {"step": i, "instances": step.instances}
        if any(step.remove.values()) and plan.ranktable == "configmap":
            row["ranktableBefore"] = _drop_from_ranktable(kube, plan.namespace, plan.release, step.instances)
            report(f"step {i}: global ranktable without {step.describe().split('(', 1)[1].rstrip(')')}: "
                   f"{row['ranktableBefore']}")
        rev = helm.install_or_upgrade(chart_ref, plan.release, plan.namespace,
                                      values_for(ctx.user_values, step.instances), timeout=timeout_text)
        row["revision"] = rev["revision"]
        report(f"step {i} of {len(plan.steps)}: revision {rev['revision']} {rev['status']}: {step.describe()}")
        if wait or not last:
            def waiting(msg: str, i: int = i) -> None:
                report(f"step {i}: waiting: {msg}")

            _wait_instances(kube, plan.namespace, plan.release, step.instances, ctx.shape.pods, seconds, waiting)
            if plan.ranktable == "configmap":
                row["ranktable"] = _rewrite_ranktable(kube, plan.namespace, plan.release, seconds, timeout_text,
                                                      waiting)
                report(f"step {i}: global ranktable {row['ranktable']}")
        done.append(row)
    return done


# -- --watch: an autoscaler's wish through the same checks -------------------

#: Keys of the wish ConfigMap `mindie-scale-<release>` that `mindie scale --watch` follows.
WISH_KEYS = ("prefill", "decode")
#: Key the watcher writes its answer to (one line: applied / refused and why).
WISH_STATUS = "status"
#: Seconds of one watch round (the watch is renewed until interrupted).
WATCH_ROUND = 3600.0


def wish_name(release: str) -> str:
    """The wish ConfigMap of a release: a planner (or a person) writes prefill/decode into it."""
    return f"mindie-scale-{release}"


def read_wish(cm: dict[str, Any] | None) -> tuple[dict[str, int] | None, str | None]:
    """(wanted counts, None) from the wish ConfigMap, or (None, why it is unusable)."""
    data = (cm or {}).get("data") or {}
    out: dict[str, int] = {}
    for k in WISH_KEYS:
        raw = str(data.get(k, "")).strip()
        if not raw.isdigit() or int(raw) < 1:
            return None, f"{k}: {raw!r} is not a whole number of instances, at least 1"
        out[k] = int(raw)
    return out, None


def watch(kube: KubeAPI, helm: ScaleHelm, release: str, ns: str, *, ratio: str | None, chart: str | None,
          seconds: float, timeout_text: str, report: Callable[[str], None],
          rounds: int | None = None) -> None:
    """Follow the wish ConfigMap and scale the release to each new wish, through plan_scale's checks.

    Creates the ConfigMap with the release's current counts when it is missing. Each wish
    that differs from the release's counts is planned (capacity, band) and, if it passes,
    applied and waited for; the outcome goes to the ConfigMap's `status` key and to
    `report`. A refused wish changes nothing and is not retried until the wish changes.
    """
    name = wish_name(release)
    ctx = gather(kube, helm, release, ns, bool(chart))
    if kube.get_configmap(ns, name) is None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": release,
                                                      "app.kubernetes.io/managed-by": "kubectl-ascend"}},
                "data": {**{k: str(ctx.shape.instances[k]) for k in WISH_KEYS},
                         WISH_STATUS: "created with the release's counts"}}
        kube.create_cluster_object(f"configmap {ns}/{name}", f"/api/v1/namespaces/{ns}/configmaps", body)
        report(f"created configmap {name} with prefill {ctx.shape.instances['prefill']}, "
               f"decode {ctx.shape.instances['decode']}")
    report(f"watching configmap {name} (keys prefill, decode); Ctrl-C stops")
    seen: tuple[int, int] | None = None
    source = {"wish": (f"/api/v1/namespaces/{ns}/configmaps", {"fieldSelector": f"metadata.name={name}"})}
    done = 0
    while rounds is None or done < rounds:
        done += 1
        for snap in kube.observe(f"watch configmap {name}", source, WATCH_ROUND):
            cm = next(iter(snap["wish"]), None)
            wish, why = read_wish(cm)
            if wish is None:
                key = (-1, -1)
                if seen != key:
                    seen = key
                    _answer(kube, ns, name, f"ignored: {why}", report)
                continue
            key = (wish["prefill"], wish["decode"])
            if key == seen:
                continue
            seen = key
            try:
                plan, pctx = plan_scale(kube, helm, release, ns, wish["prefill"], wish["decode"], ratio, bool(chart))
                if not plan.steps:
                    _answer(kube, ns, name, f"nothing to do: prefill {key[0]}, decode {key[1]}", report)
                    continue
                report(plan.text())
                rows = apply_plan(kube, helm, plan, pctx, chart=chart, wait=True, seconds=seconds,
                                  timeout_text=timeout_text, report=report)
                _answer(kube, ns, name, f"applied: prefill {key[0]}, decode {key[1]} (revision "
                        f"{rows[-1]['revision']})", report)
            except Refused as e:
                _answer(kube, ns, name, f"refused: {e}", report)
            except errors.AscendError as e:
                _answer(kube, ns, name, f"failed: {e}", report)


def _answer(kube: KubeAPI, ns: str, name: str, text: str, report: Callable[[str], None]) -> None:
    report(text)
    kube.patch_configmap_data(ns, name, {WISH_STATUS: text})
