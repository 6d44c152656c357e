"""The one door to the Kubernetes API.

Only this module talks to the API server. Everything it returns is plain
Python (dicts as the API server sends them, as `kubectl get -o json` shows
them), and every API error leaves it as one of our error types with a
sentence saying what to do.

Transport: the official `kubernetes` client. Its kubeconfig loader resolves
credentials (client certificates, tokens, tokenFile, basic auth, exec and
auth-provider plugins with refresh), and its REST client (urllib3) carries
TLS (CA, tls-server-name, insecure-skip-tls-verify), proxies (`proxy-url`,
HTTPS_PROXY / NO_PROXY) and the connection pool. Requests go out by raw API
path so objects stay the dicts the server sent. What this module adds:

* kubeconfig files are read and checked here first (kubectl's merge rules:
  the first file that sets a context, cluster, user or current-context wins;
  relative paths resolve against the file that names them) so a malformed
  file gets one line naming the file and the field;
* credential material from `*-data` fields and exec plugins never touches
  the disk: the loader gets paths of anonymous in-memory files (Linux
  memfd), which vanish with the process, even after `kill -9`;
* retries only where they are safe (see `Kube.request`);
* impersonation (`--as`, `--as-group`) and a watch helper.

The client is imported inside `Kube`, so `kubectl ascend --help` never pays for it.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import random
import threading
import time
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import quote, urlencode, urlsplit

import yaml

from kubectl_ascend import errors, validate

#: Page size for list calls: big enough that 5,000 nodes take a handful of
#: round trips, small enough that the API server never builds a huge response.
PAGE_SIZE = 500

#: How long requests that are safe to repeat keep being retried (connection loss, 429, 5xx). One budget
#: per Kube (per run): it starts at the first failure and every request retrying meanwhile shares it, so
#: 1,000 queued label patches against a dead API server give up together after it, not one after another.
RETRY_SECONDS = 20.0

#: Statuses that mean "not done, try again later" (the API server's own overload answers).
RETRY_STATUSES = (429, 500, 502, 503, 504)

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def quantity(value: Any) -> Decimal:
    """A resource quantity as Kubernetes reads it: "8", "1k" (1000), "2Ki" (2048), "500m" (0.5).

    The client's kubernetes.utils.quantity.parse_quantity, the Python twin of apimachinery's
    resource.ParseQuantity (pkg/api/resource/quantity.go). ValueError when `value` is not a
    quantity (or not a finite one).
    """
    from kubernetes.utils.quantity import parse_quantity

    q: Decimal = parse_quantity(value)
    if not q.is_finite():
        raise ValueError(f"{value!r} is not a finite quantity")
    return q


class KubeconfigInfo:
    """What the current kubeconfig context points at."""

    def __init__(self, path: str, context: str, cluster: str, server: str, ca_pem: bytes | None,
                 insecure: bool = False, user: dict[str, Any] | None = None, base_dir: str = ".",
                 namespace: str | None = None, tls_server_name: str | None = None,
                 proxy_url: str | None = None, in_cluster: bool = False) -> None:
        self.path, self.context, self.cluster, self.server, self.ca_pem = path, context, cluster, server, ca_pem
        self.insecure, self.user, self.base_dir = insecure, user or {}, base_dir
        self.namespace, self.tls_server_name, self.proxy_url = namespace, tls_server_name, proxy_url
        self.in_cluster = in_cluster


def kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The kubeconfig files kubectl would read, in precedence order."""
    if kubeconfig:
        return [kubeconfig]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


# -- reading and checking kubeconfig files ------------------------------------

_KINDS = {"contexts": "context", "clusters": "cluster", "users": "user"}


