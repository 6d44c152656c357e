"""The plugin side of `kubectl ascend preflight`: one short-lived pod per node, read back, judged.

Sequence (every object carries the label ascend.dev/preflight-run=<run id>):
  1. check every named node exists (nothing is created before);
  2. a ConfigMap ascend-preflight-<run> holds the agent script (kubectl_ascend/preflight/agent.py);
  3. per node a Pod pinned by spec.nodeName, tolerating every taint, restartPolicy Never, owned by
     that ConfigMap, mounting the host's /etc, /usr/local/bin and /usr/local/Ascend READ-ONLY,
     privileged only so npu-smi / hccn_tool can open /dev/davinci*; no ServiceAccount token;
  4. wait (a watch) until each pod Succeeded or Failed, or --timeout;
  5. read each agent's JSON from the container's termination message (gzip+base64), else the pod log;
  6. with --hccl, a second round of pods pings each chip's same-index peer on every other node;
  7. delete the pods and the ConfigMap (also on errors and Ctrl-C); the ConfigMap owns the pods,
     so the garbage collector removes any pod a broken connection left behind.
Nodes are never patched: the command writes only its own Pods and ConfigMap.
"""
from __future__ import annotations

import base64
import gzip
import json
import secrets
import time
from importlib import resources
from typing import Any, Iterator, Protocol

from kubectl_ascend import errors
from kubectl_ascend.preflight import rules

LABEL_RUN = "ascend.dev/preflight-run"
LABEL_NAME = "app.kubernetes.io/name"
NAME = "ascend-preflight"
ANNOTATION_NODE = "ascend.dev/preflight-node"
#: The agent's image: any image with python3 (3.8+) and glibc runs it; the host's tools are mounted.
#: A pinned Debian-based Python image; global.imageRegistry of the installed stack moves it to a
#: mirror (its global.imagePullSecrets go on the pods), and `kubectl ascend images` lists it.
DEFAULT_IMAGE = "docker.io/library/python:3.12.8-slim-bookworm"


class PreflightKube(Protocol):
    """What preflight needs from the Kubernetes door (kube.Kube implements it)."""

    def get_node(self, name: str) -> dict[str, Any] | None: ...
    def list_nodes(self, label_selector: str | None = None) -> list[dict[str, Any]]: ...
    def get_namespace(self, name: str) -> dict[str, Any] | None: ...
    def pod_log(self, namespace: str, name: str, container: str | None = None, tail_lines: int = 2000) -> str: ...
    def request(self, what: str, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                discard: bool = False, idempotent: bool | None = None) -> dict[str, Any]: ...
    def observe(self, what: str, sources: dict[str, tuple[str, dict[str, Any]]],
                timeout: float) -> Iterator[dict[str, list[dict[str, Any]]]]: ...


def agent_source() -> str:
    return resources.files("kubectl_ascend.preflight").joinpath("agent.py").read_text(encoding="utf-8")


def select_nodes(kube: PreflightKube, names: list[str], all_nodes: bool) -> list[dict[str, Any]]:
    """The nodes to check: the named ones (every one must exist), or with --all every node with NPUs."""
    if all_nodes:
        nodes = [n for n in kube.list_nodes() if rules.npu_resource(n) is not None]
        if not nodes:
            raise errors.InvalidInput("no node advertises a huawei.com/Ascend* resource; nothing to check "
                                      "(is the Ascend device plugin running?)")
        return sorted(nodes, key=lambda n: n["metadata"]["name"])
    out, missing = [], []
    for name in dict.fromkeys(names):
        node = kube.get_node(name)
        if node is None:
            missing.append(name)
        else:
            out.append(node)
    if missing:
        raise errors.InvalidInput(f"node(s) not found: {', '.join(missing)}; nothing was created")
    return out


