"""What the MindIE and Volcano e2e tests share: chart values, helm through a test's namespace, polling, pod views.

Imported by tests/e2e/test_mindie*.py and tests/e2e/test_volcano.py (no test imports another test file).
"""
from __future__ import annotations

import secrets
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from tests.clusters import Cluster, shared_cluster
from tests.tooling import CHARTS, ensure_chart_deps, need_tool, run

CHART = CHARTS / "mindie-service"
NPU = "huawei.com/Ascend910"
INSTANCE = "app.kubernetes.io/instance"
ROLE = "mindie.huawei.com/role"
INDEX = "mindie.huawei.com/instance-index"
MODEL_PATH = "/data/qwen2.5-7b"


def base_values(model: str) -> dict[str, Any]:
    return {
        "image": {"repository": "swr.example.com/ascendhub/mindie", "tag": "2.1.RC1-800I-A2-py311-openeuler24.03-lts"},
        "model": {"name": model, "path": MODEL_PATH},
        # Required for Ascend 910 workloads; the simulated Atlas 800I A2 nodes are module-910b-8.
        "accelerator": {"family": "910", "type": "module-910b-8"},
    }


def single_values(replicas: int, npus: int = 2, model: str = "qwen2.5-7b") -> dict[str, Any]:
    return {**base_values(model), "mode": "single", "single": {"replicas": replicas, "npusPerInstance": npus}}


def pd_values(prefill: int = 1, decode: int = 1, npus: int = 2, model: str = "qwen2.5-7b") -> dict[str, Any]:
    v = base_values(model)
    return {**v, "mode": "pd",
            "prefill": {"instances": prefill, "npusPerPod": npus},
            "decode": {"instances": decode, "npusPerPod": npus}}


