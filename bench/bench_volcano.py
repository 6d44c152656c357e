#!/usr/bin/env python3
"""Gang scheduling cost: a 4P2D MindIE release (2 pods per instance) placed by the real Volcano vs default-scheduler.

One local cluster with --nodes simulated NPU nodes (default 9: six of them
Ascend910 module-910b-8 servers, 48 NPUs) plus a management node; the
MindCluster stack is installed, so hack/volcano.sh runs the real
vc-scheduler and vc-controller-manager. Each run times the install
of the same release (4 Prefill + 2 Decode instances, 2 pods x 4 NPUs each:
12 pods, every module-910b-8 NPU) until every pod is Running, once with
schedulerName volcano (6 PodGroups, minMember 2) and once with
default-scheduler (gang.enabled=false), in two ways: from the start of `helm
install` (no --wait) until a watch sees all 12 P/D pods Running, and `helm
install --wait` end to end. The release is uninstalled and its pods gone
between runs (untimed). vc-scheduler works in sessions of
--schedule-period (1 s by default), so placing a gang waits for the next
session; expect that to dominate the difference.

Usage: bench/bench_volcano.py [--nodes 9] [--runs 5] [--keep]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import yaml

from common import REPO, cluster_down, cluster_up, median, need_tool, plugin_cmd, sh, timed

CHART = REPO / "charts" / "mindie-service"
NS = "bench-gang"


def values(scheduler: str) -> dict:
    v = {
        "mode": "pd",
        "image": {"repository": "r/mindie", "tag": "1.0"},
        "model": {"name": "m", "path": "/data/m"},
        "accelerator": {"family": "910", "type": "module-910b-8"},
        "prefill": {"instances": 4, "podsPerInstance": 2, "npusPerPod": 4},
        "decode": {"instances": 2, "podsPerInstance": 2, "npusPerPod": 4},
        "schedulerName": scheduler,
    }
    if scheduler != "volcano":
        v["gang"] = {"enabled": False}
    return v


def time_to_running(kubeconfig: str, cmd: list[str], count: int) -> float:
    """Seconds from starting CMD (helm install, no --wait) until COUNT P/D pods are Running, seen by a watch."""
    from kubernetes import client, config, watch

    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    selector = "mindie.huawei.com/role in (prefill,decode)"
    rv = api.list_namespaced_pod(NS, label_selector=selector).metadata.resource_version
    running: set[str] = set()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    w = watch.Watch()
    for ev in w.stream(api.list_namespaced_pod, NS, label_selector=selector, resource_version=rv,
                       timeout_seconds=300):
        pod = ev["object"]
        if pod.status.phase == "Running" and ev["type"] != "DELETED":
            running.add(pod.metadata.name)
        if len(running) >= count:
            w.stop()
            break
    elapsed = time.perf_counter() - start
    _, err = proc.communicate()
    if proc.returncode != 0 or len(running) < count:
        raise SystemExit(f"benchmark command failed or timed out: {' '.join(cmd)}\n{err[-2000:]}")
    return elapsed


def wait_for_volcano(kubectl: list[str], timeout: float = 300) -> None:
    """The real vc-scheduler places a probe pod (the addon starts once the stack's ServiceAccounts exist)."""
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "volcano-probe", "namespace": NS},
             "spec": {"schedulerName": "volcano", "tolerations": [{"operator": "Exists"}],
                      "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
    subprocess.run([*kubectl, "apply", "-f", "-"], input=yaml.safe_dump(probe), text=True, check=True,
                   capture_output=True)
    sh(*kubectl, "wait", "-n", NS, "pod/volcano-probe", "--for=condition=PodScheduled", f"--timeout={int(timeout)}s")
    sh(*kubectl, "delete", "-n", NS, "pod/volcano-probe", "--wait=true")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=9)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    helm, kubectl_bin = need_tool("helm"), need_tool("kubectl")
    need_tool("vc-scheduler")
    cluster_down()
    kubeconfig = cluster_up("--nodes", str(args.nodes))
    kubectl = [kubectl_bin, "--kubeconfig", kubeconfig]
    try:
        base = [*plugin_cmd(), "--kubeconfig", kubeconfig]
        sh(*base, "label-node", "--all")
        sh(*base, "label-node", "mgmt-0", "--role", "master")
        sh(*base, "install", "--wait", "--timeout", "10m")
        sh(*kubectl, "create", "namespace", NS)
        wait_for_volcano(kubectl)
        files = {}
        for sched in ("volcano", "default-scheduler"):
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                yaml.safe_dump(values(sched), f)
                files[sched] = f.name
        times: dict[str, list[float]] = {"volcano": [], "default-scheduler": []}
        running: dict[str, list[float]] = {"volcano": [], "default-scheduler": []}
        install = [helm, "--kubeconfig", kubeconfig, "install", "llm", str(CHART), "-n", NS]

        def clean() -> None:
            sh(helm, "--kubeconfig", kubeconfig, "uninstall", "llm", "-n", NS, "--wait")
            sh(*kubectl, "wait", "-n", NS, "--for=delete", "pod", "--all", "--timeout=120s")
            time.sleep(1)  # let vc-scheduler's next session see the freed NPUs (untimed)
        for _ in range(args.runs):
            for sched in ("volcano", "default-scheduler"):
                running[sched].append(time_to_running(kubeconfig, [*install, "-f", files[sched]], 12))
                clean()
                times[sched].append(timed([*install, "-f", files[sched], "--wait", "--timeout", "5m"]))
                pods = sh(*kubectl, "get", "pods", "-n", NS, "-l", "mindie.huawei.com/role in (prefill,decode)",
                          "-o", "jsonpath={range .items[*]}{.spec.schedulerName}/{.status.phase}{\"\\n\"}{end}")
                got = pods.stdout.split()
                assert got == [f"{sched}/Running"] * 12, got
                clean()
        for label, data in (("helm install to all 12 P/D pods Running (watch)", running),
                            ("helm install --wait", times)):
            print(f"  {label}: volcano {['%.2f' % x for x in data['volcano']]}, "
                  f"default-scheduler {['%.2f' % x for x in data['default-scheduler']]}", file=sys.stderr)
        print(f"\n4P2D release (12 pods, 6 gangs of 2 x 4 NPUs), {args.nodes} NPU nodes, median of {args.runs}")
        print(f"{'case':<52}{'real Volcano (s)':>18}{'default-scheduler (s)':>23}{'ratio':>8}")
        for label, data in (("helm install to all 12 P/D pods Running (watch)", running),
                            ("helm install --wait", times)):
            v, d = median(data["volcano"]), median(data["default-scheduler"])
            print(f"{label:<52}{v:>18.3f}{d:>23.3f}{v / d:>7.2f}x")
    finally:
        if not args.keep:
            cluster_down()


if __name__ == "__main__":
    main()
