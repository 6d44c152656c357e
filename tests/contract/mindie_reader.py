"""Read a rendered mindie-service release the way MindIE and the Ascend Operator read it.

:func:`check_release` takes the objects a chart render produced (plain dicts),
finds the MindIE configuration files in the release's ConfigMap
(``config.json`` / ``config-<role>.json``, ``ms_controller.json``,
``ms_coordinator.json``), plays the Ascend Operator and the device plugin on
made-up pods (one per workload replica, like :mod:`kubectl_ascend.ranktable`
would see them), builds the global ranktable with
:func:`kubectl_ascend.ranktable.build_global_ranktable`, and applies the
upstream rules below. It returns the list of violations (empty: the release
would be read correctly). Every rule names the upstream source it comes from;
checked against Ascend/mind-cluster v26.0.0 and Ascend/MindIE-Motor
3.0.0.beta.1 (commit 5dfb024).

Rules
  ranktable layout (MindIE-Motor ``RankTableLoader.cpp``)
    * groups "0" coordinator and "1" controller, one server each, with
      ``server_id`` and ``server_ip`` both IPs;
    * ``multi_node_infer_enable`` false: at most 3 groups (``MAX_GROUP_LIST_NUM``),
      and the only server group is "2" holding every P and D server
      (``ParseServerNodes``);
    * ``multi_node_infer_enable`` true: one group per instance from "2", each
      with ``deploy_server`` "2" (P) or "1" (D) (``GetDeployConfig``,
      ``ControllerConfig::GetPDInitRole``), at most 98 groups;
    * every server: ``server_id`` the node IP, ``server_ip`` the pod IP, devices
      with ``device_id``, ``device_ip`` (an IP), ``device_logical_id`` and
      ``rank_id`` as strings (``IsValidServer``, ``IsValidDeviceInfo``);
  ms_controller.json (MindIE-Motor ``ControllerConfig.cpp``)
    * outside ClusterD mode (the table ``kubectl ascend mindie ranktable``
      builds) ``multi_node_infer_config.multi_node_infer_enable`` true exactly
      when an instance has more than one pod; ``p/d_node_config.node_machine_num``
      = pods per instance;
    * ports: ``mindie_server_port`` / ``_control_port`` / ``_metric_port`` equal
      config.json's ``port`` / ``managementPort`` / ``metricsPort``;
      ``mindie_ms_coordinator_port`` = ms_coordinator.json ``manage_port``;
      ``controller_alarm_port`` = its ``alarm_port``;
  addresses (MindIE-Motor ``boot.sh``)
    * the coordinator is started with the pod IP twice (or its config has a
      non-loopback ``predict_ip`` and ``manage_ip``);
    * the controller and servers get ``POD_IP`` / ``MIES_CONTAINER_IP`` from
      ``status.podIP``;
  files (MindIE-Motor ``Util.cpp`` ``CheckPathLengthAndLink``, ``CheckOwner``)
    * every file MindIE is pointed at (env ``GLOBAL_RANK_TABLE_FILE_PATH``,
      ``RANKTABLEFILE``, ``RANK_TABLE_FILE``, ``MIES_RANKTABLEFILE``,
      ``MIES_CONFIG_JSON_PATH``, ``MINDIE_MS_*_CONFIG_FILE_PATH``,
      ``MINDIE_UTILS_HTTP_CLIENT_CTL_CONFIG_FILE_PATH``; every top-level
      ``*_path`` of ms_controller.json: ``global_rank_table_file_path``,
      ``digs_model_config_path``, ``digs_machine_config_path``, which the
      controller reads with ``FileToJsonObj(path, 0640)`` and the owner check on,
      ``RoleManagerInitializer.cpp`` ``BuildInstanceRoleManagerConfig``) is an
      absolute path outside every ConfigMap mount and is written (``cp``) and
      ``chmod 0640``-ed by the entrypoint before it execs MindIE;
    * every ConfigMap file is readable by the pod's user: the kubelet writes
      them owned by root (group fsGroup if set), and without runAsUser the
      user is whatever the image says (our own rule, from kubelet behaviour);
  NPUs (MindIE-LLM config.json reference)
    * ``npuDeviceIds`` is ``[[0..n-1]]`` and ``worldSize`` n, n = NPUs the pod
      requests;
  the Ascend Operator finds the pods (mind-cluster v26.0.0
  ``pkg/ranktable/plugins.go``, ``pkg/controllers/v1/jobinfo.go``)
    * an NPU workload of a PD release carries ``ring-controller.atlas`` (or a
      ``ranktable`` volume) and its pods ``deploy-name: <workload name>``; the
      ``ranktable`` volume is ConfigMap ``rings-config-<workload name>``;
    * no pod makes the operator reconcile an NPU workload it made no ranktable
      generator for (``ascendjob_controller.go`` ``watchDeploymentRelatedResource``
      queues a ReplicaSet-owned pod under its ``deploy-name``; ``isJobDecorator``,
      ``pod.go`` ``genRankTable`` then log "rank table generator not found"):
      single-mode pods carry no ``deploy-name``;
  every ConfigMap a pod mounts is one the release renders (or the operator's
  rings-config-*): a pod never waits for a ConfigMap nobody writes;
  ClusterD mode (the controller has ``MINDX_TASK_ID``; MindIE-Motor
  ``Controller.cpp``, ``NodeScheduler.cpp`` ``IsUseClusterD``)
    * the controller has ``MINDX_SERVER_IP`` as an IP, or its entrypoint
      resolves and exports it before exec (``ClusterClient.cpp`` ``Register``
      refuses anything but an IP);
    * ms_controller.json has ``cluster_port`` (1-65535) and
      ``tls_config.cluster_tls_enable`` / ``cluster_tls_items``, without which
      the controller never talks to ClusterD (``ControllerConfig.cpp``
      ``ContainsClusterDConfig``); ``cluster_tls_enable`` false, since ClusterD
      serves gRPC without TLS (mind-cluster v26.1.0 ``component/clusterd/main.go``);
    * ``GLOBAL_RANK_TABLE_FILE_PATH`` / ``global_rank_table_file_path`` is a
      path the controller can write (an emptyDir mount, not a ConfigMap): it
      writes the table ClusterD pushes there itself (``RankTableLoader.cpp``
      ``WriteRankTable``), so nothing copies it;
    * ClusterD finds the job's parts by labels (mind-cluster v26.1.0 clusterd
      ``constant/constants.go``, ``epranktable/ranktable_manager.go``
      ``InformerHandler``, ``ranktable_util.go`` ``GetAllEpRankTableCm``,
      ``parseMindIeRankTableCM``): every PD pod carries ``jobID`` =
      MINDX_TASK_ID and ``app`` mindie-ms-controller / -coordinator / -server;
      every rings-config-* ConfigMap carries that ``jobID`` and exactly one of
      ``grt-server/deploy-server`` / ``grt-group/deploy-server``.
    * ClusterD keys a job by the controlling owner of its Volcano PodGroup and
      files pods under theirs (``podgroup/pg_util.go`` ``GetJobKeyAndNameByPG``,
      ``pod/pod_util.go`` ``GetJobKeyByPod``) and reads ``jobID``/``app`` from
      the PodGroup's labels (``job/job_util.go`` ``getJobBasicInfoByPG``): for
      every PD role the PodGroup Volcano v1.7.0 would use (a Volcano Job's own,
      ``job_controller_actions.go`` ``createOrUpdatePodGroup``; the chart's;
      else vc-controller-manager's, ``pg_controller_handler.go``) shares its
      pods' controlling owner and carries those labels.
    * the table ClusterD v26.1.0 builds (``epranktable/ranktable_util.go``:
      groups "0" coordinator, "1" controller, one group per completed
      rings-config from "2" with ``deploy_server`` from its label) passes the
      controller's ranktable rules above under the ``multi_node_infer_enable``
      ms_controller.json sets: with single-pod 1P+1D that is four groups, so
      the flag must be true.
    Not read here: the gRPC stream itself.
"""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from kubectl_ascend.ranktable import build_global_ranktable

