"""The MindIE contract check catches each upstream rule it claims to apply.

Every case renders the chart with the real helm (the render itself passes the
check, see tests/chart/helmutil.render), breaks one thing the way a faulty
chart would, and asserts the check names it.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from tests.chart.helmutil import render
from tests.contract.mindie_reader import check_release

pytestmark = pytest.mark.chart

FULL = "rel-mindie-service"
BASE: dict[str, Any] = {
    "image": {"repository": "registry.example/ascendhub/mindie", "tag": "2.1.RC1-800I-A2"},
    "model": {"name": "qwen2.5-7b", "path": "/data/qwen2.5-7b"},
    "accelerator": {"type": "module-910b-8"},
}


def pd(**extra: Any) -> list[dict[str, Any]]:
    return render("mindie-service", {**copy.deepcopy(BASE), "mode": "pd", **extra})


def workload(objs, name):
    return next(o for o in objs if o.get("kind") in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name)


def container(objs, name):
    return workload(objs, name)["spec"]["template"]["spec"]["containers"][0]


def config(objs) -> dict[str, Any]:
    return next(o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == f"{FULL}-config")["data"]


def set_env(c, name, value):
    for e in c["env"]:
        if e["name"] == name:
            e.pop("valueFrom", None)
            e["value"] = value


def drop_deploy_name(objs):
    del workload(objs, f"{FULL}-prefill-0")["spec"]["template"]["metadata"]["labels"]["deploy-name"]


def drop_ring_controller(objs):
    w = workload(objs, f"{FULL}-decode-0")
    del w["metadata"]["labels"]["ring-controller.atlas"]
    w["spec"]["template"]["spec"]["volumes"] = [v for v in w["spec"]["template"]["spec"]["volumes"]
                                                if v["name"] != "ranktable"]


def coordinator_on_loopback(objs):
    c = container(objs, f"{FULL}-coordinator")
    c["command"][-1] = c["command"][-1].replace(' "$POD_IP" "$POD_IP"', "")


def ranktable_read_from_configmap(objs):
    set_env(container(objs, f"{FULL}-controller"), "GLOBAL_RANK_TABLE_FILE_PATH",
            "/etc/mindie/global-ranktable/global_ranktable.json")


def controller_config_points_into_configmap(objs):
    data = config(objs)
    ctrl = json.loads(data["ms_controller.json"])
    ctrl["global_rank_table_file_path"] = "/etc/mindie/global-ranktable/global_ranktable.json"
    data["ms_controller.json"] = json.dumps(ctrl)


def copy_without_chmod(objs):
    c = container(objs, f"{FULL}-controller")
    c["command"][-1] = c["command"][-1].replace('chmod 0640 "$GLOBAL_RANK_TABLE_FILE_PATH"\n', "")


def multi_node_flag_wrong(objs):
    data = config(objs)
    ctrl = json.loads(data["ms_controller.json"])
    ctrl["multi_node_infer_config"]["multi_node_infer_enable"] = True
    data["ms_controller.json"] = json.dumps(ctrl)


def world_size_wrong(objs):
    data = config(objs)
    cfg = json.loads(data["config-decode.json"])
    cfg["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["worldSize"] = 4
    data["config-decode.json"] = json.dumps(cfg)


def ports_disagree(objs):
    data = config(objs)
    ctrl = json.loads(data["ms_controller.json"])
    ctrl["mindie_server_control_port"] = 9999
    data["ms_controller.json"] = json.dumps(ctrl)


def coordinator_manage_port_disagrees(objs):
    data = config(objs)
    coord = json.loads(data["ms_coordinator.json"])
    coord["http_config"]["manage_port"] = "9998"
    data["ms_coordinator.json"] = json.dumps(coord)


def digs_path_relative(objs):
    data = config(objs)
    ctrl = json.loads(data["ms_controller.json"])
    ctrl["digs_model_config_path"] = "./conf/model_config/llama2-70B.json"
    data["ms_controller.json"] = json.dumps(ctrl)


def digs_path_in_configmap(objs):
    data = config(objs)
    ctrl = json.loads(data["ms_controller.json"])
    ctrl["digs_machine_config_path"] = "/etc/mindie/config/digs_machine_config.json"
    data["ms_controller.json"] = json.dumps(ctrl)


def digs_file_not_copied(objs):
    c = container(objs, f"{FULL}-controller")
    c["command"][-1] = c["command"][-1].replace(
        "chmod 0640 /var/run/mindie/digs_model_config.json\n", "")


def config_volume_root_only(objs):
    for v in workload(objs, f"{FULL}-decode-0")["spec"]["template"]["spec"]["volumes"]:
        if v["name"] == "config":
            v["configMap"]["defaultMode"] = 0o440


@pytest.mark.parametrize("breakage, needle", [
    (digs_path_relative, "digs_model_config_path=./conf/model_config/llama2-70B.json is relative"),
    (digs_path_in_configmap, "digs_machine_config_path=/etc/mindie/config/digs_machine_config.json is inside "
                             "ConfigMap mount /etc/mindie/config"),
    (digs_file_not_copied, "digs_model_config_path=/var/run/mindie/digs_model_config.json is not copied and chmod"),
    (config_volume_root_only, f"{FULL}-decode-0: ConfigMap volume config has mode 0o440"),
    (drop_deploy_name, f"0 pods labelled deploy-name={FULL}-prefill-0"),
    (drop_ring_controller, "never builds its ranktable"),
    (coordinator_on_loopback, "coordinator: listens on 127.0.0.1"),
    (ranktable_read_from_configmap, "is inside ConfigMap mount /etc/mindie/global-ranktable"),
    (controller_config_points_into_configmap, "global_rank_table_file_path=/etc/mindie/global-ranktable/global_ranktable.json is inside"),
    (copy_without_chmod, "is not copied and chmod 640"),
    (multi_node_flag_wrong, "multi_node_infer_enable=True but instances have"),
    (world_size_wrong, "worldSize 4 differs from the 8 NPUs"),
    (ports_disagree, "mindie_server_control_port=9999"),
    (coordinator_manage_port_disagrees, "mindie_ms_coordinator_port=1026 but ms_coordinator.json manage_port=9998"),
], ids=lambda x: getattr(x, "__name__", None))
def test_each_rule_catches_its_breakage(breakage: Callable, needle: str) -> None:
    objs = pd()
    assert check_release(objs) == []
    broken = copy.deepcopy(objs)
    breakage(broken)
    problems = check_release(broken)
    assert any(needle in p for p in problems), problems


def test_single_pod_instances_must_share_group_2(monkeypatch) -> None:
    """A ranktable builder that gives each single-pod instance its own group is refused (ParseServerNodes)."""
    import tests.contract.mindie_reader as reader

    real = reader.build_global_ranktable

    def per_instance_groups(release, cms, pods):
        result = real(release, cms, pods)
        table = result.ranktable
        merged = table["server_group_list"][2]
        table["server_group_list"][2:] = [
            {"group_id": str(2 + i), "server_count": "1", "server_list": [s]}
            for i, s in enumerate(merged["server_list"])]
        return result

    objs = pd(prefill={"instances": 2})
    monkeypatch.setattr(reader, "build_global_ranktable", per_instance_groups)
    assert any("need every server in group 2" in p for p in check_release(objs))


def test_cross_node_groups_need_deploy_server(monkeypatch) -> None:
    import tests.contract.mindie_reader as reader

    real = reader.build_global_ranktable

    def without_deploy_server(release, cms, pods):
        result = real(release, cms, pods)
        for g in result.ranktable["server_group_list"][2:]:
            g.pop("deploy_server", None)
        return result

    objs = pd(prefill={"podsPerInstance": 2})
    assert check_release(objs) == []
    monkeypatch.setattr(reader, "build_global_ranktable", without_deploy_server)
    assert any("deploy_server 2 (P) or 1 (D)" in p for p in check_release(objs))


def test_single_mode_is_checked_too() -> None:
    objs = render("mindie-service", {**copy.deepcopy(BASE), "single": {"npusPerInstance": 2}})
    assert check_release(objs) == []
    data = config(objs)
    cfg = json.loads(data["config.json"])
    cfg["BackendConfig"]["npuDeviceIds"] = [[0, 1, 2]]
    data["config.json"] = json.dumps(cfg)
    assert any("npuDeviceIds [[0, 1, 2]] do not match the 2 NPUs" in p for p in check_release(objs))


def test_single_mode_pods_must_not_point_the_operator_at_their_deployment() -> None:
    """A ReplicaSet-owned pod's deploy-name makes the operator reconcile that Deployment; an NPU Deployment
    without ring-controller.atlas / ranktable volume has no generator ("rank table generator not found")."""
    objs = render("mindie-service", copy.deepcopy(BASE))
    assert check_release(objs) == []
    dep = workload(objs, FULL)
    dep["spec"]["template"]["metadata"]["labels"]["deploy-name"] = FULL
    assert any(f"its pods make the Ascend Operator reconcile {FULL}" in p and "rank table generator not found" in p
               for p in check_release(objs)), check_release(objs)
    # giving the Deployment a ranktable volume (a generator) would answer it too
    dep["spec"]["template"]["spec"]["volumes"].append({"name": "ranktable", "configMap": {"name": "x"}})
    assert not any("rank table generator not found" in p for p in check_release(objs))
