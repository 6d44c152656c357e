#!/usr/bin/env python3
"""Create simulated Ascend servers (Nodes with NPU capacity) on a KWOK cluster.

Uses the plugin's own API transport (kubectl_ascend.kube), so run it with the
project's virtualenv python. Usage: nodes.py --kubeconfig FILE (--layout NAME | --nodes N) [--prefix P] [--delete]
Nodes are created concurrently and idempotently (existing ones are left alone).
Reads hack/nodes/models/*.yaml (one file per server model) and hack/nodes/layouts.yaml.
"""
from __future__ import annotations

import argparse
import copy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent / "nodes"


def load_models() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted((HERE / "models").glob("*.yaml"))}


def plan(layout: str | None, nodes: int | None, prefix: str, model: str | None = None,
         management: bool = True) -> list[tuple[str, str]]:
    """(node name, model) pairs."""
    layouts = yaml.safe_load((HERE / "layouts.yaml").read_text())
    out: list[tuple[str, str]] = []
    if nodes is not None:
        scale = [model] if model else layouts["scale"]
        if management:
            out.append((f"{prefix}mgmt-0", "management"))
        width = max(4, len(str(nodes)))
        out += [(f"{prefix}npu-{i:0{width}d}", scale[i % len(scale)]) for i in range(nodes)]
        return out
    if layout not in layouts or layout == "scale":
        sys.exit(f"error: unknown layout {layout!r}; known: {', '.join(k for k in layouts if k != 'scale')}")
    for model, count in layouts[layout].items():
        short = "mgmt" if model == "management" else model
        out += [(f"{prefix}{short}-{i}", model) for i in range(count)]
    return out


def manifest(name: str, model: str, index: int, models: dict[str, dict]) -> dict:
    node = copy.deepcopy(models[model]["node"])
    node["apiVersion"], node["kind"] = "v1", "Node"
    meta = node.setdefault("metadata", {})
    meta["name"] = name
    meta.setdefault("labels", {})["kubernetes.io/hostname"] = name
    meta.setdefault("annotations", {})["kwok.x-k8s.io/node"] = "fake"
    meta["annotations"]["ascend.dev/simulated-model"] = model
    # Distinct pod CIDRs so simulated pods get distinct IPs (the PD ranktable reads them).
    node["spec"] = {"podCIDR": f"10.{64 + index // 256}.{index % 256}.0/24"}
    node["status"]["nodeInfo"]["kubeletVersion"] = "v1.34.4"
    node["status"]["addresses"] = [{"type": "InternalIP", "address": f"172.20.{index // 250}.{index % 250 + 1}"},
                                   {"type": "Hostname", "address": name}]
    return node


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--layout")
    g.add_argument("--nodes", type=int)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--offset", type=int, default=0, help="first pod-CIDR index (avoid clashes between runs)")
    ap.add_argument("--delete", action="store_true")
    ap.add_argument("--model", help="with --nodes: make every NPU node this model")
    ap.add_argument("--no-management", action="store_true", help="with --nodes: no management node")
    args = ap.parse_args()

    from kubectl_ascend import errors
    from kubectl_ascend.kube import Kube

    kube = Kube(args.kubeconfig, pool_size=16)
    models = load_models()
    if args.model and args.model not in models:
        sys.exit(f"error: unknown model {args.model!r}; known: {', '.join(models)}")
    items = plan(args.layout, args.nodes, args.prefix, args.model, not args.no_management)

    def work(pair: tuple[int, tuple[str, str]]) -> str:
        i, (name, model) = pair
        try:
            if args.delete:
                kube.request(f"delete node {name}", "DELETE", f"/api/v1/nodes/{name}")
                return "deleted"
            kube.request(f"create node {name}", "POST", "/api/v1/nodes",
                         body=manifest(name, model, args.offset + i, models))
            return "created"
        except (errors.NotFound, errors.Conflict):
            return "unchanged"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, enumerate(items)))
    counts = {k: results.count(k) for k in sorted(set(results))}
    print(f"nodes: {len(items)} ({', '.join(f'{v} {k}' for k, v in counts.items())})", file=sys.stderr)


if __name__ == "__main__":
    main()
