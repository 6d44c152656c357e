"""Typed resources: `Kube`, the client with one method per object kind the plugin reads or writes.

Each method names the object in its errors ("label node n1: forbidden ...") and returns
plain dicts as the API server sends them. `kubectl_ascend/kubeapi.py` declares the same
methods as the `KubeAPI` Protocol the library takes.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from kubectl_ascend import errors
from kubectl_ascend.kube.watching import Watching


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


class Kube(Watching):
    """A connection to one cluster. Methods return plain dicts.

    pool_size: how many connections may be open at once (callers with worker
    threads pass their worker count). token: an explicit bearer token replaces
    the context's user. impersonate_user / impersonate_groups: kubectl's --as /
    --as-group. retry_seconds: how long requests that are safe to repeat are retried.
    """

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
