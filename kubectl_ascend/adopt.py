"""Taking over a hand-installed MindCluster (`install --adopt`): the plan, decided from plain objects (pure
logic), then the survey and the take-over through the API (`survey`, `check_adoption`, `take_over`).

Facts this module works from:
- Helm installs an object that already exists only when it carries label
  `app.kubernetes.io/managed-by=Helm` and annotations `meta.helm.sh/release-name` /
  `meta.helm.sh/release-namespace` naming this release; otherwise it fails with "exists and
  cannot be imported into the current release" (helm/helm pkg/action/validate.go,
  `existingResourceConflict`, `checkOwnership`). Adopting an object = setting exactly those.
- Huawei's own take-over script sets the same three keys on the objects of its YAML
  (Ascend/mind-cluster v26.1.0 helm-deploy-tool/build/helm_tool.sh, `add_helm_meta`), and
  deletes the per-family device-plugin DaemonSets before 26.1's single one (`delete_old_device_plugin`).
- Some fields cannot change after creation ("field is immutable"): a workload's
  `spec.selector` (apps/v1 DaemonSet, Deployment, ReplicaSet, StatefulSet; a StatefulSet's
  serviceName and podManagementPolicy too), a binding's `roleRef`, a PriorityClass's
  `value`, a Service's `clusterIP`. Huawei's YAML selects pods by `name: ascend-device-plugin-ds`,
  `app: volcano-scheduler`, `app: controller-manager`; our charts by name + instance labels,
  so Helm could never patch those workloads: they are deleted and created again ("replace").
  A CRD's `scope` cannot change either, but deleting a CRD deletes every object of it: refused.
- Huawei's device-plugin DaemonSets in kube-system have per-family names that are not all
  the chart's (`ascend-device-plugin3-daemonset-310p`, `ascend-device-plugin2-daemonset-310`,
  `ascend-device-plugin-daemonset` without Volcano, …: component/ascend-device-plugin/build/
  ascendplugin-*.yaml at v26.0.0 and v26.1.0; the list in helm_tool.sh). Left running next to
  the chart's, two device plugins would advertise the same NPUs on a node: they are deleted ("remove").
- Huawei's RBAC objects have names our charts do not use either: Volcano's ClusterRoleBindings
  `volcano-scheduler-role` and `volcano-controllers-role` (component/ascend-for-volcano/build/
  volcano-v1.7.0.yaml, -v1.9.0.yaml, -v1.12.0.yaml), the device plugin's ServiceAccounts
  `ascend-device-plugin-sa[-910|-310|-310p|-npu]` (kube-system), ClusterRoles
  `pods-node-ascend-device-plugin-role[-…]` and ClusterRoleBindings
  `pods-node-ascend-device-plugin-rolebinding[-…]` (component/ascend-device-plugin/build/ascendplugin*.yaml,
  v26.0.0 and v26.1.0). Helm cannot adopt an object it does not render, and left behind they keep
  granting what the chart's own RBAC now grants: when the chart renders the component they served,
  they are deleted ("remove").
- Helm's server-side apply (what `install --adopt` runs, with --force-conflicts) only sets the fields
  the chart renders: a field of the live object the chart does not set stays, owned by its old manager
  (Kubernetes' structured-merge-diff: containers, volumes and volumeMounts are lists keyed by name or
  mountPath, a ConfigMap's data a map). An extra container, a hostPath volume, hostPID or a
  `privileged: true` the chart does not render would keep running under the release; a
  `metadata.ownerReferences` entry would stay too, and the garbage collector deletes an object whose
  owners are all gone. So the plan compares the live object with the rendered one (`drift`,
  `foreign_owners`): an object that differs is refused, or with --accept-drift deleted and created again
  from the chart (REPLACE: nothing of the live object is kept); an object whose only difference is an
  owner reference is adopted with its ownerReferences removed.
- The running release is read from image tags: `ascend-k8sdeviceplugin:v26.0.0`,
  `ascend-operator:v26.1.0-openeuler24.03`, `vc-scheduler:v1.7.0-v26.0.0` (Volcano version,
  then MindCluster's). Versions with major 1 are Volcano's; MindCluster's are 5.x and later.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from kubectl_ascend import errors
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.output import escape, first_few
from kubectl_ascend.wait import Snapshot, object_gone_sources, wait_until

if TYPE_CHECKING:
    from kubectl_ascend.install import InstallPlan

MANAGED_BY = "app.kubernetes.io/managed-by"
HELM = "Helm"
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"

ADOPT, REPLACE, REMOVE, REFUSE = "adopt", "replace", "remove", "refuse"
WORKLOADS = ("DaemonSet", "Deployment", "StatefulSet", "ReplicaSet")

#: Names of the device-plugin DaemonSets (namespace kube-system) in Huawei's YAML, 26.0.0 and 26.1.0
#: (Ascend/mind-cluster component/ascend-device-plugin/build/ascendplugin*.yaml; helm_tool.sh lists the same).
HUAWEI_DEVICE_PLUGINS = (
    "ascend-device-plugin-daemonset", "ascend-device-plugin-daemonset-910", "ascend-device-plugin-daemonset-npu",
    "ascend-device-plugin310p-daemonset", "ascend-device-plugin3-daemonset-310p",
    "ascend-device-plugin3-daemonset-310p-1usoc", "ascend-device-plugin2-daemonset",
    "ascend-device-plugin2-daemonset-310",
)
DEVICE_PLUGIN_NAMESPACE = "kube-system"

_RBAC_API = "rbac.authorization.k8s.io/v1"


def _stub(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


#: Huawei's RBAC objects under names the charts do not use, by the component whose chart renders
#: their replacement (module docstring: the upstream files at v26.0.0 and v26.1.0).
HUAWEI_RBAC: dict[str, tuple[dict[str, Any], ...]] = {
    "volcano": tuple(_stub(_RBAC_API, "ClusterRoleBinding", n)
                     for n in ("volcano-scheduler-role", "volcano-controllers-role")),
    "device-plugin": tuple(
        obj for suffix in ("", "-910", "-310", "-310p", "-npu") for obj in (
            _stub("v1", "ServiceAccount", f"ascend-device-plugin-sa{suffix}", DEVICE_PLUGIN_NAMESPACE),
            _stub(_RBAC_API, "ClusterRole", f"pods-node-ascend-device-plugin-role{suffix}"),
            _stub(_RBAC_API, "ClusterRoleBinding", f"pods-node-ascend-device-plugin-rolebinding{suffix}"))),
}


def _renders(rendered: Iterable[Mapping[str, Any]]) -> set[str]:
    """The components of HUAWEI_RBAC whose workloads the render has."""
    out = set()
    for o in rendered:
        name = str((o.get("metadata") or {}).get("name", ""))
        if o.get("kind") == "DaemonSet" and name.startswith("ascend-device-plugin"):
            out.add("device-plugin")
        if o.get("kind") == "Deployment" and name in ("volcano-scheduler", "volcano-controllers"):
            out.add("volcano")
    return out


def huawei_rbac(rendered: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Huawei's differently named RBAC objects to look up: those of the components the render replaces."""
    comps = _renders(rendered)
    return [obj for comp, objs in HUAWEI_RBAC.items() if comp in comps for obj in objs]

