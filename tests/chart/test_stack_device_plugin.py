"""Render-and-assert tests of charts/ascend-device-plugin.

Scenarios:
- defaults (perFamily): DaemonSets -910, -310, -310p in kube-system with the
  accelerator nodeSelector, family label and selector, tolerations
  (CriticalAddonsOnly + huawei.com/<chip>:NoSchedule), args built from
  values, NODE_NAME/HOST_IP, hostPaths and their types incl. /etc/vnpu.cfg
  (File) and /run/vnpu_cfg_lock, privileged plugin container, log-dir init
  container (root, CHOWN/FOWNER only, 750), priority class, update strategy;
- each chip family alone (910, 310, 310p, npu) and npu added;
- the single layout forced on 26.0.0 (one DaemonSet, accelerator In [...]
  affinity, tolerations of every family and device-plugin=v2 as upstream's
  ascendplugin-volcano.yaml, selector name + instance
  only); the 26.1.0 profile is tests/chart/test_profiles.py;
- volcanoType false (arg, no vNPU mounts); per-family and global extraArgs;
  log.createDir false; custom namespace; global registry and pull secrets;
- RBAC exactly as MindCluster's, no wildcard; common labels on every object;
- refusals: misspelt keys, wrong types, bad layout (schema); no family
  enabled, dynamic vNPU without Volcano (validations.yaml); an empty tag is
  the MindCluster profile's;
- helm lint --strict.
"""
from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from tests.chart.helmutil import find, lint, one, render, render_error
from tests.tooling import CHARTS, need_tool, run

pytestmark = pytest.mark.chart

CHART = "ascend-device-plugin"

FAMILIES = {
    # key: (suffix, accelerator label, resource)
    "ascend910": ("910", "huawei-Ascend910", "huawei.com/Ascend910"),
    "ascend310": ("310", "huawei-Ascend310", "huawei.com/Ascend310"),
    "ascend310p": ("310p", "huawei-Ascend310P", "huawei.com/Ascend310P"),
    "npu": ("npu", "huawei-npu", "huawei.com/npu"),
}

COMMON_LABELS = {
    "app.kubernetes.io/name": "ascend-device-plugin",
    "app.kubernetes.io/instance": "rel",
    "app.kubernetes.io/version": "26.0.0",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/part-of": "mindcluster",
    "app.kubernetes.io/component": "device-plugin",
}


def only(*keys: str) -> dict[str, Any]:
    """Values enabling exactly the given families."""
    return {"families": {k: {"enabled": k in keys} for k in FAMILIES}}


def daemonsets(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in find(objs, "DaemonSet")}


def container(ds: dict[str, Any], name: str = "device-plugin") -> dict[str, Any]:
    return next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def host_paths(ds: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {v["name"]: (v["hostPath"]["path"], v["hostPath"].get("type"))
            for v in ds["spec"]["template"]["spec"]["volumes"] if "hostPath" in v}


def test_defaults_render_one_daemonset_per_default_family() -> None:
    objs = render(CHART)
    dss = daemonsets(objs)
    assert sorted(dss) == ["ascend-device-plugin-daemonset-310", "ascend-device-plugin-daemonset-310p",
                           "ascend-device-plugin-daemonset-910"]
    for key in ("ascend910", "ascend310", "ascend310p"):
        suffix, accel, resource = FAMILIES[key]
        ds = dss[f"ascend-device-plugin-daemonset-{suffix}"]
        assert ds["metadata"]["namespace"] == "kube-system"
        assert ds["metadata"]["labels"]["ascend.huawei.com/family"] == suffix
        assert ds["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": "ascend-device-plugin",
            "app.kubernetes.io/instance": "rel",
            "ascend.huawei.com/family": suffix,
        }
        pod = ds["spec"]["template"]
        assert pod["metadata"]["labels"]["ascend.huawei.com/family"] == suffix
        assert pod["spec"]["nodeSelector"] == {"accelerator": accel}
        if key == "ascend310p":
            # Atlas 200I SoC A1 is served by its own variant, as upstream's 310P DaemonSet excludes it
            terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            assert terms["nodeSelectorTerms"] == [{"matchExpressions": [
                {"key": "servertype", "operator": "NotIn", "values": ["soc"]}]}]
        else:
            assert "affinity" not in pod["spec"]
        assert pod["spec"]["tolerations"] == [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": resource, "operator": "Exists", "effect": "NoSchedule"},
        ]
        assert pod["spec"]["priorityClassName"] == "system-node-critical"
        assert pod["spec"]["serviceAccountName"] == "ascend-device-plugin"
        assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}