NPU_PREFIX = "huawei.com/"
FILE_ENV = ("GLOBAL_RANK_TABLE_FILE_PATH", "RANKTABLEFILE", "RANK_TABLE_FILE", "MIES_RANKTABLEFILE",
            "MIES_CONFIG_JSON_PATH", "MINDIE_MS_CONTROLLER_CONFIG_FILE_PATH",
            "MINDIE_MS_COORDINATOR_CONFIG_FILE_PATH", "MINDIE_UTILS_HTTP_CLIENT_CTL_CONFIG_FILE_PATH")
ROLE = "mindie.huawei.com/role"
VCJOB = "Job.batch.volcano.sh"
WORKLOADS = ("Deployment", "StatefulSet", VCJOB)
GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
DEVICE_ANNOTATION = "ascend.kubectl.kubernetes.io/ascend-910-configuration"


def _as_workload(obj: dict[str, Any]) -> dict[str, Any]:
    """A Volcano Job seen as a workload: kind Job.batch.volcano.sh, its one task's template and replicas."""
    if obj.get("kind") != "Job" or not str(obj.get("apiVersion", "")).startswith("batch.volcano.sh/"):
        return obj
    tasks = obj["spec"].get("tasks") or [{}]
    return dict(obj, kind=VCJOB, spec=dict(obj["spec"], template=tasks[0].get("template") or {},
                                           replicas=sum(int(t.get("replicas", 1)) for t in tasks)))


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(str(value))
        return True
    except ValueError:
        return False


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def _npus(container: dict[str, Any]) -> int:
    limits = (container.get("resources") or {}).get("limits") or {}
    return sum(int(v) for k, v in limits.items() if k.startswith(NPU_PREFIX))


