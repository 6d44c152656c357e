"""install --adopt's plan without a cluster (kubectl_ascend.adopt, install.check_adoption, install.take_over).

Scenarios:
- REST paths of rendered objects (core, apps, CRD, cluster-scoped, a kind outside the table);
- the chart's default render (golden file) against the Huawei 26.0.0 YAML the e2e test applies:
  same-named objects are adopted, the workloads (other selectors) replaced, Huawei's 310P device
  plugin (another name) removed, nothing else listed; a device plugin under Huawei's names is
  removed only when the render has a device plugin, is in kube-system and no other release owns it;
- Huawei's RBAC under other names (volcano-scheduler-role, the per-family device-plugin
  ServiceAccounts, ClusterRoles and bindings) removed only when the render has the component,
  refused when another release owns it, named in the message without --adopt;
- ownership: this release's objects are left to Helm, another release's refused by name, an
  object being deleted refused, a CRD whose scope differs refused, a binding's roleRef replaced,
  a label without the annotations adopted;
- the adoption patch is Helm's rule and idempotent;
- versions from image tags (OS suffix, Volcano-then-MindCluster, digests, registries with ports);
- the version check: equal passes; mixed, unknown, unsupported and different releases refused,
  --mindcluster-version accepted only when it is the running release and the chart renders it;
- drift (issue 22): an object that could be adopted in place but differs from the chart where Helm's
  apply keeps the live object (an extra privileged container with hostPath / and hostPID, another image,
  privileged, capabilities, an extra init container, hostNetwork, extra ConfigMap keys, a foreign
  ownerReference) is refused with each difference named (control characters escaped); with
  --accept-drift it is replaced, or adopted with its ownerReferences removed when that is its only
  difference; the unchanged chart object is adopted as before;
- install without --adopt refused with the list and the hint; take_over patches, deletes with
  foreground propagation, waits, and says what it did when a deletion does not finish.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_ascend import adopt, errors, install
from kubectl_ascend.profile import Profile, facts_from_nodes

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "chart" / "golden" / "stack-defaults.yaml"
HUAWEI = ROOT / "tests" / "e2e" / "data" / "huawei-v26.0.0"
RELEASE, NS = "mindcluster", "mindx-dl"   # the golden render's release name; the plugin's default namespace


def rendered() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(GOLDEN.read_text()) if d]


def huawei() -> dict[str, dict[str, Any]]:
    """Huawei's objects by REST path, as the API would return them."""
    out = {}
    for f in sorted(HUAWEI.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d:
                out[adopt.api_path(d, "default")] = d
    return out


def huawei_daemonsets() -> list[dict[str, Any]]:
    return [d for d in huawei().values() if d["kind"] == "DaemonSet"]


def rows_by_ref(rows: list[adopt.Row]) -> dict[str, str]:
    return {r.ref: r.action for r in rows}


def test_api_paths():
    assert adopt.api_path({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}, "ns") == \
        "/api/v1/namespaces/ns/serviceaccounts/a"
    assert adopt.api_path({"apiVersion": "apps/v1", "kind": "DaemonSet",
                           "metadata": {"name": "d", "namespace": "kube-system"}}, "ns") == \
        "/apis/apps/v1/namespaces/kube-system/daemonsets/d"
    assert adopt.api_path({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                           "metadata": {"name": "queues.scheduling.volcano.sh"}}, "ns") == \
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/queues.scheduling.volcano.sh"
    assert adopt.api_path({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                           "metadata": {"name": "r", "namespace": "ignored"}}, "ns") == \
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/r"
    assert adopt.api_path({"apiVersion": "x.io/v1", "kind": "Policy", "metadata": {"name": "p"}}, "ns") == \
        "/apis/x.io/v1/namespaces/ns/policies/p"


def test_huawei_260_stack_against_the_default_render():
    rows = adopt.plan(rendered(), huawei(), release=RELEASE, namespace=NS, daemonsets=huawei_daemonsets())
    assert rows_by_ref(rows) == {
        "ServiceAccount mindx-dl/ascend-operator-manager": "adopt",
        "ServiceAccount volcano-system/volcano-controllers": "adopt",
        "ServiceAccount volcano-system/volcano-scheduler": "adopt",
        "ConfigMap volcano-system/volcano-scheduler-configmap": "adopt",
        "CustomResourceDefinition ascendjobs.mindxdl.gitee.com": "adopt",
        "CustomResourceDefinition commands.bus.volcano.sh": "adopt",
        "CustomResourceDefinition jobs.batch.volcano.sh": "adopt",
        "CustomResourceDefinition numatopologies.nodeinfo.volcano.sh": "adopt",
        "CustomResourceDefinition podgroups.scheduling.volcano.sh": "adopt",
        "CustomResourceDefinition queues.scheduling.volcano.sh": "adopt",
        "ClusterRole ascend-operator-manager-role": "adopt",
        "ClusterRole volcano-controllers": "adopt",
        "ClusterRole volcano-scheduler": "adopt",
        "ClusterRoleBinding ascend-operator-manager-rolebinding": "adopt",
        "Namespace volcano-system": "adopt",
        "DaemonSet kube-system/ascend-device-plugin-daemonset-910": "replace",
        "Deployment mindx-dl/ascend-operator-manager": "replace",
        "Deployment volcano-system/volcano-controllers": "replace",
        "Deployment volcano-system/volcano-scheduler": "replace",
        "DaemonSet kube-system/ascend-device-plugin3-daemonset-310p": "remove",
        # Huawei's RBAC under names the chart does not use (volcano-v1.7.0.yaml; ascendplugin-volcano.yaml,
        # ascendplugin-310P-volcano.yaml at v26.0.0): left behind they would keep their grants
        "ClusterRoleBinding volcano-scheduler-role": "remove",
        "ClusterRoleBinding volcano-controllers-role": "remove",
        "ServiceAccount kube-system/ascend-device-plugin-sa-910": "remove",
        "ClusterRole pods-node-ascend-device-plugin-role-910": "remove",
        "ClusterRoleBinding pods-node-ascend-device-plugin-rolebinding-910": "remove",
        "ServiceAccount kube-system/ascend-device-plugin-sa-310p": "remove",
        "ClusterRole pods-node-ascend-device-plugin-role-310p": "remove",
        "ClusterRoleBinding pods-node-ascend-device-plugin-rolebinding-310p": "remove",
    }
    dp = next(r for r in rows if r.ref == "DaemonSet kube-system/ascend-device-plugin3-daemonset-310p")
    assert dp.reason.startswith("Huawei's device plugin under a name the chart does not use")
    assert rows[-1].reason.startswith("Huawei's RBAC under a name the chart does not use")
    assert rows[-1].path == ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/"
                             "pods-node-ascend-device-plugin-rolebinding-310p")
    ds = next(r for r in rows if r.kind == "DaemonSet")
    assert ds.reason.startswith("spec.selector name=ascend-device-plugin-ds -> app.kubernetes.io/instance=mindcluster,")
    assert "its pods restart" in ds.reason and "foreground" in ds.reason
    assert ds.images == ("swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:v26.0.0",)
    assert ds.path == "/apis/apps/v1/namespaces/kube-system/daemonsets/ascend-device-plugin-daemonset-910"


