"""mindie-service mode pymotor (MindIE 3.x, PyMotor): render and assert, and load what was rendered
with the pinned mindie-motor wheel's own config classes.

Scenarios:
- 1P1D defaults: ConfigMap user_config.json, controller and coordinator Deployments and Services
  (FQDNs in user_config.json and in CONTROLLER_SERVICE / COORDINATOR_SERVICE), the controller's
  stdin, probes on /startup /liveness /readiness, one StatefulSet + rings-config per instance with
  ROLE, JOB_NAME, HCCL_PATH, RANKTABLE_PATH, CONFIG_PATH, USER_CONFIG_PATH and python -m
  motor.node_manager.main;
- JOB_NAME: one per instance, shared by the pods of a multi-pod instance (2P1D, 2 pods per prefill);
- the engine entrypoint cuts the pod's own server out of a rings-config hccl.json (run with sh);
- NetworkPolicy: exactly PyMotor's ports, the metaserver open to decode pods only;
- fault tolerance on: ServiceAccount and get/list/watch on nodes, pods, configmaps;
- refusals: metaserver port 0, tp x dp x pp against the NPUs of an instance, tp x pp not dividing
  npusPerPod, ClusterD, standby, an unknown version, unknown keys;
- every combination of VALUE_SETS: user_config.json loaded by motor.config (controller,
  coordinator, node_manager per role) and the engine_server's DeployConfig, which agree with the
  values.
"""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helmutil import find, one, render_error, template
from tests.chart.mindie_values import CHART, FULL, values
from tests.tooling import pymotor_python, run

pytestmark = pytest.mark.chart

CONFIG = f"{FULL}-pymotor-config"


def pm_values(**overrides: Any) -> dict[str, Any]:
    return values(mode="pymotor", **overrides)


