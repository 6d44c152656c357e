"""A mindie-service `mode: pymotor` release serving through the real PyMotor 3.0.0b2 control plane.

The local cluster runs the real Volcano and the Ascend Operator's stand-in (it fills each
instance's rings-config-*); nothing executes inside KWOK pods, so hack/pymotor_loop.py runs what
the release's pods would run as host processes: the real `motor` controller, coordinator and one
node_manager per engine pod (pinned mindie-motor venv), each configured only from the applied
objects (the ConfigMap's user_config.json, the pod's command and env, the operator-filled
rings-config), pod IPs mapped to loopback addresses; the vLLM engines are
hack/pymotor_engine_standin.py.

Scenarios:
- 1P1D: helm install (no --wait) -> the coordinator's /readiness body says ready, a completion
  through the coordinator's Service answers 200 with text the decode stand-in made from the
  prefill stand-in's KV hand-off (the prefill engine of the other instance, the digest of this
  prompt): client -> coordinator -> decode -> coordinator metaserver -> prefill -> decode ->
  client. The time from install to the first answered request is printed (pytest -s) and bounded.
  The same release streams a chat completion (SSE chunks, then [DONE]), its controller idles (stdin
  kept open), and `kubectl ascend status` lists it with mode pymotor and its four roles.
- 2P1D with multi-pod prefill (2 instances x 2 pods, tp 2 dp 2, round_robin): the controller
  assembles each instance from its two pods, and completions reach all 4 prefill engines, each on
  its own pod address (each node_manager registered its own server from HCCL_PATH).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.mindie_helpers import INSTANCE, ROLE, AscendOperator, Releases, base_values, until
from tests.tooling import REPO_ROOT, need_tool, pymotor_python

pytestmark = pytest.mark.e2e

RELEASE = "motor"
PROMPT = "Where does the KV cache of this prompt come from?"


def pymotor_values() -> dict:
    return {**base_values("qwen2.5-7b"), "mode": "pymotor",
            "prefill": {"instances": 1, "npusPerPod": 2}, "decode": {"instances": 1, "npusPerPod": 2},
            "pymotor": {"parallel": {"prefill": {"tp": 2}, "decode": {"tp": 2}}}}


@pytest.fixture(scope="module")
def cluster(volcano_cluster):
    return volcano_cluster


@pytest.fixture(scope="module")
def ready_cluster(cluster):
    """NPU labels on the nodes (the chart's nodeSelector) and the Ascend Operator (rings-config)."""
    assert cluster.plugin("label-node", "--all").returncode == 0
    op = AscendOperator(cluster)
    op.install()
    yield cluster
    op.uninstall()


class MotorLoop:
    """hack/pymotor_loop.py for one release, stopped (with everything it started) afterwards."""

    def __init__(self, cluster, ns: str, release: str, workdir: Path, serve_pod_ips: bool = False) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [pymotor_python(), str(REPO_ROOT / "hack" / "pymotor_loop.py"), "--kubeconfig", cluster.kubeconfig,
             "--namespace", ns, "--release", release, "--workdir", str(workdir), "--python", pymotor_python(),
             "--kubectl", need_tool("kubectl"), *(["--serve-pod-ips"] if serve_pod_ips else [])],
            stdout=subprocess.DEVNULL, stderr=open(workdir / "loop.stderr", "w"), start_new_session=True)

    def address(self, service: str, ns: str) -> str | None:
        try:
            hosts = json.loads((self.workdir / "hosts.json").read_text())
        except (OSError, ValueError):
            return None
        return hosts.get(f"{service}.{ns}.svc.cluster.local")

    def logs(self) -> str:
        out = []
        for f in sorted(self.workdir.glob("*.log")):
            out.append(f"== {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def controller_pid(loop: MotorLoop) -> int:
    """PID of the controller process the loop started last (its loop.log: "<pod>: started pid N: ...")."""
    pids = [int(line.split(" started pid ")[1].split(":")[0])
            for line in (loop.workdir / "loop.log").read_text().splitlines()
            if "-controller-" in line and " started pid " in line]
    assert pids, "the loop started no controller"
    return pids[-1]


def started(loop: MotorLoop, pod_part: str) -> dict[str, int]:
    """{pod: PID of its main process} of the pods whose name contains POD_PART, as the loop started them
    last (its loop.log: "<pod>: started pid N: ...")."""
    out: dict[str, int] = {}
    for line in (loop.workdir / "loop.log").read_text().splitlines():
        if " started pid " in line:
            name = line.split(" ", 2)[1].rstrip(":")
            if pod_part in name:
                out[name] = int(line.split(" started pid ")[1].split(":")[0])
    return out


def engines_of(group: int) -> dict[int, int]:
    """{PID: start time in clock ticks} of the engine stand-ins in process group GROUP (the pod whose
    main process, the node_manager, leads it: engines are its children, /proc/PID/stat)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[2]) == group and b"pymotor_engine_standin.py" in cmd:
            out[int(d.name)] = int(fields[19])
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of PID (/proc/PID/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, body: dict, timeout: float = 20) -> tuple[int, str]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return 0, str(e)


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return 0, str(e)


def serve(cluster, release: str, values: dict, workdir: Path, serve_pod_ips: bool = False):
    """Install RELEASE (no --wait) with its loop; yield what the first answered completion took.
    serve_pod_ips: the loop relays the controller's and coordinator's pod IPs to their processes, so the
    API server's service proxy (what `kubectl ascend status` asks them through) reaches them."""
    ns = f"pm-{os.urandom(3).hex()}"
    cluster.kubectl("create", "namespace", ns)
    loop = MotorLoop(cluster, ns, release, workdir, serve_pod_ips)
    releases = Releases(cluster, ns, workdir)
    try:
        t0 = time.monotonic()
        releases.install(release, values, wait=False)
        coord = f"{release}-mindie-service-coordinator"

        def answered():
            ip = loop.address(coord, ns)
            if not ip:
                return None
            code, ready = get(f"http://{ip}:1026/readiness")
            if code != 200 or not json.loads(ready).get("ready"):
                return None
            code, text = post(f"http://{ip}:1025/v1/completions",
                              {"model": "qwen2.5-7b", "prompt": PROMPT, "max_tokens": 64})
            # "ready" is true with prefill instances alone, and the coordinator then answers from
            # prefill (single-node fallback: motor/coordinator/router/router.py handle_request);
            # the first answer that counts is one the PD path made.
            if code != 200 or not json.loads(text)["choices"][0]["text"].startswith("decoded by"):
                return None
            return ip, text
        try:
            ip, first = until("a completion answered through the coordinator", answered, timeout=240, interval=1)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{loop.logs()}") from None
        seconds = time.monotonic() - t0
        print(f"\npymotor {release}: install -> first answered completion {seconds:.1f} s")
        yield {"ns": ns, "ip": ip, "first": first, "seconds": seconds, "loop": loop, "cluster": cluster}
    finally:
        loop.stop()
        releases.cleanup()
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def served(ready_cluster, tmp_path_factory):
    """A 1P1D pymotor release, its loop, and the seconds from `helm install` to the first answer.
    Function-scoped: one release (one coordinator) on the host at a time (hack/pymotor_loop.py)."""
    yield from serve(ready_cluster, RELEASE, pymotor_values(), tmp_path_factory.mktemp("pymotor-1p1d"),
                     serve_pod_ips=True)


def test_1p1d_completion_and_streamed_chat(served):
    body = json.loads(served["first"])
    [choice] = body["choices"]
    text = choice["text"]
    # Made by the decode stand-in from what the prefill stand-in handed over for THIS prompt,
    # each engine named by its loopback pod address and port.
    digest = hashlib.sha256(PROMPT.encode()).hexdigest()[:16]
    assert text.startswith("decoded by decode-127."), text
    assert "from prefill prefill-127." in text and text.endswith(f"kv {digest}"), text
    assert body["id"].startswith("cmpl-") and body["id"].endswith("-0")
    # The coordinator answers /readiness with 200 and readiness in the body.
    code, ready = get(f"http://{served['ip']}:1026/readiness")
    assert code == 200 and json.loads(ready)["ready"] is True, ready
    assert served["seconds"] < 240
    # The controller idles: the chart keeps its stdin open (stdin: true; the loop gives it a pipe as the
    # kubelet would). On /dev/null the 3.0.0b2 controller spins a core (measured here: ~1 core vs 0.004).
    pid = controller_pid(served["loop"])
    before = cpu_seconds(pid)
    time.sleep(5)
    used = (cpu_seconds(pid) - before) / 5
    assert used < 0.25, f"controller (pid {pid}) used {used:.2f} CPU cores while idle"
    # `kubectl ascend status` knows the release as a pymotor one, with its roles.
    proc = served["cluster"].plugin("status", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    [svc] = [x for x in json.loads(proc.stdout)["services"] if (x["namespace"], x["release"]) == (served["ns"], RELEASE)]
    assert svc["mode"] == "pymotor" and svc["ranktable"] is None, svc
    assert {r: v["pods"] for r, v in svc["roles"].items()} == \
        {"controller": 1, "coordinator": 1, "prefill": 1, "decode": 1}, svc["roles"]
    # ... and what its real controller and coordinator answer through the API server's service proxy
    # (the loop relays their pod IPs): both instances assembled and running, the coordinator ready.
    assert svc["controlPlane"] == {
        "expected": {"prefill": 1, "decode": 1}, "controllerError": None, "coordinatorError": None,
        "registered": {"prefill": {"running": 1, "init": 0, "error": 0}, "decode": {"running": 1, "init": 0, "error": 0}},
        "coordinatorReady": True}, svc["controlPlane"]
    text = served["cluster"].plugin("status")
    assert f"{served['ns']}/{RELEASE}: instances P 1/1 D 1/1, coordinator ready" in text.stdout, text.stdout
    # doctor's pymotor checks read the live pods, ConfigMaps and NetworkPolicies: all pass on what the chart made.
    proc = served["cluster"].plugin("doctor", "-o", "json")
    rows = {c["check"]: c for c in json.loads(proc.stdout)["checks"] if c["check"].startswith("pymotor-")}
    assert {k: c["status"] for k, c in rows.items()} == {"pymotor-job-names": "PASS", "pymotor-metaserver": "PASS",
                                                       "pymotor-controller-stdin": "PASS"}, rows

    # The same release streams a chat completion.
    req = urllib.request.Request(
        f"http://{served['ip']}:1025/v1/chat/completions", method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"model": "qwen2.5-7b", "messages": [{"role": "user", "content": PROMPT}],
                         "max_tokens": 64, "stream": True}).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        assert r.headers.get("Content-Type", "").startswith("text/event-stream")
        raw = r.read().decode()
    events = [line[len("data: "):] for line in raw.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]", raw
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) > 1
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
    digest = hashlib.sha256(PROMPT.encode()).hexdigest()[:16]
    assert text.startswith("decoded by decode-127.") and text.endswith(f"kv {digest}"), text
    assert all(ch["id"].startswith("chatcmpl-") for ch in chunks)


