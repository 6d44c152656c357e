"""mindie-service `mode: pymotor` releases (MindIE 3.x, PyPI mindie-motor 3.0.0b2): what `status` asks their
own control plane, and the `doctor` checks of their usual mistakes.

status: through the API server's service proxy (`/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/...`,
so it works wherever the caller may `get services/proxy`, with no port-forward):
- the controller's GET /observability/inventory on its Service's `observability` port
  (motor/controller/api_server/controller_api.py `_get_inventory`, enabled by the chart's
  `observability_config.observability_enable`; answer built by
  motor/controller/observability/inventory/inventory_collector.py `collect_inventory`: data.inventories
  .PInstanceList / DInstanceList, each instance with Name (its JOB_NAME) and InstanceStatus running |
  init | error). 3.0.0b2 has no other read API for the instances the controller assembled;
- the coordinator's GET /readiness on its Service's `management` port: HTTP 200 by design, readiness in
  the body's `ready` (motor/coordinator/api_server/management_server.py `readiness_check`);
- expected instances: `motor_deploy_config.p_instances_num` / `d_instances_num` of the release's
  user_config.json ConfigMap (the chart renders them from prefill/decode.instances).
A proxy call gets PROXY_SECONDS; one that fails shows as the reason, never as a guess.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Protocol, cast
from urllib.parse import quote

from kubectl_ascend import errors
from kubectl_ascend.kubeapi import KubeAPI

#: Label of the chart's user_config.json ConfigMap (value: the mindie-motor version it renders for).
CONFIG_LABEL = "mindie.huawei.com/pymotor-version"
ROLE_LABEL = "mindie.huawei.com/role"
INSTANCE_LABEL = "app.kubernetes.io/instance"
#: How long status waits for one answer through the service proxy.
PROXY_SECONDS = 8.0


class _Raw(Protocol):
    def request(self, what: str, method: str, path: str, *, idempotent: bool | None = None) -> dict[str, Any]: ...


def proxy_get(kube: KubeAPI, what: str, path: str) -> dict[str, Any]:
    """GET PATH once (no retries: a 503 from the proxy is the answer), JSON out; AscendError on failure."""
    if hasattr(kube, "request"):
        return cast(_Raw, kube).request(what, "GET", path, idempotent=False)
    return kube.get_object(path) or {}


def _bounded(fn: Callable[[], dict[str, Any]], seconds: float) -> tuple[dict[str, Any] | None, str | None]:
    """(answer, None) or (None, reason); gives up after SECONDS (the thread is left to end on its own)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["answer"] = fn()
        except errors.AscendError as e:
            box["error"] = str(e)
        except (ValueError, TypeError, KeyError) as e:
            box["error"] = f"unexpected answer ({type(e).__name__})"
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        return None, f"no answer within {seconds:.0f} s"
    return box.get("answer"), box.get("error")


def services(kube: KubeAPI, ns: str, release: str) -> dict[str, dict[str, Any]]:
    """{role: Service} of the release's controller and coordinator Services (chart labels)."""
    out = {}
    for role in ("controller", "coordinator"):
        sel = quote(f"{INSTANCE_LABEL}={release},{ROLE_LABEL}={role}", safe="")
        items = (kube.get_object(f"/api/v1/namespaces/{quote(ns)}/services?labelSelector={sel}") or {}).get("items")
        if items:
            out[role] = items[0]
    return out


def expected_instances(kube: KubeAPI, ns: str, release: str) -> dict[str, int] | None:
    """{"prefill": n, "decode": m} from the release's user_config.json ConfigMap; None when absent/unreadable."""
    for cm in kube.list_configmaps(ns, f"{INSTANCE_LABEL}={release},{CONFIG_LABEL}"):
        try:
            deploy = json.loads((cm.get("data") or {})["user_config.json"])["motor_deploy_config"]
            return {"prefill": int(deploy["p_instances_num"]), "decode": int(deploy["d_instances_num"])}
        except (KeyError, ValueError, TypeError):
            return None
    return None


def count_inventory(answer: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{"prefill"|"decode": {"running": n, "init": n, "error": n}} of an /observability/inventory answer."""
    inv = answer["data"]["inventories"]
    out: dict[str, dict[str, int]] = {}
    for role, key in (("prefill", "PInstanceList"), ("decode", "DInstanceList")):
        counts = {"running": 0, "init": 0, "error": 0}
        for inst in inv.get(key) or []:
            state = str(inst.get("InstanceStatus"))
            if state in counts:
                counts[state] += 1
        out[role] = counts
    return out


def control_plane(kube: KubeAPI, ns: str, release: str, seconds: float = PROXY_SECONDS) -> dict[str, Any]:
    """What the release's controller and coordinator say of themselves (see the module docstring)."""
    svcs = services(kube, ns, release)
    out: dict[str, Any] = {"expected": expected_instances(kube, ns, release), "registered": None,
                           "controllerError": None, "coordinatorReady": None, "coordinatorError": None}

    def port_name(role: str, want: str) -> str | None:
        ports = ((svcs.get(role) or {}).get("spec") or {}).get("ports") or []
        return next((p["name"] for p in ports if p.get("name") == want), None)

    ctl, coord = port_name("controller", "observability"), port_name("coordinator", "management")
    base = f"/api/v1/namespaces/{quote(ns)}/services"
    if ctl:
        name = svcs["controller"]["metadata"]["name"]
        answer, err = _bounded(lambda: proxy_get(kube, f"ask controller {name} for its instances",
                                                 f"{base}/http:{name}:{ctl}/proxy/observability/inventory"), seconds)
        if answer is not None:
            try:
                out["registered"] = count_inventory(answer)
            except (KeyError, TypeError, AttributeError):
                err = "its /observability/inventory answer has no data.inventories"
        out["controllerError"] = err
    else:
        out["controllerError"] = "no controller Service with an 'observability' port (chart older than this plugin?)"
    if coord:
        name = svcs["coordinator"]["metadata"]["name"]
        answer, err = _bounded(lambda: proxy_get(kube, f"ask coordinator {name} for its readiness",
                                                 f"{base}/http:{name}:{coord}/proxy/readiness"), seconds)
        if answer is not None:
            ready = answer.get("ready")
            out["coordinatorReady"] = ready if isinstance(ready, bool) else None
            if out["coordinatorReady"] is None:
                err = "its /readiness answer has no boolean 'ready'"
        out["coordinatorError"] = err
    else:
        out["coordinatorError"] = "no coordinator Service with a 'management' port"
    return out


def summary(cp: dict[str, Any]) -> str:
    """One line for the status table: "instances P 1/1 D 1/1, coordinator ready" and the reasons."""
    parts = []
    exp = cp.get("expected") or {}
    reg = cp.get("registered")
    if reg is not None:
        parts.append("instances " + " ".join(
            f"{r[0].upper()} {reg[r]['running']}/{exp.get(r, '?')}" for r in ("prefill", "decode")))
    else:
        parts.append(f"instances ? ({cp.get('controllerError')})")
    ready = cp.get("coordinatorReady")
    parts.append("coordinator " + ("ready" if ready else "not ready" if ready is False
                                   else f"? ({cp.get('coordinatorError')})"))
    return ", ".join(parts)
