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


# -- doctor ---------------------------------------------------------------------------------------
# Pure functions of cluster objects (pods, ConfigMaps, NetworkPolicies as dicts); doctor.py feeds them.
# Each returns (status, message, fix) rows, one per check that has something to look at.

ENGINE_LABEL = "mindie.huawei.com/engine"
Row = tuple[str, str, str]


def _releases(pods: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Live pods of pymotor releases by (namespace, release)."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in pods:
        labels = p["metadata"].get("labels") or {}
        if labels.get(ENGINE_LABEL) != "pymotor" or p["metadata"].get("deletionTimestamp"):
            continue
        if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        out.setdefault((p["metadata"]["namespace"], labels.get(INSTANCE_LABEL, "?")), []).append(p)
    return out


def _env(pod: dict[str, Any], name: str) -> str | None:
    """NAME's value in the pod's first container; of repeated names the last counts, as in the kubelet."""
    value = None
    for e in (((pod.get("spec") or {}).get("containers") or [{}])[0]).get("env") or []:
        if e.get("name") == name:
            value = str(e["value"]) if "value" in e else None
    return value


def _instance(pod: dict[str, Any]) -> str:
    """Which instance a pod belongs to: its owner (StatefulSet or Volcano Job), else role + index labels."""
    owners = pod["metadata"].get("ownerReferences") or []
    if owners:
        return f"{owners[0].get('kind')}/{owners[0].get('name')}"
    labels = pod["metadata"].get("labels") or {}
    return f"{labels.get(ROLE_LABEL)}-{labels.get('mindie.huawei.com/instance-index')}"


def job_name_rows(pods: list[dict[str, Any]]) -> list[Row]:
    """JOB_NAME: the 3.0.0b2 controller assembles an instance from the node_managers reporting one job_name
    (motor/controller/core/instance_assembler.py register, keyed by msg.job_name): two instances sharing
    one are merged into one (or the second refused as "already registered"), and one instance whose pods
    differ is split into incomplete halves."""
    shared, split, n = [], [], 0
    for (ns, release), ps in sorted(_releases(pods).items()):
        engines = [p for p in ps if (p["metadata"].get("labels") or {}).get(ROLE_LABEL) in ("prefill", "decode")]
        if not engines:
            continue
        n += 1
        by_job: dict[str, set[str]] = {}
        by_inst: dict[str, set[str]] = {}
        for p in engines:
            job, inst = _env(p, "JOB_NAME") or "<unset>", _instance(p)
            by_job.setdefault(job, set()).add(inst)
            by_inst.setdefault(inst, set()).add(job)
        shared += [f"{ns}/{release}: JOB_NAME {job!r} on {', '.join(sorted(insts))}"
                   for job, insts in sorted(by_job.items()) if len(insts) > 1]
        split += [f"{ns}/{release}: {inst} has JOB_NAMEs {', '.join(sorted(jobs))}"
                  for inst, jobs in sorted(by_inst.items()) if len(jobs) > 1]
    if not n:
        return []
    if shared or split:
        return [("FAIL", "PyMotor instances and JOB_NAMEs do not match one to one (the controller assembles an "
                 "instance from the pods sharing a JOB_NAME): " + "; ".join((shared + split)[:5]),
                 "give every pod of one instance the same JOB_NAME and every instance its own (the "
                 "mindie-service chart renders <release>-mindie-service-<role>-<index>; remove extraEnv "
                 "JOB_NAME overrides and helm upgrade)")]
    return [("PASS", f"every PyMotor instance of {n} release(s) has its own JOB_NAME, shared by its pods", "")]


def stdin_rows(pods: list[dict[str, Any]]) -> list[Row]:
    """The 3.0.0b2 controller polls stdin (motor/controller/main.py main: select on sys.stdin); on /dev/null
    (a container without `stdin: true`) select returns at once and the loop spins a CPU core."""
    bad, n = [], 0
    for (ns, release), ps in sorted(_releases(pods).items()):
        for p in ps:
            if (p["metadata"].get("labels") or {}).get(ROLE_LABEL) != "controller":
                continue
            n += 1
            c = ((p.get("spec") or {}).get("containers") or [{}])[0]
            if not c.get("stdin"):
                bad.append(f"{ns}/{p['metadata']['name']}")
    if not n:
        return []
    if bad:
        return [("WARN", "PyMotor controller container(s) without stdin: true spin a CPU core polling an empty "
                 "stdin: " + ", ".join(bad[:5]),
                 "set stdin: true on the controller container (the mindie-service chart does; re-render with "
                 "helm upgrade)")]
    return [("PASS", f"{n} PyMotor controller(s) keep stdin open", "")]


def _selects(sel: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector matches LABELS ({} matches everything)."""
    sel = sel or {}
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for ex in sel.get("matchExpressions") or []:
        key, op, values = ex.get("key"), ex.get("operator"), ex.get("values") or []
        ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
        if not ok:
            return False
    return True


def _admits(policies: list[dict[str, Any]], dst: dict[str, Any], src: dict[str, Any], port: int) -> bool:
    """Whether the NetworkPolicies of DST's namespace admit TCP from pod SRC (same namespace) to DST:PORT.
    No policy selecting DST for Ingress: admitted; else some rule of one of them must (Kubernetes semantics;
    ipBlock peers are not evaluated: pod IPs are not known in advance)."""
    dlabels = dst["metadata"].get("labels") or {}
    slabels = src["metadata"].get("labels") or {}
    named = {cp.get("name"): cp.get("containerPort") for c in (dst.get("spec") or {}).get("containers") or []
             for cp in c.get("ports") or []}
    selecting = [np for np in policies if np["metadata"].get("namespace") == dst["metadata"]["namespace"]
                 and _selects((np.get("spec") or {}).get("podSelector"), dlabels)
                 and "Ingress" in ((np.get("spec") or {}).get("policyTypes") or ["Ingress"])]
    if not selecting:
        return True
    for np in selecting:
        for rule in (np.get("spec") or {}).get("ingress") or []:
            peers = rule.get("from")
            if peers and not any("podSelector" in peer and "namespaceSelector" not in peer
                                 and _selects(peer["podSelector"], slabels) for peer in peers):
                continue
            ports = rule.get("ports")
            if not ports:
                return True
            for pt in ports:
                if (pt.get("protocol") or "TCP") != "TCP":
                    continue
                lo = pt.get("port")
                lo = named.get(lo) if isinstance(lo, str) else lo
                if lo is None or lo == port or (pt.get("endPort") and int(lo) <= port <= int(pt["endPort"])):
                    return True
    return False


def metaserver_rows(pods: list[dict[str, Any]], configmaps: list[dict[str, Any]],
                    policies: list[dict[str, Any]]) -> list[Row]:
    """Decode engines call the coordinator's worker metaserver (motor/coordinator/process/inference_manager.py:
    worker_metaserver_base_port + worker index; the decode side gets its URL in kv_transfer_params,
    router/separate_cdp_router.py). Port 0 turns it off (every PD request 404s); a NetworkPolicy that does
    not admit decode pods on those ports makes every PD request hang and fail."""
    cfgs: dict[tuple[str, str], tuple[int, int] | None] = {}
    for cm in configmaps:
        key = (cm["metadata"]["namespace"], (cm["metadata"].get("labels") or {}).get(INSTANCE_LABEL, "?"))
        try:
            coord = json.loads((cm.get("data") or {})["user_config.json"])["motor_coordinator_config"]
            w = coord.get("inference_workers_config") or {}
            cfgs[key] = (int(w.get("worker_metaserver_base_port", 0)), int(w.get("num_workers", 1) or 1))
        except (KeyError, ValueError, TypeError, AttributeError):
            cfgs[key] = None
    problems, n = [], 0
    for key, ps in sorted(_releases(pods).items()):
        role = {id(p): (p["metadata"].get("labels") or {}).get(ROLE_LABEL) for p in ps}
        coords = [p for p in ps if role[id(p)] == "coordinator"]
        decodes = [p for p in ps if role[id(p)] == "decode"]
        if not coords or not decodes:
            continue
        n += 1
        where = f"{key[0]}/{key[1]}"
        cfg = cfgs.get(key)
        if cfg is None:
            problems.append(f"{where}: no readable user_config.json ConfigMap ({CONFIG_LABEL})")
            continue
        base, workers = cfg
        if base == 0:
            problems.append(f"{where}: worker_metaserver_base_port is 0 (metaserver off: PD requests get 404)")
            continue
        for port in range(base, base + workers):
            if not _admits(policies, coords[0], decodes[0], port):
                problems.append(f"{where}: no NetworkPolicy rule admits decode pod {decodes[0]['metadata']['name']} "
                                f"to coordinator {coords[0]['metadata']['name']}:{port} (worker metaserver)")
                break
    if not n:
        return []
    if problems:
        return [("FAIL", "decode engines cannot reach the coordinator's worker metaserver: " + "; ".join(problems[:5]),
                 "set pymotor.coordinator.workerMetaserverBasePort (e.g. 12000) and admit decode pods to "
                 "workerMetaserverBasePort..+numWorkers-1 on the coordinator (the chart's pymotor.networkPolicy "
                 "does); then helm upgrade")]
    return [("PASS", f"decode engines of {n} PyMotor release(s) may reach the coordinator's worker metaserver", "")]