def helm(cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([need_tool("helm"), "--kubeconfig", cluster.kubeconfig, *args], check=check, timeout=240)


def helm_apply(cluster, tmp_path: Path, action: str, ns: str, release: str, values: dict[str, Any],
               wait: bool = True) -> subprocess.CompletedProcess:
    """helm install/upgrade RELEASE with VALUES (written to a file), --wait unless told otherwise."""
    ensure_chart_deps(CHART)
    vf = tmp_path / f"{release}-{action}-{time.monotonic_ns()}.yaml"
    vf.write_text(yaml.safe_dump(values))
    args = [action, release, str(CHART), "-n", ns, "-f", str(vf)]
    if wait:
        args += ["--wait", "--timeout", "90s"]
    return helm(cluster, *args)


def until(what: str, fn: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
    """Poll fn until it returns something truthy; fail with the last value after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def pods(cluster, ns: str, release: str, role: str | None = None) -> list[dict]:
    sel = f"{INSTANCE}={release}" + (f",{ROLE}={role}" if role else "")
    return cluster.get_json("pods", "-n", ns, "-l", sel)["items"]


def running(p: dict) -> bool:
    return (p["status"].get("phase") == "Running" and bool(p["status"].get("podIP"))
            and not p["metadata"].get("deletionTimestamp"))


def npu_request(pod: dict, resource: str = NPU) -> int:
    """Effective request of RESOURCE: max(sum of containers, largest init container)."""
    def req(c):
        r = c.get("resources") or {}
        return int((r.get("requests") or {}).get(resource) or (r.get("limits") or {}).get(resource) or 0)
    spec = pod["spec"]
    return max(sum(req(c) for c in spec["containers"]),
               max((req(c) for c in spec.get("initContainers") or []), default=0))


class Releases:
    """helm install/upgrade into the test's namespace; every release is uninstalled afterwards."""

    def __init__(self, cluster, ns: str, tmp_path: Path):
        self.cluster, self.ns, self.tmp_path = cluster, ns, tmp_path
        self.names: list[str] = []

    def install(self, release: str, values: dict[str, Any], wait: bool = True) -> subprocess.CompletedProcess:
        self.names.append(release)
        return helm_apply(self.cluster, self.tmp_path, "install", self.ns, release, values, wait=wait)

    def upgrade(self, release: str, values: dict[str, Any]) -> subprocess.CompletedProcess:
        return helm_apply(self.cluster, self.tmp_path, "upgrade", self.ns, release, values)

    def cleanup(self) -> None:
        # Deleting the namespace would leave the cluster-scoped PriorityClasses behind.
        for release in self.names:
            helm(self.cluster, "uninstall", release, "-n", self.ns, "--ignore-not-found", "--wait",
                 "--timeout", "60s", check=False)
        names = self.cluster.kubectl("get", "priorityclasses", "-o", "name").stdout.split()
        mine = [n for n in names if n.split("/", 1)[1].startswith(f"{self.ns}-")]
        if mine:
            self.cluster.kubectl("delete", *mine, "--ignore-not-found", check=False)


def configmap(cluster, ns: str, name: str) -> dict:
    return cluster.get_json("configmap", "-n", ns, name)


class AscendOperator:
    """The ascend-operator chart: its ServiceAccount and RBAC bring the cluster's operator emulator to life.

    hack/cluster.sh starts two stand-ins with every cluster (hack/ascend_operator_emulator.py):
    the operator step waits for ServiceAccount mindx-dl/ascend-operator-manager, the device-plugin
    step (the pod device annotation the operator needs) for kube-system/ascend-device-plugin, and
    each acts with exactly its chart's RBAC. The clusters these tests install the operator on
    have the stack (and so the device plugin chart) installed already.
    """

    RELEASE, NS = "e2e-ascend-operator", "mindx-dl"
    DP_NS, DP_SA = "kube-system", "ascend-device-plugin"

    def __init__(self, cluster):
        self.cluster = cluster
        self.installed = False

    def install(self) -> None:
        # the operator waits for the device plugin's pod annotation: its stand-in needs the
        # ascend-device-plugin chart's ServiceAccount (installed with the stack)
        assert self.cluster.kubectl("get", "serviceaccount", self.DP_SA, "-n", self.DP_NS,
                                    check=False).returncode == 0, \
            f"no ServiceAccount {self.DP_NS}/{self.DP_SA}: install the stack (with the device plugin) first"
        ensure_chart_deps(CHARTS / "ascend-operator")
        helm(self.cluster, "upgrade", "--install", self.RELEASE, str(CHARTS / "ascend-operator"), "-n", self.NS,
             "--create-namespace", "--set", "crds.keep=false")
        self.installed = True

    def uninstall(self) -> None:
        if self.installed:
            helm(self.cluster, "uninstall", self.RELEASE, "-n", self.NS, "--wait", "--timeout", "60s", check=False)
            self.installed = False

    @property
    def real(self) -> bool:
        """True under `make conformance`: the cluster runs Huawei's real Ascend Operator."""
        base = Path(self.cluster.kubeconfig).parent / "clusters" / self.cluster.name
        return (base / "logs" / "addon-ascend-operator-real.log").exists()

    def log(self, step: str = "ascend-operator") -> str:
        """An emulator addon's log, `ascend-operator` or `device-plugin` (clusters started by hack/cluster.sh only).

        Under `make conformance` the operator is Huawei's real one: its addon log (client-go's
        stderr) and its own run log instead."""
        base = Path(self.cluster.kubeconfig).parent / "clusters" / self.cluster.name
        paths = [base / "logs" / f"addon-{step}-emulator.log"]
        if step == "ascend-operator" and (base / "logs" / "addon-ascend-operator-real.log").exists():
            paths = [base / "logs" / "addon-ascend-operator-real.log", base / "addons" / "operator" / "ascend-operator.log"]
        return "".join(p.read_text() for p in paths if p.exists())


@contextmanager
def scratch_namespace(cluster, prefix: str, tmp_path: Path) -> Iterator[tuple[str, Releases]]:
    """A new namespace PREFIX-<hex> and a Releases for it; afterwards its releases are uninstalled
    and the namespace deleted (without waiting)."""
    ns = f"{prefix}-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", ns)
    releases = Releases(cluster, ns, tmp_path)
    try:
        yield ns, releases
    finally:
        releases.cleanup()
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@contextmanager
def deleted_after(cluster, *what: str) -> Iterator[None]:
    """`kubectl delete WHAT --ignore-not-found` when the block ends, however it ends."""
    try:
        yield
    finally:
        cluster.kubectl("delete", *what, "--ignore-not-found", check=False)


def clusterd_pd_values() -> dict[str, Any]:
    """pd_values() of a release in ClusterD mode (every PD role a Volcano Job)."""
    return {**pd_values(), "clusterd": {"enabled": True}}


def running_pods(cluster, ns: str, release: str, count: int, timeout: float) -> list[dict]:
    """Wait until exactly COUNT pods of RELEASE run; return them."""
    def check() -> list[dict] | None:
        up = [p for p in pods(cluster, ns, release) if running(p)]
        return up if len(up) == count else None
    return until(f"{count} Running pods of {release}", check, timeout=timeout)


@contextmanager
def operator_cluster(prefix: str) -> Iterator[Cluster]:
    """The run's shared Volcano cluster (tests/conftest.py `volcano_cluster`: the stack, the real Volcano,
    --long-running-jobs) with the ascend-operator chart installed, so the operator emulator runs; the
    chart is uninstalled again when the block ends. PREFIX names the caller (it once named a cluster of
    its own); a fixture using this should also request `volcano_cluster`, so the run orders it with the
    other tests of that cluster."""
    c = shared_cluster("volcano")
    op = AscendOperator(c)
    try:
        op.install()
        yield c
    finally:
        op.uninstall()
