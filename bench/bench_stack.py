#!/usr/bin/env python3
"""Stack install: `helm template` time, and `kubectl ascend install --wait` against plain `helm install --wait`.

One local cluster with --nodes simulated NPU nodes (default 100) plus a
management node, labelled once. Each run starts from an empty cluster state
(release uninstalled, CRDs and namespaces deleted, untimed). Plain helm gets the
very values our profile decided (read from `install --dry-run -o json`), so
both install the same objects; the ratio is helm's time over ours.

`helm template` is timed with every component on (ClusterD, NodeD and NPU
Exporter included) for each MindCluster release profile, the newest with
Volcano v1.12.0; the budget is 0.5 s median.

Usage: bench/bench_stack.py [--nodes 100] [--runs 3] [--keep] [--template-only]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile

from common import REPO, cluster_down, cluster_up, median, need_tool, plugin_cmd, report, sh, timed

from kubectl_ascend.helm import dependency_order

CHART = REPO / "charts" / "ascend-stack"


def clean(kubeconfig: str) -> None:
    helm, kubectl = need_tool("helm"), need_tool("kubectl")
    sh(helm, "--kubeconfig", kubeconfig, "uninstall", "ascend-stack", "-n", "mindx-dl", "--wait", check=False)
    sh(kubectl, "--kubeconfig", kubeconfig, "delete", "crd", "-l", "app.kubernetes.io/part-of=mindcluster",
       "--ignore-not-found", "--wait=true", check=False)
    sh(kubectl, "--kubeconfig", kubeconfig, "delete", "namespace", "mindx-dl", "volcano-system",
       "--ignore-not-found", "--wait=true", check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--template-only", action="store_true", help="time helm template only (no cluster)")
    args = ap.parse_args()
    helm = need_tool("helm")
    for chart in dependency_order(CHART):  # bottom-up: the library into the components, then the umbrella
        sh(helm, "dependency", "build", str(chart), "--skip-refresh")
    everything = ["--set", "ascend-docker-runtime.enabled=true", "--set", "ascend-docker-runtime.image.repository=r/adr",
                  "--set-string", "ascend-docker-runtime.image.tag=1.0", "--set", "mindie-service.enabled=true",
                  "--set", "mindie-service.image.repository=r/mindie", "--set-string", "mindie-service.image.tag=1.0",
                  "--set", "mindie-service.model.name=m", "--set", "mindie-service.model.path=/data/m",
                  "--set", "mindie-service.accelerator.type=module-910b-8",
                  "--set", "ascend-clusterd.enabled=true", "--set", "ascend-noded.enabled=true",
                  "--set", "ascend-npu-exporter.enabled=true", "--set", "ascend-volcano.clusterd.installed=true",
                  "--set-string", "ascend-volcano.scheduler.initParams.useClusterInfoManager=true"]
    profiles = {"26.0.0": [], "26.1.0 + Volcano v1.12.0": [
        "--set", "global.mindcluster.version=26.1.0", "--set", "ascend-volcano.volcanoVersion=v1.12.0"]}
    for name, extra in profiles.items():
        t_template = [timed([helm, "template", "ascend-stack", str(CHART), *everything, *extra]) for _ in range(10)]
        print(f"helm template, umbrella with every component enabled, MindCluster {name}: "
              f"median {median(t_template):.3f}s (min {min(t_template):.3f}s, 10 runs; budget 0.5s)")
    if args.template_only:
        return

    cluster_down()
    kubeconfig = cluster_up("--nodes", str(args.nodes))
    try:
        base = [*plugin_cmd(), "--kubeconfig", kubeconfig]
        sh(*base, "label-node", "--all")
        sh(*base, "label-node", "mgmt-0", "--role", "master")
        values = json.loads(sh(*base, "install", "--dry-run", "-o", "json").stdout)["values"]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(values, f)
        t_helm, t_ours = [], []
        for _ in range(args.runs):
            clean(kubeconfig)
            t_helm.append(timed([helm, "--kubeconfig", kubeconfig, "install", "ascend-stack", str(CHART), "-n",
                                 "mindx-dl", "--create-namespace", "-f", f.name, "--wait", "--timeout", "10m"]))
            clean(kubeconfig)
            t_ours.append(timed([*base, "install", "--wait", "--timeout", "10m"]))
        print(f"  helm install --wait {['%.2f' % x for x in t_helm]}\n"
              f"  kubectl ascend install --wait {['%.2f' % x for x in t_ours]}", file=sys.stderr)
        report(f"install to all components Ready, {args.nodes} NPU nodes (median of {args.runs})",
               [("install --wait", median(t_helm), median(t_ours))], "helm install", "kubectl-ascend")
    finally:
        if not args.keep:
            cluster_down()


if __name__ == "__main__":
    main()
