#!/usr/bin/env python3
"""Play the kubelet for `kubectl ascend preflight` pods on the local (KWOK) cluster.

KWOK marks pods Running but runs nothing in them. For every pod labelled
app.kubernetes.io/name=ascend-preflight that KWOK has made Running, this addon does what the
kubelet and the container would do:
  * it runs the SAME agent script the pod would run (read from the pod's ConfigMap volume), with
    the pod's args and NODE_NAME, against a per-node fake host root (PREFLIGHT_HOST_ROOT): etc/hccn.conf,
    etc/containerd/config.toml, usr/local/Ascend/driver/version.info, the Ascend Docker Runtime
    files, and usr/local/bin/npu-smi + usr/local/Ascend/driver/tools/hccn_tool that run
    hack/ascend_tools_emulator.py (their docstring names the upstream formats);
  * it writes the agent's termination-message file into the container status and sets the pod
    Succeeded (exit 0) or Failed, with a status patch as the admin identity KWOK itself uses.
Simulated host per node, from the Node: as many chips as its allocatable huawei.com/Ascend*, the chip
name label, device IP of chip d = 10.(100+d).A.B for node InternalIP 172.20.A.B (one subnet per
rail), /etc/hccn.conf address_d equal to it, TLS switch 0, driver 25.2.0, Ascend Docker Runtime
wired into containerd.
Faults: ConfigMap kube-system/ascend-preflight-emulator, one key per node name whose value is a
JSON object with any of: health {"chip": "Warning|Alarm|..."}, missingChips N, occupied [chip],
linkDown [chip], netHealth {"chip": "Socket failed"}, staleAddress {"chip": "IP in hccn.conf"},
tls "0|1", driver "VERSION", noHccnConf true, noRuntime true, isolated [chip] (pings lost).
Read at every pod, so a test changes a node's health by editing the ConfigMap.
Usage: preflight_kubelet.py --kubeconfig FILE --workdir DIR. Stops on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SELECTOR = "app.kubernetes.io/name=ascend-preflight"
FAULTS = ("kube-system", "ascend-preflight-emulator")

CONTAINERD = """version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "{binary}"
"""


def chips(node: dict[str, Any]) -> int:
    for k, v in ((node.get("status") or {}).get("allocatable") or {}).items():
        if k.startswith("huawei.com/Ascend") and str(v).isdigit():
            return int(v)
    return 0


def host_state(node: dict[str, Any], faults: dict[str, Any]) -> dict[str, Any]:
    addr = next((a["address"] for a in node["status"].get("addresses") or [] if a["type"] == "InternalIP"),
                "172.20.0.1")
    a, b = addr.split(".")[2:4]
    n = chips(node)
    present = list(range(max(0, n - int(faults.get("missingChips", 0)))))
    return {
        "chipName": (node["metadata"].get("labels") or {}).get("node.kubernetes.io/npu.chip.name", "910B"),
        "driver": faults.get("driver", "25.2.0"),
        "present": present,
        "ips": {str(d): f"10.{100 + d}.{a}.{b}" for d in range(n)},
        "health": {str(k): v for k, v in (faults.get("health") or {}).items()},
        "occupied": {str(d): {"pid": str(4000 + d), "name": "python3"} for d in faults.get("occupied") or []},
        "linkDown": [str(d) for d in faults.get("linkDown") or []],
        "netHealth": {str(k): v for k, v in (faults.get("netHealth") or {}).items()},
        "stale": {str(k): v for k, v in (faults.get("staleAddress") or {}).items()},
        "tls": str(faults.get("tls", "0")),
        "isolated": [int(d) for d in faults.get("isolated") or []],
        "noHccnConf": bool(faults.get("noHccnConf")),
        "noRuntime": bool(faults.get("noRuntime")),
    }


class Kubelet:
    def __init__(self, a: argparse.Namespace) -> None:
        from kubectl_ascend.kube import Kube

        self.kube = Kube(a.kubeconfig, pool_size=8)
        self.work = Path(a.workdir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.done: set[str] = set()
        self.stopping = False

    def faults(self) -> dict[str, dict[str, Any]]:
        cm = self.kube.get_configmap(*FAULTS) or {}
        out = {}
        for k, v in (cm.get("data") or {}).items():
            try:
                out[k] = json.loads(v)
            except ValueError:
                print(f"fault for {k} is not JSON; ignored", file=sys.stderr)
        return out

    def fake_root(self, root: Path, host: dict[str, Any]) -> None:
        tool = f"#!/bin/sh\nexec {sys.executable} {HERE / 'ascend_tools_emulator.py'} {{}} \"$@\"\n"
        for rel, name in (("usr/local/bin/npu-smi", "npu-smi"), ("usr/local/Ascend/driver/tools/hccn_tool", "hccn_tool")):
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(tool.format(name))
            p.chmod(0o755)
        (root / "usr/local/Ascend/driver/version.info").write_text(
            f"Version={host['driver']}\nascendhal_version=7.35.19\npackage_version={host['driver']}\n")
        rt = root / "usr/local/Ascend/Ascend-Docker-Runtime"
        rt.mkdir(parents=True, exist_ok=True)
        (root / "etc/containerd").mkdir(parents=True, exist_ok=True)
        binary = "/usr/bin/runc" if host["noRuntime"] else "/usr/local/Ascend/Ascend-Docker-Runtime/ascend-docker-runtime"
        (root / "etc/containerd/config.toml").write_text(CONTAINERD.format(binary=binary))
        if not host["noRuntime"]:
            (rt / "ascend-docker-runtime").write_text("#!/bin/sh\n")
            (rt / "base.list").write_text("/usr/local/bin/npu-smi\n")
        if not host["noHccnConf"]:
            lines = []
            for d in range(len(host["ips"])):
                lines += [f"address_{d}={host['stale'].get(str(d), host['ips'][str(d)])}", f"netmask_{d}=255.255.0.0",
                          f"netdetect_{d}=10.{100 + d}.0.1", f"tls_enable_{d}={host['tls']}"]
            (root / "etc/hccn.conf").write_text("\n".join(lines) + "\n")

    def run_pod(self, pod: dict[str, Any], nodes: dict[str, dict[str, Any]], faults: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        node = nodes.get(spec["nodeName"])
        cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        cm = self.kube.get_configmap(meta["namespace"], cm_name) or {}
        d = self.work / meta["uid"]
        shutil.rmtree(d, ignore_errors=True)
        root = d / "root"
        root.mkdir(parents=True)
        everyone = {name: host_state(n, faults.get(name) or {}) for name, n in nodes.items() if chips(n)}
        host = everyone.get(spec["nodeName"]) or host_state(node or {"metadata": {}, "status": {}}, {})
        self.fake_root(root, host)
        state = d / "state.json"
        state.write_text(json.dumps({"host": host, "all": everyone}))
        (d / "agent.py").write_text((cm.get("data") or {}).get("agent.py", ""))
        c = spec["containers"][0]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_NAME": spec["nodeName"],
               "PREFLIGHT_HOST_ROOT": str(root), "PREFLIGHT_TERMINATION_LOG": str(d / "termination-log"),
               "ASCEND_EMU_STATE": str(state)}
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        p = subprocess.run([sys.executable, str(d / "agent.py"), *c.get("args", [])], env=env,
                           capture_output=True, text=True, timeout=300)
        (d / "stdout.log").write_text(p.stdout + p.stderr)
        msg = (d / "termination-log").read_text() if (d / "termination-log").exists() else ""
        ok = p.returncode == 0
        status = {"phase": "Succeeded" if ok else "Failed",
                  "containerStatuses": [{
                      "name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                      "started": False,
                      "state": {"terminated": {"exitCode": p.returncode, "reason": "Completed" if ok else "Error",
                                               "message": msg, "startedAt": started,
                                               "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}}]}
        self.kube.request(f"set status of pod {meta['namespace']}/{meta['name']}", "PATCH",
                          f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                          body={"status": status}, content_type="application/merge-patch+json", discard=True)
        print(f"{time.strftime('%H:%M:%S')} {meta['namespace']}/{meta['name']} on {spec['nodeName']}: "
              f"{status['phase']} ({len(msg)} bytes of termination message)", flush=True)

    def tick(self, pool: ThreadPoolExecutor) -> None:
        pods = [p for p in self.kube.list_pods(None, SELECTOR)
                if p["metadata"]["uid"] not in self.done and not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") == "Running"]
        if not pods:
            return
        nodes = {n["metadata"]["name"]: n for n in self.kube.list_nodes()}
        faults = self.faults()
        for p in pods:
            self.done.add(p["metadata"]["uid"])
        for f in [pool.submit(self.run_pod, p, nodes, faults) for p in pods]:
            try:
                f.result()
            except Exception as e:  # noqa: BLE001 - one pod's failure must not stop the addon
                print(f"error: {e}", file=sys.stderr, flush=True)

    def run(self) -> None:
        def stop(*_: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        with ThreadPoolExecutor(4) as pool:
            while not self.stopping:
                try:
                    self.tick(pool)
                except Exception as e:  # noqa: BLE001 - API server restarts: try again
                    print(f"error: {e}", file=sys.stderr, flush=True)
                time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--workdir", required=True)
    Kubelet(ap.parse_args()).run()


if __name__ == "__main__":
    main()