def render_pm(vals: dict[str, Any], namespace: str = "default") -> list[dict[str, Any]]:
    # Not helmutil.render: its contract check reads MindIE 2.x servers; PyMotor's pods are checked here.
    proc = template(CHART, vals, namespace=namespace)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def user_config(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return json.loads(one(objs, "ConfigMap", CONFIG)["data"]["user_config.json"])


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod template of an instance: a StatefulSet's, or a Volcano Job's only task's."""
    spec = obj["spec"]["tasks"][0] if obj["kind"] == "Job" else obj["spec"]
    return spec["template"]["spec"]


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return pod_spec(obj)["containers"][0]


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def instances(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One workload per instance: a StatefulSet, or a Volcano Job for a multi-pod instance under Volcano."""
    return find(objs, "StatefulSet") + [o for o in find(objs, "Job") if o["apiVersion"] == "batch.volcano.sh/v1alpha1"]


# Values combinations whose user_config.json the wheel must read as the chart meant it.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "1p1d-defaults": {},
    "2p1d-multipod-dp": {
        "prefill": {"instances": 2, "podsPerInstance": 2, "npusPerPod": 8},
        "pymotor": {"parallel": {"prefill": {"tp": 8, "dp": 2, "pp": 1}}},
    },
    "dp-engines-ports": {
        "prefill": {"npusPerPod": 8}, "decode": {"npusPerPod": 8},
        "pymotor": {"parallel": {"prefill": {"tp": 2, "dp": 4, "pp": 1, "dpRpcPort": 9100},
                                 "decode": {"tp": 4, "dp": 1, "pp": 2, "enableEp": True}},
                    "nodeManager": {"port": 9026, "engineBasePort": 11000},
                    "coordinator": {"numWorkers": 4, "workerMetaserverBasePort": 13000, "inferPort": 8080,
                                    "mgmtPort": 8081, "schedulerType": "round_robin"},
                    "controller": {"port": 9000, "faultTolerance": True},
                    "engineConfig": {"prefill": {"max-model-len": 4096}, "decode": {"max-num-seqs": 16}},
                    "kvTransferConfig": {"kv_connector": "LLMDataDistCMgrConnector", "kv_buffer_device": "npu"},
                    "logLevel": "DEBUG"},
    },
}


def load_with_wheel(cfg: dict[str, Any], npus_p: int, npus_d: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        path = Path(tmp) / "user_config.json"
        path.write_text(json.dumps(cfg))
        proc = run([pymotor_python(), str(Path(__file__).with_name("pymotor_load.py")), str(path),
                    str(npus_p), str(npus_d)], env={"PYTHONPATH": ""}, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_1p1d_objects_and_wiring() -> None:
    objs = render_pm(pm_values(), namespace="llm")
    cfg = user_config(objs)
    ctl_svc = one(objs, "Service", f"{FULL}-controller")
    coord_svc = one(objs, "Service", f"{FULL}-coordinator")
    ctl_fqdn = f"{FULL}-controller.llm.svc.cluster.local"
    coord_fqdn = f"{FULL}-coordinator.llm.svc.cluster.local"
    assert cfg["motor_controller_config"]["api_config"]["controller_api_dns"] == ctl_fqdn
    assert cfg["motor_coordinator_config"]["api_config"]["coordinator_api_dns"] == coord_fqdn
    assert cfg["motor_coordinator_config"]["scheduler_config"]["deploy_mode"] == "pd_separate"
    for role in ("prefill", "decode"):
        assert cfg[f"motor_engine_{role}_config"]["model_config"][f"{role}_parallel_config"] == \
            {"tp_size": 8, "dp_size": 1, "pp_size": 1, "enable_ep": False, "dp_rpc_port": 9000}
    # api for the node_managers; observability for GET /observability/inventory (status, restarted engines)
    assert {p["name"]: p["port"] for p in ctl_svc["spec"]["ports"]} == {"api": 1026, "observability": 1027}
    assert cfg["motor_controller_config"]["observability_config"] == {"observability_enable": True}
    assert {p["name"]: p["port"] for p in coord_svc["spec"]["ports"]} == {"http": 1025, "management": 1026}

    ctl = one(objs, "Deployment", f"{FULL}-controller")
    coord = one(objs, "Deployment", f"{FULL}-coordinator")
    for dep, module in ((ctl, "motor.controller.main"), (coord, "motor.coordinator.main")):
        c = container(dep)
        assert c["command"] == ["python3", "-m", module]
        e = env(c)
        assert e["CONTROLLER_SERVICE"] == ctl_fqdn and e["COORDINATOR_SERVICE"] == coord_fqdn
        assert e["USER_CONFIG_PATH"] == "/mnt/configmap/user_config.json"
        assert e["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert [c[k]["httpGet"]["path"] for k in ("startupProbe", "livenessProbe", "readinessProbe")] == \
            ["/startup", "/liveness", "/readiness"]
        assert dep["spec"]["strategy"]["type"] == "Recreate"
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts["pymotor-config"] == "/mnt/configmap"
    assert container(ctl)["stdin"] is True
    assert "stdin" not in container(coord)
    assert container(coord)["livenessProbe"]["httpGet"]["port"] == 1026
    assert {p["name"]: p["containerPort"] for p in container(coord)["ports"]} == \
        {"infer": 1025, "management": 1026, "metaserver-0": 12000}
    # No RBAC without fault tolerance, and the controller gets no token.
    assert not find(objs, "ClusterRole") and not find(objs, "ServiceAccount")
    assert ctl["spec"]["template"]["spec"]["automountServiceAccountToken"] is False

    sts = {o["metadata"]["name"]: o for o in instances(objs)}
    assert set(sts) == {f"{FULL}-prefill-0", f"{FULL}-decode-0"}
    for name, role in ((f"{FULL}-prefill-0", "prefill"), (f"{FULL}-decode-0", "decode")):
        s = sts[name]
        c = container(s)
        e = env(c)
        assert e["ROLE"] == role and e["JOB_NAME"] == name
        assert e["HCCL_PATH"] == "/usr/local/Ascend/pyMotor/conf/hccl.json"
        assert e["RANKTABLE_PATH"] == "/usr/local/Ascend/pyMotor/conf/ranktable.json"
        assert e["CONFIG_PATH"] == "/usr/local/Ascend/pyMotor/conf"
        assert e["RINGS_CONFIG_PATH"] == "/user/serverid/devindex/config/hccl.json"
        assert c["command"][:2] == ["/bin/sh", "-c"]
        assert c["command"][2].rstrip().endswith("exec python3 -m motor.node_manager.main")
        assert c["resources"]["limits"]["huawei.com/Ascend910"] == 8
        assert {p["name"]: p["containerPort"] for p in c["ports"]} == \
            {"node-manager": 1026, "engine-0": 10000, "engine-mgmt-0": 10001}
        tpl = s["spec"]["template"]
        assert tpl["metadata"]["labels"]["deploy-name"] == name
        assert tpl["spec"]["schedulerName"] == "volcano"
        rings = {v["name"]: v for v in tpl["spec"]["volumes"]}["ranktable"]["configMap"]["name"]
        assert rings == f"rings-config-{name}"
        one(objs, "ConfigMap", rings)
        assert s["spec"]["podManagementPolicy"] == "Parallel"
    # MindIE 2.x objects are not rendered.
    assert not find(objs, "ConfigMap", f"{FULL}-config")
    assert not find(objs, "ConfigMap", f"{FULL}-global-ranktable")
    # Decode above prefill.
    pcs = {o["metadata"]["name"].rsplit("-", 1)[1]: o["value"] for o in find(objs, "PriorityClass")}
    assert pcs["decode"] > pcs["prefill"]


def test_job_name_unique_per_instance_shared_by_its_pods() -> None:
    vals = pm_values(prefill={"instances": 2, "podsPerInstance": 2, "npusPerPod": 8}, decode={"instances": 2},
                     pymotor={"parallel": {"prefill": {"tp": 8, "dp": 2, "pp": 1}}})
    objs = render_pm(vals)
    sts = instances(objs)
    assert len(sts) == 4
    job_names = [env(container(s))["JOB_NAME"] for s in sts]
    # One value per instance workload (every pod of it), none shared between two instances.
    assert len(set(job_names)) == len(job_names), job_names
    for s in sts:
        assert env(container(s))["JOB_NAME"] == s["metadata"]["name"]
    # The multi-pod prefill instances are gangs: Volcano Jobs of minAvailable 2 (Volcano makes their PodGroups).
    for i in range(2):
        job = one(objs, "Job", f"{FULL}-prefill-{i}")
        assert job["spec"]["minAvailable"] == job["spec"]["tasks"][0]["replicas"] == 2
    assert find(objs, "PodGroup") == []
    cfg = user_config(objs)["motor_deploy_config"]
    assert (cfg["p_instances_num"], cfg["single_p_instance_pod_num"], cfg["d_instances_num"]) == (2, 2, 2)


class Inventory(http.server.BaseHTTPRequestHandler):
    """The controller's GET /observability/inventory (motor/controller/observability/inventory/
    inventory_collector.py collect_inventory, wrapped by http_response.py format_success_response)."""
    running: list[str] = []
    calls: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Inventory.calls.append(self.path)
        listed = [{"ID": j, "Name": j, "InstanceStatus": "running", "podInfoList": []} for j in Inventory.running]
        body = json.dumps({"code": 200, "message": "Success", "data": {"inventories": {
            "PInstanceList": listed, "DInstanceList": [{"Name": "other", "InstanceStatus": "error"}]}}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Ready(http.server.BaseHTTPRequestHandler):
    calls: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Ready.calls.append(self.path)
        body = b'{"status": "ok", "message": "Coordinator is ok", "ready": false}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_engine_entrypoint_cuts_own_server(tmp_path: Path) -> None:
    """Run the rendered engine script with sh (python3 stubbed out at the exec) on a two-server table."""
    # A coordinator stand-in: the script registers only once the coordinator's /readiness answers.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    inventory = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Inventory)
    threading.Thread(target=inventory.serve_forever, daemon=True).start()
    objs = render_pm(pm_values(pymotor={"coordinator": {"mgmtPort": port},
                                        "controller": {"observabilityPort": inventory.server_address[1]}}))
    script = container(one(objs, "StatefulSet", f"{FULL}-prefill-0"))["command"][2]
    rings = tmp_path / "rings" / "hccl.json"
    rings.parent.mkdir()
    servers = [{"server_id": f"node-{i}", "container_ip": f"10.1.0.{i}", "host_ip": "192.0.2.1",
                "device": [{"device_id": str(d), "rank_id": str(8 * i + d)} for d in range(8)]} for i in range(2)]
    rings.write_text(json.dumps({"status": "completed", "version": "1.0", "server_count": "2", "server_list": servers}))
    conf = tmp_path / "conf"
    script = script.replace("exec python3 -m motor.node_manager.main", 'echo "exec node_manager ROLE=$ROLE"')
    e = {"RINGS_CONFIG_PATH": str(rings), "CONFIG_PATH": str(conf), "HCCL_PATH": str(conf / "hccl.json"),
         "RANKTABLE_PATH": str(conf / "ranktable.json"), "POD_IP": "10.1.0.1", "ROLE": "prefill",
         "PATH": os.environ["PATH"], "COORDINATOR_SERVICE": "127.0.0.1", "CONTROLLER_SERVICE": "127.0.0.1",
         "JOB_NAME": f"{FULL}-prefill-0"}
    try:
        proc = subprocess.run(["sh", "-c", script], env=e, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert Ready.calls, "the script did not ask the coordinator"
        # An IP the table does not list is an error, not someone else's server.
        bad = subprocess.run(["sh", "-c", script], env={**e, "POD_IP": "10.9.9.9"}, capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode != 0 and "need exactly 1" in bad.stderr
        # No coordinator: the script keeps waiting and never starts the node_manager.
        server.shutdown()
        server.server_close()
        with pytest.raises(subprocess.TimeoutExpired) as waited:
            subprocess.run(["sh", "-c", script], env=e, capture_output=True, text=True, timeout=5)
        out = waited.value.stdout or ""
        assert "waiting for the coordinator" in (out.decode() if isinstance(out, bytes) else out)
    finally:
        server.server_close()
        inventory.shutdown()
        inventory.server_close()
    # The first start asks the coordinator only; every later one (a restarted container) the controller too.
    assert len(Inventory.calls) == 1, Inventory.calls
    assert "exec node_manager ROLE=prefill" in proc.stdout
    own = json.loads((conf / "hccl.json").read_text())
    assert own["server_count"] == "1"
    assert [s["server_id"] for s in own["server_list"]] == ["node-1"]
    assert json.loads((conf / "ranktable.json").read_text())["server_count"] == "2"


def test_network_policy_admits_exactly_pymotor_traffic() -> None:
    vals = pm_values(pymotor={"networkPolicy": {"enabled": True, "kvPorts": [{"port": 20000, "endPort": 20100}]},
                              "coordinator": {"numWorkers": 3}})
    objs = render_pm(vals)
    assert not find(render_pm(pm_values()), "NetworkPolicy")
    coord = one(objs, "NetworkPolicy", f"{FULL}-coordinator")["spec"]
    rules = coord["ingress"]
    by_port = {r["ports"][0]["port"]: r for r in rules}
    assert set(by_port) == {1025, 1026, 12000}
    assert "from" not in by_port[1025]  # clients
    assert by_port[1026]["from"][0]["podSelector"]["matchLabels"]["mindie.huawei.com/role"] == "controller"
    meta = by_port[12000]
    assert meta["ports"][0]["endPort"] == 12002
    assert meta["from"][0]["podSelector"]["matchLabels"]["mindie.huawei.com/role"] == "decode"
    ctl = one(objs, "NetworkPolicy", f"{FULL}-controller")["spec"]["ingress"]
    assert [p["port"] for r in ctl for p in r["ports"]] == [1026, 1027]
    eng = one(objs, "NetworkPolicy", f"{FULL}-engines")["spec"]["ingress"]
    ports = [(p["port"], p.get("endPort")) for r in eng for p in r["ports"]]
    assert ports == [(1026, None), (10000, 10001), (9000, None), (20000, 20100)]


def test_fault_tolerance_gets_rbac() -> None:
    objs = render_pm(pm_values(pymotor={"controller": {"faultTolerance": True}}), namespace="llm")
    role = one(objs, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes", "pods", "configmaps"],
                              "verbs": ["get", "list", "watch"]}]
    binding = one(objs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{FULL}-controller", "namespace": "llm"}]
    spec = one(objs, "Deployment", f"{FULL}-controller")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == f"{FULL}-controller"
    assert spec["automountServiceAccountToken"] is True
    assert user_config(objs)["motor_controller_config"]["fault_tolerance_config"]["enable_fault_tolerance"] is True


@pytest.mark.parametrize("overrides, message", [
    ({"pymotor": {"coordinator": {"workerMetaserverBasePort": 0}}}, "workerMetaserverBasePort=0"),
    ({"pymotor": {"parallel": {"prefill": {"tp": 4}}}}, "tp x dp x pp = 4 x 1 x 1 = 4"),
    ({"decode": {"podsPerInstance": 2}}, "decode.podsPerInstance x npusPerPod = 2 x 8 = 16"),
    ({"prefill": {"npusPerPod": 4}, "pymotor": {"parallel": {"prefill": {"tp": 8, "dp": 1, "pp": 1}}}},
     "tp x dp x pp"),
    ({"prefill": {"npusPerPod": 4, "podsPerInstance": 2}}, "tp x pp = 8 must divide prefill.npusPerPod (4)"),
    ({"clusterd": {"enabled": True}}, "no ClusterD client"),
    ({"pymotor": {"standby": True}}, "pymotor.standby=true"),
    ({"pymotor": {"version": "3.1.0"}}, "/pymotor/version"),
    ({"pymotor": {"coordinatr": {}}}, "coordinatr"),
    ({"pymotor": {"coordinator": {"numWorkers": 2, "workerMetaserverBasePort": 1025}}}, "falls in the worker metaserver ports"),
    ({"pymotor": {"nodeManager": {"port": 10001}}}, "falls in the engine ports"),
])
def test_refusals(overrides: dict[str, Any], message: str) -> None:
    err = render_error(CHART, pm_values(**overrides))
    assert message in err, err


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_user_config_loads_with_the_pinned_wheel(name: str) -> None:
    vals = pm_values(**VALUE_SETS[name])
    objs = render_pm(vals, namespace="llm")
    cfg = user_config(objs)
    npus = {r: vals.get(r, {}).get("npusPerPod", 8) for r in ("prefill", "decode")}
    got = load_with_wheel(cfg, npus["prefill"], npus["decode"])
    p = {"coordinator": {}, "controller": {}, "nodeManager": {}, "parallel": {}, "engineConfig": {},
         **vals.get("pymotor", {})}
    coord, ctl, nm = p["coordinator"], p["controller"], p["nodeManager"]
    assert got["controller"] == {
        "controller_api_dns": f"{FULL}-controller.llm.svc.cluster.local",
        "controller_api_port": ctl.get("port", 1026),
        "enable_fault_tolerance": ctl.get("faultTolerance", False),
        "log_level": p.get("logLevel", "INFO"),
    }
    assert got["coordinator"] == {
        "deploy_mode": "pd_separate",
        "scheduler_type": coord.get("schedulerType", "load_balance"),
        "worker_metaserver_base_port": coord.get("workerMetaserverBasePort", 12000),
        "num_workers": coord.get("numWorkers", 1),
        "infer_port": coord.get("inferPort", 1025),
        "mgmt_port": coord.get("mgmtPort", 1026),
        "coordinator_api_dns": f"{FULL}-coordinator.llm.svc.cluster.local",
        "coordinator_api_port": coord.get("mgmtPort", 1026),
        "p_instances_num": vals.get("prefill", {}).get("instances", 1),
        "d_instances_num": vals.get("decode", {}).get("instances", 1),
    }
    sts = {o["metadata"]["name"]: o for o in instances(objs)}
    for role in ("prefill", "decode"):
        par = {"tp": 8, "dp": 1, "pp": 1, "enableEp": False, "dpRpcPort": 9000, **p["parallel"].get(role, {})}
        base = nm.get("engineBasePort", 10000)
        engines = min(par["dp"], npus[role] // (par["tp"] * par["pp"]))
        n = got["node_manager"][role]
        assert n["role"] == role and n["model_name"] == "qwen2.5-7b"
        assert n["parallel"] == {k: par[k] for k in ("tp", "dp", "pp")}
        assert n["node_manager_port"] == nm.get("port", 1026)
        assert n["endpoint_num"] == engines >= 1
        assert n["service_ports"] == [base + 2 * k for k in range(engines)]
        assert n["mgmt_ports"] == [base + 2 * k + 1 for k in range(engines)]
        # The pods open exactly the ports the node_manager will start engines on.
        c = container(sts[f"{FULL}-{role}-0"])
        opened = {pt["name"]: pt["containerPort"] for pt in c["ports"]}
        assert opened == {"node-manager": n["node_manager_port"],
                          **{f"engine-{k}": v for k, v in enumerate(n["service_ports"])},
                          **{f"engine-mgmt-{k}": v for k, v in enumerate(n["mgmt_ports"])}}
        eng = got["engine"][role]
        assert (eng["engine_type"], eng["model_name"], eng["model_path"]) == ("vllm", "qwen2.5-7b", "/data/qwen2.5-7b")
        want = dict(p["engineConfig"].get(role, {}))
        if p.get("kvTransferConfig"):
            want["kv_transfer_config"] = p["kvTransferConfig"]
        assert eng["engine_config"] == want
        assert eng["parallel"] == {"tp_size": par["tp"], "dp_size": par["dp"], "pp_size": par["pp"],
                                   "enable_ep": par["enableEp"], "dp_rpc_port": par["dpRpcPort"]}
    # The coordinator pod opens every metaserver port the workers listen on.
    c = container(one(objs, "Deployment", f"{FULL}-coordinator"))
    meta = sorted(pt["containerPort"] for pt in c["ports"] if pt["name"].startswith("metaserver-"))
    base = got["coordinator"]["worker_metaserver_base_port"]
    assert meta == [base + i for i in range(got["coordinator"]["num_workers"])]


def golden_text(objs: list[dict[str, Any]]) -> str:
    """Stable text of rendered objects: sorted by kind and name, without the chart version and checksums."""
    def strip(meta: dict[str, Any]) -> None:
        for key in ("helm.sh/chart", "app.kubernetes.io/version"):
            (meta.get("labels") or {}).pop(key, None)
        (meta.get("annotations") or {}).pop("checksum/config", None)

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v,
                                                                style="|" if "\n" in v else None))
    out = []
    for obj in sorted(objs, key=lambda o: (o["kind"], o["metadata"]["name"])):
        strip(obj["metadata"])
        tpl = (obj.get("spec") or {}).get("template")
        if isinstance(tpl, dict) and "metadata" in tpl:
            strip(tpl["metadata"])
        out.append(obj)
    return yaml.dump_all(out, Dumper=Dumper, sort_keys=True, default_flow_style=False, width=120)


def test_golden_defaults() -> None:
    """tests/chart/golden/mindie-pymotor.yaml: the 1P1D defaults (VALUE_SETS["1p1d-defaults"], which the
    wheel-load test reads); regenerate with UPDATE_GOLDEN=1 after reviewing the diff."""
    got = golden_text(render_pm(pm_values(**VALUE_SETS["1p1d-defaults"])))
    path = Path(__file__).parent / "golden" / "mindie-pymotor.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(got)
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1 to create it"
    assert got == path.read_text(), f"{path.name} differs; review, then regenerate with UPDATE_GOLDEN=1"


def test_restarted_engine_container_waits_until_the_controller_drops_its_instance(tmp_path: Path) -> None:
    """A restarted engine container (its emptyDir keeps the mark of the first start) starts the node_manager
    only once the controller's inventory no longer lists its JOB_NAME as running: the 3.0.0b2 controller
    would answer its registration "already registered" and keep the instance ACTIVE with a dead engine."""
    coordinator = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    inventory = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Inventory)
    for srv in (coordinator, inventory):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    job = f"{FULL}-decode-0"
    objs = render_pm(pm_values(pymotor={"coordinator": {"mgmtPort": coordinator.server_address[1]},
                                        "controller": {"observabilityPort": inventory.server_address[1]}}))
    script = container(one(objs, "StatefulSet", job))["command"][2]
    script = script.replace("exec python3 -m motor.node_manager.main", 'echo "exec node_manager"')
    rings = tmp_path / "rings" / "hccl.json"
    rings.parent.mkdir()
    rings.write_text(json.dumps({"status": "completed", "server_count": "1", "server_list": [
        {"server_id": "n", "container_ip": "10.1.0.1", "device": [{"device_id": "0", "rank_id": "0"}]}]}))
    conf = tmp_path / "conf"
    e = {"RINGS_CONFIG_PATH": str(rings), "CONFIG_PATH": str(conf), "HCCL_PATH": str(conf / "hccl.json"),
         "RANKTABLE_PATH": str(conf / "ranktable.json"), "POD_IP": "10.1.0.1", "ROLE": "decode",
         "PATH": os.environ["PATH"], "COORDINATOR_SERVICE": "127.0.0.1", "CONTROLLER_SERVICE": "127.0.0.1",
         "JOB_NAME": job}
    try:
        Inventory.running = [job]
        first = subprocess.run(["sh", "-c", script], env=e, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0 and "exec node_manager" in first.stdout, first.stderr
        # Restarted while the controller still holds the instance running: it waits.
        with pytest.raises(subprocess.TimeoutExpired) as waited:
            subprocess.run(["sh", "-c", script], env=e, capture_output=True, text=True, timeout=6)
        out = waited.value.stdout or ""
        out = out.decode() if isinstance(out, bytes) else out
        assert f"waiting until the controller drops instance {job}" in out and "exec node_manager" not in out
        # Once the controller lists it no longer as running (or not at all), it starts.
        Inventory.running = []
        again = subprocess.run(["sh", "-c", script], env=e, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "exec node_manager" in again.stdout, again.stderr
    finally:
        for srv in (coordinator, inventory):
            srv.shutdown()
            srv.server_close()


# -- doctor's pymotor checks (kubectl_ascend/pymotor.py) on what the chart renders ------------------------

def as_pods(objs: list[dict[str, Any]], ns: str = "default") -> list[dict[str, Any]]:
    """The pods the rendered workloads make, as the API would list them (Running; labels, spec and owner from
    the pod templates): Deployments and StatefulSets one per replica, Volcano Jobs one per task replica."""
    pods = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet"):
            tasks = [(o["spec"].get("replicas", 1), o["spec"]["template"])]
        elif o["kind"] == "Job" and o["apiVersion"] == "batch.volcano.sh/v1alpha1":
            tasks = [(t.get("replicas", 1), t["template"]) for t in o["spec"]["tasks"]]
        else:
            continue
        for t, (replicas, tpl) in enumerate(tasks):
            for i in range(replicas):
                pods.append({"metadata": {"name": f"{o['metadata']['name']}-{t}-{i}", "namespace": ns,
                                          "labels": tpl["metadata"].get("labels") or {},
                                          "ownerReferences": [{"kind": o["kind"], "name": o["metadata"]["name"]}]},
                             "spec": tpl["spec"], "status": {"phase": "Running"}})
    return pods


def doctor_rows(objs: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    from kubectl_ascend import pymotor

    for o in objs:
        o["metadata"].setdefault("namespace", "default")
    pods = as_pods(objs)
    cms = [o for o in find(objs, "ConfigMap") if pymotor.CONFIG_LABEL in (o["metadata"].get("labels") or {})]
    rows = {"job-names": pymotor.job_name_rows(pods), "stdin": pymotor.stdin_rows(pods),
            "metaserver": pymotor.metaserver_rows(pods, cms, find(objs, "NetworkPolicy"))}
    out = {}
    for name, got in rows.items():
        [(status, message, _fix)] = got
        out[name] = (status, message)
    return out


@pytest.mark.parametrize("policy", [False, True])
def test_doctor_passes_what_the_chart_renders(policy: bool) -> None:
    objs = render_pm(pm_values(prefill={"instances": 2, "podsPerInstance": 2, "npusPerPod": 8},
                               pymotor={"networkPolicy": {"enabled": policy}, "coordinator": {"numWorkers": 2},
                                        "parallel": {"prefill": {"tp": 8, "dp": 2}}}))
    rows = doctor_rows(objs)
    assert {k: v[0] for k, v in rows.items()} == {"job-names": "PASS", "stdin": "PASS", "metaserver": "PASS"}, rows


def test_doctor_fails_when_the_metaserver_port_is_dropped_from_the_network_policy() -> None:
    objs = render_pm(pm_values(pymotor={"networkPolicy": {"enabled": True}, "coordinator": {"numWorkers": 2}}))
    coord = one(objs, "NetworkPolicy", f"{FULL}-coordinator")
    # Only the metaserver rule goes: clients and the controller are still admitted.
    coord["spec"]["ingress"] = [r for r in coord["spec"]["ingress"]
                                if not any(p["port"] == 12000 for p in r["ports"])]
    status, message = doctor_rows(objs)["metaserver"]
    assert status == "FAIL" and ":12000 (worker metaserver)" in message, message
    # The rule admitting only the first of two workers' ports is not enough either.
    objs = render_pm(pm_values(pymotor={"networkPolicy": {"enabled": True}, "coordinator": {"numWorkers": 2}}))
    for r in one(objs, "NetworkPolicy", f"{FULL}-coordinator")["spec"]["ingress"]:
        for p in r["ports"]:
            p.pop("endPort", None)
    status, message = doctor_rows(objs)["metaserver"]
    assert status == "FAIL" and ":12001 (worker metaserver)" in message, message


def test_doctor_fails_on_metaserver_port_zero() -> None:
    """The chart refuses 0; a ConfigMap edited by hand (or another chart) is what doctor sees."""
    objs = render_pm(pm_values())
    cm = one(objs, "ConfigMap", CONFIG)
    cfg = json.loads(cm["data"]["user_config.json"])
    cfg["motor_coordinator_config"]["inference_workers_config"]["worker_metaserver_base_port"] = 0
    cm["data"]["user_config.json"] = json.dumps(cfg)
    status, message = doctor_rows(objs)["metaserver"]
    assert status == "FAIL" and "worker_metaserver_base_port is 0" in message, message


def test_doctor_fails_on_two_instances_one_job_name() -> None:
    objs = render_pm(pm_values(prefill={"instances": 2}))
    sts = one(objs, "StatefulSet", f"{FULL}-prefill-1")
    for e in container(sts)["env"]:
        if e["name"] == "JOB_NAME":
            e["value"] = f"{FULL}-prefill-0"
    status, message = doctor_rows(objs)["job-names"]
    assert status == "FAIL" and f"JOB_NAME '{FULL}-prefill-0' on StatefulSet/{FULL}-prefill-0, " \
        f"StatefulSet/{FULL}-prefill-1" in message, message


def test_doctor_fails_on_a_multipod_instance_split_over_job_names() -> None:
    objs = render_pm(pm_values(prefill={"instances": 1, "podsPerInstance": 2, "npusPerPod": 8},
                               pymotor={"parallel": {"prefill": {"tp": 8, "dp": 2}}}))
    pods = [p for p in as_pods(objs) if p["metadata"]["labels"].get("mindie.huawei.com/role") == "prefill"]
    assert len(pods) == 2
    from kubectl_ascend import pymotor

    pods[1] = json.loads(json.dumps(pods[1]))
    for e in pods[1]["spec"]["containers"][0]["env"]:
        if e["name"] == "JOB_NAME":
            e["value"] = "other"
    [(status, message, _)] = pymotor.job_name_rows([pods[0], pods[1]])
    assert status == "FAIL" and "has JOB_NAMEs" in message, message


def test_doctor_warns_on_a_controller_without_stdin() -> None:
    objs = render_pm(pm_values())
    container(one(objs, "Deployment", f"{FULL}-controller")).pop("stdin")
    status, message = doctor_rows(objs)["stdin"]
    assert status == "WARN" and f"{FULL}-controller" in message, message


@pytest.mark.parametrize("name", ["JOB_NAME", "ROLE", "POD_IP", "HCCL_PATH", "USER_CONFIG_PATH"])
def test_extra_env_may_not_override_what_pymotor_reads(name: str) -> None:
    """extraEnv comes after the chart's env, and of repeated names the last counts: one extraEnv JOB_NAME
    would give every instance the same one."""
    err = render_error(CHART, pm_values(extraEnv=[{"name": name, "value": "x"}]))
    assert f"extraEnv sets {name}" in err, err