def test_2p1d_multipod_prefill(ready_cluster, tmp_path_factory):
    """Two prefill instances of two pods each (tp 2, dp 2: one engine per pod, PodGroups of 2) and one
    decode: every pod's node_manager registers its own server (HCCL_PATH cut from the instance's
    2-server rings-config), the controller assembles each instance from its two pods (same JOB_NAME),
    and requests reach the prefill engines of both pods of both instances."""
    values = {**pymotor_values(), "prefill": {"instances": 2, "podsPerInstance": 2, "npusPerPod": 2},
              "pymotor": {"parallel": {"prefill": {"tp": 2, "dp": 2}, "decode": {"tp": 2}},
                          "coordinator": {"schedulerType": "round_robin"}}}
    gen = serve(ready_cluster, "motor2", values, tmp_path_factory.mktemp("pymotor-2p1d"))
    s = next(gen)
    try:
        # The controller assembled each instance from the node_managers sharing its JOB_NAME.
        for name in ("prefill-0", "prefill-1", "decode-0"):
            until(f"controller: instance {name} ready", lambda n=name: f"Instance ready: motor2-mindie-service-{n}" in
                  "".join(f.read_text() for f in s["loop"].workdir.glob("motor2-mindie-service-controller-*.log")),
                  timeout=60)
        seen: set[str] = set()

        def all_prefill_engines():
            code, text = post(f"http://{s['ip']}:1025/v1/completions",
                              {"model": "qwen2.5-7b", "prompt": PROMPT, "max_tokens": 64})
            assert code == 200, text
            answer = json.loads(text)["choices"][0]["text"]
            assert answer.startswith("decoded by decode-"), answer
            seen.add(answer.split(" from prefill ")[1].split(" kv ")[0])
            return len(seen) == 4
        # 4 prefill engines (2 instances x 2 pods, one engine each), each on its own pod address.
        until("completions through all 4 prefill engines", all_prefill_engines, timeout=60, interval=0.2)
        addresses = {e.split("-", 1)[1].rsplit(":", 1)[0] for e in seen}
        assert len(addresses) == 4, seen
    finally:
        gen.close()


