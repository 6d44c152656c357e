"""The one door to the Kubernetes API.

Only this module talks to the API server. Everything it returns is plain
Python (dicts as the API server sends them, as `kubectl get -o json` shows
them), and every API error leaves it as one of our error types with a
sentence saying what to do.

Transport: requests go out through a small HTTP/1.1 client of our own over
ssl sockets (a keep-alive connection pool, safe for worker threads) with the credentials of the
kubeconfig context (client certificates, bearer tokens, basic auth). Importing
the official `kubernetes` client costs most of a second, which would make
`join-cmd` several times slower than `kubeadm token create`; it is imported
only for contexts whose credentials come from an `exec` or `auth-provider`
plugin, where its loader does the work.
"""
from __future__ import annotations

import atexit
import base64
import json
import os
from typing import Any
from urllib.parse import quote, urlencode

import yaml

from kubectl_ascend import errors

#: Page size for list calls: big enough that 5,000 nodes take a handful of
#: round trips, small enough that the API server never builds a huge response.
PAGE_SIZE = 500


class KubeconfigInfo:
    """What the current kubeconfig context points at."""

    def __init__(self, path: str, context: str, cluster: str, server: str, ca_pem: bytes | None,
                 insecure: bool = False, user: dict[str, Any] | None = None, base_dir: str = ".") -> None:
        self.path, self.context, self.cluster, self.server, self.ca_pem = path, context, cluster, server, ca_pem
        self.insecure, self.user, self.base_dir = insecure, user or {}, base_dir


def kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The kubeconfig files kubectl would read, in precedence order."""
    if kubeconfig:
        return [kubeconfig]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def read_kubeconfig(kubeconfig: str | None, context: str | None) -> KubeconfigInfo:
    """Resolve the context, cluster, server and CA the way kubectl merges kubeconfigs."""
    merged: dict[str, dict[str, Any]] = {"contexts": {}, "clusters": {}, "users": {}}
    current = None
    first_path = None
    for path in kubeconfig_paths(kubeconfig):
        p = os.path.expanduser(path)
        if not os.path.exists(p):
            if kubeconfig:
                raise errors.KubeConfigError(f"kubeconfig {path} does not exist")
            continue
        try:
            with open(p, encoding="utf-8") as f:
                doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except (OSError, yaml.YAMLError) as e:
            raise errors.KubeConfigError(f"cannot read kubeconfig {path}: {e}") from e
        first_path = first_path or p
        current = current or doc.get("current-context")
        for kind in ("contexts", "clusters", "users"):
            for item in doc.get(kind) or []:
                merged[kind].setdefault(item.get("name"), {**item, "_dir": os.path.dirname(os.path.abspath(p))})
    if first_path is None:
        raise errors.KubeConfigError(
            "no kubeconfig found; pass --kubeconfig or set KUBECONFIG")
    ctx_name = context or current
    if not ctx_name:
        raise errors.KubeConfigError("the kubeconfig has no current context; pass --context")
    ctx = merged["contexts"].get(ctx_name)
    if ctx is None:
        raise errors.KubeConfigError(f"context {ctx_name!r} not found in the kubeconfig")
    cluster_name = str((ctx.get("context") or {}).get("cluster") or "")
    cluster = merged["clusters"].get(cluster_name)
    if cluster is None:
        raise errors.KubeConfigError(f"cluster {cluster_name!r} of context {ctx_name!r} not found in the kubeconfig")
    c = cluster.get("cluster") or {}
    ca_pem = None
    if c.get("certificate-authority-data"):
        ca_pem = base64.b64decode(c["certificate-authority-data"])
    elif c.get("certificate-authority"):
        ca_path = _resolve(c["certificate-authority"], cluster["_dir"])
        try:
            with open(ca_path, "rb") as f:
                ca_pem = f.read()
        except OSError as e:
            raise errors.KubeConfigError(f"cannot read CA file {ca_path} named in the kubeconfig: {e}") from e
    user_name = str((ctx.get("context") or {}).get("user") or "")
    user = merged["users"].get(user_name) or {}
    return KubeconfigInfo(first_path, ctx_name, cluster_name, c.get("server", ""), ca_pem,
                          bool(c.get("insecure-skip-tls-verify")), user.get("user") or {},
                          user.get("_dir", cluster["_dir"]))


def _explain(status: int | None, what: str, body: str) -> errors.AscendError:
    reason = ""
    try:
        reason = json.loads(body).get("message", "")
    except (ValueError, AttributeError, TypeError):
        reason = ""
    suffix = f": {reason}" if reason else ""
    if status == 401:
        return errors.Unauthorized(
            f"{what}: the API server rejected the credentials (401){suffix}; "
            "refresh them (e.g. log in again) or pick another --context")
    if status == 403:
        return errors.Forbidden(
            f"{what}: forbidden (403){suffix}; ask a cluster admin for this permission "
            "or use an admin kubeconfig")
    if status == 404:
        return errors.NotFound(f"{what}: not found (404){suffix}")
    if status == 409:
        return errors.Conflict(f"{what}: conflict (409){suffix}")
    if status == 422 or status == 400:
        return errors.InvalidInput(f"{what}: rejected by the API server ({status}){suffix}")
    return errors.AscendError(f"{what}: API server answered {status}{suffix}")


_TMPDIR: list[str] = []


def _private_file(data: bytes) -> str:
    """Write credential material to a 0600 file in a private temp dir removed at exit (ssl needs paths)."""
    # os primitives rather than the tempfile module (~14 ms to import on every run)
    if not _TMPDIR:
        base = os.environ.get("TMPDIR") or "/tmp"
        d = os.path.join(base, "kubectl-ascend-" + os.urandom(8).hex())
        os.mkdir(d, 0o700)
        _TMPDIR.append(d)
        atexit.register(_remove_tree, d)
    path = os.path.join(_TMPDIR[0], os.urandom(8).hex())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _remove_tree(d: str) -> None:
    for name in os.listdir(d):
        os.remove(os.path.join(d, name))
    os.rmdir(d)


def _resolve(path: str, base: str) -> str:
    p = os.path.expanduser(path)
    return p if os.path.isabs(p) else os.path.join(base, p)


class _Credentials:
    def __init__(self, server: str, insecure: bool = False) -> None:
        self.server, self.insecure = server, insecure
        self.ca_file: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.headers: dict[str, str] = {}


def _credentials(info: KubeconfigInfo, kubeconfig: str | None, context: str | None,
                 token: str | None) -> _Credentials:
    creds = _Credentials(info.server.rstrip("/"), insecure=info.insecure)
    if info.ca_pem:
        creds.ca_file = _private_file(info.ca_pem)
    if token is not None:  # an explicit bearer token replaces the context's user
        creds.headers["Authorization"] = f"Bearer {token}"
        return creds
    u = info.user
    if u.get("exec") or u.get("auth-provider"):
        return _credentials_from_client(kubeconfig, context, creds)
    if u.get("client-certificate-data"):
        creds.cert_file = _private_file(base64.b64decode(u["client-certificate-data"]))
    elif u.get("client-certificate"):
        creds.cert_file = _resolve(u["client-certificate"], info.base_dir)
    if u.get("client-key-data"):
        creds.key_file = _private_file(base64.b64decode(u["client-key-data"]))
    elif u.get("client-key"):
        creds.key_file = _resolve(u["client-key"], info.base_dir)
    if u.get("token"):
        creds.headers["Authorization"] = f"Bearer {u['token']}"
    elif u.get("tokenFile"):
        try:
            with open(_resolve(u["tokenFile"], info.base_dir), encoding="utf-8") as f:
                tok = f.read().strip()
        except OSError as e:
            raise errors.KubeConfigError(f"cannot read tokenFile of context {info.context}: {e.strerror}") from None
        creds.headers["Authorization"] = f"Bearer {tok}"
    elif u.get("username") and u.get("password"):
        basic = base64.b64encode(f"{u['username']}:{u['password']}".encode()).decode()
        creds.headers["Authorization"] = f"Basic {basic}"
    return creds


def _credentials_from_client(kubeconfig: str | None, context: str | None, creds: _Credentials) -> _Credentials:
    """exec / auth-provider users: let the official client's loader run the plugin."""
    from kubernetes import client, config

    cfg = client.Configuration()
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
    except Exception as e:  # ConfigException, OSError, ... from the plugin
        raise errors.KubeConfigError(f"cannot load credentials of the kubeconfig context: {e}") from None
    auth = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
    if auth:
        prefix = cfg.api_key_prefix.get("authorization", "")
        creds.headers["Authorization"] = f"{prefix} {auth}".strip() if prefix else auth
    creds.cert_file, creds.key_file = cfg.cert_file, cfg.key_file
    if cfg.ssl_ca_cert:
        creds.ca_file = cfg.ssl_ca_cert
    return creds


