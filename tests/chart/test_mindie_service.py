"""Render-and-assert tests of charts/mindie-service.

Scenarios:
- single mode: one instance with defaults (Deployment, Services, NPU
  requests = limits, nodeSelector, probes on the management port with a
  startup budget of 30 min or more, env, shm, security); N instances (PDB
  maxUnavailable 1, anti-affinity preferred / required); each chip family
  (910, 310P, 310) and accelerator.type; NPUs per instance reaching
  config.json (worldSize, npuDeviceIds); hostPath and PVC weights; NodePort;
  https (probe scheme, config, helm test); metrics off; ServiceMonitor only
  with the API or force; rawConfig / extraModelConfig merging;
- pd mode: 1P1D (StatefulSets, Controller, Coordinator, coordinator Service,
  rings-config-* ConfigMaps, global ranktable, priorities decode > prefill,
  volcano); 3P1D; multi-pod instances (Volcano Jobs restarting whole; StatefulSets
  without Volcano), RANKTABLEFILE, multiNodesInferEnabled); ports agreeing across
  config.json, ms_controller.json, ms_coordinator.json, container ports,
  probes and Services (non-default ports); the entrypoint's ranktable wait;
  the rendered objects fed to kubectl_ascend.ranktable (labels agree);
- refusals (schema and validations.yaml): P/D NPU mismatch, more than 16
  NPUs, model name/path missing, coordinator Service named
  mindie-ms-coordinator (by value and by full name), misspelt keys, image
  tag latest / missing repository, PD on 310P, NPUs in resources, decode
  priority not above prefill, gang without volcano, managed rawConfig keys,
  full name too long, model path outside the mount.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_ascend.ranktable import build_global_ranktable
from tests.chart.helmutil import find, one, render, render_error

from tests.chart.mindie_values import CHART, FULL, notes, pd_values, values

pytestmark = pytest.mark.chart

def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def ports(c: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c["ports"]}


def config_json(objs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return json.loads(one(objs, "ConfigMap", f"{FULL}-config")["data"][key])


def script(c: dict[str, Any]) -> str:
    assert c["command"][:2] == ["/bin/sh", "-c"]
    return c["command"][2]


# --------------------------------------------------------------------------
# single mode
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def single_default() -> list[dict[str, Any]]:
    return render(CHART, values())


def test_single_one_instance_objects(single_default):
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in single_default)
    assert kinds == [
        ("ConfigMap", f"{FULL}-config"),
        ("Deployment", FULL),
        ("Pod", f"{FULL}-test-ready"),
        ("Service", FULL),
        ("Service", f"{FULL}-mgmt"),
    ]
    dep = one(single_default, "Deployment", FULL)
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "mindie-service",
        "app.kubernetes.io/instance": "rel",
        "mindie.huawei.com/role": "single",
    }
    svc = one(single_default, "Service", FULL)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 1025, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_single_pod_npus_node_selector_and_security(single_default):
    dep = one(single_default, "Deployment", FULL)
    spec = pod_spec(dep)
    c = container(dep)
    assert c["resources"]["requests"] == {"huawei.com/Ascend910": 1}
    assert c["resources"]["limits"] == {"huawei.com/Ascend910": 1}
    assert spec["nodeSelector"] == {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8"}
    assert spec["schedulerName"] == "volcano"
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    # the image's user, as upstream runs it: no forced uid/gid (MindIE reads weights only as root,
    # their owner or with their group as primary group), non-root kept
    assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]
    model = next(v for v in spec["volumes"] if v["name"] == "model")
    assert model["hostPath"] == {"path": "/data", "type": "Directory"}
    assert {"name": "model", "mountPath": "/data", "readOnly": True} in c["volumeMounts"]
    # Anti-affinity across nodes is preferred by default.
    terms = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert terms[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_single_env_probes_and_ports(single_default):
    c = container(one(single_default, "Deployment", FULL))
    e = env(c)
    assert e["MIES_CONTAINER_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert e["MIES_SERVICE_MONITOR_MODE"] == "1"
    assert e["MIES_CONFIG_JSON_PATH"] == "/var/run/mindie/config.json"
    assert "GLOBAL_RANK_TABLE_FILE_PATH" not in e
    assert ports(c) == {"http": 1025, "management": 1026, "metrics": 1027}
    # MindIE Motor's probe.sh asks MindIE Server /v2/health/ready only, for every probe.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/v2/health/ready", "port": "management", "scheme": "HTTP"}, probe
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30 * 60
    # Single mode starts MindIE directly (no ranktable wait).
    assert "GLOBAL_RANK_TABLE_FILE_PATH" not in script(c)
    # Both install layouts, detected in the container at start.
    assert 'if [ -x "$MIES_INSTALL_PATH/bin/mindieservice_daemon" ]' in script(c)
    assert 'exec "$MIES_INSTALL_PATH/bin/mindieservice_daemon"\n' in script(c)
    assert "elif command -v mindie_llm_server >/dev/null 2>&1; then\n" in script(c)
    assert script(c).rstrip().endswith("exit 127")
    # No deploy-name: the Ascend Operator would reconcile the Deployment on every pod event and log
    # "rank table generator not found" (ascendjob_controller.go watchDeploymentRelatedResource).
    labels = one(single_default, "Deployment", FULL)["spec"]["template"]["metadata"]["labels"]
    assert "deploy-name" not in labels and "ring-controller.atlas" not in labels


def test_single_config_json(single_default):
    cfg = config_json(single_default, "config.json")
    server = cfg["ServerConfig"]
    assert (server["port"], server["managementPort"], server["metricsPort"]) == (1025, 1026, 1027)
    assert server["httpsEnabled"] is False
    assert server["inferMode"] == "standard"
    backend = cfg["BackendConfig"]
    assert backend["npuDeviceIds"] == [[0]]
    assert backend["multiNodesInferEnabled"] is False
    model = backend["ModelDeployConfig"]["ModelConfig"]
    assert len(model) == 1
    assert model[0]["modelName"] == "qwen2.5-7b"
    assert model[0]["modelWeightPath"] == "/data/qwen2.5-7b"
    assert model[0]["worldSize"] == 1
    assert model[0]["backendType"] == "atb"
    assert backend["ScheduleConfig"]["maxBatchSize"] == 200
    assert backend["ScheduleConfig"]["maxPrefillTokens"] == 8192


def test_single_n_instances_pdb_and_required_spread():
    objs = render(CHART, values(single={"replicas": 3, "spread": "required"}))
    dep = one(objs, "Deployment", FULL)
    assert dep["spec"]["replicas"] == 3
    pdb = one(objs, "PodDisruptionBudget", FULL)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == dep["spec"]["selector"]
    anti = pod_spec(dep)["affinity"]["podAntiAffinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in anti
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"]["matchLabels"] == \
        dep["spec"]["selector"]["matchLabels"]


def test_single_pdb_v1beta1_before_kubernetes_1_21():
    objs = render(CHART, values(single={"replicas": 2}), kube_version="1.20.0")
    assert one(objs, "PodDisruptionBudget", FULL)["apiVersion"] == "policy/v1beta1"


def test_single_spread_none_has_no_affinity():
    objs = render(CHART, values(single={"replicas": 2, "spread": "none"}))
    assert "affinity" not in pod_spec(one(objs, "Deployment", FULL))


@pytest.mark.parametrize("family, acc_type, resource, label", [
    ("910", "card", "huawei.com/Ascend910", "huawei-Ascend910"),
    ("310P", "", "huawei.com/Ascend310P", "huawei-Ascend310P"),
    ("310", "", "huawei.com/Ascend310", "huawei-Ascend310"),
])
def test_single_chip_families(family, acc_type, resource, label):
    objs = render(CHART, values(accelerator={"family": family, "type": acc_type},
                                single={"npusPerInstance": 2}))
    dep = one(objs, "Deployment", FULL)
    c = container(dep)
    assert c["resources"]["requests"] == {resource: 2}
    assert c["resources"]["limits"] == {resource: 2}
    want = {"accelerator": label, **({"accelerator-type": acc_type} if acc_type else {})}
    assert pod_spec(dep)["nodeSelector"] == want


def test_single_npus_reach_config_json_and_keep_cpu_memory():
    objs = render(CHART, values(single={"npusPerInstance": 4, "resources": {
        "requests": {"cpu": "8", "memory": "64Gi"}, "limits": {"memory": "128Gi"}}}))
    c = container(one(objs, "Deployment", FULL))
    assert c["resources"]["requests"] == {"cpu": "8", "memory": "64Gi", "huawei.com/Ascend910": 4}
    assert c["resources"]["limits"] == {"memory": "128Gi", "huawei.com/Ascend910": 4}
    backend = config_json(objs, "config.json")["BackendConfig"]
    assert backend["npuDeviceIds"] == [[0, 1, 2, 3]]
    assert backend["ModelDeployConfig"]["ModelConfig"][0]["worldSize"] == 4


def test_single_pvc_weights():
    objs = render(CHART, values(model={"source": "pvc", "pvc": {"claimName": "weights"},
                                       "mountPath": "/models", "path": "/models/qwen"}))
    dep = one(objs, "Deployment", FULL)
    model = next(v for v in pod_spec(dep)["volumes"] if v["name"] == "model")
    assert model == {"name": "model", "persistentVolumeClaim": {"claimName": "weights", "readOnly": True}}
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in container(dep)["volumeMounts"]
    cfg = config_json(objs, "config.json")
    assert cfg["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["modelWeightPath"] == "/models/qwen"


def test_single_hostpath_weights_custom_dir():
    objs = render(CHART, values(model={"hostPath": "/mnt/weights"}))
    model = next(v for v in pod_spec(one(objs, "Deployment", FULL))["volumes"] if v["name"] == "model")
    assert model["hostPath"] == {"path": "/mnt/weights", "type": "Directory"}


def test_single_nodeport():
    objs = render(CHART, values(service={"type": "NodePort", "nodePort": 30080}))
    svc = one(objs, "Service", FULL)
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 30080
    # The management Service never gets a node port.
    assert one(objs, "Service", f"{FULL}-mgmt")["spec"]["type"] == "ClusterIP"


def test_single_https_follows_everywhere():
    objs = render(CHART, values(https={"enabled": True}))
    c = container(one(objs, "Deployment", FULL))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS"
    server = config_json(objs, "config.json")["ServerConfig"]
    assert server["httpsEnabled"] is True
    assert server["interCommTLSEnabled"] is True
    test_pod = one(objs, "Pod", f"{FULL}-test-ready")
    cmd = test_pod["spec"]["containers"][0]["command"]
    assert cmd[-1] == f"https://{FULL}-mgmt:1026/v2/health/ready"
    assert "--insecure" in cmd


def test_single_helm_test_targets_management_readiness(single_default):
    test_pod = one(single_default, "Pod", f"{FULL}-test-ready")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    c = test_pod["spec"]["containers"][0]
    assert c["image"] == "registry.example/ascendhub/mindie:2.1.RC1-800I-A2"
    assert c["command"][0] == "curl"
    assert c["command"][-1] == f"http://{FULL}-mgmt:1026/v2/health/ready"
    assert test_pod["spec"]["nodeSelector"] == {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8"}


def test_single_metrics_disabled():
    objs = render(CHART, values(metrics={"enabled": False}))
    c = container(one(objs, "Deployment", FULL))
    assert "MIES_SERVICE_MONITOR_MODE" not in env(c)
    assert "metrics" not in ports(c)
    mgmt = one(objs, "Service", f"{FULL}-mgmt")
    assert [p["name"] for p in mgmt["spec"]["ports"]] == ["management"]


def test_service_monitor_needs_api_or_force():
    on = values(metrics={"serviceMonitor": {"enabled": True}})
    assert find(render(CHART, on), "ServiceMonitor") == []
    with_api = render(CHART, on, extra=["--api-versions", "monitoring.coreos.com/v1"])
    sm = one(with_api, "ServiceMonitor", FULL)
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    assert sm["spec"]["selector"]["matchLabels"]["mindie.huawei.com/metrics"] == "true"
    forced = render(CHART, values(metrics={"serviceMonitor": {"enabled": True, "force": True}}))
    assert len(find(forced, "ServiceMonitor")) == 1
    # The selected Service carries the label and the metrics port.
    mgmt = one(with_api, "Service", f"{FULL}-mgmt")
    assert mgmt["metadata"]["labels"]["mindie.huawei.com/metrics"] == "true"


def test_raw_config_and_extra_model_config_merge():
    objs = render(CHART, values(
        rawConfig={"ServerConfig": {"maxLinkNum": 2000, "fullTextEnabled": True},
                   "BackendConfig": {"ScheduleConfig": {"maxBatchSize": 64}}},
        model={"extraModelConfig": {"tp": 8, "plugin_params": "{}"}}))
    cfg = config_json(objs, "config.json")
    assert cfg["ServerConfig"]["maxLinkNum"] == 2000
    assert cfg["ServerConfig"]["fullTextEnabled"] is True
    assert cfg["ServerConfig"]["port"] == 1025  # untouched siblings survive the merge
    assert cfg["BackendConfig"]["ScheduleConfig"]["maxBatchSize"] == 64
    assert cfg["BackendConfig"]["ScheduleConfig"]["maxPrefillTokens"] == 8192
    model = cfg["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]
    assert model["tp"] == 8
    assert model["modelName"] == "qwen2.5-7b"


def test_config_change_rolls_pods():
    a = one(render(CHART, values()), "Deployment", FULL)
    b = one(render(CHART, values(serverConfig={"maxSeqLen": 4096})), "Deployment", FULL)
    key = "checksum/config"
    assert a["spec"]["template"]["metadata"]["annotations"][key] != \
        b["spec"]["template"]["metadata"]["annotations"][key]


def pd_checksums(**overrides: Any) -> dict[str, str]:
    """Workload name -> its pod template's checksum/config, for a pd render."""
    objs = render(CHART, pd_values(**overrides))
    return {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for o in objs if o["kind"] in ("StatefulSet", "Deployment")}