def test_huawei_device_plugins_under_other_names():
    objects = rendered()
    dss = huawei_daemonsets()
    off = [o for o in objects if not (o["kind"] == "DaemonSet" and o["metadata"]["name"].startswith("ascend-device"))]
    assert adopt.plan(off, {}, release=RELEASE, namespace=NS, daemonsets=dss) == []
    # the same-named one is a REPLACE row of the render, not a REMOVE
    rows = adopt.plan(objects, {}, release=RELEASE, namespace=NS, daemonsets=dss)
    assert rows_by_ref(rows) == {"DaemonSet kube-system/ascend-device-plugin3-daemonset-310p": "remove"}
    theirs = copy.deepcopy(dss)
    for d in theirs:
        d["metadata"]["annotations"] = {adopt.RELEASE_NAME: "mindcluster", adopt.RELEASE_NAMESPACE: "default"}
    [row] = adopt.plan(objects, {}, release=RELEASE, namespace=NS, daemonsets=theirs)
    assert row.action == "refuse" and "Helm release mindcluster in namespace default" in row.reason
    other_ns = copy.deepcopy(dss)
    for d in other_ns:
        d["metadata"]["namespace"] = "default"
    assert adopt.plan(objects, {}, release=RELEASE, namespace=NS, daemonsets=other_ns) == []
    msg = adopt.needs_adopt(rows, RELEASE)
    assert msg.startswith("Huawei's device plugin runs as DaemonSet kube-system/ascend-device-plugin3-daemonset-310p, "
                          "next to which this release would start a second one; nothing was changed.")
    assert "and delete 1 DaemonSet(s) the chart replaces" in msg


