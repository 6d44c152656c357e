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
- the same release streams a chat completion (SSE chunks, then [DONE]).
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

from tests.e2e.mindie_helpers import AscendOperator, Releases, base_values, until
from tests.tooling import REPO_ROOT, need_tool, pymotor_python

pytestmark = pytest.mark.e2e

RELEASE = "motor"
FULL = f"{RELEASE}-mindie-service"
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

    def __init__(self, cluster, ns: str, workdir: Path) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [pymotor_python(), str(REPO_ROOT / "hack" / "pymotor_loop.py"), "--kubeconfig", cluster.kubeconfig,
             "--namespace", ns, "--release", RELEASE, "--workdir", str(workdir), "--python", pymotor_python(),
             "--kubectl", need_tool("kubectl")],
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


@pytest.fixture(scope="module")
def served(ready_cluster, tmp_path_factory):
    """A 1P1D pymotor release, its loop, and the seconds from `helm install` to the first answer."""
    c = ready_cluster
    ns = f"pm-{os.urandom(3).hex()}"
    c.kubectl("create", "namespace", ns)
    work = tmp_path_factory.mktemp("pymotor-loop")
    loop = MotorLoop(c, ns, work)
    releases = Releases(c, ns, work)
    try:
        t0 = time.monotonic()
        releases.install(RELEASE, pymotor_values(), wait=False)
        coord = f"{FULL}-coordinator"

        def answered():
            ip = loop.address(coord, ns)
            if not ip:
                return None
            code, text = post(f"http://{ip}:1025/v1/completions",
                              {"model": "qwen2.5-7b", "prompt": PROMPT, "max_tokens": 64})
            return (ip, text) if code == 200 else None
        try:
            ip, first = until("a completion answered through the coordinator", answered, timeout=240, interval=1)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{loop.logs()}") from None
        seconds = time.monotonic() - t0
        print(f"\npymotor 1P1D: install -> first answered completion {seconds:.1f} s")
        yield {"ns": ns, "ip": ip, "first": first, "seconds": seconds, "loop": loop}
    finally:
        loop.stop()
        releases.cleanup()
        c.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_completion_through_real_coordinator(served):
    body = json.loads(served["first"])
    [choice] = body["choices"]
    text = choice["text"]
    # Made by the decode stand-in from what the prefill stand-in handed over for THIS prompt,
    # each engine named by its loopback pod address and port.
    digest = hashlib.sha256(PROMPT.encode()).hexdigest()[:16]
    assert text.startswith("decoded by decode-127.77."), text
    assert "from prefill prefill-127.77." in text and text.endswith(f"kv {digest}"), text
    assert body["id"].startswith("cmpl-") and body["id"].endswith("-0")
    # The coordinator answers /readiness with 200 and readiness in the body.
    code, ready = get(f"http://{served['ip']}:1026/readiness")
    assert code == 200 and json.loads(ready)["ready"] is True, ready
    assert served["seconds"] < 240


def test_streamed_chat_through_real_coordinator(served):
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
    assert text.startswith("decoded by decode-127.77.") and text.endswith(f"kv {digest}"), text
    assert all(ch["id"].startswith("chatcmpl-") for ch in chunks)