MS = {f"{FULL}-controller", f"{FULL}-coordinator"}


def test_scaling_prefill_rolls_the_controller_not_the_servers():
    # prefill 2 -> 1 changes default_p_rate in ms_controller.json only; the
    # servers that stay must keep running (restarting a gang frees its NPUs).
    a = pd_checksums(prefill={"instances": 2})
    b = pd_checksums(prefill={"instances": 1})
    assert set(b) < set(a)
    changed = {n for n in b if a[n] != b[n]}
    assert changed == MS, changed


def test_checksum_covers_the_files_each_pod_mounts():
    base = pd_checksums()
    # a role's own config rolls that role's servers (and the controller and coordinator, as any change)
    p = pd_checksums(prefill={"rawConfig": {"ServerConfig": {"maxLinkNum": 500}}})
    assert {n for n in base if base[n] != p[n]} == {f"{FULL}-prefill-0"} | MS
    # shared server tuning rolls every server
    s = pd_checksums(serverConfig={"maxSeqLen": 4096})
    assert {n for n in base if base[n] != s[n]} == {f"{FULL}-prefill-0", f"{FULL}-decode-0"} | MS
    # a controller-only setting leaves the servers alone
    c = pd_checksums(controller={"rawConfig": {"default_d_rate": 3}})
    assert {n for n in base if base[n] != c[n]} == MS