def test_huawei_rbac_under_other_names():
    """Removed only with the component that replaces it, refused when another release owns it, named
    in the message of an install without --adopt."""
    objects, live = rendered(), huawei()
    rbac = {p: o for p, o in live.items() if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")}
    no_volcano = [o for o in objects if o["metadata"]["name"] not in ("volcano-scheduler", "volcano-controllers")]
    refs = rows_by_ref(adopt.plan(no_volcano, rbac, release=RELEASE, namespace=NS))
    assert "ClusterRoleBinding volcano-scheduler-role" not in refs
    assert refs["ServiceAccount kube-system/ascend-device-plugin-sa-910"] == "remove"
    no_plugin = [o for o in objects if not o["metadata"]["name"].startswith("ascend-device-plugin")]
    refs = rows_by_ref(adopt.plan(no_plugin, rbac, release=RELEASE, namespace=NS))
    assert not [r for r in refs if "ascend-device-plugin" in r]
    assert refs["ClusterRoleBinding volcano-controllers-role"] == "remove"
    theirs = copy.deepcopy(rbac)
    for o in theirs.values():
        o["metadata"]["annotations"] = {adopt.RELEASE_NAME: "mindcluster", adopt.RELEASE_NAMESPACE: "default"}
    rows = adopt.plan(objects, theirs, release=RELEASE, namespace=NS)
    bad = [r for r in rows if r.name == "volcano-scheduler-role"]
    assert bad and bad[0].action == "refuse" and "Helm release mindcluster in namespace default" in bad[0].reason
    grants = [r for r in adopt.plan(objects, live, release=RELEASE, namespace=NS, daemonsets=huawei_daemonsets())
              if r.action == "remove" and r.kind != "DaemonSet"]
    msg = adopt.needs_adopt(grants, RELEASE)
    assert msg.startswith("Huawei's RBAC exists under names the chart does not use: ClusterRoleBinding "
                          "volcano-scheduler-role, ")
    assert "Rerun with --adopt to take them over and delete 8 RBAC object(s) the chart's own RBAC replaces" in msg


def test_nothing_exists_nothing_to_do():
    assert adopt.plan(rendered(), {}, release=RELEASE, namespace=NS) == []


def _sa(**meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "s", "namespace": "x", **meta}}


def test_ownership_decides():
    want = _sa()
    path = adopt.api_path(want, NS)
    ours = _sa(labels={adopt.MANAGED_BY: "Helm"}, annotations={adopt.RELEASE_NAME: RELEASE,
                                                                adopt.RELEASE_NAMESPACE: NS})
    assert adopt.plan([want], {path: ours}, release=RELEASE, namespace=NS) == []
    other = _sa(labels={adopt.MANAGED_BY: "Helm"}, annotations={adopt.RELEASE_NAME: "huawei",
                                                                 adopt.RELEASE_NAMESPACE: "default"})
    [row] = adopt.plan([want], {path: other}, release=RELEASE, namespace=NS)
    assert row.action == "refuse" and "Helm release huawei in namespace default" in row.reason
    # same release name, other namespace: another release too (Helm checks both)
    [row] = adopt.plan([want], {path: _sa(annotations={adopt.RELEASE_NAME: RELEASE,
                                                        adopt.RELEASE_NAMESPACE: "default"})},
                       release=RELEASE, namespace=NS)
    assert row.action == "refuse"
    [row] = adopt.plan([want], {path: _sa(labels={adopt.MANAGED_BY: "Helm"})}, release=RELEASE, namespace=NS)
    assert row.action == "adopt"
    [row] = adopt.plan([want], {path: _sa(deletionTimestamp="2026-11-30T00:00:00Z")}, release=RELEASE, namespace=NS)
    assert row.action == "refuse" and "being deleted" in row.reason
    why = adopt.refusal([row])
    assert why is not None and why.startswith("cannot take over 1 existing object(s); nothing was changed: "
                                              "ServiceAccount x/s is being deleted")