def pod_manifest(run: str, index: str, node: dict[str, Any], namespace: str, image: str, args: list[str],
                 owner: dict[str, Any], pull_secrets: list[str] | None = None) -> dict[str, Any]:
    name = node["metadata"]["name"]
    host = [("host-etc", "/etc", "/host/etc"), ("host-bin", "/usr/local/bin", "/host/usr/local/bin"),
            ("host-ascend", "/usr/local/Ascend", "/host/usr/local/Ascend")]
    mounts = [{"name": v, "mountPath": m, "readOnly": True} for v, _, m in host]
    # the driver's libraries at their own path too: npu-smi and hccn_tool load them from there
    mounts.append({"name": "host-ascend", "mountPath": "/usr/local/Ascend", "readOnly": True})
    mounts.append({"name": "agent", "mountPath": "/preflight", "readOnly": True})
    lib = "/usr/local/Ascend/driver/lib64"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{NAME}-{run}-{index}", "namespace": namespace,
            "labels": {LABEL_NAME: NAME, "app.kubernetes.io/managed-by": "kubectl-ascend", LABEL_RUN: run},
            "annotations": {ANNOTATION_NODE: name},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                                 "uid": owner["metadata"]["uid"]}],
        },
        "spec": {
            "nodeName": name,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 600,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "imagePullSecrets": [{"name": n} for n in pull_secrets or []],
            "containers": [{
                "name": "agent", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["python3", "/preflight/agent.py"], "args": args,
                "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                        {"name": "PREFLIGHT_HOST_ROOT", "value": "/host"},
                        {"name": "LD_LIBRARY_PATH", "value": f"{lib}:{lib}/common:{lib}/driver"}],
                "securityContext": {"privileged": True, "readOnlyRootFilesystem": True},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
                "terminationMessagePolicy": "File",
                "volumeMounts": mounts,
            }],
            "volumes": [{"name": v, "hostPath": {"path": p, "type": "Directory"}} for v, p, _ in host]
            + [{"name": "agent", "configMap": {"name": owner["metadata"]["name"]}}],
        },
    }


def agent_image(registry: str) -> str:
    """The agent's image: DEFAULT_IMAGE, moved to `registry` (global.imageRegistry) when one is set."""
    if not registry:
        return DEFAULT_IMAGE
    from kubectl_ascend.images import rewrite_registry

    return rewrite_registry(DEFAULT_IMAGE, registry)


def example_pod(image: str, pull_secrets: list[str]) -> dict[str, Any]:
    """The pod preflight creates, for one placeholder node (what `kubectl ascend images` lists)."""
    node = {"metadata": {"name": "NODE"}}
    owner = {"metadata": {"name": f"{NAME}-RUN", "uid": "UID"}}
    return pod_manifest("RUN", "0", node, "kube-system", image, [], owner, pull_secrets)


def decode(pod: dict[str, Any], kube: PreflightKube) -> tuple[dict[str, Any] | None, str | None]:
    """The agent's JSON document of a finished pod, or why there is none."""
    meta, status = pod["metadata"], pod.get("status") or {}
    phase = status.get("phase")
    term: dict[str, Any] = {}
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated") or {}
    if phase != "Succeeded":
        why = term.get("message") or term.get("reason") or status.get("reason") or status.get("message")
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting:
                why = f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": ")
        return None, f"the preflight pod {meta['namespace']}/{meta['name']} is {phase or 'Pending'}" + \
            (f" ({why})" if why else "")
    message = str(term.get("message") or "")
    text = None
    if message.startswith("gz:"):
        try:
            text = gzip.decompress(base64.b64decode(message[3:])).decode()
        except (ValueError, OSError):
            text = None
    if text is None:
        try:
            text = kube.pod_log(meta["namespace"], meta["name"], tail_lines=5)
        except errors.AscendError as e:
            return None, f"cannot read the preflight pod's output: {e}"
    for line in reversed(text.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("agent") == 1:
            return doc, None
    return None, "the preflight pod's output is not the agent's JSON document"


class Run:
    """One preflight run: its ConfigMap, its pods, their cleanup."""

    def __init__(self, kube: PreflightKube, namespace: str, image: str, timeout: float,
                 pull_secrets: list[str] | None = None) -> None:
        self.kube, self.namespace, self.image, self.timeout = kube, namespace, image, timeout
        self.pull_secrets = pull_secrets or []
        self.id = secrets.token_hex(3)
        self.owner: dict[str, Any] | None = None

    @property
    def selector(self) -> str:
        return f"{LABEL_RUN}={self.id}"

    def start(self) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"{NAME}-{self.id}", "namespace": self.namespace,
                             "labels": {LABEL_NAME: NAME, "app.kubernetes.io/managed-by": "kubectl-ascend",
                                        LABEL_RUN: self.id}},
                "data": {"agent.py": agent_source()}}
        self.owner = self.kube.request(f"create configmap {self.namespace}/{NAME}-{self.id}", "POST",
                                       f"/api/v1/namespaces/{self.namespace}/configmaps", body=body)

    def pods(self, plan: list[tuple[str, dict[str, Any], list[str]]]) -> dict[str, dict[str, Any]]:
        """Create one pod per (index, node, agent args); wait until all finish; node name -> pod."""
        assert self.owner is not None
        names: dict[str, str] = {}
        for index, node, args in plan:
            body = pod_manifest(self.id, index, node, self.namespace, self.image, args, self.owner,
                                self.pull_secrets)
            self.kube.request(f"create pod {self.namespace}/{body['metadata']['name']}", "POST",
                              f"/api/v1/namespaces/{self.namespace}/pods", body=body, discard=True)
            names[body["metadata"]["name"]] = node["metadata"]["name"]
        return self.wait(names)

    def wait(self, names: dict[str, str]) -> dict[str, dict[str, Any]]:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        latest: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + self.timeout
        for state in self.kube.observe("preflight pods", {"pods": (path, {"labelSelector": self.selector})},
                                       self.timeout):
            for pod in state["pods"]:
                if pod["metadata"]["name"] in names:
                    latest[pod["metadata"]["name"]] = pod
            done = [n for n in names if (latest.get(n, {}).get("status") or {}).get("phase") in ("Succeeded", "Failed")]
            if len(done) == len(names) or time.monotonic() >= deadline:
                break
        return {node: latest.get(name, {"metadata": {"name": name, "namespace": self.namespace}})
                for name, node in names.items()}

    def cleanup(self) -> None:
        """Delete this run's pods and ConfigMap (the ConfigMap owns the pods: the GC catches stragglers)."""
        for what, path in (("pods", f"/api/v1/namespaces/{self.namespace}/pods"),
                           ("configmaps", f"/api/v1/namespaces/{self.namespace}/configmaps")):
            try:
                self.kube.request(f"delete this run's {what}", "DELETE", path,
                                  query={"labelSelector": self.selector}, discard=True)
            except errors.AscendError:
                pass