def _script(container: dict[str, Any]) -> str:
    cmd = container.get("command") or []
    return cmd[-1] if cmd else ""


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def _configmap_mounts(workload: dict[str, Any], container: dict[str, Any]) -> list[str]:
    vols = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes") or []}
    return [m["mountPath"].rstrip("/") for m in container.get("volumeMounts") or []
            if "configMap" in vols.get(m["name"], {}) or "projected" in vols.get(m["name"], {})]


def _release_config(objs: list[dict[str, Any]]) -> dict[str, Any] | None:
    for o in objs:
        if o.get("kind") == "ConfigMap" and _labels(o).get("app.kubernetes.io/part-of") == "mindie-service" \
                and any(k.startswith("config") and k.endswith(".json") for k in (o.get("data") or {})):
            return o
    return None


def _emptydir_mounts(workload: dict[str, Any], container: dict[str, Any]) -> list[str]:
    vols = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes") or []}
    return [m["mountPath"].rstrip("/") for m in container.get("volumeMounts") or []
            if "emptyDir" in vols.get(m["name"], {}) and not m.get("readOnly")]


def _check_files(workload: dict[str, Any], extra_paths: dict[str, str], problems: list[str],
                 written: tuple[str, ...] = ()) -> None:
    """Files MindIE reads are private copies; those in `written` MindIE writes itself (ClusterD mode).

    `extra_paths`: {"ms_controller.json <key>": path} for the paths the controller's config names;
    each must be absolute (the controller resolves a relative one against its working directory,
    which the entrypoint moves to the install path, as boot.sh does)."""
    name = workload["metadata"]["name"]
    for c in _containers(workload):
        env, script = _env(c), _script(c)
        mounts = _configmap_mounts(workload, c)
        paths = {var: val for var, val in env.items() if var in FILE_ENV and isinstance(val, str)}
        paths.update(extra_paths)
        exec_at = script.find("exec ")
        for var, path in paths.items():
            if not path.startswith("/"):
                problems.append(f"{name}: {var}={path} is relative: it resolves against the controller's working "
                                "directory, not to the copy the entrypoint made")
                continue
            inside = [m for m in mounts if path == m or path.startswith(m + "/")]
            if inside:
                problems.append(f"{name}: {var}={path} is inside ConfigMap mount {inside[0]} "
                                "(a root-owned symlink MindIE refuses)")
                continue
            if var in written or (var == "ms_controller.json global_rank_table_file_path"
                                  and "GLOBAL_RANK_TABLE_FILE_PATH" in written):
                if not any(path.startswith(m + "/") for m in _emptydir_mounts(workload, c)):
                    problems.append(f"{name}: {var}={path} is not in a writable emptyDir: the controller writes "
                                    "the table ClusterD pushes there (RankTableLoader WriteRankTable)")
                continue
            refs = [re.escape(path)] + [re.escape(f'"${v}"') for v, p in paths.items()
                                        if p == path and " " not in v]
            cp = re.search(r"^cp .* (" + "|".join(refs) + r")$", script, re.M)
            chmod = re.search(r"^chmod 0?640 (" + "|".join(refs) + r")$", script, re.M)
            if not cp or not chmod or (exec_at >= 0 and max(cp.start(), chmod.start()) > exec_at):
                problems.append(f"{name}: {var}={path} is not copied and chmod 640 by the entrypoint "
                                "before MindIE starts")


def _check_configmaps_readable(workload: dict[str, Any], problems: list[str]) -> None:
    """The entrypoint can read every ConfigMap file it copies. The kubelet writes ConfigMap volume
    files owned by root, group fsGroup when the pod sets one, with the volume's defaultMode (0644
    unless set); the pod runs as runAsUser, else as the image's user, which may be anyone. So a file
    must be world-readable, or group-readable with an fsGroup, unless the pod runs as uid 0."""
    spec = workload["spec"]["template"]["spec"]
    sec = spec.get("securityContext") or {}
    if sec.get("runAsUser") == 0:
        return
    need = 0o044 if sec.get("fsGroup") is not None else 0o004
    for v in spec.get("volumes") or []:
        cm = v.get("configMap")
        if not cm:
            continue
        modes = [int(cm.get("defaultMode", 0o644))] + [int(i["mode"]) for i in cm.get("items") or [] if "mode" in i]
        bad = [m for m in modes if not m & need]
        if bad:
            problems.append(f"{workload['metadata']['name']}: ConfigMap volume {v['name']} has mode {oct(bad[0])}: "
                            "root-owned files the container user cannot read"
                            + ("" if need == 0o044 else " (no fsGroup, no runAsUser: it must be world-readable)"))