def pd_answer(ip: str) -> tuple[int, str]:
    """One completion through the coordinator at IP: (HTTP status, text or error)."""
    code, text = post(f"http://{ip}:1025/v1/completions", {"model": "qwen2.5-7b", "prompt": PROMPT, "max_tokens": 64},
                      timeout=10)
    if code == 200:
        text = json.loads(text)["choices"][0]["text"]
    return code, text


def test_killed_decode_node_manager_comes_back(served):
    """The decode pod's node_manager dies (SIGKILL): its container is gone with its engine, the loop restarts
    it in the same pod (same IP, same rendered env: restartPolicy Always), it registers again, and
    completions are served through the PD path again."""
    loop, ip, release = served["loop"], served["ip"], f"{RELEASE}-mindie-service"
    [(pod, pid)] = started(loop, f"{release}-decode-").items()
    old_engines = engines_of(pid)
    assert len(old_engines) == 1, old_engines
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    seen: list[tuple[float, int, str]] = []

    def served_again():
        now = started(loop, f"{release}-decode-")
        if now.get(pod) in (None, pid):
            return None
        code, text = pd_answer(ip)
        seen.append((round(time.monotonic() - t0, 1), code, text[:60]))
        new_engines = engines_of(now[pod])
        return code == 200 and text.startswith("decoded by decode-") and new_engines and now[pod]
    try:
        new_pid = until("the restarted decode node_manager serving again", served_again, timeout=180, interval=1)
    except AssertionError as e:
        raise AssertionError(f"{e}\nseen: {seen}\n{loop.logs()}") from None
    print(f"\npymotor: decode node_manager killed -> served again after {time.monotonic() - t0:.1f} s; "
          f"answers meanwhile (s, status, text): {seen}")
    # The old engine went with its container; a new node_manager started a new one.
    assert not any(Path(f"/proc/{p}").exists() and engines_of(pid).get(p) == t for p, t in old_engines.items())
    assert len(engines_of(new_pid)) == 1
    # The controller assembled the decode instance again from the new registration.
    ctl = "".join(f.read_text() for f in loop.workdir.glob(f"{release}-controller-*.log"))
    assert ctl.count(f"Instance ready: {release}-decode-0") >= 2, ctl[-3000:]