#: kind -> (REST resource name, namespaced) for the kinds our charts render; other kinds
#: get Kubernetes' regular plural (lower case + "s", "y" -> "ies") and count as namespaced.
KINDS: dict[str, tuple[str, bool]] = {
    "ConfigMap": ("configmaps", True), "Secret": ("secrets", True), "Service": ("services", True),
    "ServiceAccount": ("serviceaccounts", True), "Namespace": ("namespaces", False),
    "Role": ("roles", True), "RoleBinding": ("rolebindings", True),
    "ClusterRole": ("clusterroles", False), "ClusterRoleBinding": ("clusterrolebindings", False),
    "DaemonSet": ("daemonsets", True), "Deployment": ("deployments", True),
    "StatefulSet": ("statefulsets", True), "ReplicaSet": ("replicasets", True), "Job": ("jobs", True),
    "CustomResourceDefinition": ("customresourcedefinitions", False), "PriorityClass": ("priorityclasses", False),
    "NetworkPolicy": ("networkpolicies", True), "ServiceMonitor": ("servicemonitors", True),
    "PodMonitor": ("podmonitors", True), "PodDisruptionBudget": ("poddisruptionbudgets", True),
    "Queue": ("queues", False),
}


def _plural(kind: str) -> str:
    low = kind.lower()
    return low[:-1] + "ies" if low.endswith("y") else low + "s"