class _Merged:
    """kubectl's merge of the kubeconfig files: first definition of each name wins."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.current: str | None = None
        self.current_from: str | None = None
        # kind -> name -> (entry, file it came from)
        self.items: dict[str, dict[str, tuple[dict[str, Any], str]]] = {k: {} for k in _KINDS}


def _kind_name(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _load_file(path: str, merged: _Merged) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise errors.KubeConfigError(f"kubeconfig {path} is not valid YAML{where}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise errors.KubeConfigError(f"cannot read kubeconfig {path}: {getattr(e, 'strerror', None) or e}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise errors.KubeConfigError(
            f"kubeconfig {path} must be a mapping (apiVersion, clusters, contexts, users), found {_kind_name(doc)}")
    merged.files.append(path)
    cur = doc.get("current-context")
    if cur is not None and not isinstance(cur, str):
        raise errors.KubeConfigError(f"kubeconfig {path}: current-context must be a string, found {_kind_name(cur)}")
    if cur and merged.current is None:
        merged.current, merged.current_from = cur, path
    for kind, singular in _KINDS.items():
        entries = doc.get(kind)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise errors.KubeConfigError(
                f"kubeconfig {path}: {kind} must be a list of entries with name and {singular}, "
                f"found {_kind_name(entries)}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise errors.KubeConfigError(
                    f"kubeconfig {path}: {kind}[{i}] must be a mapping with name and {singular}, "
                    f"found {_kind_name(entry)}")
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise errors.KubeConfigError(f"kubeconfig {path}: {kind}[{i}] has no name")
            body = entry.get(singular)
            if body is not None and not isinstance(body, dict):
                raise errors.KubeConfigError(
                    f"kubeconfig {path}: {kind}[{i}] ({name}): {singular} must be a mapping, found {_kind_name(body)}")
            merged.items[kind].setdefault(name, (entry, path))


def _merge(kubeconfig: str | None) -> _Merged | None:
    """The merged kubeconfig files, or None when there is none (in-cluster config may apply)."""
    merged = _Merged()
    for p in kubeconfig_paths(kubeconfig):
        path = os.path.expanduser(p)
        if not os.path.exists(path):
            if kubeconfig:
                raise errors.KubeConfigError(f"kubeconfig {p} does not exist")
            continue
        _load_file(path, merged)
    return merged if merged.files else None


def _b64(value: Any, path: str, where: str, field: str) -> bytes:
    if not isinstance(value, str):
        raise errors.KubeConfigError(f"kubeconfig {path}: {where}: {field} must be a base64 string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise errors.KubeConfigError(f"kubeconfig {path}: {where}: {field} is not valid base64") from None


def _check_pem(data: bytes, path: str, where: str, field: str, marker: bytes = b"-----BEGIN ") -> None:
    if marker not in data:
        raise errors.KubeConfigError(f"kubeconfig {path}: {where}: {field} does not hold a PEM "
                                     f"{'certificate' if 'key' not in field else 'key'}")


def _resolve(path: str, base: str) -> str:
    p = os.path.expanduser(path)
    return p if os.path.isabs(p) else os.path.join(base, p)


def _check_server(server: Any, path: str, cluster: str) -> str:
    where = f"cluster {cluster}"
    if not isinstance(server, str) or not server:
        raise errors.KubeConfigError(f"kubeconfig {path}: {where} has no server")
    u = urlsplit(server)
    if u.scheme not in ("https", "http") or not u.hostname:
        raise errors.KubeConfigError(
            f"kubeconfig {path}: {where}: server {server!r} is not an http(s) URL with a host")
    if "?" in server or "#" in server:
        # client-go keeps only scheme, host and path of the server (rest.DefaultServerURL) and builds each
        # request's query itself (rest.Request.URL), so kubectl silently drops these; appended to a request
        # path they would swallow it and every request would reach the API root: an empty answer, not an error.
        part = "a query string" if "?" in server.split("#", 1)[0] else "a fragment"
        raise errors.KubeConfigError(
            f"kubeconfig {path}: {where}: server {server!r} has {part}; an API server URL is "
            "https://HOST[:PORT][/PATH], with nothing after a '?' or '#'")
    try:
        port = u.port
    except ValueError:
        raise errors.KubeConfigError(
            f"kubeconfig {path}: {where}: server {server!r} has an invalid port (must be 1-65535)") from None
    if port == 0:
        raise errors.KubeConfigError(
            f"kubeconfig {path}: {where}: server {server!r} has an invalid port (must be 1-65535)")
    hostport = u.netloc.rsplit("@", 1)[-1]
    try:  # the same host rules as join endpoints: IPv4, [IPv6] or an RFC 1123 DNS name
        validate.endpoint(hostport if port else f"{hostport}:{443 if u.scheme == 'https' else 80}",
                          origin=f"kubeconfig {path}: {where}: server")
    except errors.InvalidInput:
        raise errors.KubeConfigError(
            f"kubeconfig {path}: {where}: server {server!r} does not name a host as an IPv4 address, a "
            "[bracketed] IPv6 address or a DNS name") from None
    return server


class _Selected:
    """The context, cluster and user a command uses, checked."""

    def __init__(self, merged: _Merged, context: str | None) -> None:
        files = ", ".join(merged.files)
        name = context or merged.current
        if not name:
            raise errors.KubeConfigError(f"kubeconfig {files} has no current-context; pass --context")
        if name not in merged.items["contexts"]:
            flag = "--context" if context else f"current-context in {merged.current_from}"
            raise errors.KubeConfigError(f"context {name!r} ({flag}) is not defined in kubeconfig {files}")
        ctx_entry, ctx_path = merged.items["contexts"][name]
        ctx = ctx_entry.get("context") or {}
        cluster_name = ctx.get("cluster")
        if not isinstance(cluster_name, str) or not cluster_name:
            raise errors.KubeConfigError(f"kubeconfig {ctx_path}: context {name} names no cluster")
        if cluster_name not in merged.items["clusters"]:
            raise errors.KubeConfigError(
                f"kubeconfig {ctx_path}: context {name} names cluster {cluster_name!r}, which is not defined "
                f"in kubeconfig {files}")
        user_name = ctx.get("user")
        if user_name is not None and not isinstance(user_name, str):
            raise errors.KubeConfigError(f"kubeconfig {ctx_path}: context {name}: user must be a string")
        if user_name and user_name not in merged.items["users"]:
            raise errors.KubeConfigError(
                f"kubeconfig {ctx_path}: context {name} names user {user_name!r}, which is not defined "
                f"in kubeconfig {files}")
        ns = ctx.get("namespace")
        if ns is not None and not isinstance(ns, str):
            raise errors.KubeConfigError(f"kubeconfig {ctx_path}: context {name}: namespace must be a string")
        self.context, self.context_path, self.namespace = name, ctx_path, ns or None
        self.cluster_entry, self.cluster_path = merged.items["clusters"][cluster_name]
        self.cluster_name = cluster_name
        user_item: tuple[dict[str, Any], str] = (merged.items["users"][user_name] if user_name
                                                  else ({"name": "", "user": {}}, ctx_path))
        self.user_entry, self.user_path = user_item
        self.user_name = user_name or ""
        self.cluster: dict[str, Any] = self.cluster_entry.get("cluster") or {}
        self.user: dict[str, Any] = self.user_entry.get("user") or {}
        self.server = _check_server(self.cluster.get("server"), self.cluster_path, cluster_name)
        self._check_credentials()

    def _check_credentials(self) -> None:
        c, u = self.cluster, self.user
        cwhere, uwhere = f"cluster {self.cluster_name}", f"user {self.user_name}"
        self.ca_pem: bytes | None = None
        if c.get("certificate-authority-data"):
            self.ca_pem = _b64(c["certificate-authority-data"], self.cluster_path, cwhere, "certificate-authority-data")
            _check_pem(self.ca_pem, self.cluster_path, cwhere, "certificate-authority-data")
        elif c.get("certificate-authority"):
            ca = _resolve(str(c["certificate-authority"]), os.path.dirname(os.path.abspath(self.cluster_path)))
            try:
                with open(ca, "rb") as f:
                    self.ca_pem = f.read()
            except OSError as e:
                raise errors.KubeConfigError(
                    f"kubeconfig {self.cluster_path}: {cwhere}: cannot read certificate-authority {ca}: "
                    f"{e.strerror}") from None
        for field in ("client-certificate-data", "client-key-data"):
            if u.get(field):
                data = _b64(u[field], self.user_path, uwhere, field)
                _check_pem(data, self.user_path, uwhere, field)
        udir = os.path.dirname(os.path.abspath(self.user_path))
        for field in ("client-certificate", "client-key", "tokenFile"):
            if u.get(field) and not u.get(field + "-data") and not (field == "tokenFile" and u.get("token")):
                p = _resolve(str(u[field]), udir)
                if not os.path.isfile(p):
                    raise errors.KubeConfigError(
                        f"kubeconfig {self.user_path}: {uwhere}: {field} {p} does not exist")
        if bool(u.get("client-certificate-data") or u.get("client-certificate")) != \
                bool(u.get("client-key-data") or u.get("client-key")):
            raise errors.KubeConfigError(
                f"kubeconfig {self.user_path}: {uwhere} has a client certificate without its key (or a key "
                "without its certificate)")
        ex = u.get("exec")
        if ex is not None and (not isinstance(ex, dict) or not ex.get("command")):
            raise errors.KubeConfigError(f"kubeconfig {self.user_path}: {uwhere}: exec needs a command")
        for field in ("tls-server-name", "proxy-url"):
            if c.get(field) is not None and not isinstance(c.get(field), str):
                raise errors.KubeConfigError(f"kubeconfig {self.cluster_path}: {cwhere}: {field} must be a string")
        if c.get("proxy-url"):
            pu = urlsplit(c["proxy-url"])
            if pu.scheme not in ("http", "https", "socks5", "socks5h") or not pu.hostname:
                raise errors.KubeConfigError(
                    f"kubeconfig {self.cluster_path}: {cwhere}: proxy-url {c['proxy-url']!r} is not an "
                    "http(s) or socks5 URL")


def _in_cluster_info() -> KubeconfigInfo | None:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not os.path.isfile(os.path.join(SA_DIR, "token")):
        return None
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    ca_pem = ns = None
    try:
        with open(os.path.join(SA_DIR, "ca.crt"), "rb") as f:
            ca_pem = f.read()
        with open(os.path.join(SA_DIR, "namespace"), encoding="utf-8") as f:
            ns = f.read().strip() or None
    except OSError:
        pass
    return KubeconfigInfo("(in-cluster service account)", "in-cluster", "in-cluster", server, ca_pem,
                          namespace=ns, in_cluster=True)


def read_kubeconfig(kubeconfig: str | None, context: str | None) -> KubeconfigInfo:
    """Resolve the context, cluster, server and CA the way kubectl merges kubeconfigs (no network).

    Without any kubeconfig file, a process in a pod uses its ServiceAccount (in-cluster config).
    """
    return _resolve_config(kubeconfig, context)[0]


def _resolve_config(kubeconfig: str | None, context: str | None
                    ) -> tuple[KubeconfigInfo, _Merged | None, _Selected | None]:
    merged = _merge(kubeconfig)
    if merged is None:
        info = None if context else _in_cluster_info()
        if info is None:
            raise errors.KubeConfigError(
                f"no kubeconfig found (looked at {', '.join(kubeconfig_paths(None))}); "
                "pass --kubeconfig or set KUBECONFIG")
        return info, None, None
    sel = _Selected(merged, context)
    info = KubeconfigInfo(merged.files[0], sel.context, sel.cluster_name, sel.server, sel.ca_pem,
                          bool(sel.cluster.get("insecure-skip-tls-verify")), sel.user,
                          os.path.dirname(os.path.abspath(sel.user_path)), sel.namespace,
                          sel.cluster.get("tls-server-name"), sel.cluster.get("proxy-url"))
    return info, merged, sel


# -- credentials in memory ------------------------------------------------------

_MEMFILES: dict[bytes, str] = {}
_MEMLOCK = threading.Lock()


def _memory_file(content: Any, temp_file_path: Any = None, force_recreate: bool = False) -> str:
    """Stand-in for the client loader's temp-file writer: an anonymous in-memory file.

    The loader (and ssl, via urllib3) wants file paths for CA, client certificate
    and key. A memfd has a path (/proc/self/fd/N) but no directory entry: nothing
    is left behind when the process ends, however it ends. The fd stays open for
    the life of the process (urllib3 reopens the files for every new connection);
    it is close-on-exec, so helm and plugin commands never inherit it.
    """
    data = content.encode() if isinstance(content, str) else bytes(content)
    with _MEMLOCK:
        if data in _MEMFILES and not force_recreate:
            return _MEMFILES[data]
        fd = os.memfd_create("kubectl-ascend-credential", os.MFD_CLOEXEC)  # type: ignore[attr-defined]
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        path = f"/proc/{os.getpid()}/fd/{fd}"
        _MEMFILES[data] = path
        return path


def _memory_files_available() -> bool:
    return hasattr(os, "memfd_create") and os.path.isdir(f"/proc/{os.getpid()}/fd")


def _loader_config(merged: _Merged, sel: _Selected) -> Any:
    """The merged kubeconfig as the client's loader reads it (each entry remembers its file)."""
    from kubernetes.config.kube_config import ConfigNode

    def entries(kind: str) -> list[Any]:
        return [ConfigNode(f"{path}/{kind}[name={name}]", entry, path)
                for name, (entry, path) in merged.items[kind].items()]

    root = {"current-context": sel.context, "contexts": entries("contexts"), "clusters": entries("clusters"),
            "users": entries("users")}
    return ConfigNode(merged.files[0], root, merged.files[0])