def test_default_args_env_and_command() -> None:
    ds = daemonsets(render(CHART))["ascend-device-plugin-daemonset-910"]
    c = container(ds)
    assert c["command"] == ["/bin/sh", "-c", 'umask 027 && exec device-plugin "$@"', "device-plugin"]
    assert c["args"] == [
        "-useAscendDocker=true",
        "-volcanoType=true",
        "-presetVirtualDevice=true",
        "-logFile=/var/log/mindx-dl/devicePlugin/devicePlugin.log",
        "-logLevel=0",
    ]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"NODE_NAME": "spec.nodeName", "HOST_IP": "status.hostIP"}
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:v26.0.0"
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "500Mi"},
                              "limits": {"cpu": "500m", "memory": "500Mi"}}


def test_default_host_paths_and_mounts() -> None:
    ds = daemonsets(render(CHART))["ascend-device-plugin-daemonset-910"]
    assert host_paths(ds) == {
        "device-plugin": ("/var/lib/kubelet/device-plugins", "Directory"),
        "pod-resource": ("/var/lib/kubelet/pod-resources", "DirectoryOrCreate"),
        "hiai-driver": ("/usr/local/Ascend/driver", "Directory"),
        "log-path": ("/var/log/mindx-dl/devicePlugin", "DirectoryOrCreate"),
        "log-parent": ("/var/log/mindx-dl", "DirectoryOrCreate"),
        "tmp": ("/tmp", None),
        "localtime": ("/etc/localtime", None),
        "vnpucfg": ("/etc/vnpu.cfg", "File"),
        "vnpu-cfg-lock": ("/run/vnpu_cfg_lock", "DirectoryOrCreate"),
        # 26.0.0 additions (mind-cluster v26.0.0 build/ascendplugin-volcano.yaml)
        "reset-config-dir": ("/user/restore/reset", "DirectoryOrCreate"),
        "lingqu-log": ("/var/log/lingqu", "DirectoryOrCreate"),
        "data-trace-file-dir": ("/user/cluster-info/datatrace-config", "DirectoryOrCreate"),
        "dpu-config": ("/user/mindx-dl/dpu-config", "DirectoryOrCreate"),
        "containerd": ("/run/containerd", "DirectoryOrCreate"),
    }
    mounts = {m["name"]: m for m in container(ds)["volumeMounts"]}
    assert mounts["dpu-config"]["mountPath"] == "/user/mindx-dl/dpu"
    assert mounts["containerd"] == {"name": "containerd", "mountPath": "/run/containerd", "readOnly": True}
    assert {mounts[n]["mountPath"] for n in ("reset-config-dir", "lingqu-log", "data-trace-file-dir")} == {
        "/user/restore/reset", "/var/log/lingqu", "/user/cluster-info/datatrace-config"}
    assert mounts["hiai-driver"]["readOnly"] is True
    assert mounts["localtime"]["readOnly"] is True
    assert mounts["vnpucfg"]["mountPath"] == "/etc/vnpu.cfg"
    assert mounts["vnpu-cfg-lock"]["mountPath"] == "/run/vnpu_cfg_lock"
    assert mounts["log-path"]["mountPath"] == "/var/log/mindx-dl/devicePlugin"
    assert "log-parent" not in mounts  # only the init container sees the parent


