#!/usr/bin/env python3
"""label-node vs kubectl and vs the API server's limit; join-cmd and version vs kubeadm/kubectl.

All tools run against the same local kube-apiserver in the same run; medians
of --runs repetitions, the tools taking turns within each repetition.

label-node --all is measured against
* kubectl's fastest form: one `kubectl label nodes -l SELECTOR k=v... --overwrite`
  per distinct label set (one LIST, then one PATCH per node, one at a time);
* the limit: bench/labellimit, a client-go program doing the same LIST and one
  merge-patch per node with the same --workers concurrency and client-go's rate
  limiter off, i.e. what the API server itself sustains.
Every run starts from nodes without the labels (reset between runs, untimed),
so every tool really patches every node. Times are process wall times (start-up
included) as a user sees them. Before each measurement the 1-minute load
average is checked: above --max-load the bench waits (at most --load-wait
seconds over the whole run) and reports the load it measured under.

Usage: bench/bench_onboarding.py [--sizes 1000,5000] [--runs 3] [--workers 64] [--join-runs 10] [--keep]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from common import REPO, cluster_down, cluster_up, median, need_tool, plugin_cmd, report, sh, timed

NODES = str(REPO / "hack" / "nodes.py")
MODEL = "atlas-800i-a2"


class Load:
    """Waits for a quiet machine before each measurement and remembers the load seen."""

    def __init__(self, limit: float, budget: float) -> None:
        self.limit, self.budget, self.seen, self.waited = limit, budget, [], 0.0

    def settle(self) -> None:
        if os.getloadavg()[0] > self.limit and self.waited < self.budget:
            print(f"  load average {os.getloadavg()[0]:.2f} > {self.limit}: waiting (at most "
                  f"{self.budget - self.waited:.0f} s more in this run)", file=sys.stderr)
        while os.getloadavg()[0] > self.limit and self.waited < self.budget:
            time.sleep(5)
            self.waited += 5
        self.seen.append(os.getloadavg()[0])

    def summary(self) -> str:
        if not self.seen:
            return "no measurement"
        s = sorted(self.seen)
        return (f"1-min load average before each measurement: median {median(s):.2f}, max {s[-1]:.2f} "
                f"(limit {self.limit}; waited {self.waited:.0f} s for a quieter machine; {os.cpu_count()} CPUs)")


def label_groups(kube) -> dict[tuple[tuple[str, str], ...], list[dict]]:
    """What label-node --all would write, grouped by distinct label set (label-node's own planner)."""
    from kubectl_ascend.labels import plan_nodes

    nodes = kube.list_nodes()
    by_name = {n["metadata"]["name"]: n for n in nodes}
    groups: dict[tuple[tuple[str, str], ...], list[dict]] = {}
    for p in plan_nodes(nodes, role="worker", accelerator="auto", server_model=None):
        assert p.error is None, p.error
        groups.setdefault(tuple(sorted(p.desired.items())), []).append(by_name[p.node])
    return groups


def group_selector(kube, members: list[dict]) -> str:
    """The labels all members share (hostname aside), checked to select exactly them: kubectl's -l."""
    common = dict((members[0]["metadata"].get("labels") or {}))
    for n in members[1:]:
        labels = n["metadata"].get("labels") or {}
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    common.pop("kubernetes.io/hostname", None)
    selector = ",".join(f"{k}={v}" for k, v in sorted(common.items()))
    chosen = {n["metadata"]["name"] for n in kube.list_nodes(label_selector=selector)}
    if not selector or chosen != {n["metadata"]["name"] for n in members}:
        raise SystemExit(f"no label selector picks exactly the {len(members)} nodes of one label set")
    return selector


def reset_labels(kube, keys: list[str], workers: int) -> None:
    nodes = kube.list_nodes()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda n: kube.patch_node_labels(n["metadata"]["name"], {k: None for k in keys}), nodes))


def build_limit(outdir: str) -> str:
    """go build bench/labellimit (Go's build cache makes repeats quick); the binary's path."""
    go = need_tool("go")
    exe = os.path.join(outdir, "labellimit")
    sh(go, "build", "-o", exe, ".", cwd=str(REPO / "bench" / "labellimit"))
    return exe