# -- errors ---------------------------------------------------------------------

def _explain(status: int | None, what: str, body: str, impersonating: str = "") -> errors.AscendError:
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
        if impersonating and "impersonate" in reason:
            return errors.Forbidden(
                f"{what}: forbidden (403){suffix}; your own credentials may not impersonate {impersonating} "
                "(they need the `impersonate` verb), drop --as/--as-group or use an admin kubeconfig")
        if impersonating:
            return errors.Forbidden(
                f"{what}: forbidden (403) while acting as {impersonating}{suffix}; that identity lacks "
                "this permission (drop --as/--as-group to use your own)")
        return errors.Forbidden(
            f"{what}: forbidden (403){suffix}; ask a cluster admin for this permission "
            "or use an admin kubeconfig")
    if status == 404:
        return errors.NotFound(f"{what}: not found (404){suffix}")
    if status == 409:
        return errors.Conflict(f"{what}: conflict (409){suffix}")
    if status == 422 or status == 400:
        return errors.InvalidInput(f"{what}: rejected by the API server ({status}){suffix}")
    if status == 429:
        return errors.ServerFailed(f"{what}: the API server is overloaded (429, too many requests) and "
                                   f"kept refusing{suffix}; try again later", status)
    if status is not None and status >= 500:
        return errors.ServerFailed(f"{what}: the API server failed ({status}){suffix}; check its health "
                                   "(`kubectl get --raw /readyz?verbose`) and try again", status)
    return errors.AscendError(f"{what}: the API server answered {status}{suffix}")


