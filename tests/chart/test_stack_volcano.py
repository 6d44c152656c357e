"""Render-and-assert tests of charts/ascend-volcano.

Scenarios:
- defaults: Deployments volcano-scheduler / volcano-controllers in
  volcano-system with component labels and selectors, masterselector
  nodeSelector, uid/gid 9000 non-root containers, log-dir init containers
  (root, CHOWN/FOWNER only, chown 9000, 750), args, hostPaths;
- the scheduler ConfigMap parsed as YAML: actions, both tiers with the NPU
  plugin, init-params (useClusterInfoManager "false" etc.); --set booleans
  become strings; custom plugin name, actions, tiers, extra init-params;
- CRDs: the five names, groups, versions, scopes, short names, status
  subresources (none on podgroups), keep annotation, structural schemas
  (every property typed), crds.install / crds.keep off;
- default Queue as a post-install/post-upgrade hook (weight 1, reclaimable);
- RBAC of scheduler and controllers (key rules, no wildcard);
- metrics Service, PDB apiVersion by Kubernetes version;
- refusals: useClusterInfoManager "true" without ClusterD, tiers without the
  NPU plugin, PDB with one replica (validations.yaml); misspelt keys and
  wrong types (schema);
- helm lint --strict.
"""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.chart.helmutil import assert_structural, find, lint, one, render, render_error

pytestmark = pytest.mark.chart

CHART = "ascend-volcano"
CRDS = {
    # name: (group, version, kind, scope, status subresource)
    "jobs.batch.volcano.sh": ("batch.volcano.sh", "v1alpha1", "Job", "Namespaced", True),
    "commands.bus.volcano.sh": ("bus.volcano.sh", "v1alpha1", "Command", "Namespaced", False),
    "podgroups.scheduling.volcano.sh": ("scheduling.volcano.sh", "v1beta1", "PodGroup", "Namespaced", False),
    "queues.scheduling.volcano.sh": ("scheduling.volcano.sh", "v1beta1", "Queue", "Cluster", True),
    "numatopologies.nodeinfo.volcano.sh": ("nodeinfo.volcano.sh", "v1alpha1", "Numatopology", "Cluster", False),
}


def scheduler_conf(objs: list[dict[str, Any]]) -> dict[str, Any]:
    cm = one(objs, "ConfigMap", "volcano-scheduler-configmap")
    return yaml.safe_load(cm["data"]["volcano-scheduler.conf"])


def plugin_names(conf: dict[str, Any]) -> list[list[str]]:
    return [[p["name"] for p in tier["plugins"]] for tier in conf["tiers"]]