def test_security_contexts() -> None:
    ds = daemonsets(render(CHART))["ascend-device-plugin-daemonset-310p"]
    spec = ds["spec"]["template"]["spec"]
    assert container(ds)["securityContext"] == {"privileged": True, "readOnlyRootFilesystem": True}
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    (init,) = spec["initContainers"]
    assert init["name"] == "log-dir"
    sc = init["securityContext"]
    assert sc["runAsUser"] == 0 and sc["allowPrivilegeEscalation"] is False
    assert "privileged" not in sc
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
    script = init["args"][0]
    assert "chmod 750" in script and "chown 0:0" in script
    assert {"name": "LOG_DIR_NAME", "value": "devicePlugin"} in init["env"]
    assert init["volumeMounts"] == [{"name": "log-parent", "mountPath": "/log-parent"}]


@pytest.mark.parametrize("key", list(FAMILIES))
def test_each_family_alone(key: str) -> None:
    suffix, accel, resource = FAMILIES[key]
    dss = daemonsets(render(CHART, only(key)))
    assert list(dss) == [f"ascend-device-plugin-daemonset-{suffix}"]
    pod = dss[f"ascend-device-plugin-daemonset-{suffix}"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"accelerator": accel}
    assert {"key": resource, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert len(pod["tolerations"]) == 2


def test_npu_family_adds_a_fourth_daemonset() -> None:
    dss = daemonsets(render(CHART, {"families": {"npu": {"enabled": True}}}))
    assert len(dss) == 4
    npu = dss["ascend-device-plugin-daemonset-npu"]
    assert npu["spec"]["template"]["spec"]["nodeSelector"] == {"accelerator": "huawei-npu"}
    assert npu["metadata"]["labels"]["ascend.huawei.com/family"] == "npu"


def test_single_layout_one_daemonset_with_affinity() -> None:
    objs = render(CHART, {"layout": "single", "families": {"npu": {"enabled": True}}})
    ds = one(objs, "DaemonSet")
    assert ds["metadata"]["name"] == "ascend-device-plugin-daemonset"
    assert "ascend.huawei.com/family" not in ds["metadata"]["labels"]
    assert ds["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "ascend-device-plugin", "app.kubernetes.io/instance": "rel"}
    spec = ds["spec"]["template"]["spec"]
    assert "nodeSelector" not in spec
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{
        "key": "accelerator", "operator": "In",
        "values": ["huawei-Ascend910", "huawei-Ascend310", "huawei-Ascend310P", "huawei-npu"]}]}]
    assert [t["key"] for t in spec["tolerations"]] == [
        "CriticalAddonsOnly", "huawei.com/Ascend910", "huawei.com/Ascend310", "huawei.com/Ascend310P",
        "huawei.com/npu", "device-plugin"]


def test_single_layout_only_enabled_families_and_extra_node_selector() -> None:
    vals = only("ascend910", "ascend310p")
    vals.update(layout="single", nodeSelector={"workerselector": "dls-worker-node"})
    spec = one(render(CHART, vals), "DaemonSet")["spec"]["template"]["spec"]
    expr = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expr["values"] == ["huawei-Ascend910", "huawei-Ascend310P"]
    assert spec["nodeSelector"] == {"workerselector": "dls-worker-node"}
    # upstream's single DaemonSet tolerates every family's resource and device-plugin=v2
    # (mind-cluster v26.1.0 component/ascend-device-plugin/build/ascendplugin-volcano.yaml)
    assert spec["tolerations"] == [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        *({"key": f"huawei.com/{r}", "operator": "Exists", "effect": "NoSchedule"}
          for r in ("Ascend910", "Ascend310", "Ascend310P", "npu")),
        {"key": "device-plugin", "operator": "Equal", "value": "v2", "effect": "NoSchedule"}]


def test_volcano_type_false() -> None:
    for ds in daemonsets(render(CHART, {"volcanoType": False})).values():
        c = container(ds)
        assert "-volcanoType=false" in c["args"]
        assert "-volcanoType=true" not in c["args"]
        paths = host_paths(ds)
        assert "vnpucfg" not in paths and "vnpu-cfg-lock" not in paths
        assert not any(m["mountPath"] in ("/etc/vnpu.cfg", "/run/vnpu_cfg_lock") for m in c["volumeMounts"])


