"""The plugin's own HTTP/1.1 client (kube._Conn / _Pool) against a local server on 127.0.0.1.

Scenarios: Content-Length and chunked bodies; JSON errors become our error
types with the server's message; an idle keep-alive connection closed by the
server is retried once on a new connection; `Connection: close` is honoured;
a refused connection is ClusterUnreachable naming the server; concurrent
requests from worker threads share the pool.
"""
from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube

pytestmark = pytest.mark.unit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]] = []

    def log_message(self, *a):  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, chunked: bool = False, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if close:
            self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        if close:
            self.close_connection = True

    def do_GET(self):
        Handler.seen.append(("GET", self.path, b""))
        if self.path.startswith("/chunked"):
            self._send(200, json.dumps({"items": list(range(50))}).encode(), chunked=True)
        elif self.path.startswith("/forbidden"):
            self._send(403, json.dumps({"message": "nodes is forbidden: user x"}).encode())
        elif self.path.startswith("/close"):
            self._send(200, b'{"closed": true}', close=True)
        else:
            self._send(200, json.dumps({"path": self.path}).encode())

    def do_PATCH(self):
        n = int(self.headers["Content-Length"])
        body = self.rfile.read(n)
        Handler.seen.append(("PATCH", self.path, body))
        self._send(200, body)


@pytest.fixture
def server(tmp_path):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: 'http://127.0.0.1:{srv.server_port}'}}}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n")
    Handler.seen = []
    yield srv, str(kubeconfig)
    srv.shutdown()
    srv.server_close()


def test_bodies_and_query(server):
    _, kc = server
    kube = Kube(kc)
    assert kube.request("x", "GET", "/plain", query={"labelSelector": "a=b,c", "limit": 5, "skip": None}) == \
        {"path": "/plain?labelSelector=a%3Db%2Cc&limit=5"}
    assert kube.request("x", "GET", "/chunked")["items"] == list(range(50))
    assert kube.request("x", "PATCH", "/p", body={"a": 1}) == {"a": 1}
    assert Handler.seen[-1] == ("PATCH", "/p", b'{"a": 1}')


def test_errors_carry_server_message(server):
    _, kc = server
    with pytest.raises(errors.Forbidden) as e:
        Kube(kc).request("list nodes", "GET", "/forbidden")
    assert "list nodes: forbidden (403): nodes is forbidden: user x" in str(e.value)


def test_connection_close_and_stale_keepalive(server):
    srv, kc = server
    kube = Kube(kc, pool_size=1)
    assert kube.request("x", "GET", "/close") == {"closed": True}
    assert kube.request("x", "GET", "/after-close") == {"path": "/after-close"}
    # kill the server side of the idle keep-alive connection: the next request retries on a new one
    conn = kube._pool._idle.queue[0]
    conn._sock.shutdown(socket.SHUT_RDWR)
    assert kube.request("x", "GET", "/retried") == {"path": "/retried"}


def test_concurrent_requests_share_the_pool(server):
    _, kc = server
    kube = Kube(kc, pool_size=4)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: kube.request("x", "GET", f"/n{i}")["path"], range(40)))
    assert got == [f"/n{i}" for i in range(40)]
    assert kube._pool._idle.qsize() <= 4


def test_refused_connection_is_unreachable(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                  f"clusters: [{{name: k, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
                  "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n")
    with pytest.raises(errors.ClusterUnreachable, match=f"127.0.0.1:{port}"):
        Kube(str(kc)).request("get version", "GET", "/version")