# --------------------------------------------------------------------------
# pd mode
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pd_default() -> list[dict[str, Any]]:
    return render(CHART, pd_values())


def test_pd_1p1d_objects(pd_default):
    names = {(o["kind"], o["metadata"]["name"]) for o in pd_default}
    assert names == {
        ("PriorityClass", f"default-{FULL}-prefill"),
        ("PriorityClass", f"default-{FULL}-decode"),
        ("ConfigMap", f"{FULL}-config"),
        ("ConfigMap", f"{FULL}-global-ranktable"),
        ("ConfigMap", f"rings-config-{FULL}-prefill-0"),
        ("ConfigMap", f"rings-config-{FULL}-decode-0"),
        ("Service", f"{FULL}-coordinator"),
        ("Service", f"{FULL}-coordinator-mgmt"),
        ("Service", f"{FULL}-servers"),
        ("Deployment", f"{FULL}-controller"),
        ("Deployment", f"{FULL}-coordinator"),
        ("StatefulSet", f"{FULL}-prefill-0"),
        ("StatefulSet", f"{FULL}-decode-0"),
        ("Pod", f"{FULL}-test-ready"),
    }
    # Single-pod instances need no PodGroup.
    assert find(pd_default, "PodGroup") == []


def test_pd_instances_labels_npus_and_scheduler(pd_default):
    for role in ("prefill", "decode"):
        sts = one(pd_default, "StatefulSet", f"{FULL}-{role}-0")
        assert sts["spec"]["replicas"] == 1
        assert sts["spec"]["podManagementPolicy"] == "Parallel"
        assert sts["spec"]["serviceName"] == f"{FULL}-servers"
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert labels["ring-controller.atlas"] == "ascend-910b"
        # The Ascend Operator lists a StatefulSet's pods by deploy-name=<StatefulSet name> only.
        assert labels["deploy-name"] == sts["metadata"]["name"] == f"{FULL}-{role}-0"
        assert labels["mindie.huawei.com/role"] == role
        assert labels["mindie.huawei.com/instance-index"] == "0"
        assert sts["metadata"]["labels"]["ring-controller.atlas"] == "ascend-910b"
        spec = pod_spec(sts)
        assert spec["schedulerName"] == "volcano"
        assert spec["priorityClassName"] == f"default-{FULL}-{role}"
        c = container(sts)
        assert c["resources"]["requests"] == {"huawei.com/Ascend910": 8}
        assert c["resources"]["limits"] == {"huawei.com/Ascend910": 8}
        vols = {v["name"]: v for v in spec["volumes"]}
        assert vols["ranktable"]["configMap"]["name"] == f"rings-config-{FULL}-{role}-0"
        assert vols["global-ranktable"]["configMap"]["name"] == f"{FULL}-global-ranktable"
        assert vols["config"]["configMap"]["items"][0] == {"key": f"config-{role}.json", "path": "config.json"}
        assert {"name": "ranktable", "mountPath": "/user/serverid/devindex/config", "readOnly": True} \
            in c["volumeMounts"]
        # Single-pod instances: no multi-node ranktable.
        assert "RANKTABLEFILE" not in env(c)
        # Mounted where MindIE Motor's PD server example mounts it.
        assert vols["queue-schedule"]["hostPath"]["path"] == "/var/queue_schedule"
        assert {"name": "queue-schedule", "mountPath": "/var/queue_schedule"} in c["volumeMounts"]


