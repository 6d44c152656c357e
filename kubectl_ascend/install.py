"""`kubectl ascend install`: the plan (profile, namespaces, rendered chart) decided before any change,
the user values kept across upgrades, and what is applied beside the chart (namespaces, the default Queue)."""
from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kubectl_ascend import errors
# install --adopt's survey and take-over live in adopt.py; these names stay importable from here
from kubectl_ascend.adopt import REPLACE_TIMEOUT as REPLACE_TIMEOUT, Adoption as Adoption, \
    check_adoption as check_adoption, rendered_version as rendered_version, survey as survey, take_over as take_over
from kubectl_ascend.kubeapi import HelmAPI, KubeAPI
from kubectl_ascend.output import first_few
from kubectl_ascend.status import wait_ready
from kubectl_ascend.wait import Snapshot, wait_until
from kubectl_ascend.releases import Release
from kubectl_ascend.profile import CLUSTERD, DP, NODED, NPU_EXPORTER, OPERATOR, RUNTIME, VOLCANO, Profile, decide, \
    deep_merge, enabled

DEFAULT_RELEASE = "ascend-stack"
DEFAULT_NAMESPACE = "mindx-dl"
#: kinds of the chart's objects that have no namespace
CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace", "Queue", "PriorityClass")
CRDS = ("jobs.batch.volcano.sh", "commands.bus.volcano.sh", "podgroups.scheduling.volcano.sh",
        "queues.scheduling.volcano.sh", "numatopologies.nodeinfo.volcano.sh", "ascendjobs.mindxdl.gitee.com")


#: (values key of the component, its default namespace)
COMPONENT_NAMESPACES = (("ascend-volcano", "volcano-system"), ("ascend-operator", "mindx-dl"))
#: optional components (off by default): (values key, key of a namespace, its default namespace)
OPTIONAL_NAMESPACES = (("ascend-clusterd", "namespace", "mindx-dl"),
                       ("ascend-clusterd", "clusterInfoNamespace", "cluster-system"),
                       ("ascend-noded", "namespace", "mindx-dl"), ("ascend-npu-exporter", "namespace", "npu-exporter"))


def _component_namespaces(values: dict[str, Any]) -> list[str]:
    """Namespaces of the enabled components, in order, without duplicates."""
    out = [(values.get(key) or {}).get("namespace") or default
           for key, default in COMPONENT_NAMESPACES if enabled(values, key)]
    out += [(values.get(key) or {}).get(field) or default
            for key, field, default in OPTIONAL_NAMESPACES if enabled(values, key, default=False)]
    return list(dict.fromkeys(out))


def adopt_existing_namespaces(kube: KubeAPI, profile: Profile, release: str, namespace: str) -> None:
    """Namespaces made by hand (the old runbook) cannot be adopted by Helm: reuse them instead.

    When a component namespace exists without this release's Helm ownership, the umbrella
    must not template it (namespaces.create=false); the missing ones are then created by
    `create_missing_namespaces` right before the install.
    """
    if (profile.values.get("namespaces") or {}).get("create") is False:
        return
    foreign = []
    for ns in _component_namespaces(profile.values):
        if ns == namespace:
            continue
        obj = kube.get_namespace(ns)
        owner = ((obj or {}).get("metadata", {}).get("annotations") or {}).get("meta.helm.sh/release-name")
        if obj is not None and owner != release:
            foreign.append(ns)
    if foreign:
        profile.values.setdefault("namespaces", {})["create"] = False
        profile.decisions.append(f"namespace(s) {', '.join(foreign)} already exist outside this release: "
                                 "reusing them (namespaces.create=false)")


def create_missing_namespaces(kube: KubeAPI, values: dict[str, Any], release_ns: str) -> list[str]:
    """Create the release namespace, and with namespaces.create=false every component namespace, if missing.

    They get `pod-security.kubernetes.io/enforce: privileged`: the components mount host
    paths (logs, driver, device-plugin sockets), which any stricter Pod Security level
    rejects. (`helm --create-namespace` would create the release namespace without it.)
    """
    wanted = [release_ns]
    if (values.get("namespaces") or {}).get("create") is False:
        wanted += _component_namespaces(values)
    created = []
    for ns in dict.fromkeys(wanted):
        if kube.get_namespace(ns) is None and kube.create_cluster_object(f"namespace {ns}", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}):
            created.append(ns)
    return created


