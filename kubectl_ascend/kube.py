"""The one door to the Kubernetes API.

Only this module imports the `kubernetes` client. Everything it returns is
plain Python (dicts as the API server sends them, as `kubectl get -o json`
shows them), and every API error leaves it as one of our error types with a
sentence saying what to do.
"""
from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from kubectl_ascend import errors

log = logging.getLogger(__name__)

#: Page size for list calls: big enough that 5,000 nodes take a handful of
#: round trips, small enough that the API server never builds a huge response.
PAGE_SIZE = 500


@dataclass
class KubeconfigInfo:
    """What the current kubeconfig context points at."""

    path: str
    context: str
    cluster: str
    server: str
    ca_pem: bytes | None


def kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    """The kubeconfig files kubectl would read, in precedence order."""
    if kubeconfig:
        return [kubeconfig]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [str(Path.home() / ".kube" / "config")]


def read_kubeconfig(kubeconfig: str | None, context: str | None) -> KubeconfigInfo:
    """Resolve the context, cluster, server and CA the way kubectl merges kubeconfigs."""
    merged: dict[str, dict[str, Any]] = {"contexts": {}, "clusters": {}}
    current = None
    first_path = None
    for path in kubeconfig_paths(kubeconfig):
        p = Path(path).expanduser()
        if not p.exists():
            if kubeconfig:
                raise errors.KubeConfigError(f"kubeconfig {path} does not exist")
            continue
        try:
            doc = yaml.safe_load(p.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise errors.KubeConfigError(f"cannot read kubeconfig {path}: {e}") from e
        first_path = first_path or str(p)
        current = current or doc.get("current-context")
        for kind in ("contexts", "clusters"):
            for item in doc.get(kind) or []:
                merged[kind].setdefault(item.get("name"), {**item, "_dir": str(p.parent)})
    if first_path is None:
        raise errors.KubeConfigError(
            "no kubeconfig found; pass --kubeconfig or set KUBECONFIG")
    ctx_name = context or current
    if not ctx_name:
        raise errors.KubeConfigError("the kubeconfig has no current context; pass --context")
    ctx = merged["contexts"].get(ctx_name)
    if ctx is None:
        raise errors.KubeConfigError(f"context {ctx_name!r} not found in the kubeconfig")
    cluster_name = (ctx.get("context") or {}).get("cluster")
    cluster = merged["clusters"].get(cluster_name)
    if cluster is None:
        raise errors.KubeConfigError(f"cluster {cluster_name!r} of context {ctx_name!r} not found in the kubeconfig")
    c = cluster.get("cluster") or {}
    ca_pem = None
    if c.get("certificate-authority-data"):
        ca_pem = base64.b64decode(c["certificate-authority-data"])
    elif c.get("certificate-authority"):
        ca_path = Path(c["certificate-authority"])
        if not ca_path.is_absolute():
            ca_path = Path(cluster["_dir"]) / ca_path
        try:
            ca_pem = ca_path.read_bytes()
        except OSError as e:
            raise errors.KubeConfigError(f"cannot read CA file {ca_path} named in the kubeconfig: {e}") from e
    return KubeconfigInfo(first_path, ctx_name, cluster_name, c.get("server", ""), ca_pem)


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


class Kube:
    """A connection to one cluster. Methods return plain dicts."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 pool_size: int = 32, token: str | None = None) -> None:
        from kubernetes import client, config  # heavy import: only when a command needs the cluster

        self._kubeconfig = kubeconfig
        self._context = context
        cfg = client.Configuration()
        try:
            paths = kubeconfig_paths(kubeconfig)
            existing = [p for p in paths if Path(p).expanduser().exists()]
            if not existing:
                raise errors.KubeConfigError("no kubeconfig found; pass --kubeconfig or set KUBECONFIG")
            loader_path = existing[0] if len(existing) == 1 else os.pathsep.join(existing)
            if len(existing) == 1:
                config.load_kube_config(config_file=loader_path, context=context, client_configuration=cfg)
            else:
                config.load_kube_config(context=context, client_configuration=cfg)
        except errors.AscendError:
            raise
        except Exception as e:  # the loader raises ConfigException, ValueError, OSError...
            raise errors.KubeConfigError(f"cannot load kubeconfig: {e}") from e
        cfg.connection_pool_maxsize = pool_size
        if token is not None:
            cfg.api_key = {"authorization": f"Bearer {token}"}
            cfg.cert_file = cfg.key_file = None
        self.server = cfg.host
        self._api = client.ApiClient(cfg)
        self._client = client

    # -- plumbing ---------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from kubernetes.client.exceptions import ApiException
        import urllib3.exceptions

        try:
            yield
        except ApiException as e:
            raise _explain(e.status, what, e.body or "") from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise errors.ClusterUnreachable(
                f"{what}: cannot reach the API server at {self.server} ({type(e).__name__}); "
                "check that the cluster is running and --kubeconfig/--context point at it") from None

    def _call(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        with self._errors(what):
            resp = fn(*args, _preload_content=False, **kw)
            data = resp.data
        return json.loads(data) if data else {}

    @property
    def core(self) -> Any:
        return self._client.CoreV1Api(self._api)

    @property
    def apps(self) -> Any:
        return self._client.AppsV1Api(self._api)

    @property
    def rbac(self) -> Any:
        return self._client.RbacAuthorizationV1Api(self._api)

    # -- generic ------------------------------------------------------------

    def server_version(self) -> dict[str, Any]:
        return self._call("get server version", self._client.VersionApi(self._api).get_code)

    def whoami(self) -> dict[str, Any]:
        """SelfSubjectReview: who the API server thinks we are."""
        api = self._client.AuthenticationV1Api(self._api)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        return self._call("review own identity", api.create_self_subject_review, body)

    def get_optional(self, what: str, fn: Any, *args: Any) -> dict[str, Any] | None:
        try:
            return self._call(what, fn, *args)
        except errors.NotFound:
            return None

    def paginate(self, what: str, fn: Any, *args: Any, **kw: Any) -> list[dict[str, Any]]:
        """All items of a list call, fetched in pages of PAGE_SIZE."""
        items: list[dict[str, Any]] = []
        cont = None
        while True:
            page = self._call(what, fn, *args, limit=PAGE_SIZE, _continue=cont, **kw) if cont \
                else self._call(what, fn, *args, limit=PAGE_SIZE, **kw)
            items.extend(page.get("items") or [])
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return items

    # -- ConfigMaps / Secrets ---------------------------------------------

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get configmap {namespace}/{name}",
                                 self.core.read_namespaced_config_map, name, namespace)

    def list_configmaps(self, namespace: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        kw = {"label_selector": label_selector} if label_selector else {}
        return self.paginate(f"list configmaps in {namespace}", self.core.list_namespaced_config_map, namespace, **kw)

    def patch_configmap_data(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
        with self._errors(f"update configmap {namespace}/{name}"):
            resp = self.core.patch_namespaced_config_map(
                name, namespace, {"data": data}, _content_type="application/merge-patch+json",
                _preload_content=False)
            return json.loads(resp.data)

    def create_secret(self, namespace: str, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        # The error never repeats the body: it holds a token secret.
        kw = {"dry_run": "All"} if dry_run else {}
        return self._call(f"create secret {namespace}/{body['metadata']['name']}",
                          self.core.create_namespaced_secret, namespace, body, **kw)

    def list_secrets(self, namespace: str, field_selector: str | None = None) -> list[dict[str, Any]]:
        kw = {"field_selector": field_selector} if field_selector else {}
        return self.paginate(f"list secrets in {namespace}", self.core.list_namespaced_secret, namespace, **kw)

    def delete_secret(self, namespace: str, name: str) -> None:
        self._call(f"delete secret {namespace}/{name}", self.core.delete_namespaced_secret, name, namespace)

    # -- Nodes ------------------------------------------------------------

    def get_node(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get node {name}", self.core.read_node, name)

    def list_nodes(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        kw = {"label_selector": label_selector} if label_selector else {}
        return self.paginate("list nodes", self.core.list_node, **kw)

    def patch_node_labels(self, name: str, labels: dict[str, str | None]) -> dict[str, Any]:
        """Merge-patch only the given labels (None deletes one)."""
        with self._errors(f"label node {name}"):
            resp = self.core.patch_node(name, {"metadata": {"labels": labels}},
                                        _content_type="application/merge-patch+json",
                                        _preload_content=False)
            return json.loads(resp.data)

    # -- Workloads --------------------------------------------------------

    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[dict[str, Any]]:
        kw = {k: v for k, v in (("label_selector", label_selector), ("field_selector", field_selector)) if v}
        if namespace:
            return self.paginate(f"list pods in {namespace}", self.core.list_namespaced_pod, namespace, **kw)
        return self.paginate("list pods", self.core.list_pod_for_all_namespaces, **kw)

    def list_daemonsets(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        kw = {"label_selector": label_selector} if label_selector else {}
        return self.paginate("list daemonsets", self.apps.list_daemon_set_for_all_namespaces, **kw)

    def list_deployments(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        kw = {"label_selector": label_selector} if label_selector else {}
        return self.paginate("list deployments", self.apps.list_deployment_for_all_namespaces, **kw)

    def list_crds(self) -> list[dict[str, Any]]:
        api = self._client.ApiextensionsV1Api(self._api)
        return self.paginate("list CRDs", api.list_custom_resource_definition)

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get namespace {name}", self.core.read_namespace, name)

    # -- RBAC ---------------------------------------------------------------

    def get_cluster_role_binding(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get clusterrolebinding {name}", self.rbac.read_cluster_role_binding, name)

    def get_cluster_role(self, name: str) -> dict[str, Any] | None:
        return self.get_optional(f"get clusterrole {name}", self.rbac.read_cluster_role, name)

    def create_cluster_role(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(f"create clusterrole {body['metadata']['name']}", self.rbac.create_cluster_role, body)

    def create_cluster_role_binding(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(f"create clusterrolebinding {body['metadata']['name']}",
                          self.rbac.create_cluster_role_binding, body)