def test_pd_priorities_decode_above_prefill(pd_default):
    prio = {o["metadata"]["name"]: o["value"] for o in find(pd_default, "PriorityClass")}
    assert prio[f"default-{FULL}-decode"] > prio[f"default-{FULL}-prefill"]
    existing = render(CHART, pd_values(priorityClasses={
        "create": False, "existingPrefill": "low", "existingDecode": "high"}))
    assert find(existing, "PriorityClass") == []
    assert pod_spec(one(existing, "StatefulSet", f"{FULL}-decode-0"))["priorityClassName"] == "high"
    assert pod_spec(one(existing, "StatefulSet", f"{FULL}-prefill-0"))["priorityClassName"] == "low"


def test_pd_ranktable_configmaps(pd_default):
    for role in ("prefill", "decode"):
        cm = one(pd_default, "ConfigMap", f"rings-config-{FULL}-{role}-0")
        assert cm["metadata"]["labels"]["ring-controller.atlas"] == "ascend-910b"
        assert cm["metadata"]["labels"]["mindie.huawei.com/ranktable"] == "instance"
        assert json.loads(cm["data"]["hccl.json"]) == {"status": "initializing"}
    glob = one(pd_default, "ConfigMap", f"{FULL}-global-ranktable")
    assert json.loads(glob["data"]["global_ranktable.json"]) == {"status": "initializing"}
    assert glob["metadata"]["labels"]["mindie.huawei.com/ranktable"] == "global"