class _ProtocolError(ConnectionError):
    """The server's answer was not the HTTP/1.1 we speak (or the connection closed mid-answer)."""


class _Conn:
    """One keep-alive HTTP/1.1 connection: just what the Kubernetes API needs.

    Written out rather than taken from http.client, whose import (it pulls in
    the email package for header parsing) costs ~30 ms on every invocation.
    Handles Content-Length and chunked bodies; connects on first use.
    """

    def __init__(self, host: str, port: int, ctx: Any, timeout: float) -> None:
        self._host, self._port, self._ctx, self._timeout = host, port, ctx, timeout
        self._hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._sock: Any = None
        self._rfile: Any = None

    def close(self) -> None:
        for f in (self._rfile, self._sock):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._sock = self._rfile = None

    def request(self, method: str, target: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, bytes, bool]:
        """(status, body, server-will-close)."""
        import socket

        if self._sock is None:
            sock = socket.create_connection((self._host, self._port), self._timeout)
            if self._ctx is not None:
                sock = self._ctx.wrap_socket(sock, server_hostname=self._host)
            self._sock, self._rfile = sock, sock.makefile("rb")
        head = [f"{method} {target} HTTP/1.1", f"Host: {self._hostport}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}")
        self._sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
        rfile = self._rfile
        line = rfile.readline(65537)
        if not line:
            raise _ProtocolError("connection closed before the response")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise _ProtocolError(f"malformed status line {line[:80]!r}")
        status = int(parts[1])
        hdrs: dict[str, str] = {}
        while True:
            h = rfile.readline(65537)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise _ProtocolError("connection closed in the response headers")
            k, _, v = h.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        will_close = hdrs.get("connection", "").lower() == "close" or parts[0] == b"HTTP/1.0"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status, b"", will_close
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = rfile.readline(65537)
                if not size_line:
                    raise _ProtocolError("connection closed in a chunked body")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(rfile.read(size))
                rfile.readline(65537)
            return status, b"".join(chunks), will_close
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            data = rfile.read(n)
            if len(data) != n:
                raise _ProtocolError("connection closed in the response body")
            return status, data, will_close
        return status, rfile.read(), True