def test_crd_scope_change_is_refused_and_rolebinding_roleref_replaced():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "queues.scheduling.volcano.sh"}, "spec": {"scope": "Cluster"}}
    live = copy.deepcopy(crd)
    live["spec"]["scope"] = "Namespaced"
    [row] = adopt.plan([crd], {adopt.api_path(crd, NS): live}, release=RELEASE, namespace=NS)
    assert row.action == "refuse" and "deletes every object of it" in row.reason
    crb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ours"}}
    live = copy.deepcopy(crb)
    live["roleRef"]["name"] = "theirs"
    [row] = adopt.plan([crb], {adopt.api_path(crb, NS): live}, release=RELEASE, namespace=NS)
    assert row.action == "replace" and row.reason.startswith("roleRef ClusterRole/theirs -> ClusterRole/ours")
    assert "pods" not in row.reason
    # equal selectors written differently (no matchExpressions vs an empty list) are equal
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "n"},
          "spec": {"selector": {"matchLabels": {"a": "b"}}}}
    live = copy.deepcopy(ds)
    live["spec"]["selector"]["matchExpressions"] = []
    [row] = adopt.plan([ds], {adopt.api_path(ds, NS): live}, release=RELEASE, namespace=NS)
    assert row.action == "adopt"


def _merge(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for k, v in patch.items():
        if v is None:   # RFC 7386: null deletes the key
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def test_adoption_patch_is_helms_rule_and_idempotent():
    patch = adopt.adoption_patch(RELEASE, NS)
    live = _sa(labels={"app": "x"}, annotations={"keep": "me"})
    once = _merge(live, patch)
    assert adopt.owned_by(once, RELEASE, NS) and not adopt.owned_by(once, RELEASE, "other")
    assert once["metadata"]["labels"] == {"app": "x", adopt.MANAGED_BY: "Helm"}
    assert _merge(once, patch) == once


@pytest.mark.parametrize("image, want", [
    ("swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:v26.0.0", ("26.0.0", None, None)),
    ("ascend-k8sdeviceplugin:v26.1.0-openeuler24.03", ("26.1.0", None, "openeuler24.03")),
    ("ascendhub/vc-scheduler:v1.7.0-v26.0.0", ("26.0.0", "v1.7.0", None)),
    ("registry.local:5000/ascend-operator:v26.1.0-ubuntu22.04@sha256:" + "a" * 64, ("26.1.0", None, "ubuntu22.04")),
    ("registry.local:5000/ascend-operator", (None, None, None)),
    ("ascend-operator:latest", (None, None, None)),
    ("volcanosh/vc-scheduler:v1.7.0", (None, "v1.7.0", None)),
])
def test_versions_from_image_tags(image, want):
    assert adopt.tag_versions(image) == want


SUPPORTED = ["26.0.0", "26.1.0"]


def _running(*images: str) -> adopt.Versions:
    return adopt.versions((f"DaemonSet kube-system/w{i}", [img]) for i, img in enumerate(images))


def test_version_check():
    same = _running("a/ascend-k8sdeviceplugin:v26.0.0", "a/vc-scheduler:v1.7.0-v26.0.0")
    assert adopt.check_version(same, installing="26.0.0", requested=None, supported=SUPPORTED) == "26.0.0"
    assert adopt.check_version(same, installing="26.0.0", requested="26.0.0", supported=SUPPORTED) == "26.0.0"
    with pytest.raises(errors.Conflict, match=r"MindCluster 26\.0\.0 runs here but this install would run 26\.1\.0"
                                              r".*Pass --mindcluster-version 26\.0\.0"):
        adopt.check_version(same, installing="26.1.0", requested=None, supported=SUPPORTED)
    with pytest.raises(errors.Conflict, match=r"--mindcluster-version 26\.1\.0 does not match the running release "
                                              r"26\.0\.0"):
        adopt.check_version(same, installing="26.1.0", requested="26.1.0", supported=SUPPORTED)
    with pytest.raises(errors.Conflict, match=r"the chart renders MindCluster 26\.1\.0 although "
                                              r"--mindcluster-version 26\.0\.0 was given"):
        adopt.check_version(same, installing="26.1.0", requested="26.0.0", supported=SUPPORTED)
    mixed = _running("ascend-k8sdeviceplugin:v26.0.0", "ascend-operator:v26.1.0-openeuler24.03")
    with pytest.raises(errors.Conflict, match=r"different MindCluster releases \(26\.0\.0: DaemonSet kube-system/w0"):
        adopt.check_version(mixed, installing="26.0.0", requested=None, supported=SUPPORTED)
    unknown = _running("ascend-operator:latest")
    with pytest.raises(errors.Conflict, match=r"carry no version: DaemonSet kube-system/w0: ascend-operator:latest"):
        adopt.check_version(unknown, installing="26.0.0", requested=None, supported=SUPPORTED)
    assert adopt.check_version(unknown, installing="26.0.0", requested="26.0.0", supported=SUPPORTED) == "26.0.0"
    old = _running("ascend-k8sdeviceplugin:v7.3.0")
    with pytest.raises(errors.Conflict, match=r"run MindCluster 7\.3\.0, which this plugin has no profile for"):
        adopt.check_version(old, installing="26.0.0", requested=None, supported=SUPPORTED)


def _plan(objects: list[dict[str, Any]]) -> install.InstallPlan:
    return install.InstallPlan(Profile(facts_from_nodes([]), {}), "chart", RELEASE, NS, None, objects)


def test_install_without_adopt_is_refused_with_the_list():
    objects = rendered()
    rows = adopt.plan(objects, huawei(), release=RELEASE, namespace=NS, daemonsets=huawei_daemonsets())
    with pytest.raises(errors.Conflict) as e:
        install.check_adoption(rows, _plan(objects), allowed=False, requested=None, supported=SUPPORTED,
                               default="26.0.0")
    msg = str(e.value)
    assert msg.startswith("19 object(s) of release mindcluster already exist without Helm's ownership")
    assert "Huawei's device plugin runs as DaemonSet kube-system/ascend-device-plugin3-daemonset-310p" in msg
    assert "DaemonSet kube-system/ascend-device-plugin-daemonset-910" in msg and "ClusterRole volcano-scheduler" in msg
    assert "nothing was changed. Rerun with --adopt" in msg and "--adopt --dry-run" in msg
    adoption = install.check_adoption(rows, _plan(objects), allowed=True, requested=None, supported=SUPPORTED,
                                      default="26.0.0")
    assert adoption.version == "26.0.0" and adoption.rows == rows
    assert adoption.notes == ["running MindCluster release: 26.0.0 (from the image tags of 5 workload(s))"]
    assert adoption.as_dict()["runningImages"]["volcano"].keys() == {"v1.7.0"}


def test_requested_version_the_chart_cannot_render_is_refused_even_without_rows():
    with pytest.raises(errors.Conflict, match=r"--mindcluster-version 26\.1\.0: the chart renders MindCluster "
                                              r"26\.0\.0 \(its images\) and cannot install 26\.1\.0"):
        install.check_adoption([], _plan(rendered()), allowed=False, requested="26.1.0", supported=SUPPORTED,
                               default="26.0.0")
    assert install.check_adoption([], _plan(rendered()), allowed=False, requested="26.0.0", supported=SUPPORTED,
                                  default="26.0.0").rows == []


class FakeKube:
    """get/patch/delete by path, observe by collection and name; a deleted object disappears after `linger`
    more GETs."""

    def __init__(self, objects: dict[str, dict[str, Any]], linger: int = 2) -> None:
        self.objects = objects
        self.linger = linger
        self.calls: list[tuple[str, str, Any]] = []
        self.dying: dict[str, int] = {}

    def get_object(self, path: str) -> dict[str, Any] | None:
        if path in self.dying:
            self.dying[path] -= 1
            if self.dying[path] < 0:
                self.objects.pop(path, None)
        return self.objects.get(path)

    def patch_object(self, path: str, body: dict[str, Any]) -> None:
        self.calls.append(("patch", path, body))
        self.objects[path] = _merge(self.objects[path], body)

    def delete_object(self, path: str, propagation: str = "Foreground") -> None:
        self.calls.append(("delete", path, propagation))
        self.dying[path] = self.linger

    def observe(self, what: str, sources: dict[str, tuple[str, dict[str, Any]]], timeout: float) -> Any:
        """take_over watches each object by its collection and name; one snapshot per GET round, ten per
        second of `timeout` (then time is up)."""
        for _ in range(max(1, int(timeout * 10))):
            snap = {}
            for key, (collection, query) in sources.items():
                path = f"{collection}/{query['fieldSelector'].removeprefix('metadata.name=')}"
                obj = self.get_object(path)
                snap[key] = [obj] if obj is not None else []
            yield snap


def test_take_over_patches_deletes_waits_and_a_rerun_finds_nothing():
    objects = rendered()
    live = huawei()
    kube = FakeKube(live)
    rows = adopt.plan(objects, live, release=RELEASE, namespace=NS, daemonsets=huawei_daemonsets())
    adoption = install.check_adoption(rows, _plan(objects), allowed=True, requested=None, supported=SUPPORTED,
                                      default="26.0.0")
    said: list[str] = []
    install.take_over(kube, adoption, RELEASE, NS, say=said.append)  # type: ignore[arg-type]
    assert [c[0] for c in kube.calls] == ["patch"] * 15 + ["delete"] * 13
    assert {c[2] for c in kube.calls if c[0] == "delete"} == {"Foreground"}
    deleted = said[-13:]
    assert deleted[3:6] == ["deleted Deployment volcano-system/volcano-scheduler (Helm creates it again)",
                            "deleted DaemonSet kube-system/ascend-device-plugin3-daemonset-310p",
                            "deleted ClusterRoleBinding volcano-scheduler-role"]
    assert deleted[-1] == "deleted ClusterRoleBinding pods-node-ascend-device-plugin-rolebinding-310p"
    left = [d for d in kube.objects.values() if d["kind"] == "DaemonSet"]
    assert adopt.plan(objects, kube.objects, release=RELEASE, namespace=NS, daemonsets=left) == []


def test_take_over_says_what_is_stuck():
    objects = rendered()
    kube = FakeKube(huawei(), linger=10 ** 6)
    rows = [r for r in adopt.plan(objects, kube.objects, release=RELEASE, namespace=NS) if r.kind == "DaemonSet"]
    adoption = install.Adoption(rows, adopt.Versions(), None, [])
    with pytest.raises(errors.AscendError, match=r"still being deleted after 1 s: DaemonSet kube-system/"
                                                 r"ascend-device-plugin-daemonset-910 .*run install --adopt again"):
        install.take_over(kube, adoption, RELEASE, NS, say=lambda s: None, timeout=1.0)  # type: ignore[arg-type]


# -- drift (issue 22 item 2) ------------------------------------------------------------------

BACKDOOR = {"name": "backdoor", "image": "evil.example/tools:1",
            "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
            "volumeMounts": [{"name": "host-root", "mountPath": "/host"}]}


def _rendered(kind: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in rendered() if o["kind"] == kind and o["metadata"]["name"] == name))