def _check_server_config(name: str, cfg: dict[str, Any], npus: int, problems: list[str]) -> None:
    backend = cfg.get("BackendConfig") or {}
    ids = backend.get("npuDeviceIds")
    models = ((backend.get("ModelDeployConfig") or {}).get("ModelConfig") or [{}])
    world = models[0].get("worldSize")
    if ids != [list(range(npus))]:
        problems.append(f"{name}: npuDeviceIds {ids} do not match the {npus} NPUs the pod requests")
    if world != npus:
        problems.append(f"{name}: worldSize {world} differs from the {npus} NPUs the pod requests")


def _fake_pods(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pods, n = [], 10
    for w in objs:
        if w.get("kind") not in WORKLOADS:
            continue
        for ordinal in range(int(w["spec"].get("replicas", 1))):
            meta = w["spec"]["template"]["metadata"]
            labels, annotations = dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})
            # the controlling owner each controller gives its pods: the Job itself (Volcano v1.7.0
            # job_controller_util.go createJobPod, which also labels and annotates them), else the
            # ReplicaSet / StatefulSet
            owner = {"kind": w["kind"].split(".")[0], "name": w["metadata"]["name"], "controller": True,
                     "uid": f"uid-{w['kind']}-{w['metadata']['name']}"}
            if w["kind"] == VCJOB:
                labels["volcano.sh/job-name"] = w["metadata"]["name"]
                annotations[GROUP_ANNOTATION] = f"{w['metadata']['name']}-{owner['uid']}"
            elif w["kind"] == "Deployment":
                owner = dict(owner, kind="ReplicaSet", uid=f"uid-rs-{w['metadata']['name']}")
            pods.append({"metadata": {"name": f"{w['metadata']['name']}-{ordinal}", "uid": f"uid-{n}",
                                      "labels": labels, "annotations": annotations,
                                      "ownerReferences": [owner]},
                         "spec": w["spec"]["template"]["spec"],
                         "status": {"phase": "Running", "podIP": f"10.1.0.{n}", "hostIP": f"192.168.0.{n}"},
                         "_owner": w})
            n += 1
    return pods


def _operator_fill(objs: list[dict[str, Any]], pods: list[dict[str, Any]], problems: list[str]) -> list[dict]:
    """Fill each rings-config-* ConfigMap the way the v26.0.0 operator would, finding pods its way."""
    cms = [dict(o, data=dict(o.get("data") or {})) for o in objs if o.get("kind") == "ConfigMap"]
    by_name = {c["metadata"]["name"]: c for c in cms}
    for w in objs:
        if w.get("kind") not in WORKLOADS:
            continue
        name = w["metadata"]["name"]
        npus = sum(_npus(c) for c in _containers(w))
        vols = {v["name"]: v for v in w["spec"]["template"]["spec"].get("volumes") or []}
        wants = "ring-controller.atlas" in _labels(w) or "ranktable" in vols
        if not npus or _labels(w).get(ROLE) not in ("prefill", "decode"):
            continue
        if not wants:
            problems.append(f"{name}: no ring-controller.atlas label or ranktable volume: the Ascend Operator "
                            "never builds its ranktable")
            continue
        cm_name = (vols.get("ranktable") or {}).get("configMap", {}).get("name")
        if cm_name != f"rings-config-{name}" or cm_name not in by_name:
            problems.append(f"{name}: ranktable volume is {cm_name!r}, the operator writes rings-config-{name}")
            continue
        key = "volcano.sh/job-name" if w["kind"] == VCJOB else "deploy-name"
        mine = [p for p in pods if _labels(p).get(key) == name]
        if len(mine) != int(w["spec"].get("replicas", 1)):
            problems.append(f"{name}: {len(mine)} pods labelled {key}={name}; the Ascend Operator finds "
                            "a Deployment's/StatefulSet's pods by deploy-name, a Volcano Job's by "
                            "volcano.sh/job-name only")
            continue
        servers = []
        for rank, p in enumerate(mine):
            devices = [{"device_id": str(d), "device_ip": f"29.{rank}.0.{d + 1}"} for d in range(npus)]
            # what the device plugin and the operator (updateRandIndex) leave on the pod
            p["metadata"]["annotations"].update({"hccl/rankIndex": str(rank), DEVICE_ANNOTATION: json.dumps(
                {"pod_name": p["metadata"]["name"], "server_id": p["metadata"]["uid"], "devices": devices})})
            servers.append({"server_id": p["status"]["hostIP"], "host_ip": p["status"]["hostIP"],
                            "container_ip": p["status"]["podIP"],
                            "device": [dict(d, rank_id=str(rank * npus + i)) for i, d in enumerate(devices)]})
        by_name[cm_name]["data"]["hccl.json"] = json.dumps(
            {"status": "completed", "version": "1.0", "server_count": str(len(servers)), "server_list": servers})
    return cms


