#!/usr/bin/env python3
"""A small stand-in for PyMotor's vLLM-Ascend engine (`engine_server`), for the local loop.

The real engine needs NPUs. PyMotor's node_manager starts it as `engine_server --dp-rank N
--instance-id I --role prefill|decode --host IP --port P --mgmt-port M --config-path USER_CONFIG`
(mindie-motor 3.0.0b2 motor/node_manager/core/daemon.py Daemon.pull_engine); hack/pymotor_loop.py
puts this script first on the node_manager's PATH under that name. It implements only what
PyMotor's processes use, each behaviour from the upstream file named:

management port (--mgmt-port)
  GET /status   {"status": "normal"}: the node_manager polls it every second and reports the
                endpoint NORMAL to the controller (motor/node_manager/core/heartbeat_manager.py
                _get_engine_server_status; values motor/common/resources/endpoint.py EndpointStatus;
                the real server answers from motor/engine_server/core/endpoint.py get_status).
  GET /metrics  Prometheus text (motor/engine_server/core/endpoint.py attach_metrics_router;
                the coordinator reads it: motor/coordinator/api_client/engine_server_api_client.py,
                and parses each family as HELP, TYPE, samples: motor/coordinator/metrics/
                metrics_collector.py _parse_metric_text).
business port (--port), OpenAI API as vLLM serves it
  GET  /health, GET /v1/models
  POST /v1/completions, /v1/chat/completions, with "stream": true as Server-Sent Events ending
       in `data: [DONE]`. The coordinator sends the client's body with an X-Request-Id header and
       `kv_transfer_params` (motor/coordinator/router/base_router.py forward_request,
       separate_cdp_router.py _gen_d_request / _gen_p_request):
    decode  gets {"do_remote_prefill": true, "metaserver": URL}; like vLLM's KV connector it POSTs
            {"request_id": "cmpl-<X-Request-Id>-0" | "chatcmpl-<X-Request-Id>", ...} to URL (the
            coordinator's worker metaserver, which strips those affixes: separate_cdp_router.py
            _get_origin_request_info), and the coordinator forwards the prompt to a prefill engine
            with max_tokens=1 and that dict as kv_transfer_params; the prefill's JSON answer comes
            back as the metaserver's response. The decode answer is made from it.
    prefill answers one token and returns kv_transfer_params naming itself and a digest of the
            prompt: the "KV hand-off" the decode side uses. Without kv_transfer_params (the
            coordinator's single-node fallback while no decode instance is ready) it answers whole.

What it does not model: tokenization, real KV transfer (no blocks move; the hand-off is the digest
in the JSON), batching, sampling, token limits beyond counting words, TLS, the engine's own
registration steps (vLLM's startup is instant here), and failures other than being killed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ARGS: argparse.Namespace
COUNTERS = {"requests": 0, "metaserver_calls": 0}
LOCK = threading.Lock()


def engine_id() -> str:
    return f"{ARGS.role}-{ARGS.host}:{ARGS.port}"


def model_name() -> str:
    try:
        with open(ARGS.config_path, encoding="utf-8") as f:
            cfg = json.load(f)
        return str(cfg[f"motor_engine_{ARGS.role}_config"]["model_config"]["model_name"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def prompt_of(body: dict[str, Any]) -> str:
    if "messages" in body:
        return "\n".join(str(m.get("content", "")) for m in body["messages"])
    p = body.get("prompt", "")
    return p if isinstance(p, str) else json.dumps(p)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        sys.stderr.write(f"[engine {engine_id()}] " + fmt % args + "\n")

    def send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/status":
            self.send_json(200, {"status": "normal"})
        elif self.path.startswith("/metrics"):
            with LOCK:
                n = COUNTERS["requests"]
            metrics = (("vllm:request_success_total", "counter", "Finished requests.", n),
                       ("vllm:num_requests_running", "gauge", "Requests running.", 0),
                       ("vllm:gpu_cache_usage_perc", "gauge", "KV cache usage.", 0.0))
            # Every family with its HELP and TYPE line, as the coordinator's parser requires.
            text = "".join(f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"
                           f'{name}{{model_name="{model_name()}"}} {value}\n'
                           for name, kind, doc, value in metrics).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        elif self.path == "/health":
            self.send_json(200, {})
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": model_name(), "object": "model"}]})
        else:
            self.send_json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_json(400, {"error": "body is not JSON"})
            return
        chat = self.path == "/v1/chat/completions"
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            self.send_json(404, {"detail": "Not Found"})
            return
        with LOCK:
            COUNTERS["requests"] += 1
        req_id = self.headers.get("X-Request-Id") or f"standin-{time.monotonic_ns()}"
        vllm_id = f"chatcmpl-{req_id}" if chat else f"cmpl-{req_id}-0"
        kv = body.get("kv_transfer_params") or {}
        if ARGS.role == "prefill" and not kv:
            self.alone(body, chat, vllm_id)
        elif ARGS.role == "prefill":
            self.prefill(body, chat, vllm_id, kv)
        else:
            self.decode(body, chat, vllm_id, kv)

    def alone(self, body: dict[str, Any], chat: bool, vllm_id: str) -> None:
        """No kv_transfer_params: the coordinator fell back to single-node routing (it does while only
        prefill instances are ready: motor/coordinator/router/router.py handle_request); answer whole."""
        digest = hashlib.sha256(prompt_of(body).encode()).hexdigest()[:16]
        tokens = f"generated by {engine_id()} alone kv {digest}".split()
        if body.get("stream"):
            self.stream(vllm_id, chat, tokens, body)
        else:
            self.send_json(200, response(vllm_id, chat, " ".join(tokens), body, None))

    def prefill(self, body: dict[str, Any], chat: bool, vllm_id: str, kv: dict[str, Any]) -> None:
        prompt = prompt_of(body)
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:16]
        handoff = {"do_remote_prefill": True, "do_remote_decode": False, "remote_engine_id": engine_id(),
                   "remote_host": ARGS.host, "remote_port": ARGS.port, "remote_block_ids": [0],
                   "prompt_digest": digest, "prompt_words": len(prompt.split()),
                   "request_id": kv.get("request_id", vllm_id)}
        first = (prompt.split() or ["<empty>"])[0]
        self.send_json(200, response(vllm_id, chat, first, body, handoff, finish="length"))

    def decode(self, body: dict[str, Any], chat: bool, vllm_id: str, kv: dict[str, Any]) -> None:
        url = kv.get("metaserver")
        if not kv.get("do_remote_prefill") or not url:
            self.send_json(400, {"error": "decode stand-in needs kv_transfer_params.do_remote_prefill and metaserver"})
            return
        call = {"request_id": vllm_id, "do_remote_decode": True, "do_remote_prefill": False,
                "remote_engine_id": engine_id()}
        req = urllib.request.Request(url, data=json.dumps(call).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                prefilled = json.loads(r.read())
        except Exception as e:  # noqa: BLE001 (any failure of the hand-off is the answer)
            self.send_json(502, {"error": f"metaserver {url}: {e}"})
            return
        with LOCK:
            COUNTERS["metaserver_calls"] += 1
        handoff = prefilled.get("kv_transfer_params") or {}
        words = max(1, int(body.get("max_tokens") or 16))
        text = (f"decoded by {engine_id()} from prefill {handoff.get('remote_engine_id')} "
                f"kv {handoff.get('prompt_digest')}")
        tokens = text.split()[:words] if words < len(text.split()) else text.split()
        if body.get("stream"):
            self.stream(vllm_id, chat, tokens, body)
        else:
            self.send_json(200, response(vllm_id, chat, " ".join(tokens), body, None))

    def stream(self, vllm_id: str, chat: bool, tokens: list[str], body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        created = int(time.time())
        for i, tok in enumerate(tokens):
            piece = tok if i == 0 else " " + tok
            last = i == len(tokens) - 1
            if chat:
                chunk = {"id": vllm_id, "object": "chat.completion.chunk", "created": created,
                         "model": body.get("model", model_name()),
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece} if i == 0
                                      else {"content": piece}, "finish_reason": "stop" if last else None}]}
            else:
                chunk = {"id": vllm_id, "object": "text_completion", "created": created,
                         "model": body.get("model", model_name()),
                         "choices": [{"index": 0, "text": piece, "finish_reason": "stop" if last else None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def response(vllm_id: str, chat: bool, text: str, body: dict[str, Any], kv: dict[str, Any] | None,
             finish: str = "stop") -> dict[str, Any]:
    n = len(text.split())
    usage = {"prompt_tokens": len(prompt_of(body).split()), "completion_tokens": n,
             "total_tokens": len(prompt_of(body).split()) + n}
    if chat:
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": finish}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "finish_reason": finish}
        obj = "text_completion"
    out: dict[str, Any] = {"id": vllm_id, "object": obj, "created": int(time.time()),
                           "model": body.get("model", model_name()), "choices": [choice], "usage": usage}
    if kv is not None:
        out["kv_transfer_params"] = kv
    return out


def main() -> None:
    global ARGS
    p = argparse.ArgumentParser(prog="engine_server", description=__doc__.splitlines()[0])
    p.add_argument("--dp-rank", type=int, default=0)
    p.add_argument("--instance-id", default="0")
    p.add_argument("--role", required=True, choices=["prefill", "decode", "both", "union"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mgmt-port", type=int, required=True)
    p.add_argument("--config-path", default="")
    ARGS, _ = p.parse_known_args()
    servers = [ThreadingHTTPServer((ARGS.host, port), Handler) for port in (ARGS.port, ARGS.mgmt_port)]
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    sys.stderr.write(f"[engine {engine_id()}] serving {ARGS.host}:{ARGS.port} (business), "
                     f"{ARGS.mgmt_port} (management), instance {ARGS.instance_id} dp-rank {ARGS.dp_rank}\n")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