def main_container(dep: dict[str, Any]) -> dict[str, Any]:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def rules_of(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for r in role["rules"]:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                out.setdefault((g, res), set()).update(r["verbs"])
    return out


def test_deployments_defaults() -> None:
    objs = render(CHART)
    for name in ("volcano-scheduler", "volcano-controllers"):
        dep = one(objs, "Deployment", name)
        assert dep["metadata"]["namespace"] == "volcano-system"
        assert dep["metadata"]["labels"]["app.kubernetes.io/component"] == name
        assert dep["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mindcluster"
        assert dep["spec"]["replicas"] == 1
        assert dep["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": "ascend-volcano", "app.kubernetes.io/instance": "rel",
            "app.kubernetes.io/component": name}
        spec = dep["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == name
        assert spec["nodeSelector"] == {"masterselector": "dls-master-node"}
        assert spec["securityContext"] == {"fsGroup": 9000, "seccompProfile": {"type": "RuntimeDefault"}}
        sc = main_container(dep)["securityContext"]
        assert sc == {"runAsUser": 9000, "runAsGroup": 9000, "runAsNonRoot": True,
                      "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}}


@pytest.mark.parametrize("name, log_dir, image", [
    ("volcano-scheduler", "volcano-scheduler", "ascendhub/vc-scheduler:v1.7.0-v26.0.0"),
    ("volcano-controllers", "volcano-controller", "ascendhub/vc-controller-manager:v1.7.0-v26.0.0"),
])
def test_log_dir_init_containers(name: str, log_dir: str, image: str) -> None:
    dep = one(render(CHART), "Deployment", name)
    spec = dep["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    sc = init["securityContext"]
    assert sc["runAsUser"] == 0 and sc["runAsNonRoot"] is False
    assert sc["allowPrivilegeEscalation"] is False and "privileged" not in sc
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"LOG_DIR_NAME": log_dir, "LOG_UID": "9000", "LOG_GID": "9000"}
    assert "chmod 750" in init["args"][0] and 'chown "$(LOG_UID):$(LOG_GID)"' in init["args"][0]
    assert init["image"] == f"swr.cn-south-1.myhuaweicloud.com/{image}"
    vols = {v["name"]: v["hostPath"] for v in spec["volumes"] if "hostPath" in v}
    assert vols["log-dir"] == {"path": f"/var/log/mindx-dl/{log_dir}", "type": "DirectoryOrCreate"}
    assert vols["log-parent"] == {"path": "/var/log/mindx-dl", "type": "DirectoryOrCreate"}
    mounts = {m["name"]: m["mountPath"] for m in main_container(dep)["volumeMounts"]}
    assert mounts["log-dir"] == f"/var/log/mindx-dl/{log_dir}"


def test_scheduler_args() -> None:
    c = main_container(one(render(CHART), "Deployment", "volcano-scheduler"))
    assert c["command"] == ["/bin/sh", "-c", 'umask 027 && exec /vc-scheduler "$@"', "vc-scheduler"]
    assert c["args"] == [
        "--scheduler-conf=/volcano.scheduler/volcano-scheduler.conf",
        "--plugins-dir=plugins",
        "--logtostderr=false",
        "--log_dir=/var/log/mindx-dl/volcano-scheduler",
        "--log_file=/var/log/mindx-dl/volcano-scheduler/volcano-scheduler.log",
        "-v=3",
    ]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["scheduler-config"] == {"name": "scheduler-config", "mountPath": "/volcano.scheduler",
                                          "readOnly": True}


def test_controllers_args() -> None:
    vals = {"controllers": {"kubeApiQps": 50, "kubeApiBurst": 100, "workerThreads": 2,
                            "extraArgs": ["--scheduler-name=volcano"]}}
    c = main_container(one(render(CHART, vals), "Deployment", "volcano-controllers"))
    assert c["args"] == [
        "--kube-api-qps=50", "--kube-api-burst=100", "--worker-threads=2", "--logtostderr=false",
        "--log_dir=/var/log/mindx-dl/volcano-controller",
        "--log_file=/var/log/mindx-dl/volcano-controller/volcano-controller.log",
        "-v=4", "--scheduler-name=volcano",
    ]


def test_scheduler_configmap_defaults() -> None:
    conf = scheduler_conf(render(CHART))
    assert [a.strip() for a in conf["actions"].split(",")] == ["enqueue", "allocate", "backfill"]
    assert plugin_names(conf) == [
        # the name the v26.0.0 build registers (build.sh: volcano-npu_<version>, no architecture)
        ["priority", "gang", "conformance", "volcano-npu_v26.0.0"],
        ["drf", "predicates", "proportion", "nodeorder", "binpack"],
    ]
    (cfg,) = conf["configurations"]
    assert cfg["name"] == "init-params"
    assert cfg["arguments"] == {
        "useClusterInfoManager": "false",
        "presetVirtualDevice": "true",
        "grace-over-time": "900",
        "nslb-version": "1.0",
        "shared-tor-num": "2",
        "self-maintain-available-card": "true",
        "super-pod-size": "48",
        "reserve-nodes": "2",
    }
    # Every argument is a string: the NPU plugin reads map[string]string.
    assert all(isinstance(v, str) for v in cfg["arguments"].values())


def test_set_booleans_become_strings() -> None:
    objs = render(CHART, sets=["scheduler.initParams.presetVirtualDevice=false",
                               "scheduler.initParams.grace-over-time=600"])
    args = scheduler_conf(objs)["configurations"][0]["arguments"]
    assert args["presetVirtualDevice"] == "false"
    assert args["grace-over-time"] == "600"


def test_custom_plugin_actions_and_extra_init_params() -> None:
    vals = {"scheduler": {"npuPluginName": "volcano-npu_v26.0.0_linux-x86_64",
                          "actions": ["allocate", "preempt", "backfill"],
                          "extraInitParams": {"forceEnqueue": "true"}}}
    conf = scheduler_conf(render(CHART, vals))
    assert conf["actions"] == "allocate, preempt, backfill"
    assert plugin_names(conf)[0][-1] == "volcano-npu_v26.0.0_linux-x86_64"
    assert conf["configurations"][0]["arguments"]["forceEnqueue"] == "true"


def test_custom_tiers_replace_defaults() -> None:
    tiers = [{"plugins": [{"name": "priority"}, {"name": "gang", "enablePreemptable": False},
                          {"name": "volcano-npu_v26.0.0"}]},
             {"plugins": [{"name": "predicates"}, {"name": "nodeorder"}]}]
    conf = scheduler_conf(render(CHART, {"scheduler": {"tiers": tiers}}))
    assert conf["tiers"] == tiers


def test_tiers_without_npu_plugin_fail() -> None:
    err = render_error(CHART, {"scheduler": {"tiers": [{"plugins": [{"name": "gang"}]}]}})
    assert 'does not name the NPU plugin "volcano-npu_v26.0.0"' in err


def test_use_cluster_info_manager_true_needs_clusterd() -> None:
    err = render_error(CHART, {"scheduler": {"initParams": {"useClusterInfoManager": "true"}}})
    assert "useClusterInfoManager is \"true\"" in err
    assert "clusterd.installed is false" in err
    assert "Set scheduler.initParams.useClusterInfoManager=\"false\"" in err
    # also when given as a boolean on the command line
    err = render_error(CHART, sets=["scheduler.initParams.useClusterInfoManager=true"])
    assert "clusterd.installed is false" in err
    objs = render(CHART, {"clusterd": {"installed": True},
                          "scheduler": {"initParams": {"useClusterInfoManager": "true"}}})
    assert scheduler_conf(objs)["configurations"][0]["arguments"]["useClusterInfoManager"] == "true"


def test_config_checksum_rolls_scheduler() -> None:
    a = one(render(CHART), "Deployment", "volcano-scheduler")
    b = one(render(CHART, {"scheduler": {"initParams": {"grace-over-time": "600"}}}), "Deployment",
            "volcano-scheduler")
    ka = a["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    kb = b["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert ka != kb


def test_crds() -> None:
    crds = {o["metadata"]["name"]: o for o in find(render(CHART), "CustomResourceDefinition")}
    assert sorted(crds) == sorted(CRDS)
    for name, (group, version, kind, scope, status) in CRDS.items():
        crd = crds[name]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert crd["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mindcluster"
        assert crd["spec"]["group"] == group and crd["spec"]["scope"] == scope
        assert crd["spec"]["names"]["kind"] == kind
        (v,) = crd["spec"]["versions"]
        assert (v["name"], v["served"], v["storage"]) == (version, True, True)
        assert ("status" in v.get("subresources", {})) is status
        assert_structural(v["schema"]["openAPIV3Schema"], name)
    assert crds["jobs.batch.volcano.sh"]["spec"]["names"]["shortNames"] == ["vcjob", "vj"]
    assert crds["podgroups.scheduling.volcano.sh"]["spec"]["names"]["shortNames"][0] == "pg"
    pg_spec = crds["podgroups.scheduling.volcano.sh"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["spec"]["properties"]
    assert set(pg_spec) == {"minMember", "minResources", "minTaskMember", "priorityClassName", "queue"}
    assert pg_spec["minResources"]["additionalProperties"]["x-kubernetes-int-or-string"] is True
    pg_status = crds["podgroups.scheduling.volcano.sh"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["status"]["properties"]
    assert {"phase", "running", "succeeded", "failed", "conditions"} <= set(pg_status)
    q_spec = crds["queues.scheduling.volcano.sh"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["spec"]["properties"]
    assert q_spec["weight"]["type"] == "integer" and q_spec["reclaimable"]["type"] == "boolean"
    job_tasks = crds["jobs.batch.volcano.sh"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["spec"]["properties"]["tasks"]["items"]["properties"]
    assert job_tasks["template"] == {"type": "object", "description": "A PodTemplateSpec.",
                                     "x-kubernetes-preserve-unknown-fields": True}


def test_crds_off_and_not_kept() -> None:
    assert not find(render(CHART, {"crds": {"install": False}}), "CustomResourceDefinition")
    for crd in find(render(CHART, {"crds": {"keep": False}}), "CustomResourceDefinition"):
        assert "helm.sh/resource-policy" not in (crd["metadata"].get("annotations") or {})


def test_default_queue_is_a_hook() -> None:
    assert not find(render(CHART), "Queue")  # off by default: Helm 4 cannot map it on a first install
    q = one(render(CHART, {"defaultQueue": {"create": True}}), "Queue", "default")
    assert q["apiVersion"] == "scheduling.volcano.sh/v1beta1"
    assert "namespace" not in q["metadata"]
    assert q["metadata"]["annotations"] == {
        "helm.sh/hook": "post-install,post-upgrade",
        "helm.sh/hook-weight": "0",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }
    assert q["spec"] == {"weight": 1, "reclaimable": True}


def test_scheduler_rbac() -> None:
    objs = render(CHART)
    rules = rules_of(one(objs, "ClusterRole", "volcano-scheduler"))
    assert rules[("", "pods/binding")] == {"create"}
    assert rules[("", "nodes")] == {"get", "list", "watch"}
    assert rules[("", "configmaps")] == {"get", "list", "watch", "create", "update", "delete"}
    assert rules[("scheduling.volcano.sh", "podgroups")] == {"get", "list", "watch", "update"}
    assert rules[("scheduling.volcano.sh", "queues")] == {"get", "list", "watch", "create", "delete"}
    assert rules[("scheduling.volcano.sh", "queues/status")] == {"update", "patch"}
    assert rules[("apiextensions.k8s.io", "customresourcedefinitions")] == {"get", "list", "watch"}
    assert rules[("coordination.k8s.io", "leases")] == {"get", "create", "update"}
    crb = one(objs, "ClusterRoleBinding", "volcano-scheduler")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "volcano-scheduler",
                                "namespace": "volcano-system"}]


def test_controllers_rbac() -> None:
    rules = rules_of(one(render(CHART), "ClusterRole", "volcano-controllers"))
    assert rules[("bus.volcano.sh", "commands")] == {"get", "list", "watch", "delete"}
    assert rules[("batch.volcano.sh", "jobs/status")] == {"update", "patch"}
    assert rules[("", "pods")] == {"create", "get", "list", "watch", "update", "patch", "delete"}
    assert rules[("scheduling.volcano.sh", "podgroups")] == {"get", "list", "watch", "create", "update", "delete"}
    assert rules[("networking.k8s.io", "networkpolicies")] == {"get", "create", "delete"}


def test_no_rbac_wildcards() -> None:
    for role in find(render(CHART), "ClusterRole"):
        for r in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert not any("*" in x for x in r[field]), (role["metadata"]["name"], r)


def test_common_labels_on_every_object() -> None:
    for o in render(CHART, {"scheduler": {"metrics": {"enabled": True}}}):
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "ascend-volcano"
        assert labels["app.kubernetes.io/instance"] == "rel"
        assert labels["app.kubernetes.io/part-of"] == "mindcluster"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "v1.7.0-v26.0.0"
        assert labels["app.kubernetes.io/component"] in (
            "volcano-scheduler", "volcano-controllers", "volcano-crds")


def test_metrics_service() -> None:
    objs = render(CHART, {"scheduler": {"metrics": {"enabled": True, "port": 9090}}})
    svc = one(objs, "Service", "volcano-scheduler-service")
    assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "volcano-scheduler"
    assert svc["spec"]["ports"][0]["port"] == 9090
    args = main_container(one(objs, "Deployment", "volcano-scheduler"))["args"]
    assert "--enable-metrics=true" in args and "--listen-address=:9090" in args
    assert not find(render(CHART), "Service")


@pytest.mark.parametrize("kube, api", [("1.19.0", "policy/v1beta1"), ("1.20.15", "policy/v1beta1"),
                                       ("1.21.0", "policy/v1"), ("1.25.0", "policy/v1"),
                                       ("1.36.0", "policy/v1")])
def test_pdb_api_version(kube: str, api: str) -> None:
    vals = {"scheduler": {"replicas": 2, "podDisruptionBudget": {"enabled": True}},
            "controllers": {"replicas": 3, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}}}
    objs = render(CHART, vals, kube_version=kube)
    pdbs = {p["metadata"]["name"]: p for p in find(objs, "PodDisruptionBudget")}
    assert {p["apiVersion"] for p in pdbs.values()} == {api}
    assert pdbs["volcano-scheduler"]["spec"]["minAvailable"] == 1
    assert pdbs["volcano-controllers"]["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "ascend-volcano",
                                     "app.kubernetes.io/instance": "rel",
                                     "app.kubernetes.io/component": "volcano-controllers"}}}


def test_pdb_with_one_replica_fails() -> None:
    err = render_error(CHART, {"scheduler": {"podDisruptionBudget": {"enabled": True}}})
    assert "would block every node drain" in err and "scheduler.replicas" in err


def test_namespace_tolerations_and_run_as() -> None:
    tol = [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]
    objs = render(CHART, {"namespace": "vc", "tolerations": tol, "runAs": {"user": 1001, "group": 1002}})
    for o in objs:
        if o["kind"] in ("Deployment", "ServiceAccount", "ConfigMap"):
            assert o["metadata"]["namespace"] == "vc"
    dep = one(objs, "Deployment", "volcano-controllers")
    assert dep["spec"]["template"]["spec"]["tolerations"] == tol
    sc = main_container(dep)["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"]) == (1001, 1002)
    env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert (env["LOG_UID"], env["LOG_GID"]) == ("1001", "1002")


@pytest.mark.parametrize("vals, needle", [
    ({"scheduler": {"initParams": {"useClusterInfoManger": "false"}}}, "useClusterInfoManger"),
    ({"scheduler": {"initParams": {"useClusterInfoManager": "maybe"}}}, "useClusterInfoManager"),
    ({"scheduler": {"replicas": "one"}}, "replicas"),
    ({"scheduler": {"npuPluginName": "npu-plugin"}}, "npuPluginName"),
    ({"scheduler": {"actions": ["enqueue", "allocat"]}}, "actions"),
    ({"controller": {"replicas": 1}}, "controller"),
    ({"crds": {"instal": True}}, "instal"),
    ({"runAs": {"user": "hwMindX"}}, "user"),
    ({"controllers": {"image": {"tag": "latest"}}}, "/controllers/image/tag"),
])
def test_schema_rejects(vals: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, vals)


@pytest.mark.parametrize("vals", [{}, {"crds": {"install": False}},
                                  {"scheduler": {"metrics": {"enabled": True}}}])
def test_lint_strict(vals: dict[str, Any]) -> None:
    lint(CHART, vals)
