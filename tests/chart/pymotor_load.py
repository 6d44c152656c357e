"""Load a rendered user_config.json with the pinned mindie-motor wheel's own config classes.

Runs inside the pymotor venv (hack/pymotor.sh python), not the plugin's: it imports `motor`.
Usage: python pymotor_load.py USER_CONFIG_JSON NPUS_PER_POD_PREFILL NPUS_PER_POD_DECODE
Prints one JSON object with what each PyMotor process made of the file:
  controller   motor.config.controller.ControllerConfig.from_json
  coordinator  motor.config.coordinator.CoordinatorConfig.from_json
  node_manager motor.config.node_manager.NodeManagerConfig.from_json per role (ROLE env, and a
               single-server HCCL file with that role's NPUs per pod, as the chart's entrypoint cuts it)
  engine       motor.engine_server.config.config_loader.DeployConfig.load per role
The controller and coordinator loaders fall back to defaults on a file they cannot read (they log
a warning), so the caller compares the values, not just the exit code.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def hccl(npus: int, ip: str) -> dict:
    devices = [{"device_id": str(i), "device_ip": f"10.0.0.{i}", "rank_id": str(i)} for i in range(npus)]
    return {"status": "completed", "version": "1.0", "server_count": "1",
            "server_list": [{"server_id": ip, "container_ip": ip, "device": devices}]}


def main() -> None:
    path, npus_p, npus_d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ["USER_CONFIG_PATH"] = path
    from motor.config.controller import ControllerConfig
    from motor.config.coordinator import CoordinatorConfig

    ctl = ControllerConfig.from_json(path)
    coord = CoordinatorConfig.from_json(path)
    out: dict = {
        "controller": {
            "controller_api_dns": ctl.api_config.controller_api_dns,
            "controller_api_port": ctl.api_config.controller_api_port,
            "enable_fault_tolerance": ctl.fault_tolerance_config.enable_fault_tolerance,
            "log_level": ctl.logging_config.log_level,
        },
        "coordinator": {
            "deploy_mode": coord.scheduler_config.deploy_mode.value,
            "scheduler_type": coord.scheduler_config.scheduler_type.value,
            "worker_metaserver_base_port": coord.inference_workers_config.worker_metaserver_base_port,
            "num_workers": coord.inference_workers_config.num_workers,
            "infer_port": coord.http_config.coordinator_api_infer_port,
            "mgmt_port": coord.http_config.coordinator_api_mgmt_port,
            "coordinator_api_dns": coord.api_config.coordinator_api_dns,
            "coordinator_api_port": coord.api_config.coordinator_api_port,
            "p_instances_num": coord.deploy_config.p_instances_num,
            "d_instances_num": coord.deploy_config.d_instances_num,
        },
        "node_manager": {},
        "engine": {},
    }
    from motor.config.node_manager import NodeManagerConfig
    from motor.engine_server.config.config_loader import DeployConfig

    for role, npus in (("prefill", npus_p), ("decode", npus_d)):
        os.environ["ROLE"] = role
        with tempfile.TemporaryDirectory() as tmp:
            hccl_path = Path(tmp) / "hccl.json"
            hccl_path.write_text(json.dumps(hccl(npus, "127.0.0.1")))
            nm = NodeManagerConfig.from_json(path, str(hccl_path))
        pc = nm.basic_config.parallel_config
        out["node_manager"][role] = {
            "role": nm.basic_config.role.value,
            "model_name": nm.basic_config.model_name,
            "node_manager_port": nm.api_config.node_manager_port,
            "base_port": nm.endpoint_config.base_port,
            "endpoint_num": nm.endpoint_config.endpoint_num,
            "service_ports": [int(p) for p in nm.endpoint_config.service_ports],
            "mgmt_ports": [int(p) for p in nm.endpoint_config.mgmt_ports],
            "parallel": {"tp": pc.tp_size, "dp": pc.dp_size, "pp": pc.pp_size},
        }
        dc = DeployConfig.load(path, role)
        out["engine"][role] = {
            "engine_type": dc.engine_type,
            "model_name": dc.model_config.model_name,
            "model_path": dc.model_config.model_path,
            "engine_config": dc.engine_config.configs,
            "parallel": {k: getattr(dc.model_config, f"{role}_parallel_config").__dict__[k]
                         for k in ("tp_size", "dp_size", "pp_size", "enable_ep", "dp_rpc_port")},
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