def test_restarted_coordinator_gets_the_instances_back(served):
    """The coordinator's pod is deleted and its Deployment makes a new one (new IP): the controller notices
    (its heartbeat to the coordinator fails, then the new one reports not ready) and pushes every instance
    to it again; the engines and node_managers are never restarted."""
    loop, ns, release = served["loop"], served["ns"], f"{RELEASE}-mindie-service"
    nms = started(loop, f"{release}-prefill-") | started(loop, f"{release}-decode-")
    assert len(nms) == 2, nms
    engines = {pod: engines_of(pid) for pod, pid in nms.items()}
    assert all(len(e) == 1 for e in engines.values()), engines
    controller = started(loop, f"{release}-controller-")
    cluster = served["cluster"]
    old = cluster.get_json("pods", "-n", ns, "-l", f"{INSTANCE}={RELEASE},{ROLE}=coordinator")["items"]
    assert len(old) == 1
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "-n", ns, old[0]["metadata"]["name"], "--wait=false")
    seen: list[tuple[float, int, str]] = []

    def served_by_new():
        # The new pod's process (KWOK may give the new pod the old one's IP, so the address may not change).
        if not set(started(loop, f"{release}-coordinator-")) - {old[0]["metadata"]["name"]}:
            return None
        ip = loop.address(f"{release}-coordinator", ns)
        if not ip:
            return None
        code, text = pd_answer(ip)
        seen.append((round(time.monotonic() - t0, 1), code, text[:60]))
        return code == 200 and text.startswith("decoded by decode-") and ip
    try:
        ip = until("a completion through the new coordinator", served_by_new, timeout=180, interval=1)
    except AssertionError as e:
        raise AssertionError(f"{e}\nseen: {seen}\n{loop.logs()}") from None
    print(f"\npymotor: coordinator pod deleted -> new coordinator served after {time.monotonic() - t0:.1f} s; "
          f"answers meanwhile (s, status, text): {seen}")
    code, ready = get(f"http://{ip}:1026/readiness")
    assert code == 200 and json.loads(ready)["ready"] is True, ready
    # Same node_manager processes, same engine processes (PID and start time), same controller.
    assert started(loop, f"{release}-prefill-") | started(loop, f"{release}-decode-") == nms
    assert {pod: engines_of(pid) for pod, pid in nms.items()} == engines
    assert started(loop, f"{release}-controller-") == controller