def _hostile_plugin() -> dict[str, Any]:
    """The chart's own 910 DaemonSet (so its selector matches and it would be adopted in place) with a
    planted privileged container, hostPath / and hostPID."""
    ds = _rendered("DaemonSet", "ascend-device-plugin-daemonset-910")
    pod = ds["spec"]["template"]["spec"]
    pod["containers"].append(copy.deepcopy(BACKDOOR))
    pod["volumes"].append({"name": "host-root", "hostPath": {"path": "/"}})
    pod["hostPID"] = True
    return ds


def _owned_configmap() -> dict[str, Any]:
    cm = _rendered("ConfigMap", "volcano-scheduler-configmap")
    cm["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "decoy",
                                          "uid": "1234", "controller": True}]
    return cm


def _one(obj: dict[str, Any], accept: bool = False) -> adopt.Row:
    want = _rendered(obj["kind"], obj["metadata"]["name"])
    [row] = adopt.plan([want], {adopt.api_path(want, NS): obj}, release=RELEASE, namespace=NS, accept_drift=accept)
    return row


def test_the_unchanged_chart_object_is_adopted_without_drift():
    for kind, name in (("DaemonSet", "ascend-device-plugin-daemonset-910"),
                       ("ConfigMap", "volcano-scheduler-configmap")):
        row = _one(_rendered(kind, name))
        assert (row.action, row.drift, row.drop_owners) == ("adopt", (), False)


