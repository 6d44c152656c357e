"""A stand-in HTTPS API server on 127.0.0.1 for transport tests (TLS, credentials, proxies, retries).

Kubernetes semantics are tested against the real kube-apiserver (tests/e2e); this
stub exists for what a healthy API server will not do on demand: present a
certificate from another CA or for another name, answer 503 then 200, drop the
connection after reading a POST, or sit behind a CONNECT proxy. It records every
request (method, path, headers, client certificate CN) so tests can count them.
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Cert:
    cert_pem: bytes
    key_pem: bytes

    def b64(self, what: str) -> str:
        return base64.b64encode(self.cert_pem if what == "cert" else self.key_pem).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "stub-ca") -> tuple[Cert, Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = Cert(cert.public_bytes(serialization.Encoding.PEM),
               key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
    return pem, cert, key


def issue(ca_cert: Any, ca_key: Any, cn: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (),
          client: bool = False) -> Cert:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    from cryptography.x509.oid import ExtendedKeyUsageOID

    b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                               else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    return Cert(cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, list[str]]
    client_cn: str | None
    body: bytes = b""


@dataclass
class StubAPI:
    """An HTTPS server; `routes` maps a path prefix to fn(handler, seen) -> (status, headers, body) or None (drop)."""

    server_cert: Cert
    ca: Cert
    routes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def start(self, tmp: Path) -> "StubAPI":
        (tmp / "srv.crt").write_bytes(self.server_cert.cert_pem)
        (tmp / "srv.key").write_bytes(self.server_cert.key_pem)
        (tmp / "client-ca.crt").write_bytes(self.ca.cert_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / "srv.crt", tmp / "srv.key")
        ctx.load_verify_locations(tmp / "client-ca.crt")
        ctx.verify_mode = ssl.CERT_OPTIONAL
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
                cn = None
                if peer:
                    cn = dict(x[0] for x in peer["subject"]).get("commonName")
                hdrs: dict[str, list[str]] = {}
                for k, v in self.headers.items():
                    hdrs.setdefault(k.lower(), []).append(v)
                seen = Seen(self.command, self.path, hdrs, cn, body)
                stub.seen.append(seen)
                route = next((fn for prefix, fn in sorted(stub.routes.items(), key=lambda kv: -len(kv[0]))
                              if self.path.startswith(prefix)), None)
                result = route(self, seen) if route else (200, {}, {"path": self.path})
                if result is None:  # drop the connection without an answer
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                status, headers, payload = result
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def finish_request(self, request: Any, client_address: Any) -> None:
                try:
                    request.do_handshake()
                except (ssl.SSLError, OSError):
                    return
                super().finish_request(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path.split("?")[0] == path)


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records the targets it tunnelled to."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode()
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        self.targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host.strip("[]"), int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        socks = [conn, upstream]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    break
                for s in r:
                    d = s.recv(65536)
                    if not d:
                        return
                    (upstream if s is conn else conn).sendall(d)
        except OSError:
            pass
        finally:
            conn.close()
            upstream.close()

    def stop(self) -> None:
        self.sock.close()