def api_path(obj: Mapping[str, Any], default_namespace: str) -> str:
    """The REST path of a rendered object (Helm puts namespaced objects without one in the release namespace)."""
    api_version, kind, meta = obj["apiVersion"], obj["kind"], obj.get("metadata") or {}
    plural, namespaced = KINDS.get(kind, (_plural(kind), True))
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = meta.get("namespace") or default_namespace
    return f"{base}/namespaces/{ns}/{plural}/{meta['name']}" if namespaced else f"{base}/{plural}/{meta['name']}"


def namespace_of(obj: Mapping[str, Any], default_namespace: str) -> str:
    kind = obj["kind"]
    if not KINDS.get(kind, ("", True))[1]:
        return ""
    return str((obj.get("metadata") or {}).get("namespace") or default_namespace)


@dataclass(frozen=True)
class Row:
    """One existing object the release would take over, and how."""

    kind: str
    namespace: str
    name: str
    action: str          # ADOPT, REPLACE or REFUSE
    reason: str
    path: str
    images: tuple[str, ...] = ()
    #: how the live object differs from the chart's (drift, foreign_owners), one line each
    drift: tuple[str, ...] = ()
    #: take_over removes metadata.ownerReferences with the adoption (accepted foreign owners)
    drop_owners: bool = False

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "action": self.action,
                "reason": self.reason, "drift": list(self.drift), "removeOwnerReferences": self.drop_owners}


def owner(live: Mapping[str, Any]) -> tuple[str, str] | None:
    """(release, namespace) a Helm release claims the object by, or None when no release does."""
    meta = live.get("metadata") or {}
    ann = meta.get("annotations") or {}
    if not ann.get(RELEASE_NAME):
        return None
    return str(ann[RELEASE_NAME]), str(ann.get(RELEASE_NAMESPACE) or "")


def owned_by(live: Mapping[str, Any], release: str, namespace: str) -> bool:
    """Helm's own test (checkOwnership): the label and both annotations name this release."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == HELM and owner(live) == (release, namespace)


def _selector(sel: Any) -> dict[str, Any]:
    sel = sel or {}
    return {"matchLabels": dict(sel.get("matchLabels") or {}), "matchExpressions": list(sel.get("matchExpressions") or [])}


def _show_selector(sel: Any) -> str:
    s = _selector(sel)
    parts = [f"{k}={v}" for k, v in sorted(s["matchLabels"].items())]
    parts += [f"{e.get('key')} {e.get('operator')} {e.get('values') or []}" for e in s["matchExpressions"]]
    return ",".join(parts) or "(empty)"


def immutable_changes(want: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The fields that differ between the chart's object and the live one and cannot be changed in place."""
    kind = want["kind"]
    ws, ls = want.get("spec") or {}, live.get("spec") or {}
    out = []
    if kind in WORKLOADS and _selector(ws.get("selector")) != _selector(ls.get("selector")):
        out.append(f"spec.selector {_show_selector(ls.get('selector'))} -> {_show_selector(ws.get('selector'))}")
    if kind == "StatefulSet":
        if (ws.get("serviceName") or "") != (ls.get("serviceName") or ""):
            out.append(f"spec.serviceName {ls.get('serviceName')!r} -> {ws.get('serviceName')!r}")
        if (ws.get("podManagementPolicy") or "OrderedReady") != (ls.get("podManagementPolicy") or "OrderedReady"):
            out.append(f"spec.podManagementPolicy {ls.get('podManagementPolicy')} -> {ws.get('podManagementPolicy')}")
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        wr, lr = want.get("roleRef") or {}, live.get("roleRef") or {}
        if (wr.get("kind"), wr.get("name")) != (lr.get("kind"), lr.get("name")):
            out.append(f"roleRef {lr.get('kind')}/{lr.get('name')} -> {wr.get('kind')}/{wr.get('name')}")
    if kind == "PriorityClass" and want.get("value") != live.get("value"):
        out.append(f"value {live.get('value')} -> {want.get('value')}")
    if kind == "Service" and ws.get("clusterIP") and ws.get("clusterIP") != ls.get("clusterIP"):
        out.append(f"spec.clusterIP {ls.get('clusterIP')} -> {ws.get('clusterIP')}")
    if kind == "CustomResourceDefinition" and ws.get("scope") != ls.get("scope"):
        out.append(f"spec.scope {ls.get('scope')} -> {ws.get('scope')}")
    return out