def test_a_planted_container_is_refused_naming_each_difference():
    row = _one(_hostile_plugin())
    assert row.action == "refuse"
    assert row.drift == (
        "hostPID true (chart: false)",
        "extra container 'backdoor' (image 'evil.example/tools:1', privileged, capabilities SYS_ADMIN) "
        "the chart does not have",
        "hostPath volume 'host-root' path '/' the chart does not have")
    assert "--adopt --accept-drift" in row.reason
    msg = adopt.refusal([row])
    assert msg is not None and msg.startswith("cannot take over 1 existing object(s); nothing was changed: "
                                              "DaemonSet kube-system/ascend-device-plugin-daemonset-910 differs")
    assert all(d in msg for d in row.drift)
    with pytest.raises(errors.Conflict, match="extra container 'backdoor'"):
        install.check_adoption([row], _plan(rendered()), allowed=True, requested=None, supported=SUPPORTED,
                               default="26.0.0")


def test_accepted_drift_replaces_the_workload():
    row = _one(_hostile_plugin(), accept=True)
    assert row.action == "replace" and not row.drop_owners
    assert row.reason.startswith("drift accepted (hostPID true (chart: false); extra container 'backdoor'")
    assert "deleted and created again by Helm, so that nothing of the live object is kept; its pods restart" \
        in row.reason
    assert row.as_dict()["drift"] == list(row.drift)