@dataclass
class InstallPlan:
    profile: Profile
    chart_ref: str
    release: str
    namespace: str
    existing: dict[str, Any] | None
    objects: list[dict[str, Any]]
    #: values of a first step without mindie-service, when the render has custom resources
    #: whose CRDs this same release creates (see first_step); None: one step
    first_values: dict[str, Any] | None = None
    #: the CRDs the first step creates and the second needs
    first_creates: list[str] = field(default_factory=list)

    def object_rows(self) -> list[dict[str, Any]]:
        """kind, namespace ("" for cluster-scoped kinds) and name of each rendered object, in order."""
        return [{"kind": o.get("kind"), "namespace": (o.get("metadata") or {}).get(
                    "namespace", self.namespace if o.get("kind") not in CLUSTER_SCOPED else ""),
                 "name": o["metadata"]["name"]} for o in self.objects if o]


def plan_install(kube: KubeAPI, helm: HelmAPI, *, chart: str | None, release: str, namespace: str,
                 user_values: dict[str, Any], mindcluster: Release | None = None) -> InstallPlan:
    """Everything is decided and validated (chart renders with these values) before any change.

    mindcluster: the MindCluster release to install (releases.choose); None is the default one."""
    profile = decide(kube.list_nodes(), user_values, mindcluster)
    adopt_existing_namespaces(kube, profile, release, namespace)
    ref = helm.prepare_chart(chart)
    # render first: a schema violation or a failed validation stops us before anything is applied
    objects = helm.template(ref, release, namespace, profile.values)
    plan = InstallPlan(profile, ref, release, namespace, helm.release(release, namespace), objects)
    pending = unmappable(objects, established_crds(kube))
    if pending:
        plan.first_values, plan.first_creates = first_step(profile.values, pending)
        profile.decisions.append(
            f"two steps: mindie-service uses {first_few(sorted({p.kind for p in pending}))} whose CRDs "
            f"({', '.join(plan.first_creates)}) this release creates, and Helm cannot map a kind before its "
            "CRD exists: the stack first, then mindie-service")
    return plan


@dataclass(frozen=True)
class Pending:
    """A rendered custom resource whose CRD the same render creates and the cluster does not serve yet."""
    kind: str
    name: str
    crd: str
    part_of: str


def established_crds(kube: KubeAPI) -> set[str]:
    """Names of the cluster's CRDs whose Established condition is True."""
    return established(kube.list_crds())


def established(crds: list[dict[str, Any]]) -> set[str]:
    """Names of the CRDs among `crds` whose Established condition is True."""
    return {c["metadata"]["name"] for c in crds
            if any(x.get("type") == "Established" and x.get("status") == "True"
                   for x in (c.get("status") or {}).get("conditions") or [])}


#: The CRD collection, as `wait_until` watches it.
CRD_SOURCE: dict[str, tuple[str, dict[str, Any]]] = {"crds": ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {})}


def unmappable(objects: list[dict[str, Any]], established: set[str]) -> list[Pending]:
    """Rendered objects Helm cannot map in this install: their kind's CRD is in the same render and not
    established in the cluster. Hooks count too: Helm maps every kind of the release, hooks included,
    before it creates anything (charts/ascend-volcano README, "default Queue")."""
    rendered: dict[tuple[str, str], str] = {}
    for o in objects:
        if o.get("kind") == "CustomResourceDefinition":
            spec = o.get("spec") or {}
            rendered[(str(spec.get("group")), str((spec.get("names") or {}).get("kind")))] = o["metadata"]["name"]
    out = []
    for o in objects:
        meta = o.get("metadata") or {}
        crd = rendered.get((str(o.get("apiVersion", "")).rpartition("/")[0], str(o.get("kind"))))
        if crd and crd not in established:
            out.append(Pending(str(o["kind"]), str(meta.get("name")), crd,
                               str((meta.get("labels") or {}).get("app.kubernetes.io/part-of", ""))))
    return out