def preflight(kube: PreflightKube, *, names: list[str], all_nodes: bool, namespace: str, image: str,
              cann: str | None, hccl: bool, timeout: float = 300,
              pull_secrets: list[str] | None = None) -> dict[str, Any]:
    """Run the agent on every selected node and judge: {"nodes": [...], "matrix": ... or None}."""
    nodes = select_nodes(kube, names, all_nodes)
    if kube.get_namespace(namespace) is None:
        raise errors.InvalidInput(f"namespace {namespace} not found; nothing was created")
    run = Run(kube, namespace, image, timeout, pull_secrets)
    try:
        run.start()
        plan = []
        for i, node in enumerate(nodes):
            res = rules.npu_resource(node)
            args = ["--devices", f"0-{res[1] - 1}", "--hccn"] if res and rules.has_hccn(node) else []
            plan.append((str(i), node, args))
        pods = run.pods(plan)
        docs = {n["metadata"]["name"]: decode(pods[n["metadata"]["name"]], kube) for n in nodes}
        grid = None
        if hccl:
            grid = hccl_round(run, nodes, docs)
    finally:
        run.cleanup()
    results, tls = [], {}
    for node in nodes:
        name = node["metadata"]["name"]
        doc, problem = docs[name]
        checks, node_tls = rules.judge_node(node, doc, problem, cann)
        if node_tls:
            tls[name] = node_tls
        results.append({"node": name, "checks": checks})
    across = rules.tls_across(tls)
    for r in results:
        if r["node"] in across and not any(c["check"] == "hccn-tls" for c in r["checks"]):
            r["checks"].append(across[r["node"]])
        if grid is not None and r["node"] in grid:
            r["checks"].append(rules.matrix_check(grid[r["node"]]))
    return {"nodes": [{"node": r["node"], "verdict": rules.worst(r["checks"]), "checks": r["checks"]}
                      for r in results],
            "matrix": grid}


def hccl_round(run: Run, nodes: list[dict[str, Any]],
               docs: dict[str, tuple[dict[str, Any] | None, str | None]]) -> dict[str, Any]:
    """Ping every chip's same-index peer on every other node (rail by rail) and build the matrix."""
    ips = {n["metadata"]["name"]: rules.device_ips(docs[n["metadata"]["name"]][0] or {})
           for n in nodes if rules.has_hccn(n) and docs[n["metadata"]["name"]][0] is not None}
    targets = {src: {peer: {d: peer_ips[d] for d in src_ips if d in peer_ips}
                     for peer, peer_ips in ips.items() if peer != src}
               for src, src_ips in ips.items()}
    plan = []
    by_name = {n["metadata"]["name"]: n for n in nodes}
    for i, (src, peers) in enumerate(sorted(targets.items())):
        per_dev: dict[int, list[str]] = {}
        for devs in peers.values():
            for d, ip in devs.items():
                per_dev.setdefault(d, []).append(ip)
        args = [f"--ping={d}={','.join(v)}" for d, v in sorted(per_dev.items())]
        if args:
            plan.append((f"p{i}", by_name[src], args))
    pods = run.pods(plan) if plan else {}
    pings = {}
    for src, pod in pods.items():
        doc, _ = decode(pod, run.kube)
        pings[src] = (doc or {}).get("ping") or {}
    return rules.matrix(pings, targets)