def _check_ranktable(table: dict[str, Any], multi: bool, problems: list[str]) -> None:
    groups = table.get("server_group_list") or []
    ids = [g.get("group_id") for g in groups]
    if ids[:2] != ["0", "1"]:
        problems.append(f"global ranktable: groups start {ids[:2]}, MindIE expects 0 coordinator, 1 controller")
    for g in groups[:2]:
        for s in g.get("server_list") or []:
            if not (_is_ip(s.get("server_id")) and _is_ip(s.get("server_ip"))):
                problems.append(f"group {g.get('group_id')}: server_id/server_ip must be IPs: {s}")
    servers = groups[2:]
    if not multi:
        if len(groups) > 3 or [g.get("group_id") for g in servers] != ["2"]:
            problems.append(f"global ranktable: with multi_node_infer_enable=false the controller accepts at most "
                            f"3 groups and reads only group 2 (RankTableLoader MAX_GROUP_LIST_NUM, "
                            f"ParseServerNodes), so single-pod instances need every server in group 2; "
                            f"groups are {ids}")
    else:
        if len(groups) > 98:
            problems.append(f"global ranktable: {len(groups)} groups, MindIE reads at most 98")
        for n, g in enumerate(servers):
            if g.get("group_id") != str(2 + n) or g.get("deploy_server") not in ("1", "2"):
                problems.append(f"global ranktable: cross-node group {g.get('group_id')} needs id {2 + n} and "
                                f"deploy_server 2 (P) or 1 (D), has {g.get('deploy_server')!r}")
    for g in servers:
        for s in g.get("server_list") or []:
            if not (_is_ip(s.get("server_id")) and _is_ip(s.get("server_ip"))):
                problems.append(f"group {g.get('group_id')}: server_id/server_ip must be IPs: {s}")
            for d in s.get("device") or []:
                if not all(isinstance(d.get(k), str) for k in ("device_id", "device_logical_id", "rank_id")) \
                        or not _is_ip(d.get("device_ip")):
                    problems.append(f"group {g.get('group_id')}: invalid device entry {d}")


def _check_mounted_configmaps(objs: list[dict[str, Any]], problems: list[str]) -> None:
    rendered = {o["metadata"]["name"] for o in objs if o.get("kind") == "ConfigMap"}
    for w in objs:
        if w.get("kind") not in WORKLOADS or not _labels(w).get(ROLE):
            continue
        for v in w["spec"]["template"]["spec"].get("volumes") or []:
            cm = (v.get("configMap") or {}).get("name")
            if cm and cm not in rendered and not cm.startswith("rings-config-"):
                problems.append(f"{w['metadata']['name']}: mounts ConfigMap {cm}, which the release does not "
                                "create: the pod waits for a ConfigMap nobody writes")