def test_extra_args_global_and_per_family() -> None:
    vals = {"extraArgs": ["-listWatchPeriod=5"], "log": {"level": -1},
            "families": {"ascend310p": {"enabled": True, "extraArgs": ["-use310PMixedInsert=true"]}}}
    dss = daemonsets(render(CHART, vals))
    args_310p = container(dss["ascend-device-plugin-daemonset-310p"])["args"]
    args_910 = container(dss["ascend-device-plugin-daemonset-910"])["args"]
    assert args_310p[-2:] == ["-listWatchPeriod=5", "-use310PMixedInsert=true"]
    assert args_910[-1] == "-listWatchPeriod=5"
    assert "-use310PMixedInsert=true" not in args_910
    assert "-logLevel=-1" in args_910


def test_log_dir_value_and_no_init_container() -> None:
    ds = daemonsets(render(CHART, {"log": {"dir": "/data/logs/dp", "createDir": False}}))[
        "ascend-device-plugin-daemonset-910"]
    spec = ds["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    assert "-logFile=/data/logs/dp/devicePlugin.log" in container(ds)["args"]
    paths = host_paths(ds)
    assert paths["log-path"] == ("/data/logs/dp", "DirectoryOrCreate")
    assert "log-parent" not in paths


def test_custom_namespace_is_used_explicitly() -> None:
    objs = render(CHART, {"namespace": "npu-system"}, namespace="elsewhere")
    for o in objs:
        if o["kind"] in ("DaemonSet", "ServiceAccount"):
            assert o["metadata"]["namespace"] == "npu-system"
    crb = one(objs, "ClusterRoleBinding")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "ascend-device-plugin", "namespace": "npu-system"}]


def test_global_registry_and_pull_secrets() -> None:
    vals = {"global": {"imageRegistry": "mirror.local:5000", "imagePullSecrets": ["a", {"name": "b"}]},
            "imagePullSecrets": ["b", "c"]}
    for ds in daemonsets(render(CHART, vals)).values():
        spec = ds["spec"]["template"]["spec"]
        assert spec["imagePullSecrets"] == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
        for c in spec["containers"] + spec["initContainers"]:
            assert c["image"] == "mirror.local:5000/ascendhub/ascend-k8sdeviceplugin:v26.0.0"


def test_digest_wins_over_tag() -> None:
    digest = "sha256:" + "a" * 64
    ds = daemonsets(render(CHART, {"image": {"digest": digest}}))["ascend-device-plugin-daemonset-910"]
    assert container(ds)["image"] == f"swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin@{digest}"


def test_rbac_is_exactly_mindclusters() -> None:
    objs = render(CHART)
    role = one(objs, "ClusterRole", "ascend-device-plugin")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): r["verbs"] for r in role["rules"]}
    assert rules == {
        (("",), ("pods",)): ["get", "list", "update", "watch", "patch"],
        (("",), ("nodes",)): ["get", "patch"],
        (("",), ("nodes/proxy",)): ["get"],
        (("",), ("nodes/status",)): ["get", "patch", "update"],
        (("",), ("configmaps",)): ["get", "create", "update", "list", "watch"],
        (("",), ("events",)): ["create"],
    }
    for r in role["rules"]:
        assert "*" not in r["verbs"] + r["resources"] + r["apiGroups"]
    crb = one(objs, "ClusterRoleBinding", "ascend-device-plugin")
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "ascend-device-plugin"}
    assert one(objs, "ServiceAccount")["metadata"]["name"] == "ascend-device-plugin"


def test_common_labels_on_every_object() -> None:
    for o in render(CHART, {"layout": "single"}) + render(CHART):
        labels = o["metadata"]["labels"]
        for k, v in COMMON_LABELS.items():
            assert labels.get(k) == v, (o["kind"], o["metadata"]["name"], k)
        if o["kind"] == "DaemonSet":
            for k in ("app.kubernetes.io/part-of", "app.kubernetes.io/component"):
                assert o["spec"]["template"]["metadata"]["labels"][k] == COMMON_LABELS[k]
            assert "app.kubernetes.io/version" not in o["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("vals, needle", [
    ({"families": {"ascend910": {"enabeld": True, "enabled": True}}}, "enabeld"),
    ({"volcanotype": True}, "volcanotype"),
    ({"volcanoType": "yes"}, "volcanoType"),
    ({"layout": "perfamily"}, "layout"),
    ({"log": {"level": "info"}}, "level"),
    ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    ({"families": {"ascend910p": {"enabled": True}}}, "ascend910p"),
    ({"image": {"tag": "latest"}}, "/image/tag"),
])
def test_schema_rejects(vals: dict[str, Any], needle: str) -> None:
    err = render_error(CHART, vals)
    assert needle in err


