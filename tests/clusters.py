"""Local clusters for the e2e tests: start/stop one (hack/cluster.sh), drive it, install the stack on it.

A cluster start costs 15-35 s, so the whole run shares one cluster per shape (`shared_cluster`,
SHAPES): tests that need a clean cluster get it from `reset_stack`, which puts the shared one
back to what it was right after its start (no release, no CRD, namespace or RBAC of ours, the
nodes' labels as they were), instead of a cluster of their own. tests/conftest.py builds its
fixtures from these and prints how many clusters the run started (STARTED).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from typing import Iterator

from tests.tooling import REPO_ROOT, need_tool, run


@dataclass
class Cluster:
    """A running local cluster: its kubeconfig and helpers to drive it."""

    name: str
    kubeconfig: str
    started_here: bool

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return run([need_tool("kubectl"), "--kubeconfig", self.kubeconfig, *args], check=check, input=input)

    def get_json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def plugin(self, *args: str, check: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the real CLI as a separate process (what an operator runs)."""
        cmd = [sys.executable, "-m", "kubectl_ascend", "--kubeconfig", self.kubeconfig, *args]
        return run(cmd, check=check, env=env)

    def nodes(self, *args: str) -> None:
        run([sys.executable, str(REPO_ROOT / "hack" / "nodes.py"), "--kubeconfig", self.kubeconfig, *args])


def controller_args() -> tuple[str, ...]:
    """`make conformance` (ASCEND_E2E_CONTROLLERS=real): every cluster runs Huawei's real Ascend Operator
    and ClusterD (hack/mind-cluster.sh) instead of the operator emulator; otherwise the emulator."""
    mode = os.environ.get("ASCEND_E2E_CONTROLLERS", "emulated")
    if mode == "real":
        return ("--operator", "real", "--clusterd", "real")
    if mode != "emulated":
        raise ValueError(f"ASCEND_E2E_CONTROLLERS must be emulated or real, not {mode!r}")
    return ()


#: every cluster this pytest process asked hack/cluster.sh to start, in order (the terminal summary counts them)
STARTED: list[str] = []


def start_cluster(name: str, *args: str) -> Cluster:
    STARTED.append(name)
    for tool in ("kwokctl", "kube-apiserver", "etcd", "helm", "vc-scheduler", "vc-controller-manager"):
        need_tool(tool)
    env = {"ASCEND_CLUSTER": name}
    if "--operator" not in args:
        args = (*args, *controller_args())
    try:
        proc = run(["bash", str(REPO_ROOT / "hack" / "cluster.sh"), "up", *args], env=env, timeout=900)
    except BaseException:
        # A start that failed (or timed out) half-way leaves processes and files behind that
        # nothing else would remove: take the cluster down before reporting the failure.
        run(["bash", str(REPO_ROOT / "hack" / "cluster.sh"), "down"], env=env, check=False)
        raise
    kubeconfig = proc.stdout.strip().splitlines()[-1]
    return Cluster(name, kubeconfig, True)


def stop_cluster(c: Cluster) -> None:
    if c.started_here:
        run(["bash", str(REPO_ROOT / "hack" / "cluster.sh"), "down"], env={"ASCEND_CLUSTER": c.name}, check=False)


@contextlib.contextmanager
def own_cluster(prefix: str, *args: str) -> Iterator[Cluster]:
    """A cluster named PREFIX-<random> (hack/cluster.sh up ARGS) for one fixture, taken down afterwards."""
    c = start_cluster(f"{prefix}-{secrets.token_hex(3)}", *args)
    try:
        yield c
    finally:
        stop_cluster(c)


VOLCANO_PROBE = """
apiVersion: v1
kind: Pod
metadata: {name: volcano-probe, namespace: NS}
spec:
  schedulerName: volcano
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: registry.k8s.io/pause:3.10}]
"""


def wait_for_volcano(c: Cluster, timeout: float = 300) -> None:
    """Wait until the real vc-scheduler places a probe pod (the hack/volcano.sh addon started it).

    The addon starts Volcano when the chart's ServiceAccounts exist, so this is the
    cluster's own answer to "is a Volcano scheduler running", not a guess from a log.
    """
    ns = f"volcano-probe-{secrets.token_hex(3)}"
    c.kubectl("create", "namespace", ns)
    try:
        c.kubectl("apply", "-f", "-", input=VOLCANO_PROBE.replace("NS", ns))
        proc = c.kubectl("wait", "-n", ns, "pod/volcano-probe", "--for=condition=PodScheduled",
                         f"--timeout={int(timeout)}s", check=False)
        assert proc.returncode == 0, f"the real Volcano scheduler did not place a probe pod: {proc.stderr}"
        events = c.get_json("events", "-n", ns, "--field-selector", "reason=Scheduled")["items"]
        assert [e["source"].get("component") for e in events if e["involvedObject"]["kind"] == "Pod"] == \
            ["volcano"], events
    finally:
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def install_stack(c: Cluster) -> None:
    """MindCluster labels on every node (mgmt-0 as management node) and the stack installed.

    The Ascend Operator is left out: its ServiceAccount is what brings the operator
    emulator addon to life, and the MindIE tests install the ascend-operator chart
    themselves when they want ranktables filled (and check what happens before).
    """
    for args in (("label-node", "--all"), ("label-node", "mgmt-0", "--role", "master"),
                 ("install", "--wait", "--timeout", "5m", "--set", "ascend-operator.enabled=false")):
        proc = c.plugin(*args)
        assert proc.returncode == 0, f"kubectl ascend {' '.join(args)}: {proc.stderr}"


# -- clusters shared by the whole run -----------------------------------------------------------