def test_pd_configs_modes(pd_default):
    for role in ("prefill", "decode"):
        cfg = config_json(pd_default, f"config-{role}.json")
        assert cfg["ServerConfig"]["inferMode"] == "dmi"
        assert cfg["BackendConfig"]["npuDeviceIds"] == [list(range(8))]
        assert cfg["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["worldSize"] == 8
    ctrl = config_json(pd_default, "ms_controller.json")
    assert ctrl["deploy_mode"] == "pd_separate"
    # MindIE reads the private copy, never the ConfigMap volume's symlink.
    assert ctrl["global_rank_table_file_path"] == "/var/run/mindie/global_ranktable.json"
    assert (ctrl["default_p_rate"], ctrl["default_d_rate"]) == (1, 1)
    coord = config_json(pd_default, "ms_coordinator.json")
    assert coord["digs_scheduler_config"]["deploy_mode"] == "pd_separate"
    client = config_json(pd_default, "http_client_ctl.json")
    assert client["tls_enable"] is False


def test_pd_coordinator_listens_on_the_pod_ip(pd_default):
    """The coordinator takes predict_ip/manage_ip from its config or its two arguments only; MindIE-Motor's
    boot.sh starts it with the pod IP twice (charts/mindie-service/README.md, sources table)."""
    c = container(one(pd_default, "Deployment", f"{FULL}-coordinator"))
    s = script(c)
    assert 'exec "$MIES_INSTALL_PATH/bin/ms_coordinator" "$POD_IP" "$POD_IP"\n' in s
    assert 'exec mindie_motor_coordinator "$POD_IP" "$POD_IP"\n' in s
    assert env(c)["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    ctrl = container(one(pd_default, "Deployment", f"{FULL}-controller"))
    assert env(ctrl)["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert 'exec mindie_motor_controller\n' in script(ctrl)
    for role in ("controller", "coordinator"):
        labels = one(pd_default, "Deployment", f"{FULL}-{role}")["spec"]["template"]["metadata"]["labels"]
        assert labels["deploy-name"] == f"{FULL}-{role}"


def test_pd_every_pod_waits_for_global_ranktable(pd_default):
    for kind, name in [("Deployment", f"{FULL}-controller"), ("Deployment", f"{FULL}-coordinator"),
                       ("StatefulSet", f"{FULL}-prefill-0"), ("StatefulSet", f"{FULL}-decode-0")]:
        c = container(one(pd_default, kind, name))
        s = script(c)
        assert env(c)["GLOBAL_RANK_TABLE_FILE_PATH"] == "/var/run/mindie/global_ranktable.json"
        assert "src='/etc/mindie/global-ranktable/global_ranktable.json'" in s
        assert "until grep -Eq '\"status\"[[:space:]]*:[[:space:]]*\"completed\"' \"$src\"" in s
        # the table must have been built from this very pod (UIDs, unlike IPs, are never reused)
        assert 'grep -Fqx "$POD_UID" "$(dirname "$src")/pod_uids"' in s
        # MindIE refuses symlinks and foreign-owned files: a regular copy, mode 640, before the binary starts.
        assert 'cp "$src" "$GLOBAL_RANK_TABLE_FILE_PATH"\nchmod 0640 "$GLOBAL_RANK_TABLE_FILE_PATH"' in s
        assert s.index('cp "$src"') < s.index("exec ")
        assert env(c)["POD_UID"] == {"fieldRef": {"fieldPath": "metadata.uid"}}
        assert "kubectl ascend mindie ranktable rel -n default" in s
        assert s.index("until grep") < s.index("exec ")


def test_pd_motor_pods_go_to_npu_server_nodes(pd_default):
    # the MindIE image is built for the NPU servers' architecture: controller/coordinator follow them
    for name in (f"{FULL}-controller", f"{FULL}-coordinator"):
        pod = one(pd_default, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["nodeSelector"]["accelerator"] == "huawei-Ascend910"


def test_pd_3p1d():
    objs = render(CHART, pd_values(prefill={"instances": 3}))
    assert sorted(o["metadata"]["name"] for o in find(objs, "StatefulSet")) == [
        f"{FULL}-decode-0", f"{FULL}-prefill-0", f"{FULL}-prefill-1", f"{FULL}-prefill-2"]
    assert len([o for o in find(objs, "ConfigMap") if o["metadata"]["name"].startswith("rings-config-")]) == 4
    ctrl = config_json(objs, "ms_controller.json")
    assert (ctrl["default_p_rate"], ctrl["default_d_rate"]) == (3, 1)
    ann = one(objs, "ConfigMap", f"{FULL}-global-ranktable")["metadata"]["annotations"]
    assert ann["mindie.huawei.com/prefill-instances"] == "3"
    assert ann["mindie.huawei.com/decode-instances"] == "1"
    idx = one(objs, "StatefulSet", f"{FULL}-prefill-2")["spec"]["selector"]["matchLabels"]
    assert idx["mindie.huawei.com/instance-index"] == "2"


def test_pd_multi_pod_instances_are_volcano_jobs_that_restart_whole():
    """Huawei's operator never numbers a pod recreated next to a numbered one (v26.0.0 pod.go
    updateRandIndex): a multi-pod instance is a Volcano Job whose RestartJob policy recreates all its pods."""
    objs = render(CHART, pd_values(prefill={"instances": 2, "podsPerInstance": 2},
                                   decode={"podsPerInstance": 4}))
    assert find(objs, "PodGroup") == []  # Volcano makes each Job's PodGroup
    assert find(objs, "StatefulSet") == []
    jobs = {o["metadata"]["name"]: o for o in find(objs, "Job")}
    assert set(jobs) == {f"{FULL}-prefill-0", f"{FULL}-prefill-1", f"{FULL}-decode-0"}
    for name, job in jobs.items():
        spec = job["spec"]
        assert job["apiVersion"] == "batch.volcano.sh/v1alpha1"
        assert job["metadata"]["labels"]["ring-controller.atlas"] == "ascend-910b"
        assert (spec["schedulerName"], spec["queue"], spec["maxRetry"]) == ("volcano", "default", 100)
        assert spec["policies"] == [{"events": ["PodEvicted", "PodFailed"], "action": "RestartJob"}]
        [task] = spec["tasks"]
        assert spec["minAvailable"] == task["replicas"] == (4 if "decode" in name else 2)
        assert spec["priorityClassName"] == task["template"]["spec"]["priorityClassName"]
        assert "jobID" not in task["template"]["metadata"]["labels"]  # no ClusterD labels outside ClusterD mode
        assert "scheduling.k8s.io/group-name" not in task["template"]["metadata"]["annotations"]
        c = task["template"]["spec"]["containers"][0]
        for var in ("RANKTABLEFILE", "RANK_TABLE_FILE", "MIES_RANKTABLEFILE"):
            assert env(c)[var] == "/var/run/mindie/hccl.json", var
        s = script(c)
        assert "hccl='/user/serverid/devindex/config/hccl.json'" in s
        assert 'cp "$hccl" "$RANKTABLEFILE"\nchmod 0640 "$RANKTABLEFILE"' in s
        assert s.index('cp "$hccl"') < s.index("exec ")
        assert ports(c)["multi-node"] == 1120
    assert config_json(objs, "config-prefill.json")["BackendConfig"]["multiNodesInferEnabled"] is True
    ctrl = config_json(objs, "ms_controller.json")["multi_node_infer_config"]
    assert ctrl["multi_node_infer_enable"] is True
    assert ctrl["d_node_config"]["node_machine_num"] == 4
    cm = one(objs, "ConfigMap", f"rings-config-{FULL}-decode-0")
    assert cm["metadata"]["annotations"]["mindie.huawei.com/pods"] == "4"
    retried = render(CHART, pd_values(prefill={"podsPerInstance": 2}, gang={"maxRetry": 3, "enabled": False}))
    job = one(retried, "Job", f"{FULL}-prefill-0")
    assert (job["spec"]["maxRetry"], job["spec"]["minAvailable"]) == (3, 1)


def test_pd_multi_pod_instances_without_volcano_are_statefulsets():
    objs = render(CHART, pd_values(prefill={"podsPerInstance": 2}, gang={"enabled": False},
                                   schedulerName="default-scheduler"))
    assert find(objs, "PodGroup") == [] and find(objs, "Job") == []
    sts = one(objs, "StatefulSet", f"{FULL}-prefill-0")
    assert sts["spec"]["replicas"] == 2
    assert "scheduling.k8s.io/group-name" not in sts["spec"]["template"]["metadata"]["annotations"]
    assert pod_spec(sts)["schedulerName"] == "default-scheduler"


def test_pd_notes_say_how_a_multi_pod_instance_recovers():
    """NOTES: the Volcano Job restarts the instance; without Volcano, the command that recreates it."""
    stateful = notes(pd_values(prefill={"podsPerInstance": 2}, gang={"enabled": False},
                               schedulerName="default-scheduler"))
    assert ("kubectl delete pod -n llm -l app.kubernetes.io/instance=rel,mindie.huawei.com/role=prefill,"
            "mindie.huawei.com/instance-index=0") in stateful
    assert "wait for the operator" not in stateful.lower()
    vcjob = notes(pd_values(prefill={"podsPerInstance": 2}))
    assert "restarts all its pods (Volcano Job" in vcjob and "kubectl delete pod" not in vcjob
    single = notes(pd_values())
    assert "kubectl delete pod" not in single and "Volcano Job" not in single


def test_pd_ports_agree_everywhere():
    objs = render(CHART, pd_values(
        ports={"business": 2025, "management": 2026, "metrics": 2027, "interComm": 2121, "multiNode": 2120},
        controller={"port": 3026, "alarmPort": 3027},
        coordinator={"ports": {"predict": 4025, "manage": 4026, "metrics": 4028, "status": 4029}},
        prefill={"podsPerInstance": 2}))
    server = config_json(objs, "config-prefill.json")
    sc = server["ServerConfig"]
    c = one(objs, "Job", f"{FULL}-prefill-0")["spec"]["tasks"][0]["template"]["spec"]["containers"][0]
    assert ports(c) == {"http": sc["port"], "management": sc["managementPort"], "metrics": sc["metricsPort"],
                        "inter-comm": sc["interCommPort"],
                        "multi-node": server["BackendConfig"]["multiNodesInferPort"]}
    assert (sc["port"], sc["managementPort"], sc["metricsPort"], sc["interCommPort"]) == (2025, 2026, 2027, 2121)
    assert c["readinessProbe"]["httpGet"]["port"] == "management"
    servers_svc = {p["name"]: p["port"] for p in one(objs, "Service", f"{FULL}-servers")["spec"]["ports"]}
    assert servers_svc == {"management": 2026, "inter-comm": 2121, "metrics": 2027}

    ctrl = config_json(objs, "ms_controller.json")
    coord = config_json(objs, "ms_coordinator.json")["http_config"]
    assert ctrl["mindie_server_port"] == sc["port"]
    assert ctrl["mindie_server_control_port"] == sc["managementPort"]
    assert ctrl["mindie_server_metric_port"] == sc["metricsPort"]
    assert ctrl["mindie_ms_coordinator_port"] == int(coord["manage_port"]) == 4026
    assert ctrl["mindie_ms_coordinator_external_port"] == int(coord["external_port"]) == 4028
    assert ctrl["controller_alarm_port"] == int(coord["alarm_port"]) == 3027
    assert ctrl["http_server"]["port"] == 3026
    ctrl_c = container(one(objs, "Deployment", f"{FULL}-controller"))
    assert ports(ctrl_c) == {"http": 3026, "alarm": 3027}
    assert ctrl_c["livenessProbe"]["tcpSocket"]["port"] == "http"

    coord_c = container(one(objs, "Deployment", f"{FULL}-coordinator"))
    assert ports(coord_c) == {"http": int(coord["predict_port"]), "management": int(coord["manage_port"]),
                              "metrics": int(coord["external_port"]), "status": int(coord["status_port"])}
    # MindIE Motor's probe.sh asks the coordinator on its status_port.
    assert coord_c["readinessProbe"]["httpGet"] == {"path": "/v1/readiness", "port": "status", "scheme": "HTTP"}
    entry = one(objs, "Service", f"{FULL}-coordinator")["spec"]["ports"]
    assert entry == [{"name": "http", "port": 4025, "targetPort": "http", "protocol": "TCP"}]
    mgmt = {p["name"]: p["port"] for p in one(objs, "Service", f"{FULL}-coordinator-mgmt")["spec"]["ports"]}
    assert mgmt == {"management": 4026, "status": 4029, "metrics": 4028}
    test_pod = one(objs, "Pod", f"{FULL}-test-ready")
    assert test_pod["spec"]["containers"][0]["command"][-1] == f"http://{FULL}-coordinator-mgmt:4029/v1/readiness"


def test_pd_coordinator_service_name_value():
    objs = render(CHART, pd_values(coordinator={"serviceName": "llm-entry"}, service={"type": "NodePort"}))
    svc = one(objs, "Service", "llm-entry")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["selector"]["mindie.huawei.com/role"] == "coordinator"


def test_pd_rendered_objects_match_ranktable_module():
    """The chart's labels and annotations are what kubectl_ascend.ranktable reads."""
    objs = render(CHART, pd_values(prefill={"podsPerInstance": 2}))
    cms = find(objs, "ConfigMap")
    pods, ip = [], 10
    for kind in ("Deployment", "StatefulSet", "Job"):
        for w in find(objs, kind):
            specs = w["spec"]["tasks"] if kind == "Job" else [w["spec"]]
            for spec in specs:
                for ordinal in range(spec["replicas"]):
                    pods.append({"metadata": {"name": f"{w['metadata']['name']}-{ordinal}", "annotations": {},
                                              "labels": spec["template"]["metadata"]["labels"]},
                                 "status": {"phase": "Running", "podIP": f"10.0.0.{ip}", "hostIP": "192.168.0.1"}})
                    ip += 1
    not_yet = build_global_ranktable("rel", cms, pods)
    assert not not_yet.ready
    assert not_yet.configmap == f"{FULL}-global-ranktable"
    assert len(not_yet.missing) == 2
    assert all("is still 'initializing'" in m for m in not_yet.missing)
    # The Ascend Operator completes each instance's hccl.json.
    for cm in cms:
        if cm["metadata"]["labels"].get("mindie.huawei.com/ranktable") != "instance":
            continue
        lab = cm["metadata"]["labels"]
        mine = [p for p in pods if p["metadata"]["labels"].get("mindie.huawei.com/role") == lab["mindie.huawei.com/role"]
                and p["metadata"]["labels"].get("mindie.huawei.com/instance-index") == lab["mindie.huawei.com/instance-index"]]
        cm["data"]["hccl.json"] = json.dumps({"status": "completed", "server_list": [
            {"server_id": "192.168.0.1", "container_ip": p["status"]["podIP"],
             "device": [{"device_id": "0", "device_ip": "29.0.0.1", "rank_id": str(rank)}]}
            for rank, p in enumerate(mine)]})
        for rank, p in enumerate(mine):  # what the device plugin and the operator (updateRandIndex) leave
            p["metadata"]["annotations"].update({"hccl/rankIndex": str(rank),
                                                 "ascend.kubectl.kubernetes.io/ascend-910-configuration": json.dumps(
                                                     {"devices": [{"device_id": "0", "device_ip": "29.0.0.1"}]})})
    done = build_global_ranktable("rel", cms, pods)
    assert done.ready, done.missing
    assert done.groups == ("0 coordinator", "1 controller", "2 prefill-0", "3 decode-0")
    assert done.ranktable["server_group_list"][2]["server_count"] == "2"


# --------------------------------------------------------------------------
# refusals
# --------------------------------------------------------------------------

def test_refuses_pd_npu_mismatch():
    err = render_error(CHART, pd_values(prefill={"npusPerPod": 8}, decode={"npusPerPod": 4}))
    assert "prefill.npusPerPod (8) and decode.npusPerPod (4) must be equal" in err


@pytest.mark.parametrize("vals, key", [
    ({"single": {"npusPerInstance": 17}}, "npusPerInstance"),
    ({"mode": "pd", "prefill": {"npusPerPod": 32}, "decode": {"npusPerPod": 32}}, "npusPerPod"),
    ({"single": {"npusPerInstance": 0}}, "npusPerInstance"),
])
def test_refuses_npu_counts_outside_1_to_16(vals, key):
    err = render_error(CHART, values(**vals))
    assert "schema" in err
    assert key in err


def test_refuses_missing_model_name_and_path():
    no_name = values()
    del no_name["model"]["name"]
    assert "model.name is required" in render_error(CHART, no_name)
    no_path = values()
    del no_path["model"]["path"]
    assert "model.path is required" in render_error(CHART, no_path)


def test_refuses_model_path_outside_mount():
    err = render_error(CHART, values(model={"path": "/weights/qwen"}))
    assert 'model.path "/weights/qwen" is not under model.mountPath "/data"' in err


def test_refuses_pvc_without_claim():
    assert "model.pvc.claimName is required" in render_error(CHART, values(model={"source": "pvc"}))


@pytest.mark.parametrize("extra, kw", [
    ({"coordinator": {"serviceName": "mindie-ms-coordinator"}}, {}),
    ({"fullnameOverride": "mindie-ms"}, {}),
])
def test_refuses_coordinator_service_named_mindie_ms_coordinator(extra, kw):
    err = render_error(CHART, pd_values(**extra), **kw)
    assert "mindie-ms-coordinator" in err
    assert "MINDIE_MS_COORDINATOR_PORT" in err
    assert "coordinator.serviceName" in err


@pytest.mark.parametrize("vals, needle", [
    ({"single": {"replica": 2}}, "replica"),
    ({"modle": {"name": "x"}}, "modle"),
    ({"coordinator": {"ports": {"predcit": 1}}}, "predcit"),
    ({"accelerator": {"family": "910B"}}, "family"),
    ({"mode": "hybrid"}, "mode"),
])
def test_refuses_misspelt_keys_and_bad_enums(vals, needle):
    err = render_error(CHART, values(**vals))
    assert "schema" in err
    assert needle in err


def test_refuses_latest_and_missing_image():
    assert '"latest" is not allowed' in render_error(CHART, values(image={"tag": "latest"}))
    no_repo = values()
    del no_repo["image"]["repository"]
    assert "image.repository is required" in render_error(CHART, no_repo)


def test_refuses_pd_on_310p():
    err = render_error(CHART, pd_values(accelerator={"family": "310P"}))
    assert "mode=pd needs accelerator.family=910" in err


def test_refuses_npus_in_resources():
    err = render_error(CHART, values(single={"resources": {"limits": {"huawei.com/Ascend910": 2}}}))
    assert "single.resources.limits.huawei.com/Ascend910: NPUs are set by the chart" in err


def test_refuses_decode_priority_not_above_prefill():
    err = render_error(CHART, pd_values(priorityClasses={"prefillValue": 500, "decodeValue": 500}))
    assert "priorityClasses.decodeValue (500) must be greater than priorityClasses.prefillValue (500)" in err


def test_refuses_gang_without_volcano():
    err = render_error(CHART, pd_values(decode={"podsPerInstance": 2}, schedulerName="default-scheduler"))
    assert "set schedulerName=volcano, or gang.enabled=false" in err


@pytest.mark.parametrize("raw, hint", [
    ({"rawConfig": {"ServerConfig": {"port": 8080}}}, "rawConfig.ServerConfig.port is managed by the chart: set ports.business"),
    ({"rawConfig": {"BackendConfig": {"npuDeviceIds": [[0]]}}}, "set single.npusPerInstance"),
    ({"mode": "pd", "coordinator": {"rawConfig": {"http_config": {"manage_port": "9"}}}},
     "coordinator.rawConfig.http_config.manage_port is managed by the chart: set coordinator.ports.manage"),
    ({"mode": "pd", "decode": {"rawConfig": {"ServerConfig": {"inferMode": "standard"}}}},
     "decode.rawConfig.ServerConfig.inferMode is managed by the chart"),
    ({"model": {"extraModelConfig": {"worldSize": 2}}}, "model.extraModelConfig.worldSize is managed by the chart"),
])
def test_refuses_managed_raw_config_keys(raw, hint):
    assert hint in render_error(CHART, values(**raw))


def test_role_raw_config_overrides_global_raw_config_with_false():
    objs = render(CHART, pd_values(rawConfig={"ServerConfig": {"fullTextEnabled": True}},
                                   prefill={"rawConfig": {"ServerConfig": {"fullTextEnabled": False}}}))
    assert config_json(objs, "config-prefill.json")["ServerConfig"]["fullTextEnabled"] is False
    assert config_json(objs, "config-decode.json")["ServerConfig"]["fullTextEnabled"] is True


def test_refuses_too_long_full_name():
    err = render_error(CHART, values(fullnameOverride="a" * 41))
    assert "at most 40 fit" in err


def test_refuses_duplicate_server_ports():
    err = render_error(CHART, values(ports={"metrics": 1026}))
    assert "must all differ" in err


# -- NPUs per pod against the node kind (ascend-common facts/accelerators.json) -

def test_910_workload_without_accelerator_type_is_refused_naming_the_values():
    err = render_error(CHART, values(accelerator={"type": ""}))
    assert "accelerator.type is required for Ascend 910 workloads" in err
    assert "module-910b-8, module-a3-16, module-a3-16-super-pod" in err
    err = render_error(CHART, pd_values(accelerator={"type": ""}))
    assert "accelerator.type is required" in err


@pytest.mark.parametrize("vals, needle", [
    (values(accelerator={"type": "module"}, single={"npusPerInstance": 3}),
     "single.npusPerInstance=3 is not an allocation Ascend 910 nodes of type module give one pod "
     "(Volcano's NPU plugin refuses it). Allowed per pod: 1, 2, 4, 8."),
    (pd_values(prefill={"npusPerPod": 16}, decode={"npusPerPod": 16}),
     "prefill.npusPerPod=16 is more than one module-910b-8 node has (8 NPUs): a pod never spans nodes. "
     "Allowed per pod: 1, 2, 3, 4, 5, 6, 7, 8."),
    # module910a3x16/frame.go ValidNPUJob: one NPU only for a single-task job
    (pd_values(accelerator={"type": "module-a3-16"}, prefill={"podsPerInstance": 2, "npusPerPod": 1},
               decode={"npusPerPod": 1}),
     "prefill.npusPerPod=1 is not an allocation Ascend 910 nodes of type module-a3-16 give each pod of a "
     "multi-pod instance (Volcano's NPU plugin refuses it). Allowed per pod: 2, 4, 6, 8, 10, 12, 14, 16."),
    # superpod/frame.go CheckTaskNPU: each task of a distributed job takes the whole node
    (pd_values(accelerator={"type": "module-a3-16-super-pod"}, prefill={"podsPerInstance": 2, "npusPerPod": 8},
               decode={"npusPerPod": 8}),
     "prefill.npusPerPod=8 with prefill.podsPerInstance=2: on module-a3-16-super-pod nodes Volcano schedules "
     "a multi-pod job only when every pod takes a whole node (16 NPUs"),
    (pd_values(accelerator={"type": "module-a3-8-super-pod"}, prefill={"npusPerPod": 4},
               decode={"podsPerInstance": 3, "npusPerPod": 4}),
     "Set decode.npusPerPod=8, or decode.podsPerInstance=1 to run the instance in one pod."),
    # gang off under Volcano: the instance is still one Volcano Job (minAvailable 1), one distributed job
    (pd_values(accelerator={"type": "module-a3-16-super-pod"}, gang={"enabled": False},
               prefill={"podsPerInstance": 2, "npusPerPod": 8}, decode={"npusPerPod": 8}),
     "prefill.npusPerPod=8 with prefill.podsPerInstance=2: on module-a3-16-super-pod nodes"),
    (values(accelerator={"type": "module-910b-16"}, single={"npusPerInstance": 9}),
     "Allowed per pod: 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16."),
    (values(accelerator={"type": "card-910b-2"}, single={"npusPerInstance": 4}),
     "more than one card-910b-2 node has (2 NPUs)"),
    (values(accelerator={"type": "module-910b-9"}),
     'accelerator.type "module-910b-9" is not an accelerator-type MindCluster knows; use one of card,'),
    (values(accelerator={"family": "310P", "type": "module-910b-8"}),
     'accelerator.type "module-910b-8" is an Ascend 910 type but accelerator.family is 310P; '
     "leave accelerator.type empty."),
])
def test_npus_per_pod_refused_with_rule_and_allowed_values(vals, needle):
    assert needle in render_error(CHART, vals)


@pytest.mark.parametrize("acc_type, npus", [("module-910b-8", 8), ("module-910b-16", 16), ("module-a3-16", 2),
                                            ("module", 4), ("card", 1),
                                            # Volcano's base ValidNPUJob takes any 1..8 on module-910b-8
                                            ("module-910b-8", 3), ("module-910b-8", 7),
                                            # single-task jobs may ask one NPU on A3 (module910a3x16, superpod)
                                            ("module-a3-16", 1), ("module-a3-8-super-pod", 1),
                                            ("module-a3-8-super-pod", 6), ("card-910b-infer", 8)])
def test_npus_per_pod_the_type_allows_render(acc_type, npus):
    objs = render(CHART, values(accelerator={"type": acc_type}, single={"npusPerInstance": npus}))
    assert container(one(objs, "Deployment", FULL))["resources"]["limits"] == {"huawei.com/Ascend910": npus}


@pytest.mark.parametrize("acc_type, pods, npus, gang", [
    ("module-a3-16-super-pod", 2, 16, True),   # a whole node per pod: Volcano schedules it
    ("module-a3-8-super-pod", 4, 8, True),
    ("module-a3-16-super-pod", 1, 8, True),    # one pod per instance: a single-task job
    # no gang and not Volcano's: a StatefulSet, each pod its own single-task job
    ("module-a3-16-super-pod", 2, 8, False),
])
def test_super_pod_instances_volcano_schedules_render(acc_type, pods, npus, gang):
    extra = {} if gang else {"schedulerName": "default-scheduler"}
    objs = render(CHART, pd_values(accelerator={"type": acc_type}, gang={"enabled": gang}, **extra,
                                   prefill={"podsPerInstance": pods, "npusPerPod": npus},
                                   decode={"podsPerInstance": pods, "npusPerPod": npus}))
    # a gang of several pods is a Volcano Job (one task), anything else a StatefulSet
    kind = "Job" if gang and pods > 1 else "StatefulSet"  # a multi-pod instance under Volcano is a Job
    workloads = [o for o in find(objs, kind) if "-prefill-" in o["metadata"]["name"]]
    specs = [w["spec"]["tasks"][0] if kind == "Job" else w["spec"] for w in workloads]
    assert specs and all(spec["replicas"] == pods for spec in specs)
    limits = specs[0]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"huawei.com/Ascend910": npus}


def test_plugin_and_chart_read_one_accelerator_table():
    """kubectl_ascend.labels reads ascend-common's file; its server models name exactly the table's types."""
    import json as _json
    from pathlib import Path

    from kubectl_ascend import facts, labels

    chart_file = Path(__file__).resolve().parents[2] / "charts" / "ascend-common" / "facts" / "accelerators.json"
    facts.load.cache_clear()
    assert labels.accelerator_table() == _json.loads(chart_file.read_text())
    table = labels.accelerator_table()
    model_types = {m.accelerator_type for m in labels.SERVER_MODELS.values() if m.accelerator_type}
    assert model_types == set(table["types"])
    for m in labels.SERVER_MODELS.values():
        if m.accelerator_type:
            assert table["types"][m.accelerator_type]["family"] == m.family, m.key
    assert {f for f in table["families"]} == {m.family for m in labels.SERVER_MODELS.values()} - {"npu"}
    for name, t in table["types"].items():
        assert max(t["allowedPerPod"]) <= t["npusPerNode"], name
    # the plugin's node-size rule comes from the same numbers
    assert labels.type_for_node_size("module-910b-", 8) == "module-910b-8"
    assert labels.type_for_node_size("module-910b-", 16) == "module-910b-16"
    assert labels.type_for_node_size("card-910b-", 2) == "card-910b-2"
