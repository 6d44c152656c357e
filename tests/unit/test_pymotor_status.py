"""kubectl_ascend/pymotor.py: how `status` reads a pymotor release's controller inventory and coordinator readiness.

Pure logic over a fake API door; the real answers through the real service proxy are checked in
tests/e2e/test_mindie_pymotor.py::test_1p1d_completion_and_streamed_chat.
"""
from __future__ import annotations

import json
import time
from typing import Any

from kubectl_ascend import errors
from kubectl_ascend.pymotor import control_plane, count_inventory, summary

NS, REL = "llm", "motor"
CTL, COORD = "motor-mindie-service-controller", "motor-mindie-service-coordinator"


def inventory(p: list[str], d: list[str]) -> dict[str, Any]:
    """An /observability/inventory answer (inventory_collector.py collect_inventory in format_success_response)."""
    return {"code": 200, "message": "Success", "data": {"inventories": {
        "PInstanceList": [{"Name": f"p{i}", "InstanceStatus": s} for i, s in enumerate(p)],
        "DInstanceList": [{"Name": f"d{i}", "InstanceStatus": s} for i, s in enumerate(d)]}}}


class FakeKube:
    def __init__(self, answers: dict[str, Any], ports: bool = True) -> None:
        self.answers, self.ports, self.asked = answers, ports, []

    def list_configmaps(self, ns: str, sel: str | None = None) -> list[dict[str, Any]]:
        assert sel == f"app.kubernetes.io/instance={REL},mindie.huawei.com/pymotor-version"
        cfg = {"motor_deploy_config": {"p_instances_num": 2, "d_instances_num": 1}}
        return [{"metadata": {"name": "x"}, "data": {"user_config.json": json.dumps(cfg)}}]

    def get_object(self, path: str) -> dict[str, Any] | None:
        role = "controller" if "role%3Dcontroller" in path else "coordinator"
        name, port = (CTL, "observability") if role == "controller" else (COORD, "management")
        ports = [{"name": "api" if role == "controller" else "http"}] + ([{"name": port}] if self.ports else [])
        return {"items": [{"metadata": {"name": name}, "spec": {"ports": ports}}]}

    def request(self, what: str, method: str, path: str, *, idempotent: bool | None = None) -> dict[str, Any]:
        assert method == "GET" and idempotent is False  # a proxy answer is not retried
        self.asked.append(path)
        a = self.answers[path.rsplit("/proxy/", 1)[1]]
        if isinstance(a, Exception):
            raise a
        if a == "hang":
            time.sleep(5)
        return a  # type: ignore[no-any-return]


def test_counts_instances_by_state_and_reads_readiness_from_the_body() -> None:
    kube = FakeKube({"observability/inventory": inventory(["running", "init"], ["running"]),
                     "readiness": {"status": "ok", "message": "Coordinator is ok", "ready": False}})
    cp = control_plane(kube, NS, REL)  # type: ignore[arg-type]
    assert kube.asked == [f"/api/v1/namespaces/{NS}/services/http:{CTL}:observability/proxy/observability/inventory",
                          f"/api/v1/namespaces/{NS}/services/http:{COORD}:management/proxy/readiness"]
    assert cp == {"expected": {"prefill": 2, "decode": 1}, "controllerError": None, "coordinatorError": None,
                  "registered": {"prefill": {"running": 1, "init": 1, "error": 0},
                                 "decode": {"running": 1, "init": 0, "error": 0}},
                  "coordinatorReady": False}
    # HTTP 200 with ready false is "not ready", not "ready".
    assert summary(cp) == "instances P 1/2 D 1/1, coordinator not ready"


def test_failures_are_reported_as_reasons_and_bounded() -> None:
    kube = FakeKube({"observability/inventory": errors.ServerFailed("proxy: the API server failed (503)", 503),
                     "readiness": "hang"})
    t0 = time.monotonic()
    cp = control_plane(kube, NS, REL, seconds=0.5)  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 4
    assert cp["registered"] is None and "503" in cp["controllerError"]
    assert cp["coordinatorReady"] is None and cp["coordinatorError"].startswith("no answer within")
    assert summary(cp).startswith("instances ? (proxy: the API server failed (503)), coordinator ? (no answer")


def test_answers_of_another_shape_are_not_guessed() -> None:
    kube = FakeKube({"observability/inventory": {"code": 500, "message": "Observability is not enabled."},
                     "readiness": {"status": "ok"}})
    cp = control_plane(kube, NS, REL)  # type: ignore[arg-type]
    assert cp["registered"] is None and "no data.inventories" in cp["controllerError"]
    assert cp["coordinatorReady"] is None and "no boolean 'ready'" in cp["coordinatorError"]
    old_chart = control_plane(FakeKube({}, ports=False), NS, REL)  # type: ignore[arg-type]
    assert "no controller Service with an 'observability' port" in old_chart["controllerError"]


def test_count_inventory_ignores_unknown_states() -> None:
    assert count_inventory(inventory(["running", "odd"], [])) == {
        "prefill": {"running": 1, "init": 0, "error": 0}, "decode": {"running": 0, "init": 0, "error": 0}}


def test_doctor_metaserver_check_without_permission_to_list_network_policies_warns() -> None:
    from kubectl_ascend import doctor

    class NoPolicies:
        def list_pods(self, *a: Any, **k: Any) -> list[dict[str, Any]]:
            return [{"metadata": {"name": "c", "namespace": NS, "labels": {"mindie.huawei.com/engine": "pymotor",
                                                                         "mindie.huawei.com/role": "coordinator"}}}]

        def get_object(self, path: str) -> dict[str, Any]:
            raise errors.Forbidden(f"get {path}: forbidden (403)")

    kube = NoPolicies()
    [row] = doctor.check_pymotor_metaserver(kube, doctor.Cluster(kube))  # type: ignore[arg-type]
    assert row.status == "WARN" and "403" in row.message and "networkpolicies" in row.fix
