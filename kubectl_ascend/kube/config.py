"""Kubeconfig files read and checked the way kubectl merges them, and in-cluster config.

kubectl's merge rules: the first file that sets a context, cluster, user or current-context
wins; relative paths resolve against the file that names them. Every file is read and checked
here before the client's loader sees it, so a malformed file gets one line naming the file
and the field. No network.
"""
from __future__ import annotations

import base64
import binascii
import os
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubectl_ascend import errors, validate

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


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


class Merged:
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


def _load_file(path: str, merged: Merged) -> None:
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


def _merge(kubeconfig: str | None) -> Merged | None:
    """The merged kubeconfig files, or None when there is none (in-cluster config may apply)."""
    merged = Merged()
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


class Selected:
    """The context, cluster and user a command uses, checked."""

    def __init__(self, merged: Merged, context: str | None) -> None:
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
    return resolve_config(kubeconfig, context)[0]


def resolve_config(kubeconfig: str | None, context: str | None
                    ) -> tuple[KubeconfigInfo, Merged | None, Selected | None]:
    merged = _merge(kubeconfig)
    if merged is None:
        info = None if context else _in_cluster_info()
        if info is None:
            raise errors.KubeConfigError(
                f"no kubeconfig found (looked at {', '.join(kubeconfig_paths(None))}); "
                "pass --kubeconfig or set KUBECONFIG")
        return info, None, None
    sel = Selected(merged, context)
    info = KubeconfigInfo(merged.files[0], sel.context, sel.cluster_name, sel.server, sel.ca_pem,
                          bool(sel.cluster.get("insecure-skip-tls-verify")), sel.user,
                          os.path.dirname(os.path.abspath(sel.user_path)), sel.namespace,
                          sel.cluster.get("tls-server-name"), sel.cluster.get("proxy-url"))
    return info, merged, sel