def _controller_uid(obj: dict[str, Any]) -> str:
    """ClusterD's job key: the UID of the controlling owner (clusterd pkg/domain/podgroup/pg_util.go
    GetJobKeyAndNameByPG, pkg/domain/pod/pod_util.go GetJobKeyByPod); "" without one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


def _podgroup(objs: list[dict[str, Any]], w: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """The PodGroup Volcano v1.7.0 schedules `pod` in: a Volcano Job's own (job_controller_actions.go
    createOrUpdatePodGroup: the Job's labels and annotations, the Job as controller), the chart's named
    by the pod's group-name annotation, else the one vc-controller-manager makes for a bare pod
    (podgroup/pg_controller_handler.go createNormalPodPGIfNotExist: no labels, the pod's owners)."""
    if w["kind"] == VCJOB:
        return {"metadata": {"labels": _labels(w), "ownerReferences": pod["metadata"]["ownerReferences"]}}
    group = (pod["metadata"].get("annotations") or {}).get(GROUP_ANNOTATION)
    for o in objs:
        if o.get("kind") == "PodGroup" and o["metadata"]["name"] == group:
            return o
    return {"metadata": {"labels": {}, "ownerReferences": pod["metadata"]["ownerReferences"]}}


def _check_clusterd(objs: list[dict[str, Any]], ctrl_w: dict[str, Any], ctrl: dict[str, Any],
                    problems: list[str], pods: list[dict[str, Any]]) -> None:
    c = _containers(ctrl_w)[0]
    env, script = _env(c), _script(c)
    job = env.get("MINDX_TASK_ID")
    if not isinstance(job, str) or not job:
        problems.append("controller: MINDX_TASK_ID is empty (ClusterClient Init refuses an empty job id)")
    ip = env.get("MINDX_SERVER_IP")
    exec_at = script.find("exec ")
    resolved = re.search(r"^\s*export MINDX_SERVER_IP$", script, re.M)
    if not (isinstance(ip, str) and _is_ip(ip)) and not (resolved and (exec_at < 0 or resolved.start() < exec_at)):
        problems.append("controller: MINDX_SERVER_IP is neither an IP nor resolved and exported before MindIE "
                        "starts (ClusterClient Register accepts only an IP)")
    port, tls = ctrl.get("cluster_port"), ctrl.get("tls_config") or {}
    if not (isinstance(port, int) and 1 <= port <= 65535) or "cluster_tls_enable" not in tls \
            or "cluster_tls_items" not in tls:
        problems.append("ms_controller.json: cluster_port / tls_config.cluster_tls_enable / cluster_tls_items "
                        "missing or invalid: the controller never talks to ClusterD (ContainsClusterDConfig)")
    elif tls.get("cluster_tls_enable") is not False:
        problems.append("ms_controller.json: cluster_tls_enable is not false, but ClusterD serves gRPC "
                        "without TLS (clusterd main.go)")
    apps = {"controller": "mindie-ms-controller", "coordinator": "mindie-ms-coordinator",
            "prefill": "mindie-ms-server", "decode": "mindie-ms-server"}
    for w in objs:
        role = _labels(w).get(ROLE) if w.get("kind") in WORKLOADS else None
        if role not in apps:
            continue
        labels = _labels(w["spec"]["template"])
        if labels.get("jobID") != job or labels.get("app") != apps[role]:
            problems.append(f"{w['metadata']['name']}: pods need labels jobID={job} app={apps[role]} for ClusterD, "
                            f"have jobID={labels.get('jobID')} app={labels.get('app')}")
        # ClusterD caches a job under its PodGroup's controlling owner and files pods under theirs, and
        # takes jobID/app from the PodGroup's labels (clusterd pkg/domain/job/job_util.go
        # getJobBasicInfoByPG): both owners must be one object and the PodGroup must carry the labels.
        for pod in [p for p in pods if p["_owner"] is w]:
            pg = _podgroup(objs, w, pod)
            pg_key, pod_key, pg_labels = _controller_uid(pg), _controller_uid(pod), _labels(pg)
            if not pg_key or pg_key != pod_key:
                problems.append(f"{w['metadata']['name']}: its PodGroup and its pods do not share a controlling "
                                "owner, so ClusterD never joins them to a job (GetJobKeyAndNameByPG, "
                                "GetJobKeyByPod); make the role a Volcano Job or an AscendJob")
            elif pg_labels.get("jobID") != job or pg_labels.get("app") != apps[role]:
                problems.append(f"{w['metadata']['name']}: its PodGroup needs labels jobID={job} app={apps[role]} "
                                f"for ClusterD (getJobBasicInfoByPG), has jobID={pg_labels.get('jobID')} "
                                f"app={pg_labels.get('app')}")
            break
    for cm in objs:
        if cm.get("kind") != "ConfigMap" or not cm["metadata"]["name"].startswith("rings-config-"):
            continue
        labels = _labels(cm)
        deploy = [k for k in ("grt-server/deploy-server", "grt-group/deploy-server") if k in labels]
        if labels.get("jobID") != job or len(deploy) != 1:
            problems.append(f"{cm['metadata']['name']}: ClusterD reads it only with label jobID={job} and exactly "
                            f"one deploy-server label, has jobID={labels.get('jobID')} {deploy}")


def _clusterd_table(cms: list[dict[str, Any]], pods: list[dict[str, Any]], job: str) -> dict[str, Any]:
    """The global ranktable ClusterD v26.1.0 pushes for job `job` (mind-cluster
    component/clusterd/pkg/domain/epranktable/ranktable_util.go): group "0" the coordinator pods,
    "1" the controller pods (GenerateServerGroup0Or1: server_id host IP, server_ip pod IP), then one
    group per rings-config-* ConfigMap labelled jobID=`job` whose hccl.json is completed
    (GetAllEpRankTableCm, GetA2RankTableList), ids from "2" (GenerateServerGroupList), each with
    deploy_server from label grt-server/deploy-server or grt-group/deploy-server
    (parseMindIeRankTableCM), server_id the host IP (convertGrtServerId), device_logical_id the
    device's index. ClusterD's order of those groups is its informer's, not stable."""
    def pod_group(gid: str, app: str) -> dict[str, Any]:
        mine = [p for p in pods if _labels(p).get("jobID") == job and _labels(p).get("app") == app]
        return {"group_id": gid, "server_count": str(len(mine)),
                "server_list": [{"server_id": p["status"]["hostIP"], "server_ip": p["status"]["podIP"]}
                                for p in mine]}
    groups = [pod_group("0", "mindie-ms-coordinator"), pod_group("1", "mindie-ms-controller")]
    for cm in cms:
        labels = _labels(cm)
        if not cm["metadata"]["name"].startswith("rings-config-") or labels.get("jobID") != job:
            continue
        deploy = [labels[k] for k in ("grt-server/deploy-server", "grt-group/deploy-server") if k in labels]
        table = json.loads((cm.get("data") or {}).get("hccl.json") or "{}")
        if len(deploy) != 1 or table.get("status") != "completed":
            continue
        servers = [{"server_id": srv.get("host_ip"), "server_ip": srv.get("container_ip"),
                    "device": [dict(d, device_logical_id=str(i)) for i, d in enumerate(srv.get("device") or [])]}
                   for srv in table.get("server_list") or []]
        groups.append({"group_id": str(len(groups)), "deploy_server": deploy[0],
                       "server_count": table.get("server_count"), "server_list": servers})
    return {"version": "1.0", "status": "completed", "server_group_list": groups}


def _check_operator_events(objs: list[dict[str, Any]], pods: list[dict[str, Any]], problems: list[str]) -> None:
    """Pods that make the v26.0.0 Ascend Operator look for a ranktable generator that does not exist.

    Every event of a pod owned by a ReplicaSet is queued under the name in its deploy-name label,
    of a StatefulSet's or Volcano Job's pod under its owner (ascendjob_controller.go
    watchDeploymentRelatedResource, watchStatefulSetRelatedResource, watchVolcanoJobRelatedResource);
    isJobDecorator fetches a Deployment, StatefulSet or Volcano Job of that name and, when it requests
    NPUs, genRankTable looks up the generator onOwnerCreateFunc made only for objects with
    ring-controller.atlas or a `ranktable` volume (pkg/ranktable/plugins.go ShouldGenerateRankTable):
    without one it logs "rank table generator not found" on every event of every such pod."""
    by_name = {w["metadata"]["name"]: w for w in objs if w.get("kind") in WORKLOADS}
    for p in pods:
        owner = (p["metadata"].get("ownerReferences") or [{}])[0]
        target = _labels(p).get("deploy-name", "") if owner.get("kind") == "ReplicaSet" else owner.get("name", "")
        w = by_name.get(target)
        if w is None or not sum(_npus(c) for c in _containers(w)):
            continue
        vols = {v["name"] for v in w["spec"]["template"]["spec"].get("volumes") or []}
        if "ring-controller.atlas" not in _labels(w) and "ranktable" not in vols:
            problems.append(f"{p['_owner']['metadata']['name']}: its pods make the Ascend Operator reconcile {target}, "
                            "an NPU workload without ring-controller.atlas or a ranktable volume: it logs \"rank "
                            "table generator not found\" on every pod event (drop deploy-name, or give the "
                            "workload a ranktable)")
            return


def check_release(objs: list[dict[str, Any]]) -> list[str]:
    """Apply the upstream rules to a rendered mindie-service release; return the violations."""
    cm = _release_config(objs)
    if cm is None:
        return []
    data = cm["data"]
    problems: list[str] = []
    objs = [_as_workload(o) for o in objs]
    workloads = [o for o in objs if o.get("kind") in WORKLOADS
                 and _labels(o).get(ROLE)]
    pd = "ms_controller.json" in data
    ctrl = json.loads(data["ms_controller.json"]) if pd else {}
    coord = json.loads(data["ms_coordinator.json"]) if pd else {}

    ctrl_w = next((w for w in workloads if _labels(w)[ROLE] == "controller"), None)
    clusterd = ctrl_w is not None and "MINDX_TASK_ID" in _env(_containers(ctrl_w)[0])
    written = ("GLOBAL_RANK_TABLE_FILE_PATH",) if clusterd else ()
    _check_mounted_configmaps(objs, problems)
    pods_per = {}
    for w in workloads:
        role = _labels(w)[ROLE]
        c = _containers(w)[0]
        _check_configmaps_readable(w, problems)
        if role in ("single", "prefill", "decode"):
            key = "config.json" if role == "single" else f"config-{role}.json"
            cfg = json.loads(data[key])
            _check_server_config(w["metadata"]["name"], cfg, _npus(c), problems)
            env = _env(c)
            if env.get("MIES_CONTAINER_IP") != {"fieldRef": {"fieldPath": "status.podIP"}}:
                problems.append(f"{w['metadata']['name']}: MIES_CONTAINER_IP is not the pod IP")
            if role != "single" and _labels(w["spec"]["template"]).get("deploy-name") != w["metadata"]["name"]:
                problems.append(f"{w['metadata']['name']}: pods lack deploy-name={w['metadata']['name']}")
            if role != "single":
                pods_per[role] = int(w["spec"].get("replicas", 1))
                sc = cfg["ServerConfig"]
                for ck, sk in (("mindie_server_port", "port"), ("mindie_server_control_port", "managementPort"),
                               ("mindie_server_metric_port", "metricsPort")):
                    if ctrl.get(ck) != sc.get(sk):
                        problems.append(f"ms_controller.json {ck}={ctrl.get(ck)} but {key} {sk}={sc.get(sk)}")
            _check_files(w, {}, problems, written)
        elif role == "controller":
            if _env(c).get("POD_IP") != {"fieldRef": {"fieldPath": "status.podIP"}}:
                problems.append("controller: POD_IP is not the pod IP")
            # every path the controller's config names: global_rank_table_file_path and the DIGS
            # digs_model_config_path / digs_machine_config_path, read with FileToJsonObj(path, 0640)
            # and checkOwner on (RoleManagerInitializer.cpp BuildInstanceRoleManagerConfig)
            _check_files(w, {f"ms_controller.json {k}": str(v) for k, v in ctrl.items()
                             if k.endswith("_path")}, problems, written)
        elif role == "coordinator":
            http = coord.get("http_config") or {}
            by_args = '"$POD_IP" "$POD_IP"' in _script(c) and \
                _env(c).get("POD_IP") == {"fieldRef": {"fieldPath": "status.podIP"}}
            by_config = all(not ipaddress.ip_address(http.get(k, "127.0.0.1")).is_loopback
                            for k in ("predict_ip", "manage_ip") if _is_ip(http.get(k, "127.0.0.1")))
            if not (by_args or by_config):
                problems.append("coordinator: listens on 127.0.0.1 (start it with the pod IP twice, as "
                                "MindIE Motor's boot.sh does)")
            _check_files(w, {}, problems, written)
    _check_operator_events(objs, _fake_pods(objs), problems)
    if not pd:
        return problems

    http = coord.get("http_config") or {}
    for ck, key in (("mindie_ms_coordinator_port", "manage_port"), ("controller_alarm_port", "alarm_port")):
        if str(ctrl.get(ck)) != str(http.get(key)):
            problems.append(f"ms_controller.json {ck}={ctrl.get(ck)} but ms_coordinator.json {key}={http.get(key)}")
    multi = any(n > 1 for n in pods_per.values())
    mcfg = ctrl.get("multi_node_infer_config") or {}
    # Our own ranktable builder groups by pods per instance, so the flag must follow them; in
    # ClusterD mode ClusterD's grouping decides, checked below against the controller's limits.
    if not clusterd and mcfg.get("multi_node_infer_enable") is not multi:
        problems.append(f"ms_controller.json multi_node_infer_enable={mcfg.get('multi_node_infer_enable')} "
                        f"but instances have {pods_per} pods")
    for role, key in (("prefill", "p_node_config"), ("decode", "d_node_config")):
        if role in pods_per and (mcfg.get(key) or {}).get("node_machine_num") != pods_per[role]:
            problems.append(f"ms_controller.json {key}.node_machine_num differs from {role} pods per instance")

    pods = _fake_pods(objs)
    cms = _operator_fill(objs, pods, problems)
    if clusterd and ctrl_w is not None:
        _check_clusterd(objs, ctrl_w, ctrl, problems, pods)
        job = str(_env(_containers(ctrl_w)[0]).get("MINDX_TASK_ID") or "")
        _check_ranktable(_clusterd_table(cms, pods, job), mcfg.get("multi_node_infer_enable") is True, problems)
        return problems
    release = _labels(cm).get("app.kubernetes.io/instance", "")
    result = build_global_ranktable(release, cms, pods)
    if not result.ready:
        problems.append("global ranktable never completes: " + "; ".join(result.missing))
    else:
        _check_ranktable(result.ranktable or {}, multi, problems)
    return problems
