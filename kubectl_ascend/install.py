"""`kubectl ascend install`: the plan (profile, namespaces, rendered chart) decided before any change,
the user values kept across upgrades, and what is applied beside the chart (namespaces, the default Queue)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from kubectl_ascend import errors
from kubectl_ascend.kubeapi import HelmAPI, KubeAPI
from kubectl_ascend.output import first_few
from kubectl_ascend.status import wait_ready
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
    return InstallPlan(profile, ref, release, namespace, helm.release(release, namespace), objects)


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


def ensure_default_queue(kube: KubeAPI, timeout: float = 60.0) -> bool:
    """Create Volcano's `default` Queue once its CRD serves (True if created, False if it existed).

    The chart cannot ship it: Helm 4 cannot map a custom resource whose CRD the same
    release creates. vc-scheduler would create it too, but only once it runs.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bool(kube.create_cluster_object("queue default", "/apis/scheduling.volcano.sh/v1beta1/queues",
                                                   DEFAULT_QUEUE))
        except errors.NotFound:  # the CRD is not established yet
            if time.monotonic() > deadline:
                raise errors.AscendError("the Volcano Queue CRD did not become available; "
                                         "check `kubectl get crd queues.scheduling.volcano.sh`") from None
            time.sleep(0.5)


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


def apply_plan(kube: KubeAPI, helm: HelmAPI, plan: InstallPlan, *, timeout: str, reset_values: bool,
               say: Callable[[str], None]) -> dict[str, Any]:
    """Create the missing namespaces, then install or upgrade the release; helm's result.

    Ctrl-C becomes errors.Interrupted naming the release and the namespaces already created.
    """
    created: list[str] = []
    try:
        for ns in create_missing_namespaces(kube, plan.profile.values, plan.namespace):
            created.append(ns)
            say(f"created namespace {ns}")
        return helm.install_or_upgrade(plan.chart_ref, plan.release, plan.namespace, plan.profile.values,
                                       timeout=timeout, reset_values=reset_values)
    except KeyboardInterrupt:
        raise errors.Interrupted(
            f"interrupted while helm was applying release {plan.release}: its state is unknown (see `helm status "
            f"{plan.release} -n {plan.namespace}`; rerun install to finish)"
            + (f"; namespaces created: {', '.join(created)}" if created else "")) from None


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