def test_each_kind_of_pod_drift():
    ds = _rendered("DaemonSet", "ascend-device-plugin-daemonset-910")
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    c["image"] = "evil.example/ascend-k8sdeviceplugin:v26.0.0"
    c["securityContext"]["privileged"] = False
    c["securityContext"]["capabilities"] = {"add": ["NET_ADMIN", "SYS_PTRACE"]}
    pod["initContainers"] = [{"name": "init\x1b]0;owned\x07", "image": "busybox"}]
    pod["hostNetwork"] = True
    log = next(v for v in pod["volumes"] if v.get("hostPath"))
    chart_path = log["hostPath"]["path"]
    log["hostPath"]["path"] = "/etc"
    drift = _one(ds).drift
    assert drift == (
        "hostNetwork true (chart: false)",
        "extra init container 'init\\x1b]0;owned\\x07' (image 'busybox') the chart does not have",
        "container 'device-plugin' image 'evil.example/ascend-k8sdeviceplugin:v26.0.0' (chart: "
        "'swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:v26.0.0')",
        "container 'device-plugin' privileged false (chart: true)",
        "container 'device-plugin' capabilities ['NET_ADMIN', 'SYS_PTRACE'] (chart: none)",
        f"hostPath volume {log['name']!r} path '/etc' (chart: {chart_path!r})")
    assert not any("\x1b" in d or "\x07" in d for d in drift)


def test_a_foreign_owner_is_refused_or_removed():
    row = _one(_owned_configmap())
    assert row.action == "refuse"
    assert row.drift == ("controller ownerReference to ConfigMap 'decoy' (uid '1234'): the garbage collector "
                         "deletes this object once that owner is gone",)
    assert "rerun with --adopt --accept-drift to remove its ownerReferences" in row.reason
    row = _one(_owned_configmap(), accept=True)
    assert (row.action, row.drop_owners) == ("adopt", True)
    assert row.reason.startswith("drift accepted (controller ownerReference to ConfigMap 'decoy'")
    assert "ownerReferences removed" in row.reason
    kube = FakeKube({row.path: _owned_configmap()})
    said: list[str] = []
    install.take_over(kube, install.Adoption([row], adopt.Versions(), None, []), RELEASE, NS,  # type: ignore[arg-type]
                      say=said.append)
    assert kube.calls == [("patch", row.path, adopt.adoption_patch(RELEASE, NS, drop_owners=True))]
    assert "ownerReferences" not in kube.objects[row.path]["metadata"]
    assert adopt.owned_by(kube.objects[row.path], RELEASE, NS)
    assert said == ["adopted ConfigMap volcano-system/volcano-scheduler-configmap (ownerReferences removed)"]


def test_extra_configmap_keys_and_owner_with_drift_are_replaced():
    cm = _owned_configmap()
    cm["data"]["planted.conf"] = "x"
    row = _one(cm)
    assert row.action == "refuse" and row.drift[0] == "data key(s) the chart does not have: 'planted.conf'"
    row = _one(cm, accept=True)
    assert (row.action, row.drop_owners) == ("replace", False)
    assert "its pods restart" not in row.reason