def images(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """Container and init-container images of a workload's pod template."""
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return tuple(str(c.get("image")) for key in ("initContainers", "containers")
                 for c in pod.get(key) or [] if c.get("image"))


def _pod(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def _by_name(items: Any) -> dict[str, Mapping[str, Any]]:
    return {str(i.get("name")): i for i in items or [] if isinstance(i, Mapping)}


def _privileged(c: Mapping[str, Any]) -> bool:
    return bool((c.get("securityContext") or {}).get("privileged"))


def _caps(c: Mapping[str, Any]) -> list[str]:
    return sorted(str(x) for x in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or [])


def _host_paths(pod: Mapping[str, Any]) -> dict[str, str]:
    return {str(v.get("name")): str((v.get("hostPath") or {}).get("path"))
            for v in pod.get("volumes") or [] if isinstance(v, Mapping) and v.get("hostPath")}


def drift(want: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """What of the live object Helm's apply of `want` would keep or change that matters for safety: for a
    workload's pod template the host namespaces, containers and init containers (extra ones, images,
    privileged, added capabilities) and hostPath volumes; for a ConfigMap or Secret the data keys the
    chart does not have (their names only). Names and values from the cluster are quoted with repr, so
    control characters print escaped. [] when nothing differs."""
    out: list[str] = []
    kind = want.get("kind")
    if kind in WORKLOADS:
        wp, lp = _pod(want), _pod(live)
        for key in ("hostPID", "hostNetwork", "hostIPC"):
            if bool(lp.get(key)) != bool(wp.get(key)):
                out.append(f"{key} {str(bool(lp.get(key))).lower()} (chart: {str(bool(wp.get(key))).lower()})")
        for key, what in (("initContainers", "init container"), ("containers", "container")):
            wc, lc = _by_name(wp.get(key)), _by_name(lp.get(key))
            for name, c in lc.items():
                if name not in wc:
                    out.append(f"extra {what} {name!r} (image {str(c.get('image'))!r}"
                               + (", privileged" if _privileged(c) else "")
                               + (f", capabilities {', '.join(_caps(c))}" if _caps(c) else "")
                               + ") the chart does not have")
                    continue
                w = wc[name]
                if c.get("image") != w.get("image"):
                    out.append(f"{what} {name!r} image {str(c.get('image'))!r} (chart: {str(w.get('image'))!r})")
                if _privileged(c) != _privileged(w):
                    out.append(f"{what} {name!r} privileged {str(_privileged(c)).lower()} "
                               f"(chart: {str(_privileged(w)).lower()})")
                if _caps(c) != _caps(w):
                    out.append(f"{what} {name!r} capabilities {_caps(c) or 'none'} (chart: {_caps(w) or 'none'})")
        wv, lv = _host_paths(wp), _host_paths(lp)
        for name, path in lv.items():
            if wv.get(name) != path:
                out.append(f"hostPath volume {name!r} path {path!r} (chart: {wv[name]!r})" if name in wv
                           else f"hostPath volume {name!r} path {path!r} the chart does not have")
    elif kind in ("ConfigMap", "Secret"):
        for key in ("data", "binaryData", "stringData"):
            extra = sorted(set(live.get(key) or {}) - set(want.get(key) or {}))
            if extra:
                out.append(f"{key} key(s) the chart does not have: {', '.join(repr(k) for k in extra)}")
    return out


def foreign_owners(want: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The live object's ownerReferences the chart does not render (ours render none), one line each."""
    wanted = {(r.get("kind"), r.get("name")) for r in (want.get("metadata") or {}).get("ownerReferences") or []}
    return [f"{'controller ' if r.get('controller') else ''}ownerReference to {str(r.get('kind'))} "
            f"{str(r.get('name'))!r} (uid {str(r.get('uid'))!r}): the garbage collector deletes this object "
            "once that owner is gone"
            for r in (live.get("metadata") or {}).get("ownerReferences") or []
            if isinstance(r, Mapping) and (r.get("kind"), r.get("name")) not in wanted]


def _drift_row(kind: str, found: list[str], owners: list[str], accept: bool) -> tuple[str, str, bool]:
    """(action, reason, drop_owners) of an object that could be adopted in place but differs from the chart."""
    what = "; ".join(found + owners)
    if not accept:
        return REFUSE, (f"differs from the chart where Helm's apply would keep the live object: {what}; remove "
                        "the differences by hand, or rerun with --adopt --accept-drift to "
                        + ("delete it and let Helm create the chart's" if found else "remove its ownerReferences")), False
    if found and kind != "CustomResourceDefinition":
        return REPLACE, (f"drift accepted ({what}): deleted and created again by Helm, so that nothing of the "
                         "live object is kept" + ("; its pods restart" if kind in WORKLOADS else "")), False
    return ADOPT, (f"drift accepted ({what}): ownerReferences removed, Helm ownership label and annotations "
                   "added; Helm then applies the chart's spec"), True


def _replace_reason(kind: str, changes: list[str]) -> str:
    what = "; ".join(changes)
    if kind in WORKLOADS:
        return (f"{what} (immutable): deleted (foreground: its pods stop first) and created again by Helm; "
                "its pods restart")
    return f"{what} (immutable): deleted and created again by Helm"


def plan(rendered: Iterable[Mapping[str, Any]], live: Mapping[str, Mapping[str, Any] | None], *,
         release: str, namespace: str, daemonsets: Iterable[Mapping[str, Any]] = (),
         accept_drift: bool = False) -> list[Row]:
    """A row per rendered object that exists without this release's ownership (in render order),
    then one per Huawei device-plugin DaemonSet the chart does not render and one per Huawei RBAC
    object under another name (`huawei_rbac`) of a component the chart renders (REMOVE).

    live: the API object at each rendered object's `api_path` and each `huawei_rbac` path (None or
    absent: it does not exist); daemonsets: the DaemonSets of kube-system. Objects this release owns
    are left to Helm. An object that would be adopted in place but differs from the chart (`drift`,
    `foreign_owners`) is refused, unless accept_drift (--accept-drift): then it is replaced, or adopted
    with its ownerReferences removed when they are its only difference.
    """
    rendered = list(rendered)
    rows = []
    for want in rendered:
        path = api_path(want, namespace)
        have = live.get(path)
        if have is None or owned_by(have, release, namespace):
            continue
        kind, name = str(want["kind"]), str(want["metadata"]["name"])
        ns = namespace_of(want, namespace)
        imgs = images(have) if kind in WORKLOADS else ()
        claimed = owner(have)
        changes = immutable_changes(want, have)
        if (have.get("metadata") or {}).get("deletionTimestamp"):
            action, reason = REFUSE, "is being deleted; wait until it is gone and run install again"
        elif claimed is not None and claimed != (release, namespace):
            action, reason = REFUSE, (f"belongs to Helm release {claimed[0]} in namespace {claimed[1] or '?'}; "
                                      f"uninstall that release, or install with --release {claimed[0]} "
                                      f"-n {claimed[1] or '?'} if it is this stack")
        elif kind == "CustomResourceDefinition" and changes:
            action, reason = REFUSE, ("; ".join(changes) + " cannot change, and replacing a CRD deletes every "
                                      "object of it; migrate it by hand")
        elif changes:
            action, reason = REPLACE, _replace_reason(kind, changes)
        else:
            action, reason = ADOPT, "Helm ownership label and annotations added; Helm then applies the chart's spec"
        found, owners, drop = [], [], False
        if action == ADOPT:
            found, owners = drift(want, have), foreign_owners(want, have)
            if found or owners:
                action, reason, drop = _drift_row(kind, found, owners, accept_drift)
        rows.append(Row(kind, ns, name, action, reason, path, imgs, tuple(found + owners), drop))
    ours = {api_path(o, namespace) for o in rendered}
    plugin_on = any(o.get("kind") == "DaemonSet" and str(o["metadata"]["name"]).startswith("ascend-device-plugin")
                    for o in rendered)
    for ds in daemonsets if plugin_on else ():
        meta = ds.get("metadata") or {}
        name = str(meta.get("name"))
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", **ds}
        path = api_path(ds, DEVICE_PLUGIN_NAMESPACE)
        if meta.get("namespace") != DEVICE_PLUGIN_NAMESPACE or name not in HUAWEI_DEVICE_PLUGINS or path in ours \
                or owned_by(ds, release, namespace):
            continue
        claimed = owner(ds)
        if claimed is not None and claimed != (release, namespace):
            action, reason = REFUSE, (f"a device plugin of Helm release {claimed[0]} in namespace "
                                      f"{claimed[1] or '?'}: it would run next to this release's; uninstall "
                                      "that release first")
        else:
            action, reason = REMOVE, ("Huawei's device plugin under a name the chart does not use: deleted "
                                      "(foreground), so that no node runs two device plugins for its NPUs")
        rows.append(Row("DaemonSet", DEVICE_PLUGIN_NAMESPACE, name, action, reason, path, images(ds)))
    for stub in huawei_rbac(rendered):
        path = api_path(stub, namespace)
        have = live.get(path)
        if have is None or path in ours or owned_by(have, release, namespace):
            continue
        kind, name = str(stub["kind"]), str(stub["metadata"]["name"])
        claimed = owner(have)
        if claimed is not None and claimed != (release, namespace):
            action, reason = REFUSE, (f"belongs to Helm release {claimed[0]} in namespace {claimed[1] or '?'}; "
                                      "uninstall that release first")
        else:
            action, reason = REMOVE, ("Huawei's RBAC under a name the chart does not use; the chart's own "
                                      "RBAC replaces it: deleted, so that no unused grant is left behind")
        rows.append(Row(kind, namespace_of(stub, namespace), name, action, reason, path))
    return rows


def adoption_patch(release: str, namespace: str, drop_owners: bool = False) -> dict[str, Any]:
    """The merge patch that makes Helm accept an existing object into the release (idempotent); with
    drop_owners it also removes metadata.ownerReferences (null deletes a key in a JSON merge patch)."""
    meta: dict[str, Any] = {"labels": {MANAGED_BY: HELM},
                            "annotations": {RELEASE_NAME: release, RELEASE_NAMESPACE: namespace}}
    if drop_owners:
        meta["ownerReferences"] = None
    return {"metadata": meta}


def refusal(rows: list[Row]) -> str | None:
    """Why nothing may be taken over (None when every row can be)."""
    bad = [r for r in rows if r.action == REFUSE]
    if not bad:
        return None
    return (f"cannot take over {len(bad)} existing object(s); nothing was changed: "
            + "; ".join(f"{r.ref} {escape(r.reason)}" for r in bad))  # reasons quote annotations


def needs_adopt(rows: list[Row], release: str) -> str:
    """The message of an install without --adopt that would meet these objects."""
    replaced = sum(r.action == REPLACE for r in rows)
    taken = [r for r in rows if r.action != REMOVE]
    removed = [r for r in rows if r.action == REMOVE and r.kind == "DaemonSet"]
    grants = [r for r in rows if r.action == REMOVE and r.kind != "DaemonSet"]
    text = (f"{len(taken)} object(s) of release {release} already exist without Helm's ownership (installed "
            f"by hand, e.g. from Huawei's YAML): " + ", ".join(r.ref for r in taken) + "; " if taken else "")
    if removed:
        text += ("Huawei's device plugin runs as " + ", ".join(r.ref for r in removed)
                 + ", next to which this release would start a second one; ")
    if grants:
        text += ("Huawei's RBAC exists under names the chart does not use: " + ", ".join(r.ref for r in grants)
                 + "; ")
    return (text + "nothing was changed. Rerun with --adopt to take them over"
            + (f" ({replaced} workload(s)/binding(s) are deleted and recreated: their pods restart)" if replaced else "")
            + (f" and delete {len(removed)} DaemonSet(s) the chart replaces" if removed else "")
            + (f"{' and' if not removed else ','} delete {len(grants)} RBAC object(s) the chart's own RBAC "
               "replaces" if grants else "")
            + "; see the plan first with --adopt --dry-run")


# -- the running MindCluster release ----------------------------------------------------------

_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)((?:-(?!v\d)[A-Za-z][A-Za-z0-9.]*)?)")


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none; a digest is ignored)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def tag_versions(image: str) -> tuple[str | None, str | None, str | None]:
    """(MindCluster version, Volcano version, OS suffix) an image's tag carries, e.g.

    ascend-k8sdeviceplugin:v26.1.0-openeuler24.03 -> ("26.1.0", None, "openeuler24.03");
    vc-scheduler:v1.7.0-v26.0.0 -> ("26.0.0", "v1.7.0", None); ascend-operator:latest -> (None, None, None).
    """
    mc = volcano = suffix = None
    for m in _VERSION.finditer(image_tag(image)):
        major, minor, patch, rest = m.groups()
        if major == "1":
            volcano = f"v{major}.{minor}.{patch}"
        else:
            mc = f"{major}.{minor}.{patch}"
            suffix = rest[1:] if rest else None
    return mc, volcano, suffix


@dataclass
class Versions:
    """What a set of workloads runs: MindCluster release(s) and Volcano version(s), each with its evidence."""

    mindcluster: dict[str, list[str]] = field(default_factory=dict)
    volcano: dict[str, list[str]] = field(default_factory=dict)
    os_suffixes: dict[str, list[str]] = field(default_factory=dict)
    unversioned: list[str] = field(default_factory=list)

    def single(self) -> str | None:
        return next(iter(self.mindcluster)) if len(self.mindcluster) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        return {"mindcluster": self.mindcluster, "volcano": self.volcano, "osSuffix": self.os_suffixes,
                "unversioned": self.unversioned}


def versions(workloads: Iterable[tuple[str, Iterable[str]]]) -> Versions:
    """Versions read from (workload reference, images) pairs."""
    out = Versions()
    for ref, imgs in workloads:
        for image in imgs:
            mc, vc, suffix = tag_versions(image)
            evidence = f"{ref}: {image}"
            if mc:
                out.mindcluster.setdefault(mc, []).append(evidence)
            if vc:
                out.volcano.setdefault(vc, []).append(evidence)
            if suffix:
                out.os_suffixes.setdefault(suffix, []).append(evidence)
            if not mc and not vc:
                out.unversioned.append(evidence)
    return out


def check_version(running: Versions, *, installing: str, requested: str | None, supported: Iterable[str]) -> str:
    """The running MindCluster release, after checking that adopting it would not change it.

    installing: the release the rendered chart runs; requested: --mindcluster-version (None if
    not given). Refuses (errors.Conflict) with what to do when the versions disagree or
    cannot be told; the caller has changed nothing yet.
    """
    supported = list(supported)
    if len(running.mindcluster) > 1:
        raise errors.Conflict("the workloads to take over run different MindCluster releases ("
                              + "; ".join(f"{v}: {', '.join(ev)}" for v, ev in sorted(running.mindcluster.items()))
                              + "); bring them to one release by hand first; nothing was changed")
    found = running.single()
    if found is None:
        if requested is None:
            raise errors.Conflict("cannot tell which MindCluster release the workloads to take over run (their "
                                  "image tags carry no version: " + ", ".join(running.unversioned)
                                  + f"); pass --mindcluster-version with the running release "
                                  f"({' or '.join(supported)}); nothing was changed")
        found = requested
    if found not in supported:
        raise errors.Conflict(f"the workloads to take over run MindCluster {found}, which this plugin has no "
                              f"profile for (it installs {', '.join(supported)}); upgrade them by hand or "
                              "remove them first; nothing was changed")
    if requested is not None and requested != found:
        raise errors.Conflict(f"--mindcluster-version {requested} does not match the running release {found}; "
                              f"adopt with --mindcluster-version {found}, then upgrade with a plain install; "
                              "nothing was changed")
    if installing != found:
        if requested == found:
            raise errors.Conflict(f"the chart renders MindCluster {installing} although --mindcluster-version "
                                  f"{found} was given: it cannot install {found}; nothing was changed")
        raise errors.Conflict(f"MindCluster {found} runs here but this install would run {installing}: adopting "
                              f"never changes the release. Pass --mindcluster-version {found} to take it over as "
                              f"it is (and upgrade later with a plain install); nothing was changed")
    return found


_plan = plan  # survey's parameter `plan` (an InstallPlan) shadows the function


# -- the take-over, through the API (install --adopt) ------------------------------------------

@dataclass
class Adoption:
    """What install would take over (Row per object) and the release running in them."""

    rows: list[Row]
    running: Versions
    version: str | None          # the running MindCluster release (None: no workload is taken over)
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"objects": [r.as_dict() for r in self.rows], "runningVersion": self.version,
                "runningImages": self.running.as_dict(), "notes": self.notes}


def survey(kube: KubeAPI, plan: InstallPlan, accept_drift: bool = False) -> list[Row]:
    """One GET per rendered object and per Huawei RBAC name (huawei_rbac), one list of DaemonSets:
    the rows of install --adopt (accept_drift: --accept-drift, see `plan`)."""
    live = {}
    for obj in [*plan.objects, *huawei_rbac(plan.objects)]:
        path = api_path(obj, plan.namespace)
        live[path] = kube.get_object(path)
    daemonsets = [d for d in kube.list_daemonsets() if (d.get("metadata") or {}).get("namespace")
                  == DEVICE_PLUGIN_NAMESPACE]
    return _plan(plan.objects, live, release=plan.release, namespace=plan.namespace, daemonsets=daemonsets,
                      accept_drift=accept_drift)


def rendered_version(plan: InstallPlan) -> Versions:
    """The MindCluster release (and Volcano version) the rendered chart's images run."""
    return versions((f"{o['kind']} {o['metadata']['name']}", images(o))
                          for o in plan.objects if o.get("kind") in WORKLOADS)


def check_adoption(rows: list[Row], plan: InstallPlan, *, allowed: bool, requested: str | None,
                   supported: list[str], default: str) -> Adoption:
    """Everything about taking over `rows` decided before any change; errors.Conflict when refused.

    allowed: --adopt was given; requested: --mindcluster-version; supported/default: the
    MindCluster releases this plugin has profiles for (charts/ascend-common/facts/mindcluster.json).
    """
    why = refusal(rows)
    if why:
        raise errors.Conflict(why)
    rendered = rendered_version(plan)
    installing = rendered.single() or requested or default
    if requested is not None and rendered.single() not in (None, requested):
        raise errors.Conflict(f"--mindcluster-version {requested}: the chart renders MindCluster {installing} "
                              f"(its images) and cannot install {requested}; nothing was changed")
    if rows and not allowed:
        raise errors.Conflict(needs_adopt(rows, plan.release))
    running = versions((r.ref, r.images) for r in rows if r.images)
    version = None
    if any(r.images for r in rows):
        version = check_version(running, installing=installing, requested=requested, supported=supported)
    notes = []
    if version:
        notes.append(f"running MindCluster release: {version} (from the image tags of "
                     f"{sum(bool(r.images) for r in rows)} workload(s))")
    ran, wants = set(running.volcano), set(rendered.volcano)
    if ran and wants and ran != wants:
        notes.append(f"Volcano {', '.join(sorted(ran))} runs here and the chart installs {', '.join(sorted(wants))}: "
                     "its CRDs and RBAC change with it")
    return Adoption(rows, running, version, notes)


#: How long a replaced object may take to disappear (foreground deletion waits for its pods).
REPLACE_TIMEOUT = 180.0


def take_over(kube: KubeAPI, adoption: Adoption, release: str, namespace: str, *,
              say: Callable[[str], None], timeout: float = REPLACE_TIMEOUT) -> None:
    """Give the ADOPT rows Helm's ownership metadata (and remove the ownerReferences of those whose foreign
    owners were accepted), delete the REPLACE and REMOVE rows and wait until they are gone.

    Idempotent: a rerun finds adopted objects owned and deleted ones absent. Ctrl-C or a
    timeout says what was done; `install --adopt` again finishes the job.
    """
    done: list[str] = []
    try:
        for r in adoption.rows:
            if r.action == ADOPT:
                kube.patch_object(r.path, adoption_patch(release, namespace, r.drop_owners))
                done.append(f"adopted {r.ref}")
                say(f"adopted {r.ref}" + (" (ownerReferences removed)" if r.drop_owners else ""))
        gone = [r for r in adoption.rows if r.action in (REPLACE, REMOVE)]

        def still(snap: Snapshot) -> None:
            gone[:] = [r for r in gone if snap.get(r.path)]

        for r in gone:
            kube.delete_object(r.path, "Foreground")
            done.append(f"deleting {r.ref}")
        if gone and wait_until(kube, "wait for the replaced objects to be deleted",
                               object_gone_sources([r.path for r in gone]),
                               lambda snap: not any(snap.values()), timeout, progress=still) is None:
            raise errors.AscendError(
                f"still being deleted after {timeout:.0f} s: {', '.join(r.ref for r in gone)} (check its pods "
                f"and finalizers); release {release} was not installed yet: run install --adopt again "
                "once they are gone")
        for r in adoption.rows:
            if r.action in (REPLACE, REMOVE):
                say(f"deleted {r.ref}" + (" (Helm creates it again)" if r.action == REPLACE else ""))
    except KeyboardInterrupt:
        raise errors.Interrupted("interrupted while taking over objects"
                                 + (f" (done: {first_few(done)})" if done else "")
                                 + f"; release {release} was not installed: run install --adopt again") from None