def first_step(values: dict[str, Any], pending: list[Pending]) -> tuple[dict[str, Any], list[str]]:
    """(values of the first step, the CRDs it creates): the stack without mindie-service, whose Volcano
    PodGroups or Jobs are the only custom resources of the umbrella next to their CRDs. Anything else
    that needs a CRD of the same render is refused before any change."""
    other = [p for p in pending if p.part_of != "mindie-service"]
    if other:
        raise errors.InvalidInput(
            "cannot install in one step: " + first_few([f"{p.kind} {p.name}" for p in other])
            + f" need(s) CRDs this release creates ({', '.join(sorted({p.crd for p in other}))}) and Helm "
            "cannot map them before the CRDs exist; install without them first (e.g. "
            "ascend-volcano.defaultQueue.create=false: install creates the default Queue itself), "
            "then add them with a second install")
    first = copy.deepcopy(values)
    first.setdefault("mindie-service", {})["enabled"] = False
    return first, sorted({p.crd for p in pending})


def wait_established(kube: KubeAPI, names: list[str], timeout: float = 60.0) -> None:
    """Until every CRD in names is Established (the first step of a two-step install)."""
    missing = sorted(set(names))

    def done(snap: Snapshot) -> bool:
        missing[:] = sorted(set(names) - established(snap["crds"]))
        return not missing

    if wait_until(kube, "wait for CRDs to be established", CRD_SOURCE, done, timeout) is None:
        raise errors.AscendError(f"CRDs not established after {timeout:.0f}s: {', '.join(missing)}; "
                                 "check `kubectl get crd`, then rerun install")


#: Where install keeps the user's own -f/--set values inside the release (a JSON string under
#: `global`, which every chart of the stack accepts), so a rerun can tell them from the profile.
USER_VALUES_KEY = "kubectlAscendUserValues"