class _Pool:
    """Keep-alive connections to one API server, shared by threads (at most `size` at once)."""

    def __init__(self, creds: _Credentials, size: int, timeout: float) -> None:
        import queue
        import ssl
        import threading
        from urllib.parse import urlsplit

        u = urlsplit(creds.server)
        if u.scheme not in ("https", "http") or not u.hostname:
            raise errors.KubeConfigError(f"server {creds.server!r} in the kubeconfig is not an http(s) URL")
        self.prefix = u.path.rstrip("/")
        self._host, self._timeout = u.hostname, timeout
        self._port = u.port or (443 if u.scheme == "https" else 80)
        self._ctx = None
        if u.scheme == "https":
            if creds.insecure:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            else:
                ctx = ssl.create_default_context(cafile=creds.ca_file)
            if creds.cert_file:
                try:
                    ctx.load_cert_chain(creds.cert_file, creds.key_file)
                except (OSError, ssl.SSLError) as e:
                    raise errors.KubeConfigError(f"cannot load the client certificate from the kubeconfig: {e}") from None
            self._ctx = ctx
        self._idle: Any = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))

    def request(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        import queue

        with self._slots:
            try:
                conn, reused = self._idle.get_nowait(), True
            except queue.Empty:
                conn, reused = _Conn(self._host, self._port, self._ctx, self._timeout), False
            while True:
                try:
                    status, data, will_close = conn.request(method, url, body, headers)
                    break
                except (OSError, ValueError) as e:
                    conn.close()
                    if not reused:
                        if isinstance(e, ValueError):
                            raise _ProtocolError(f"the API server answered garbage ({e})") from None
                        raise
                    # The server dropped an idle keep-alive connection (plain EOF, TLS EOF, reset):
                    # retry once on a new connection, which then fails for real if the server is gone.
                    conn, reused = _Conn(self._host, self._port, self._ctx, self._timeout), False
            if will_close:
                conn.close()
            else:
                self._idle.put(conn)
            return status, data


class Kube:
    """A connection to one cluster. Methods return plain dicts."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 pool_size: int = 16, token: str | None = None, timeout: float = 30.0) -> None:
        info = read_kubeconfig(kubeconfig, context)
        if not info.server:
            raise errors.KubeConfigError(f"cluster {info.cluster!r} in the kubeconfig has no server")
        creds = _credentials(info, kubeconfig, context, token)
        self.server = creds.server
        self._headers = {"Accept": "application/json", "User-Agent": "kubectl-ascend", **creds.headers}
        self._pool = _Pool(creds, pool_size, timeout)

    # -- plumbing ---------------------------------------------------------

    def request(self, what: str, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                discard: bool = False) -> dict[str, Any]:
        """One API call; JSON in, JSON out; errors translated (never echoing the request body).

        discard=True: the caller does not need the returned object; skip decoding it.
        (Asking for protobuf instead made no measurable difference on 5,000 nodes and
        would turn error Status messages into bytes we cannot show.)
        """
        import ssl

        url = self._pool.prefix + path
        q = {k: v for k, v in (query or {}).items() if v is not None}
        if q:
            url += "?" + urlencode(q)
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            status, payload = self._pool.request(method, url, data, headers)
        except ssl.SSLError as e:
            raise errors.ClusterUnreachable(
                f"{what}: TLS handshake with {self.server} failed ({e.reason or type(e).__name__}); check the "
                "CA and client certificate in the kubeconfig") from None
        except OSError as e:
            raise errors.ClusterUnreachable(
                f"{what}: cannot reach the API server at {self.server} ({e.strerror or type(e).__name__}); "
                "check that the cluster is running and --kubeconfig/--context point at it") from None
        if status >= 400:
            raise _explain(status, what, payload.decode("utf-8", "replace"))
        if discard:
            return {}
        return json.loads(payload) if payload else {}

    def get_optional(self, what: str, path: str) -> dict[str, Any] | None:
        try:
            return self.request(what, "GET", path)
        except errors.NotFound:
            return None

    def paginate(self, what: str, path: str, **query: Any) -> list[dict[str, Any]]:
        """All items of a list call, fetched in pages of PAGE_SIZE."""
        items: list[dict[str, Any]] = []
        cont = None
        while True:
            page = self.request(what, "GET", path, query={**query, "limit": PAGE_SIZE, "continue": cont})
            items.extend(page.get("items") or [])
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return items

    # -- generic ------------------------------------------------------------

    def server_version(self) -> dict[str, Any]:
        return self.request("get server version", "GET", "/version")


    # -- ConfigMaps / Secrets ---------------------------------------------

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get configmap {namespace}/{name}",
                                 f"/api/v1/namespaces/{namespace}/configmaps/{quote(name)}")

    def list_configmaps(self, namespace: str | None, label_selector: str | None = None) -> list[dict[str, Any]]:
        """ConfigMaps of one namespace, or of all namespaces when namespace is None."""
        path = f"/api/v1/namespaces/{namespace}/configmaps" if namespace else "/api/v1/configmaps"
        return self.paginate(f"list configmaps in {namespace or 'all namespaces'}", path, labelSelector=label_selector)

    def patch_configmap_data(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
        return self.request(f"update configmap {namespace}/{name}", "PATCH",
                            f"/api/v1/namespaces/{namespace}/configmaps/{quote(name)}", body={"data": data},
                            content_type="application/merge-patch+json")

    def create_secret(self, namespace: str, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        # The error never repeats the body: it holds a token secret.
        return self.request(f"create secret {namespace}/{body['metadata']['name']}", "POST",
                            f"/api/v1/namespaces/{namespace}/secrets", body=body,
                            query={"dryRun": "All"} if dry_run else None)

    def list_secrets(self, namespace: str, field_selector: str | None = None) -> list[dict[str, Any]]:
        return self.paginate(f"list secrets in {namespace}", f"/api/v1/namespaces/{namespace}/secrets",
                             fieldSelector=field_selector)

    def delete_secret(self, namespace: str, name: str) -> None:
        self.request(f"delete secret {namespace}/{name}", "DELETE",
                     f"/api/v1/namespaces/{namespace}/secrets/{quote(name)}")

    # -- Nodes ------------------------------------------------------------

    def get_node(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get node {name}", f"/api/v1/nodes/{quote(name)}")

    def list_nodes(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.paginate("list nodes", "/api/v1/nodes", labelSelector=label_selector)

    def patch_node_labels(self, name: str, labels: dict[str, str | None]) -> None:
        """Merge-patch only the given labels (None deletes one)."""
        self.request(f"label node {name}", "PATCH", f"/api/v1/nodes/{quote(name)}",
                     body={"metadata": {"labels": labels}}, content_type="application/merge-patch+json",
                     discard=True)

    # -- Workloads --------------------------------------------------------

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return self.paginate("list pods", path, labelSelector=label_selector, fieldSelector=field_selector)

    def pod_log(self, namespace: str, name: str, container: str | None = None, tail_lines: int = 2000) -> str:
        """The last TAIL_LINES lines of a pod's log, as `kubectl logs --tail` prints them."""
        what = f"read the log of pod {namespace}/{name}"
        q = {k: v for k, v in {"container": container, "tailLines": tail_lines}.items() if v is not None}
        url = f"{self._pool.prefix}/api/v1/namespaces/{namespace}/pods/{quote(name)}/log?{urlencode(q)}"
        headers = {**self._headers, "Accept": "*/*"}
        try:
            status, payload = self._pool.request("GET", url, None, headers)
        except OSError as e:
            raise errors.ClusterUnreachable(f"{what}: cannot reach the API server at {self.server} "
                                            f"({e.strerror or type(e).__name__})") from None
        if status >= 400:
            raise _explain(status, what, payload.decode("utf-8", "replace"))
        return payload.decode("utf-8", "replace")

    def list_daemonsets(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.paginate("list daemonsets", "/apis/apps/v1/daemonsets", labelSelector=label_selector)

    def list_deployments(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.paginate("list deployments", "/apis/apps/v1/deployments", labelSelector=label_selector)

    def list_podgroups(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Volcano PodGroups (scheduling.volcano.sh/v1beta1); [] when the CRD is not installed."""
        base = "/apis/scheduling.volcano.sh/v1beta1"
        path = f"{base}/namespaces/{namespace}/podgroups" if namespace else f"{base}/podgroups"
        try:
            return self.paginate(f"list podgroups in {namespace or 'all namespaces'}", path)
        except errors.NotFound:
            return []

    def list_events(self, namespace: str, field_selector: str | None = None) -> list[dict[str, Any]]:
        return self.paginate(f"list events in {namespace}", f"/api/v1/namespaces/{namespace}/events",
                             fieldSelector=field_selector)

    def list_crds(self) -> list[dict[str, Any]]:
        return self.paginate("list CRDs", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get namespace {name}", f"/api/v1/namespaces/{quote(name)}")

    def create_cluster_object(self, what: str, api_path: str, body: dict[str, Any]) -> bool:
        """Create a cluster-scoped object at an API collection path; False if it already exists."""
        try:
            self.request(f"create {what}", "POST", api_path, body=body)
            return True
        except errors.Conflict:
            return False

    # -- RBAC ---------------------------------------------------------------

    def get_cluster_role_binding(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get clusterrolebinding {name}",
                                 f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{quote(name, safe='')}")

    def get_cluster_role(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get clusterrole {name}",
                                 f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{quote(name, safe='')}")

    def create_cluster_role(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(f"create clusterrole {body['metadata']['name']}", "POST",
                            "/apis/rbac.authorization.k8s.io/v1/clusterroles", body=body)

    def create_cluster_role_binding(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(f"create clusterrolebinding {body['metadata']['name']}", "POST",
                            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body=body)