def test_no_family_enabled_fails_with_sentence() -> None:
    err = render_error(CHART, only())
    assert "no chip family is enabled" in err
    assert "families.<ascend910|ascend310|ascend310p|npu>.enabled=true" in err


def test_dynamic_vnpu_without_volcano_fails() -> None:
    err = render_error(CHART, {"volcanoType": False, "presetVirtualDevice": False})
    assert "presetVirtualDevice=false" in err and "volcanoType=false" in err


def test_empty_tag_is_the_profiles() -> None:
    for ds in daemonsets(render(CHART, {"image": {"tag": ""}})).values():
        assert container(ds)["image"].endswith("/ascend-k8sdeviceplugin:v26.0.0")


@pytest.mark.parametrize("vals", [{}, {"layout": "single"}, {"volcanoType": False},
                                  copy.deepcopy({"families": {"npu": {"enabled": True}}})])
def test_lint_strict(vals: dict[str, Any]) -> None:
    lint(CHART, vals)


def test_docker_paths_only_on_request() -> None:
    ds = daemonsets(render(CHART, {"hostPaths": {"docker": True}}))["ascend-device-plugin-daemonset-910"]
    assert host_paths(ds)["docker-sock"] == ("/run/docker.sock", "Socket")
    assert host_paths(ds)["docker-dir"] == ("/run/docker", "Directory")
    assert "docker-sock" not in host_paths(daemonsets(render(CHART))["ascend-device-plugin-daemonset-910"])


def test_310p_soc_variant() -> None:
    vals = {"families": {"ascend310p": {"soc": {"enabled": True, "image": {
        "repository": "ascendhub/ascend-k8sdeviceplugin", "tag": "v26.0.0-soc"}}}}}
    ds = daemonsets(render(CHART, vals))["ascend-device-plugin-daemonset-310p-soc"]
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"accelerator": "huawei-Ascend310P", "servertype": "soc"}
    c = spec["containers"][0]
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/ascend-k8sdeviceplugin:v26.0.0-soc"
    assert c["command"] == ["/bin/bash", "-c", "/run_for_310P_1usoc.sh"]
    paths = host_paths(ds)
    for name, path in (("dmp", "/var/dmp_daemon"), ("slogd", "/var/slogd"), ("hdc-basic", "/etc/hdcBasic.cfg"),
                       ("slog-conf", "/etc/slog.conf"), ("libyaml", "/usr/lib64/libyaml-0.so.2")):
        assert paths[name] == (path, "File"), name
    assert ds["metadata"]["labels"]["app.kubernetes.io/component"] == "device-plugin"
    err = render_error(CHART, {"families": {"ascend310p": {"soc": {"enabled": True}}}})
    assert "families.ascend310p.soc.enabled needs families.ascend310p.soc.image.repository" in err


def _notes(*sets: str) -> str:
    helm = need_tool("helm")
    args = [a for kv in sets for a in ("--set", kv)]
    proc = run([helm, "install", "rel", str(CHARTS / CHART), "--dry-run=client", *args],
               env={"KUBECONFIG": os.devnull})
    return proc.stdout.split("NOTES:", 1)[1]


def test_soc_nodes_skipped_with_a_message_when_the_variant_is_off() -> None:
    assert "ascend-device-plugin-daemonset-310p-soc" not in daemonsets(render(CHART))
    assert "Atlas 200I SoC A1 nodes (accelerator=huawei-Ascend310P, servertype=soc)" in _notes()
    on = _notes("families.ascend310p.soc.enabled=true", "families.ascend310p.soc.image.repository=a/b",
                "families.ascend310p.soc.image.tag=v1")
    assert "Atlas 200I SoC A1 nodes" not in on