def previous_user_values(release_values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The -f/--set values of the installed revision; None if there is no release or no record of them."""
    if release_values is None:
        return None
    raw = (release_values.get("global") or {}).get(USER_VALUES_KEY) if isinstance(
        release_values.get("global"), dict) else None
    if not isinstance(raw, str):
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def with_user_record(user: dict[str, Any]) -> dict[str, Any]:
    """user plus the record of itself that the next install reads back."""
    return deep_merge(user, {"global": {USER_VALUES_KEY: json.dumps(user, sort_keys=True)}})


def value_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the leaves: {"a": {"b": 1}} -> ["a.b"]."""
    out: list[str] = []
    for k, v in values.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += value_keys(v, path + ".")
        else:
            out.append(path)
    return out


def user_values(installed: dict[str, Any] | None, given: dict[str, Any], reset: bool) -> tuple[dict[str, Any], str]:
    """The -f/--set values this install uses, and the line that says where they come from.

    installed: the installed release's values (None: no release). On an upgrade the values
    recorded by the previous install are kept and `given` goes on top, unless `reset`
    (--reset-values) or the release has no record of them (made by helm or an older plugin).
    """
    previous = previous_user_values(installed)
    if installed is None:
        return given, "user values: " + (first_few(value_keys(given)) if given else "none") + " (new release)"
    if reset:
        return given, ("user values: earlier -f/--set values dropped (--reset-values); now "
                       + (first_few(value_keys(given)) if given else "none"))
    if previous is None:
        return given, ("user values: the installed release has no record of its -f/--set values (made by "
                       "helm or an older plugin); using only this run's: " + (first_few(value_keys(given)) or "none"))
    return deep_merge(previous, given), (
        "user values: kept from the installed release (--reset-values drops them): "
        + (first_few(value_keys(previous)) or "none")
        + (f"; this run adds/overrides: {first_few(value_keys(given))}" if given else ""))


DEFAULT_QUEUE = {
    "apiVersion": "scheduling.volcano.sh/v1beta1",
    "kind": "Queue",
    "metadata": {"name": "default", "labels": {"app.kubernetes.io/managed-by": "kubectl-ascend"}},
    "spec": {"weight": 1, "reclaimable": True},
}


#: The CRD of Volcano's queues (a served, Established CRD is what the default Queue waits for).
QUEUE_CRD = "queues.scheduling.volcano.sh"


def ensure_default_queue(kube: KubeAPI, timeout: float = 60.0) -> bool:
    """Create Volcano's `default` Queue once its CRD is established (True if created, False if it existed).

    The chart cannot ship it: Helm 4 cannot map a custom resource whose CRD the same
    release creates. vc-scheduler would create it too, but only once it runs.
    """
    if wait_until(kube, "wait for the Volcano Queue CRD", CRD_SOURCE,
                  lambda snap: QUEUE_CRD in established(snap["crds"]), timeout) is None:
        raise errors.AscendError("the Volcano Queue CRD did not become available; "
                                 f"check `kubectl get crd {QUEUE_CRD}`")
    return bool(kube.create_cluster_object("queue default", "/apis/scheduling.volcano.sh/v1beta1/queues",
                                           DEFAULT_QUEUE))


def expected_components(values: dict[str, Any]) -> list[str]:
    out = []
    if enabled(values, DP):
        out.append("device-plugin")
    if enabled(values, VOLCANO):
        out += ["volcano-scheduler", "volcano-controllers"]
    if enabled(values, OPERATOR):
        out.append("ascend-operator")
    if enabled(values, RUNTIME, default=False):
        out.append("docker-runtime")
    out += [label for key, label in ((CLUSTERD, "clusterd"), (NODED, "noded"), (NPU_EXPORTER, "npu-exporter"))
            if enabled(values, key, default=False)]
    return out


#: helm's server-side apply conflict, one per field: `conflict with "MANAGER" using v1: .data.hccl.json`
_CONFLICT_FIELD = re.compile(r'conflict with \\?"[^"\\]*\\?" using [\w./-]+: (\.[\w.-]+)')
#: applies tried when only the operator's ranktable field conflicts (see only_ranktable_conflicts)
RANKTABLE_RACE_ATTEMPTS = 5


def only_ranktable_conflicts(e: errors.HelmError) -> bool:
    """helm failed only because the Ascend Operator rewrote a rings-config-* ranktable between helm's
    render and its apply. mindie-service keeps the live hccl.json through `lookup` (its value is the
    operator's), so the render is right a moment later; any other conflicting field is a real one."""
    fields = _CONFLICT_FIELD.findall(str(e))
    return bool(fields) and "rings-config-" in str(e) and all(f == ".data.hccl.json" for f in fields)


def _install_or_upgrade(helm: HelmAPI, plan: InstallPlan, values: dict[str, Any], *, timeout: str,
                        reset_values: bool, force_conflicts: bool, say: Callable[[str], None]) -> dict[str, Any]:
    attempt = 1
    while True:
        try:
            return helm.install_or_upgrade(plan.chart_ref, plan.release, plan.namespace, values,
                                           timeout=timeout, reset_values=reset_values,
                                           force_conflicts=force_conflicts)
        except errors.HelmError as e:
            if attempt == RANKTABLE_RACE_ATTEMPTS or not only_ranktable_conflicts(e):
                raise
        attempt += 1
        say(f"the Ascend Operator rewrote a ranktable ConfigMap while helm applied; applying again "
            f"(attempt {attempt} of {RANKTABLE_RACE_ATTEMPTS})")
        time.sleep(1)


def apply_plan(kube: KubeAPI, helm: HelmAPI, plan: InstallPlan, *, timeout: str, reset_values: bool,
               say: Callable[[str], None], force_conflicts: bool = False) -> dict[str, Any]:
    """Create the missing namespaces, then install or upgrade the release; helm's result.

    force_conflicts (install --adopt): Helm's server-side apply takes over the fields that
    `kubectl apply` of the adopted objects owns (without it Helm 4 stops on "conflict with
    kubectl-client-side-apply").

    Ctrl-C becomes errors.Interrupted naming the release and the namespaces already created.
    """
    created: list[str] = []
    try:
        for ns in create_missing_namespaces(kube, plan.profile.values, plan.namespace):
            created.append(ns)
            say(f"created namespace {ns}")
        if plan.first_values is not None:
            first = _install_or_upgrade(helm, plan, plan.first_values, timeout=timeout,
                                        reset_values=reset_values, force_conflicts=force_conflicts, say=say)
            say(f"step 1 of 2: release {plan.release} revision {first['revision']} without mindie-service; "
                f"waiting for {', '.join(plan.first_creates)}")
            wait_established(kube, plan.first_creates)
            say("step 2 of 2: mindie-service")
        return _install_or_upgrade(helm, plan, plan.profile.values, timeout=timeout, reset_values=reset_values,
                                   force_conflicts=force_conflicts, say=say)
    except KeyboardInterrupt:
        raise errors.Interrupted(
            f"interrupted while helm was applying release {plan.release}: {interrupted_release_state(helm, plan)}"
            + (f"; namespaces created: {', '.join(created)}" if created else "")) from None


def interrupted_release_state(helm: HelmAPI, plan: InstallPlan) -> str:
    """What Ctrl-C during helm left, from one `helm list`, and the command that recovers from it.

    helm cancels on SIGINT and records the revision it was applying as `failed` (upgrade and
    install alike, `Release.SetStatus(StatusFailed, ...)` in helm's action package); killed
    harder it stays `pending-*`, which blocks every later upgrade until rolled back.
    """
    r, ns = plan.release, plan.namespace
    try:
        rel = helm.release(r, ns)
    except (errors.AscendError, KeyboardInterrupt):
        rel = {"status": "unknown"}
    if rel is None:
        return "helm stopped before recording it (nothing to roll back); rerun install to apply it"
    status, rev = str(rel.get("status")), rel.get("revision")
    where = f"revision {rev} is `{status}`" if rev else f"its state is `{status}`"
    if status == "deployed":
        return f"{where} (helm finished first); check it with `kubectl ascend status`"
    if status == "failed" and rev and int(rev) > 1:
        return (f"{where}, half applied; rerun install to apply it again, or go back to the last working revision "
                f"with `helm rollback {r} -n {ns}`")
    if status == "failed":
        return f"{where}, half applied; rerun install to apply it again, or remove it with `helm uninstall {r} -n {ns}`"
    if status.startswith("pending-"):
        undo = f"helm rollback {r} -n {ns}" if rev and int(rev) > 1 else f"helm uninstall {r} -n {ns}"
        return f"{where} and helm refuses any other change until `{undo}`; then rerun install"
    return f"see `helm status {r} -n {ns}`; rerun install to finish"


def finish(kube: KubeAPI, plan: InstallPlan, revision: Any, *, wait: bool, seconds: float,
           say: Callable[[str], None], report: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    """After helm: the default Queue when Volcano is on, and with `wait` every component rolled out
    (`report` gets each change); the component rows ([] without `wait`).

    Ctrl-C becomes errors.Interrupted saying what is applied and what is not ready yet.
    """
    last: list[dict[str, Any]] = []

    def seen(rows: list[dict[str, Any]]) -> None:
        last[:] = rows
        report(rows)

    try:
        if enabled(plan.profile.values, VOLCANO) and ensure_default_queue(kube):
            say("created Volcano queue 'default'")
        if not wait:
            return []
        rows = wait_ready(kube, expected_components(plan.profile.values), seconds, seen)
        say("all components ready")
        return rows
    except KeyboardInterrupt:
        pending = [f"{r['name']} {r['ready']}/{r['desired']}" for r in last if not r["rolledOut"]]
        raise errors.Interrupted(
            f"interrupted while waiting: release {plan.release} revision {revision} is applied"
            + (f"; not ready yet: {first_few(pending)}" if pending else "")
            + "; check with `kubectl ascend status`") from None
