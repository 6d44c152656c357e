#!/usr/bin/env python3
"""label-node vs `kubectl label nodes --all`, join-cmd vs `kubeadm token create --print-join-command`.

Both sides run against the same local kube-apiserver in the same run; medians
of --runs repetitions; the ratio is kubectl's (or kubeadm's) time over ours.
Every run starts from nodes without the labels (reset between runs, untimed),
so both tools really patch every node.

Usage: bench/bench_onboarding.py [--sizes 1000,5000] [--runs 3] [--join-runs 10] [--keep]
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

from common import REPO, cluster_down, cluster_up, median, need_tool, plugin_cmd, report, sh, timed

NODES = str(REPO / "hack" / "nodes.py")

# What label-node writes on an Atlas 800I A2 node when it detects it (same set for kubectl).
LABELS = {
    "accelerator": "huawei-Ascend910",
    "accelerator-type": "module-910b-8",
    "host-arch": "huawei-arm",
    "node-role.kubernetes.io/worker": "worker",
    "workerselector": "dls-worker-node",
}


def reset_labels(kube) -> None:
    nodes = kube.list_nodes()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: kube.patch_node_labels(n["metadata"]["name"], {k: None for k in LABELS}), nodes))


def bench_labels(kubeconfig: str, sizes: list[int], runs: int) -> list[tuple[str, float, float]]:
    from kubectl_ascend.kube import Kube

    kubectl = need_tool("kubectl")
    rows = []
    for n in sizes:
        sh(sys.executable, NODES, "--kubeconfig", kubeconfig, "--nodes", str(n), "--model",
           "atlas-800i-a2", "--no-management")
        kube = Kube(kubeconfig, pool_size=16)
        count = len(kube.list_nodes())
        assert count == n, f"expected {n} nodes, cluster has {count}"
        t_kubectl, t_ours = [], []
        for _ in range(runs):
            reset_labels(kube)
            t_kubectl.append(timed([kubectl, "--kubeconfig", kubeconfig, "label", "nodes", "--all", "--overwrite",
                                    *[f"{k}={v}" for k, v in LABELS.items()]]))
            reset_labels(kube)
            t_ours.append(timed([*plugin_cmd(), "--kubeconfig", kubeconfig, "label-node", "--all"]))
            labelled = kube.list_nodes(label_selector="accelerator=huawei-Ascend910,workerselector=dls-worker-node")
            assert len(labelled) == n, "label-node did not label every node"
        rows.append((f"label {n} nodes", median(t_kubectl), median(t_ours)))
        print(f"  {n} nodes: kubectl {['%.2f' % x for x in t_kubectl]}  label-node {['%.2f' % x for x in t_ours]}",
              file=sys.stderr)
    return rows


def bench_join(kubeconfig: str, runs: int) -> list[tuple[str, float, float]]:
    from kubectl_ascend.kube import Kube

    kubeadm = need_tool("kubeadm")
    t_kubeadm = [timed([kubeadm, "token", "create", "--print-join-command", "--kubeconfig", kubeconfig])
                 for _ in range(runs)]
    t_ours = [timed([*plugin_cmd(), "--kubeconfig", kubeconfig, "join-cmd"]) for _ in range(runs)]
    kube = Kube(kubeconfig)
    for s in kube.list_secrets("kube-system", field_selector="type=bootstrap.kubernetes.io/token"):
        kube.delete_secret("kube-system", s["metadata"]["name"])
    print(f"  kubeadm {['%.3f' % x for x in t_kubeadm]}\n  join-cmd {['%.3f' % x for x in t_ours]}", file=sys.stderr)
    return [("join command", median(t_kubeadm), median(t_ours))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--join-runs", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="leave the benchmark cluster running")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(",") if int(x) > 0)  # --sizes 0: join-cmd only
    cluster_down()
    kubeconfig = cluster_up("--nodes", "0")
    try:
        sh(sys.executable, NODES, "--kubeconfig", kubeconfig, "--nodes", "0", "--delete")
        join = bench_join(kubeconfig, args.join_runs)
        labels = bench_labels(kubeconfig, sizes, args.runs) if sizes else []
        report("join command (median of %d)" % args.join_runs, join, "kubeadm", "kubectl-ascend")
        if labels:
            report("node labels (median of %d)" % args.runs, labels, "kubectl label", "kubectl-ascend")
    finally:
        if not args.keep:
            cluster_down()


if __name__ == "__main__":
    main()
