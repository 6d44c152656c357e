#!/usr/bin/env python3
"""Play the Ascend Operator for a mindie-service PD release on a cluster without NPUs.

The real operator fills each per-instance ranktable ConfigMap (rings-config-*)
with the devices of the instance's pods once they are scheduled. This script
does the same with made-up device IPs, so the global-ranktable step can be
exercised on the simulated cluster (tests and `make demo`). Run it with the
project's virtualenv python.

Usage: fake_operator.py --kubeconfig FILE --namespace NS --release NAME
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--release", required=True)
    args = ap.parse_args()

    from kubectl_ascend.kube import Kube

    kube = Kube(args.kubeconfig)
    role, idx = "mindie.huawei.com/role", "mindie.huawei.com/instance-index"
    cms = kube.list_configmaps(args.namespace, f"app.kubernetes.io/instance={args.release},"
                                               "mindie.huawei.com/ranktable=instance")
    pods = kube.list_pods(args.namespace, label_selector=f"app.kubernetes.io/instance={args.release},{role}")
    done = 0
    for cm in cms:
        labels = cm["metadata"].get("labels") or {}
        mine = [p for p in pods if (p["metadata"].get("labels") or {}).get(role) == labels.get(role)
                and (p["metadata"].get("labels") or {}).get(idx) == labels.get(idx)
                and (p.get("status") or {}).get("podIP") and not p["metadata"].get("deletionTimestamp")]
        want = int((cm["metadata"].get("annotations") or {}).get("mindie.huawei.com/pods", "1"))
        if len(mine) != want:
            print(f"{cm['metadata']['name']}: {len(mine)} of {want} pods have an IP; not completing it",
                  file=sys.stderr)
            continue
        servers = []
        for n, pod in enumerate(sorted(mine, key=lambda p: p["metadata"]["name"])):
            npus = 0
            for c in pod["spec"]["containers"]:
                for k, v in ((c.get("resources") or {}).get("limits") or {}).items():
                    if k.startswith("huawei.com/"):
                        npus += int(v)
            host = pod["status"].get("hostIP", "0.0.0.0")
            servers.append({
                "server_id": host,
                "host_ip": host,
                "container_ip": pod["status"]["podIP"],
                "device": [{"device_id": str(d), "device_ip": f"192.168.{100 + n}.{d + 1}", "rank_id": str(n * npus + d)}
                           for d in range(npus)],
            })
        hccl = {"status": "completed", "version": "1.0", "server_count": str(len(servers)), "server_list": servers}
        kube.patch_configmap_data(args.namespace, cm["metadata"]["name"], {"hccl.json": json.dumps(hccl)})
        done += 1
    print(f"completed {done} of {len(cms)} per-instance ranktables", file=sys.stderr)
    if done != len(cms):
        sys.exit(1)


if __name__ == "__main__":
    main()
