"""Local clusters for the e2e tests: start/stop one (hack/cluster.sh), drive it, install the stack on it.

tests/conftest.py builds its fixtures from these; a test file that needs a cluster of its
own (tests/e2e/test_stack.py) imports them from here, never from conftest.
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


def start_cluster(name: str, *args: str) -> Cluster:
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