#: hack/cluster.sh up arguments of each cluster shape the run shares. --long-running-jobs keeps the
#: restartPolicy Always pods of Volcano Jobs running, as a real kubelet does (the MindIE tests need it,
#: nothing else minds it). "volcano" also gets the stack installed and the real Volcano scheduling
#: (shared_cluster); "no-volcano" has no Volcano addon (pods for Volcano stay Pending, and Huawei's own
#: Volcano YAML can be applied without a real scheduler acting on its ServiceAccounts).
SHAPES: dict[str, tuple[str, ...]] = {
    "e2e": ("--long-running-jobs",),
    "volcano": ("--long-running-jobs",),
    "no-volcano": ("--no-volcano",),
    "bare": ("--bare", "--layout", "single"),
    "single": ("--layout", "single"),
}

_shared: dict[str, Cluster] = {}
_baselines: dict[str, dict] = {}


def shared_cluster(shape: str) -> Cluster:
    """The run's one cluster of SHAPE, started on first use (stop_shared takes them all down).

    $ASCEND_E2E_KUBECONFIG (a cluster started with hack/cluster.sh up) stands in for "e2e" and "volcano".
    """
    if shape not in _shared:
        existing = os.environ.get("ASCEND_E2E_KUBECONFIG") if shape in ("e2e", "volcano") else None
        c = Cluster("external", existing, False) if existing else \
            start_cluster(f"{shape}-{secrets.token_hex(3)}", *SHAPES[shape])
        _shared[shape] = c
        _baselines[c.kubeconfig] = snapshot(c)
        if shape == "volcano":
            install_stack(c)
            wait_for_volcano(c)
    return _shared[shape]


def stop_shared(shape: str | None = None) -> None:
    """Take down the shared cluster of SHAPE (every one when None)."""
    for name in [shape] if shape else list(_shared):
        c = _shared.pop(name, None)
        if c is not None:
            stop_cluster(c)


#: what reset_stack puts back: cluster-scoped kinds by name, and these namespaces' objects by kind and name
CLUSTER_KINDS = ("namespaces", "customresourcedefinitions", "clusterroles", "clusterrolebindings", "priorityclasses",
                 "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "runtimeclasses", "nodes")
NAMESPACED_KINDS = ("daemonsets", "deployments", "statefulsets", "jobs", "serviceaccounts", "configmaps", "secrets",
                    "roles", "rolebindings", "services")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public")


def _names(c: Cluster, kinds: tuple[str, ...], *args: str) -> set[tuple[str, str, str]]:
    items = c.get_json(",".join(kinds), *args)["items"]
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items}


def snapshot(c: Cluster) -> dict:
    """What reset_stack restores: object names (see CLUSTER_KINDS) and every node's labels and taints."""
    nodes = {n["metadata"]["name"]: {"labels": n["metadata"].get("labels") or {}, "taints": n["spec"].get("taints")}
             for n in c.get_json("nodes")["items"]}
    objects = _names(c, CLUSTER_KINDS)
    for ns in SYSTEM_NAMESPACES:
        objects |= _names(c, NAMESPACED_KINDS, "-n", ns)
    return {"objects": objects, "nodes": nodes}


def reset_stack(c: Cluster) -> None:
    """Put a shared cluster back to what it was after its start, for a test that needs a clean cluster.

    Every Helm release is uninstalled (its hooks run, the Volcano addon stops with the chart's
    ServiceAccounts), then whatever is left that the start did not create is deleted: namespaces (with
    everything in them), CRDs (with their custom resources), cluster RBAC, PriorityClasses, webhooks,
    nodes, and objects in default/kube-system/kube-public (Huawei's YAML, bootstrap tokens). Node labels
    and taints get their first values back.
    """
    base = _baselines.get(c.kubeconfig)
    assert base is not None, f"cluster {c.name} is not a shared cluster (shared_cluster)"
    helm = need_tool("helm")
    every = ("--deployed", "--failed", "--pending", "--superseded", "--uninstalling")
    releases = json.loads(run([helm, "--kubeconfig", c.kubeconfig, "list", "-A", *every, "-o", "json"]).stdout)
    for r in releases:
        run([helm, "--kubeconfig", c.kubeconfig, "uninstall", r["name"], "-n", r["namespace"], "--wait",
             "--timeout", "120s"], check=False, timeout=180)
    now = _names(c, CLUSTER_KINDS)
    for ns in SYSTEM_NAMESPACES:
        now |= _names(c, NAMESPACED_KINDS, "-n", ns)
    extra = now - base["objects"]

    def delete(kind: str, *more: str) -> None:
        names = sorted(f"{k.lower()}/{n}" for k, ns, n in extra if k == kind and not ns)
        if names:
            c.kubectl("delete", *names, "--ignore-not-found", "--timeout=120s", *more, check=False)

    delete("Namespace")
    for kind, ns, name in sorted(extra):
        if ns:
            c.kubectl("delete", "-n", ns, f"{kind.lower()}/{name}", "--ignore-not-found", check=False)
    for kind in ("CustomResourceDefinition", "ClusterRoleBinding", "ClusterRole", "PriorityClass",
                 "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "RuntimeClass", "Node"):
        delete(kind)
    for node in c.get_json("nodes")["items"]:
        was = base["nodes"].get(node["metadata"]["name"])
        if was is None:
            continue
        have = node["metadata"].get("labels") or {}
        labels = {k: None for k in have if k not in was["labels"]}
        labels |= {k: v for k, v in was["labels"].items() if have.get(k) != v}
        patch: dict = {"metadata": {"labels": labels}} if labels else {}
        if node["spec"].get("taints") != was["taints"]:
            patch["spec"] = {"taints": was["taints"]}
        if patch:
            c.kubectl("patch", "node", node["metadata"]["name"], "--type", "merge", "-p", json.dumps(patch))