def _chain(e: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        cur = getattr(cur, "reason", None) if isinstance(getattr(cur, "reason", None), BaseException) else \
            (cur.__cause__ or cur.__context__)
    return out


def _tls_problem(e: BaseException) -> str | None:
    import ssl

    for x in _chain(e):
        if isinstance(x, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(x):
            return str(getattr(x, "verify_message", "") or x)
        if isinstance(x, ssl.SSLError):
            return str(getattr(x, "reason", None) or x)
    return None


class _Lost(Exception):
    """A request failed without an HTTP answer; sent=False means it never left this machine."""

    def __init__(self, cause: BaseException, sent: bool) -> None:
        super().__init__(str(cause))
        self.cause, self.sent = cause, sent


class Kube:
    """A connection to one cluster. Methods return plain dicts.

    pool_size: how many connections may be open at once (callers with worker
    threads pass their worker count). token: an explicit bearer token replaces
    the context's user. impersonate_user / impersonate_groups: kubectl's --as /
    --as-group. retry_seconds: how long requests that are safe to repeat are retried.
    """

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 pool_size: int = 16, token: str | None = None, timeout: float = 30.0,
                 impersonate_user: str | None = None, impersonate_groups: tuple[str, ...] | list[str] = (),
                 retry_seconds: float = RETRY_SECONDS) -> None:
        # checks everything, with messages naming file and field
        info, merged, sel = _resolve_config(kubeconfig, context)
        self.info = info
        self.server = info.server.rstrip("/")
        self.namespace = info.namespace
        self.timeout, self.retry_seconds = timeout, retry_seconds
        self._impersonating = ""
        if impersonate_user:
            self._impersonating = f"user {impersonate_user!r}"
        if impersonate_groups:
            self._impersonating += (" in " if impersonate_user else "") + \
                "group(s) " + ", ".join(repr(g) for g in impersonate_groups)
        self._reached = False  # set after the first answer: from then on a refused connection is retried
        self._budget_lock = threading.Lock()
        self._retry_until: float | None = None  # the run's retry deadline while the API server fails
        self._api = self._make_client(info, merged, sel, pool_size, token)
        from urllib3 import HTTPHeaderDict

        headers = HTTPHeaderDict({"Accept": "application/json", "User-Agent": "kubectl-ascend"})
        if impersonate_user:
            headers["Impersonate-User"] = impersonate_user
        for g in impersonate_groups:
            headers.add("Impersonate-Group", g)
        self._headers = headers

    @staticmethod
    def _make_client(info: KubeconfigInfo, merged: _Merged | None, sel: _Selected | None, pool_size: int,
                     token: str | None) -> Any:
        import urllib3
        from kubernetes import client
        from kubernetes.config import ConfigException
        from kubernetes.config import kube_config

        cfg = client.Configuration()
        try:
            if merged is None or sel is None:
                from kubernetes.config import incluster_config

                incluster_config.InClusterConfigLoader(
                    token_filename=os.path.join(SA_DIR, "token"),
                    cert_filename=os.path.join(SA_DIR, "ca.crt")).load_and_set(cfg)
            else:
                if _memory_files_available():
                    # The loader writes *-data fields and exec-plugin certificates to temp files
                    # (removed only at a clean exit): give it in-memory files instead.
                    kube_config._create_temp_file_with_content = _memory_file
                loader = kube_config.KubeConfigLoader(config_dict=_loader_config(merged, sel),
                                                      active_context=sel.context, config_base_path=None)
                loader.load_and_set(cfg)
                if sel.user.get("exec") and not (cfg.api_key or cfg.cert_file):
                    raise errors.KubeConfigError(
                        f"kubeconfig {sel.user_path}: user {sel.user_name}: the exec plugin "
                        f"{sel.user['exec'].get('command')!r} gave no credentials (run it by hand to see why)")
        except ConfigException as e:
            raise errors.KubeConfigError(f"cannot load credentials from the kubeconfig: {e}") from None
        except OSError as e:  # an exec plugin that cannot start, an unreadable file
            raise errors.KubeConfigError(f"cannot load credentials from the kubeconfig: {e}") from None
        if token is not None:
            cfg.api_key = {"BearerToken": f"Bearer {token}"}
            cfg.refresh_api_key_hook = None
            cfg.cert_file = cfg.key_file = None
        if not cfg.verify_ssl:  # the user chose insecure-skip-tls-verify; kubectl does not nag either
            import warnings

            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        cfg.connection_pool_maxsize = max(1, pool_size)
        # urllib3 itself never retries (redirects neither): Kube.request decides what is safe to repeat.
        cfg.retries = urllib3.Retry(total=0, redirect=False, raise_on_redirect=False)
        return client.ApiClient(cfg)

    # -- plumbing ---------------------------------------------------------

    def _auth_header(self) -> str | None:
        # Calls the loader's refresh hook: an exec plugin's expired credential is renewed here.
        auth = self._api.configuration.auth_settings().get("BearerToken")
        # kubectl trims a tokenFile's content (a trailing newline is the norm); the client does not
        return " ".join(str(auth["value"]).split()) if auth and auth.get("value") else None

    def _send(self, method: str, url: str, body: Any, content_type: str, timeout: Any,
              accept: str | None = None) -> Any:
        """One HTTP exchange through the client's REST layer; urllib3 errors become _Lost."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = self._headers.copy()
        if accept:
            headers["Accept"] = accept
        auth = self._auth_header()
        if auth:
            headers["Authorization"] = auth
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            return self._api.rest_client.request(method, self.server + url, headers=headers, body=body,
                                                 _request_timeout=timeout)
        except urllib3.exceptions.MaxRetryError as e:
            cause = e.reason or e
            unsent = isinstance(cause, (urllib3.exceptions.NewConnectionError,
                                        urllib3.exceptions.ConnectTimeoutError,
                                        urllib3.exceptions.SSLError, urllib3.exceptions.ProxyError,
                                        urllib3.exceptions.NameResolutionError))
            raise _Lost(cause, sent=not unsent) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise _Lost(e, sent=True) from None
        except ApiException as e:  # the REST layer turns TLS failures into status-0 ApiExceptions
            if not e.status:
                raise _Lost(e, sent=False) from None
            raise

    def _unreachable(self, what: str, lost: _Lost, idempotent: bool = False) -> errors.AscendError:
        tls = _tls_problem(lost.cause)
        where = f"context {self.info.context} in {self.info.path}"
        if tls is not None:
            host = self.info.tls_server_name or urlsplit(self.server).hostname
            if "mismatch" in tls.lower() or "doesn't match" in tls:
                return errors.ClusterUnreachable(
                    f"{what}: the API server's certificate is not valid for {host} ({tls}); set "
                    f"tls-server-name in the kubeconfig cluster or use the name the certificate was issued "
                    f"for ({where})")
            if "verify failed" in tls or "CERTIFICATE_VERIFY_FAILED" in tls or "certificate" in tls.lower():
                return errors.ClusterUnreachable(
                    f"{what}: the API server's certificate is not signed by the CA in the kubeconfig ({tls}); "
                    f"check certificate-authority(-data) of cluster {self.info.cluster} ({where})")
            return errors.ClusterUnreachable(
                f"{what}: TLS handshake with {self.server} failed ({tls}); check the CA and client "
                f"certificate of {where}")
        if lost.sent and not idempotent:
            return errors.OutcomeUnknown(
                f"{what}: the connection to the API server at {self.server} was lost after the request was "
                "sent, so it may or may not have been applied; check the object and rerun if needed")
        detail = str(lost.cause).split(": ", 1)[-1] if str(lost.cause) else type(lost.cause).__name__
        return errors.ClusterUnreachable(
            f"{what}: cannot reach the API server at {self.server} ({detail}); check that the cluster is "
            "running and --kubeconfig/--context point at it")

    def request(self, what: str, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                discard: bool = False, idempotent: bool | None = None) -> dict[str, Any]:
        """One API call; JSON in, JSON out; errors translated (never echoing the request body).

        Retries: see `_exchange`. discard=True: the caller does not need the returned
        object; skip decoding it.
        """
        data = self._exchange(what, method, path, query=query, body=body, content_type=content_type,
                              discard=discard, idempotent=idempotent)
        if not data:
            return {}
        try:
            return json.loads(data)  # type: ignore[no-any-return]
        except ValueError:
            raise errors.AscendError(
                f"{what}: the answer from {self.server} is not JSON (is the kubeconfig server an "
                "API server, not a proxy or a web page?)") from None

    def _exchange(self, what: str, method: str, path: str, *, query: dict[str, Any] | None = None,
                  body: Any = None, content_type: str = "application/json", discard: bool = False,
                  idempotent: bool | None = None, accept: str | None = None) -> bytes:
        """One API call, the answer's bytes (b"" when discard); errors translated.

        Retries (with exponential backoff and jitter, for at most retry_seconds, honouring
        Retry-After) happen only where repeating cannot do harm:
        * any request whose connection could not be opened (nothing was sent), once the
          server has answered before (a server that is down from the start fails fast);
        * idempotent requests (GET, and callers' PATCHes that set idempotent=True, such
          as merge-patches of labels) after a lost connection or a 429/5xx answer;
        * any request answered 429 (the API server refused it before doing anything).
        A POST whose response was lost is never resent: it raises OutcomeUnknown.
        """
        url = path
        q = {k: v for k, v in (query or {}).items() if v is not None}
        if q:
            url += "?" + urlencode(q)
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                r = self._send(method, url, body, content_type, (min(10.0, self.timeout), self.timeout), accept)
            except _Lost as lost:
                retryable = (not lost.sent and self._reached) or (lost.sent and idempotent)
                if _tls_problem(lost.cause) is not None or not retryable:
                    raise self._unreachable(what, lost, idempotent) from None
                deadline = self._retry_deadline()
                if time.monotonic() >= deadline:
                    raise self._unreachable(what, lost, idempotent) from None
            else:
                self._reached = True
                status = r.status
                if status not in RETRY_STATUSES:
                    self._recovered()
                if status < 400:
                    if discard:
                        r.response.drain_conn()
                        r.response.release_conn()
                        return b""
                    data: bytes = r.read()
                    r.response.release_conn()
                    return data
                payload = r.read()
                r.response.release_conn()
                text = payload.decode("utf-8", "replace")
                if status not in RETRY_STATUSES or (status != 429 and not idempotent):
                    raise _explain(status, what, text, self._impersonating)
                deadline = self._retry_deadline()
                if time.monotonic() >= deadline:
                    raise _explain(status, what, text, self._impersonating)
                ra = r.headers.get("Retry-After")
                if ra and ra.strip().isdigit():
                    retry_after = float(ra.strip())
            delay = retry_after if retry_after is not None else min(5.0, 0.2 * 2 ** (attempt - 1)) * \
                (0.5 + random.random() / 2)
            delay = max(0.0, min(delay, deadline - time.monotonic()))
            time.sleep(delay)

    def _retry_deadline(self) -> float:
        """The end of the run's one retry budget: set by the first failure, shared by every request that
        fails before any request gets a good answer again (RETRY_SECONDS)."""
        with self._budget_lock:
            if self._retry_until is None:
                self._retry_until = time.monotonic() + self.retry_seconds
            return self._retry_until

    def _recovered(self) -> None:
        """An answer that is not an overload or server error: the next failure starts a fresh budget."""
        if self._retry_until is not None:
            with self._budget_lock:
                self._retry_until = None

    def get_optional(self, what: str, path: str) -> dict[str, Any] | None:
        try:
            return self.request(what, "GET", path)
        except errors.NotFound:
            return None

    def paginate(self, what: str, path: str, **query: Any) -> list[dict[str, Any]]:
        """All items of a list call, fetched in pages of PAGE_SIZE."""
        return self.list_with_version(what, path, **query)[0]

    def list_with_version(self, what: str, path: str, **query: Any) -> tuple[list[dict[str, Any]], str]:
        """All items of a list call and the list's resourceVersion (where a watch picks up)."""
        items: list[dict[str, Any]] = []
        cont = None
        while True:
            page = self.request(what, "GET", path, query={**query, "limit": PAGE_SIZE, "continue": cont})
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            cont = meta.get("continue")
            if not cont:
                return items, str(meta.get("resourceVersion") or "")

    # -- watches ------------------------------------------------------------

    def watch(self, what: str, path: str, resource_version: str, timeout: float,
              stop: threading.Event | None = None, **query: Any) -> Iterator[dict[str, Any]]:
        """Events of a collection after resource_version, as plain dicts ({"type", "object"}).

        Ends when `timeout` seconds have passed or `stop` is set. A watch the server
        closes is resumed from the last resourceVersion seen (bookmarks keep it fresh);
        when that is too old (410 Gone) a {"type": "RELIST"} event tells the caller to
        list again and watch from the new version. Setting `stop` closes the open stream.
        """
        deadline = time.monotonic() + timeout
        rv = resource_version
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            left = max(1, int(deadline - time.monotonic()))
            q = {**{k: v for k, v in query.items() if v is not None}, "watch": "true", "resourceVersion": rv,
                 "allowWatchBookmarks": "true", "timeoutSeconds": min(left, 300)}
            try:
                # the server ends the watch after timeoutSeconds; the read timeout is only a backstop
                r = self._send("GET", path + "?" + urlencode(q), None, "", (min(10.0, self.timeout), left + 15))
            except _Lost as lost:
                if _tls_problem(lost.cause) is not None or not self._reached:
                    raise self._unreachable(what, lost) from None
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                continue
            self._reached = True
            if r.status >= 400:
                body = r.read().decode("utf-8", "replace")
                r.response.release_conn()
                if r.status == 410:
                    yield {"type": "RELIST"}
                    return
                if r.status in RETRY_STATUSES:
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                    continue
                raise _explain(r.status, what, body, self._impersonating)
            resp = r.response
            if stop is not None:  # wake a blocked read when the caller stops
                threading.Thread(target=_close_when_set, args=(stop, resp), daemon=True).start()
            try:
                for line in _lines(resp):
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            yield {"type": "RELIST"}
                            return
                        raise _explain(obj.get("code"), what, json.dumps(obj), self._impersonating)
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if ev.get("type") != "BOOKMARK":
                        yield ev
                    if time.monotonic() >= deadline or (stop and stop.is_set()):
                        return
            except Exception as e:  # noqa: BLE001 - the stream broke (or was closed by stop): resume or end
                import urllib3

                if stop is not None and stop.is_set():
                    return  # closed under a blocked read on purpose (urllib3 then fails in various ways)
                if not isinstance(e, (urllib3.exceptions.HTTPError, OSError, ValueError)):
                    raise
            finally:
                _close_quietly(resp)

    def observe(self, what: str, sources: dict[str, tuple[str, dict[str, Any]]], timeout: float,
                ) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """Current contents of several collections, again after every change, for `timeout` seconds.

        sources: key -> (API collection path, query such as labelSelector). Lists each once,
        then follows a watch per collection (in threads); yields {key: [objects]} first and
        after each batch of events. Stops when the caller stops iterating or time is up.
        """
        import queue

        deadline = time.monotonic() + timeout
        state: dict[str, dict[str, dict[str, Any]]] = {}
        versions: dict[str, str] = {}
        events: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        stop = threading.Event()

        def relist(key: str) -> None:
            path, query = sources[key]
            items, rv = self.list_with_version(f"{what}: list", path, **query)
            state[key] = {_uid(o): o for o in items}
            versions[key] = rv

        def follow(key: str, rv: str) -> None:
            path, query = sources[key]
            try:
                while not stop.is_set() and time.monotonic() < deadline:
                    for ev in self.watch(f"{what}: watch", path, rv, deadline - time.monotonic(), stop, **query):
                        events.put((key, ev))
                    break
            except errors.AscendError as e:
                events.put((key, e))

        for key in sources:
            relist(key)
        threads = [threading.Thread(target=follow, args=(k, versions[k]), daemon=True) for k in sources]
        for t in threads:
            t.start()
        try:
            yield {k: list(v.values()) for k, v in state.items()}
            while time.monotonic() < deadline:
                try:
                    key, ev = events.get(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
                except queue.Empty:
                    continue
                batch = [(key, ev)]
                while True:
                    try:
                        batch.append(events.get_nowait())
                    except queue.Empty:
                        break
                for key, ev in batch:
                    if isinstance(ev, errors.AscendError):
                        raise ev
                    if ev["type"] == "RELIST":
                        relist(key)
                        t = threading.Thread(target=follow, args=(key, versions[key]), daemon=True)
                        t.start()
                        threads.append(t)
                        continue
                    obj = ev["object"]
                    if ev["type"] == "DELETED":
                        state[key].pop(_uid(obj), None)
                    else:
                        state[key][_uid(obj)] = obj
                yield {k: list(v.values()) for k, v in state.items()}
        finally:
            stop.set()

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
                            content_type="application/merge-patch+json", idempotent=True)

    def create_secret(self, namespace: str, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        # The error never repeats the body: it holds a token secret.
        return self.request(f"create secret {namespace}/{body['metadata']['name']}", "POST",
                            f"/api/v1/namespaces/{namespace}/secrets", body=body,
                            query={"dryRun": "All"} if dry_run else None)

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret (data base64-encoded as the API returns it), or None. Never print its data."""
        return self.get_optional(f"get secret {namespace}/{name}",
                                 f"/api/v1/namespaces/{namespace}/secrets/{quote(name)}")

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
        """Merge-patch only the given labels (None deletes one); idempotent, so retried."""
        self.request(f"label node {name}", "PATCH", f"/api/v1/nodes/{quote(name)}",
                     body={"metadata": {"labels": labels}}, content_type="application/merge-patch+json",
                     discard=True, idempotent=True)

    # -- Workloads --------------------------------------------------------

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return self.paginate("list pods", path, labelSelector=label_selector, fieldSelector=field_selector)

    def pod_log(self, namespace: str, name: str, container: str | None = None, tail_lines: int = 2000) -> str:
        """The last TAIL_LINES lines of a pod's log, as `kubectl logs --tail` prints them."""
        # The log endpoint answers text/plain and refuses an Accept of application/json (406).
        data = self._exchange(f"read the log of pod {namespace}/{name}", "GET",
                              f"/api/v1/namespaces/{namespace}/pods/{quote(name)}/log",
                              query={"container": container, "tailLines": tail_lines}, accept="*/*")
        return data.decode("utf-8", "replace")

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

    # -- any object by REST path (install --adopt) ---------------------------

    def get_object(self, path: str) -> dict[str, Any] | None:
        """The object at an API path (e.g. /apis/apps/v1/namespaces/x/daemonsets/y), None if absent."""
        return self.get_optional(f"get {path}", path)

    def patch_object(self, path: str, body: dict[str, Any]) -> None:
        """Merge-patch an object (labels, annotations); idempotent, so retried."""
        self.request(f"patch {path}", "PATCH", path, body=body, content_type="application/merge-patch+json",
                     discard=True, idempotent=True)

    def delete_object(self, path: str, propagation: str = "Foreground") -> None:
        """Delete an object with the given propagation policy; an object already gone is not an error."""
        try:
            self.request(f"delete {path}", "DELETE", path, discard=True,
                         body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation})
        except errors.NotFound:
            pass

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


def _lines(resp: Any) -> Iterator[bytes]:
    """The newline-separated JSON events of a watch response, as they arrive."""
    buf = b""
    chunks = resp.read_chunked() if getattr(resp, "chunked", False) else iter(lambda: resp.read1(65536), b"")
    for chunk in chunks:
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
    if buf.strip():
        yield buf


def _close_when_set(stop: threading.Event, resp: Any) -> None:
    stop.wait()
    _close_quietly(resp)


def _close_quietly(resp: Any) -> None:
    try:
        resp.close()
        resp.release_conn()
    except Exception:  # noqa: BLE001 - closing a stream another thread reads may race; nothing to report
        pass


def _uid(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
