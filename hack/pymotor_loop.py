#!/usr/bin/env python3
"""Run the real PyMotor control plane of a mindie-service `mode: pymotor` release as host processes.

On the local (KWOK) cluster pods become Running with an IP but nothing executes in them. Like
hack/volcano.sh runs Volcano next to the cluster, this runs what a pymotor release's pods would
run, configured ONLY from what the release rendered and applied:
  * each pod's first container: its command, args and env exactly as in the pod (env from
    fieldRef status.podIP and metadata.namespace resolved as the kubelet would);
  * its volumes: ConfigMap volumes written to a per-pod directory and refreshed every second
    (the kubelet's ConfigMap refresh: rings-config goes initializing -> completed under it),
    emptyDir and hostPath as empty per-pod directories; a path in the env or command that starts
    with a volumeMount's mountPath is moved to that directory;
  * `stdin: true` gives the process an open pipe, otherwise /dev/null (as the kubelet does);
  * the pod network: every pod IP is mapped to its own loopback address 127.N.x.y (N from the
    namespace and release), which the
    processes can bind; POD_IP and pod IPs inside ConfigMap files (the operator's hccl.json) become
    that address. Service names resolve through hack/pymotor_dns/sitecustomize.py to the loopback
    address of a Ready endpoint of the Service (kube-dns + kube-proxy; Service port = target port
    is assumed, as the chart renders it).
The image is emulated by PATH: the pinned mindie-motor venv's bin (python3 -> `motor`) and a bin
directory whose `engine_server` is hack/pymotor_engine_standin.py (vLLM-Ascend cannot run here).
Processes of deleted pods are killed; when a pod's main process exits, what it left in its process
group (e.g. the node_manager's engines) is killed too, as the container runtime would, and it is
restarted in the same pod after a short back-off (restartPolicy Always).
--serve-pod-ips (root only: it adds addresses to the host's lo): the API server's service proxy
(`kubectl get --raw /api/v1/namespaces/NS/services/NAME:PORT/proxy/...`, what `kubectl ascend
status` uses) dials the pod IP of a Ready endpoint, which no process here listens on. With the flag
the loop adds the controller's and coordinator's pod IPs to lo (/32) and relays each of their
containerPorts from the pod IP to the loopback alias the process binds, so the API server reaches
the real processes; the addresses are removed when the pod goes or the loop stops.
Limit: one pymotor release per host at a time. The 3.0.0b2 coordinator's processes talk over IPC
sockets at fixed paths (/tmp/scheduler_frontend, /tmp/scheduler_instance_pub: motor/config/
coordinator.py SchedulerProcessConfig, not configurable), which two coordinators would share.

Usage: pymotor_loop.py --kubeconfig FILE --namespace NS --release NAME --workdir DIR
       [--python VENV_PYTHON] [--kubectl PATH] [--serve-pod-ips]
Logs: DIR/loop.log and DIR/<pod>.log. Stops on SIGTERM/SIGINT, killing what it started.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import sys
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENGINE_LABEL = "mindie.huawei.com/engine=pymotor"


class Loop:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.work = Path(a.workdir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.hosts_file = self.work / "hosts.json"
        self.bin = self.work / "bin"
        self.bin.mkdir(exist_ok=True)
        standin = self.bin / "engine_server"
        standin.write_text(f"#!/bin/sh\nexec {a.python} {HERE / 'pymotor_engine_standin.py'} \"$@\"\n")
        standin.chmod(0o755)
        self.aliases: dict[str, str] = {}     # pod IP -> loopback address
        # 127.<octet>.x.y: one /16 per namespace/release, so loops of different releases do not collide.
        self.octet = 64 + zlib.crc32(f"{a.namespace}/{a.release}".encode()) % 128
        self.procs: dict[str, dict[str, Any]] = {}  # pod uid -> {proc, pod, started, restarts, ...}
        self.stopping = False
        self.relays: dict[str, tuple[str, list[Relay]]] = {}  # pod uid -> (pod IP, its relays) (--serve-pod-ips)
        self.logf = open(self.work / "loop.log", "a", buffering=1, encoding="utf-8")

    def log(self, msg: str) -> None:
        self.logf.write(f"{time.strftime('%H:%M:%S')} {msg}\n")

    def kubectl_json(self, *args: str) -> dict[str, Any]:
        out = subprocess.run([self.a.kubectl, "--kubeconfig", self.a.kubeconfig, *args, "-o", "json"],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip())
        return json.loads(out.stdout)

    def alias(self, ip: str) -> str:
        if ip not in self.aliases:
            n = len(self.aliases)
            self.aliases[ip] = f"127.{self.octet}.{n // 250}.{n % 250 + 2}"
            self.log(f"pod IP {ip} -> {self.aliases[ip]}")
        return self.aliases[ip]

    def translate(self, text: str) -> str:
        for ip, lo in sorted(self.aliases.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(f'"{ip}"', f'"{lo}"')
        return text

    # -- one reconcile pass ------------------------------------------------------------------

    def reconcile(self) -> None:
        sel = f"app.kubernetes.io/instance={self.a.release},{ENGINE_LABEL}"
        pods = self.kubectl_json("get", "pods", "-n", self.a.namespace, "-l", sel)["items"]
        live = {}
        for p in pods:
            ip = p["status"].get("podIP")
            if p["status"].get("phase") == "Running" and ip and not p["metadata"].get("deletionTimestamp"):
                self.alias(ip)
                live[p["metadata"]["uid"]] = p
        self.write_hosts()
        cms = {c["metadata"]["name"]: c for c in
               self.kubectl_json("get", "configmaps", "-n", self.a.namespace)["items"]}
        for uid in list(self.procs):
            if uid not in live:
                self.stop_pod(uid, "pod gone")
        if self.a.serve_pod_ips:
            self.sync_relays(live)
        for uid, p in live.items():
            self.sync_volumes(uid, p, cms)
            st = self.procs.get(uid)
            if st is None:
                self.start_pod(uid, p)
            elif st["proc"].poll() is not None and time.monotonic() >= st["next_start"]:
                # The container's main process is gone, so the container is: like the runtime tearing
                # down its PID namespace, kill what it left (the node_manager's engine_server children
                # share its process group), then restart it in place (same pod, same IP).
                kill_group(st["proc"])
                self.log(f"{p['metadata']['name']}: exited {st['proc'].returncode}, restarting")
                st["out"].close()
                self.start_pod(uid, p, restarts=st["restarts"] + 1)

    def write_hosts(self) -> None:
        hosts: dict[str, str] = {}
        slices = self.kubectl_json("get", "endpointslices", "-n", self.a.namespace)["items"]
        for s in slices:
            svc = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            for e in s.get("endpoints") or []:
                ready = (e.get("conditions") or {}).get("ready", True)
                for addr in e.get("addresses") or []:
                    if svc and ready and addr in self.aliases:
                        hosts.setdefault(f"{svc}.{self.a.namespace}.svc.cluster.local", self.aliases[addr])
        text = json.dumps(hosts, sort_keys=True)
        if not self.hosts_file.exists() or self.hosts_file.read_text() != text:
            tmp = self.hosts_file.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(self.hosts_file)
            self.log(f"hosts {text}")

    def sync_relays(self, live: dict[str, dict[str, Any]]) -> None:
        """--serve-pod-ips: relay the controller's and coordinator's containerPorts from their pod IPs."""
        for uid in list(self.relays):
            if uid not in live:
                ip, relays = self.relays.pop(uid)
                for r in relays:
                    r.close()
                subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "lo"], capture_output=True)
                self.log(f"relays of pod {uid} closed, {ip} removed from lo")
        for uid, p in live.items():
            role = (p["metadata"].get("labels") or {}).get("mindie.huawei.com/role")
            if uid in self.relays or role not in ("controller", "coordinator"):
                continue
            ip = p["status"]["podIP"]
            add = subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], capture_output=True, text=True)
            if add.returncode != 0 and "File exists" not in add.stderr and "already assigned" not in add.stderr:
                self.log(f"cannot add {ip} to lo: {add.stderr.strip()}")
                continue
            ports = [int(cp["containerPort"]) for cp in p["spec"]["containers"][0].get("ports") or []]
            relays: list[Relay] = []
            try:
                for port in ports:
                    relays.append(Relay(ip, port, self.aliases[ip]))
            except OSError as e:  # tried again next pass; never holds up starting the pods
                for r in relays:
                    r.close()
                self.log(f"{p['metadata']['name']}: cannot relay {ip}: {e}")
                continue
            self.relays[uid] = (ip, relays)
            self.log(f"{p['metadata']['name']}: relaying {ip}:{ports} -> {self.aliases[ip]}")

    def pod_dir(self, uid: str) -> Path:
        return self.work / "pods" / uid

    def sync_volumes(self, uid: str, pod: dict[str, Any], cms: dict[str, Any]) -> None:
        for v in pod["spec"].get("volumes") or []:
            d = self.pod_dir(uid) / "volumes" / v["name"]
            d.mkdir(parents=True, exist_ok=True)
            cm = v.get("configMap")
            if not cm:
                continue
            data = (cms.get(cm["name"]) or {}).get("data") or {}
            items = cm.get("items")
            pairs = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
            for key, rel in pairs:
                if key not in data:
                    continue
                f = d / rel
                content = self.translate(data[key])
                if not f.exists() or f.read_text() != content:
                    tmp = f.with_name(f".{f.name}.tmp")
                    tmp.write_text(content)
                    tmp.replace(f)

    def start_pod(self, uid: str, pod: dict[str, Any], restarts: int = 0) -> None:
        name = pod["metadata"]["name"]
        c = pod["spec"]["containers"][0]
        mounts = sorted(((m["mountPath"].rstrip("/"), self.pod_dir(uid) / "volumes" / m["name"])
                         for m in c.get("volumeMounts") or []), key=lambda t: -len(t[0]))

        def move(value: str) -> str:
            for path, host in mounts:
                if value == path or value.startswith(path + "/"):
                    return str(host) + value[len(path):]
            return value

        env = {"PATH": f"{self.bin}:{Path(self.a.python).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "HOME": str(self.pod_dir(uid)), "HOSTNAME": name, "LANG": "C.UTF-8",
               "PYTHONPATH": str(HERE / "pymotor_dns"), "PYMOTOR_LOOP_HOSTS": str(self.hosts_file),
               "PYTHONUNBUFFERED": "1"}
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = move(str(e["value"]))
            else:
                field = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                if field == "status.podIP":
                    env[e["name"]] = self.aliases[pod["status"]["podIP"]]
                elif field == "metadata.namespace":
                    env[e["name"]] = pod["metadata"]["namespace"]
                elif field == "metadata.name":
                    env[e["name"]] = name
                elif field == "metadata.uid":
                    env[e["name"]] = uid
        argv = [move(x) for x in (c.get("command") or []) + (c.get("args") or [])]
        cwd = self.pod_dir(uid) / "cwd"
        cwd.mkdir(parents=True, exist_ok=True)
        out = open(self.work / f"{name}.log", "a", buffering=1, encoding="utf-8")
        out.write(f"--- start {time.strftime('%H:%M:%S')} (restart {restarts}) ---\n")
        stdin = subprocess.PIPE if c.get("stdin") else subprocess.DEVNULL
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[uid] = {"proc": proc, "name": name, "restarts": restarts, "out": out,
                           "next_start": time.monotonic() + min(10, 1 + 2 * restarts)}
        self.log(f"{name}: started pid {proc.pid}: {' '.join(argv)[:200]}")

    def stop_pod(self, uid: str, why: str) -> None:
        st = self.procs.pop(uid)
        self.log(f"{st['name']}: stopping ({why})")
        kill_group(st["proc"])
        st["out"].close()
        shutil.rmtree(self.pod_dir(uid), ignore_errors=True)

    def run(self) -> None:
        def stop(*_: Any) -> None:
            self.stopping = True
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.log(f"watching release {self.a.release} in {self.a.namespace}")
        while not self.stopping:
            try:
                self.reconcile()
            except Exception as e:  # noqa: BLE001 (the API may be briefly away; keep going)
                self.log(f"reconcile: {e}")
            time.sleep(1)
        for uid in list(self.procs):
            self.stop_pod(uid, "loop stopping")
        self.sync_relays({})


class Relay:
    """Accepts TCP connections on LISTEN_IP:PORT and pipes each to TARGET_IP:PORT (one thread per direction)."""

    def __init__(self, listen_ip: str, port: int, target_ip: str) -> None:
        self.listen_ip, self.port, self.target_ip = listen_ip, port, target_ip
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listen_ip, port))
        self.sock.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.target_ip, self.port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        # shutdown first: on Linux, close() alone leaves the socket listening while accept() blocks on it
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group PROC leads (a container): SIGTERM, then SIGKILL after 5 s. The group may
    outlive its leader (orphaned children keep its ID), so it is signalled even when PROC has exited."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    else:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--release", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--python", default=sys.executable, help="python of the mindie-motor venv (hack/pymotor.sh python)")
    p.add_argument("--kubectl", default=shutil.which("kubectl") or "kubectl")
    p.add_argument("--serve-pod-ips", action="store_true",
                   help="relay the controller's and coordinator's ports from their pod IPs (root: adds them to lo)")
    Loop(p.parse_args()).run()


if __name__ == "__main__":
    main()