def bench_labels(kubeconfig: str, sizes: list[int], runs: int, workers: int, load: Load
                 ) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]:
    from kubectl_ascend.kube import Kube

    kubectl = need_tool("kubectl")
    vs_kubectl, vs_limit = [], []
    with tempfile.TemporaryDirectory(prefix="ascend-bench-") as tmp:
        limit = build_limit(tmp)
        for n in sizes:
            sh(sys.executable, NODES, "--kubeconfig", kubeconfig, "--nodes", str(n), "--model", MODEL,
               "--no-management")
            kube = Kube(kubeconfig, pool_size=workers)
            groups = label_groups(kube)
            count = sum(len(m) for m in groups.values())
            assert count == n, f"expected {n} nodes, cluster has {count}"
            if len(groups) != 1:  # the limit program patches one label set on every listed node
                raise SystemExit(f"expected one label set on {MODEL} nodes, label-node plans {len(groups)}")
            (labels, members), = groups.items()
            keys = [k for k, _ in labels]
            kv = [f"{k}={v}" for k, v in labels]
            selector = group_selector(kube, members)
            done_sel = ",".join(kv)
            cmds = {
                "kubectl": [kubectl, "--kubeconfig", kubeconfig, "label", "nodes", "-l", selector, *kv, "--overwrite"],
                "ours": [*plugin_cmd(), "--kubeconfig", kubeconfig, "label-node", "--all", "--workers",
                         str(workers)],
                "limit": [limit, "--kubeconfig", kubeconfig, "--workers", str(workers), *kv],
            }
            times: dict[str, list[float]] = {k: [] for k in cmds}
            for _ in range(runs):
                for tool, cmd in cmds.items():
                    reset_labels(kube, keys, workers)
                    load.settle()
                    times[tool].append(timed(cmd))
                    got = len(kube.list_nodes(label_selector=done_sel))
                    assert got == n, f"{tool} labelled {got} of {n} nodes"
            t = {k: median(v) for k, v in times.items()}
            vs_kubectl.append((f"label {n} nodes", t["kubectl"], t["ours"]))
            vs_limit.append((f"label {n} nodes", t["limit"], t["ours"]))
            print(f"  {n} nodes ({len(members)} x {len(kv)} labels, workers {workers}): "
                  + "  ".join(f"{k} {['%.2f' % x for x in v]}" for k, v in times.items()), file=sys.stderr)
            print(f"  kubectl -l {selector}", file=sys.stderr)
    return vs_kubectl, vs_limit


def bench_short(kubeconfig: str, runs: int, load: Load) -> list[tuple[str, float, float]]:
    from kubectl_ascend.kube import Kube

    kubeadm, kubectl = need_tool("kubeadm"), need_tool("kubectl")
    ours = plugin_cmd()
    pairs = {
        "join command": ([kubeadm, "token", "create", "--print-join-command", "--kubeconfig", kubeconfig],
                         [*ours, "--kubeconfig", kubeconfig, "join-cmd"]),
        "version (kubeadm)": ([kubeadm, "version", "-o", "short"], [*ours, "--kubeconfig", kubeconfig, "version"]),
        "version (kubectl)": ([kubectl, "--kubeconfig", kubeconfig, "version"],
                              [*ours, "--kubeconfig", kubeconfig, "version"]),
    }
    rows = []
    for case, (base, mine) in pairs.items():
        tb, to = [], []
        for _ in range(runs):
            load.settle()
            tb.append(timed(base))
            to.append(timed(mine))
        rows.append((case, median(tb), median(to)))
        print(f"  {case}: baseline {['%.3f' % x for x in tb]}  ours {['%.3f' % x for x in to]}", file=sys.stderr)
    kube = Kube(kubeconfig)
    for s in kube.list_secrets("kube-system", field_selector="type=bootstrap.kubernetes.io/token"):
        kube.delete_secret("kube-system", s["metadata"]["name"])
    return rows


def report_limit(title: str, rows: list[tuple[str, float, float]]) -> None:
    """rows: (case, limit seconds, our seconds); ratio = ours / limit (target <= 1.5)."""
    print(f"\n{title}")
    print(f"{'case':<28}{'client-go limit (s)':>22}{'kubectl-ascend (s)':>24}{'ours/limit':>12}")
    for case, lim, o in rows:
        print(f"{case:<28}{lim:>22.3f}{o:>24.3f}{o / lim:>11.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=64, help="label-node --workers and the limit's goroutines")
    ap.add_argument("--join-runs", type=int, default=10)
    ap.add_argument("--max-load", type=float, default=3.0, help="wait while the 1-minute load average is above")
    ap.add_argument("--load-wait", type=float, default=600, help="seconds to wait for --max-load, in all")
    ap.add_argument("--keep", action="store_true", help="leave the benchmark cluster running")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(",") if int(x) > 0)  # --sizes 0: short commands only
    load = Load(args.max_load, args.load_wait)
    cluster_down()
    kubeconfig = cluster_up("--nodes", "0", "--no-volcano")
    try:
        sh(sys.executable, NODES, "--kubeconfig", kubeconfig, "--nodes", "0", "--delete")
        short = bench_short(kubeconfig, args.join_runs, load)
        vs_kubectl, vs_limit = bench_labels(kubeconfig, sizes, args.runs, args.workers, load) if sizes else ([], [])
        report("short commands (median of %d)" % args.join_runs, short, "kubeadm/kubectl", "kubectl-ascend")
        if vs_kubectl:
            report("node labels vs kubectl label -l (median of %d; target >= 2x)" % args.runs, vs_kubectl,
                   "kubectl label", "kubectl-ascend")
            report_limit("node labels vs the API server's limit (median of %d; target <= 1.5x)" % args.runs,
                         vs_limit)
        print(f"\n{load.summary()}")
    finally:
        if not args.keep:
            cluster_down()


if __name__ == "__main__":
    main()
