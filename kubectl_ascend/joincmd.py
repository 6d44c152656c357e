"""`join-cmd`: create a bootstrap token through the API and build the `kubeadm join` line.

Order matters: every check (inputs, endpoint, CA, node name, output file,
RBAC) runs before the token Secret is created, so a refused command leaves
the cluster as it was.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlparse

import yaml

from kubectl_ascend import _log, errors, tokens
from kubectl_ascend.cahash import ca_cert_hashes


CERT_KEY_RE = re.compile(r"^[0-9a-fA-F]{64}$")
CLUSTER_INFO_NS = "kube-public"
CLUSTER_INFO = "cluster-info"

#: The RBAC kubeadm init creates so bootstrap tokens can join nodes (DESIGN.md §3.1).
#: name -> (kind of roleRef, roleRef name, subject kind, subject name)
KUBEADM_BINDINGS: dict[str, tuple[str, str, str, str]] = {
    "kubeadm:kubelet-bootstrap": (
        "ClusterRole", "system:node-bootstrapper", "Group", tokens.DEFAULT_GROUP),
    "kubeadm:node-autoapprove-bootstrap": (
        "ClusterRole", "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        "Group", tokens.DEFAULT_GROUP),
    "kubeadm:node-autoapprove-certificate-rotation": (
        "ClusterRole", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "Group", "system:nodes"),
    "kubeadm:get-nodes": ("ClusterRole", "kubeadm:get-nodes", "Group", tokens.DEFAULT_GROUP),
}
GET_NODES_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "kubeadm:get-nodes"},
    "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
}


class JoinRequest:
    """Inputs of join-cmd (validated by validate_request)."""

    def __init__(self, ttl: timedelta, description: str | None = None, endpoint: str | None = None,
                 node_name: str | None = None, control_plane: bool = False, certificate_key: str | None = None,
                 output_file: str | None = None, ensure_rbac: bool = False, dry_run: str = "none",
                 groups: tuple[str, ...] = (tokens.DEFAULT_GROUP,)) -> None:
        self.ttl, self.description, self.endpoint, self.node_name = ttl, description, endpoint, node_name
        self.control_plane, self.certificate_key, self.output_file = control_plane, certificate_key, output_file
        self.ensure_rbac, self.dry_run, self.groups = ensure_rbac, dry_run, groups


class JoinResult:
    """What join-cmd produced. The token is only ever rendered through `command` or `public(reveal=True)`."""

    def __init__(self, token: str, expiration: datetime | None, endpoint: str, endpoint_source: str,
                 ca_hashes: list[str], command: str, warnings: list[str] | None = None,
                 created_bindings: list[str] | None = None, output_file: str | None = None,
                 dry_run: str = "none") -> None:
        self.token, self.expiration, self.endpoint, self.endpoint_source = token, expiration, endpoint, endpoint_source
        self.ca_hashes, self.command, self.warnings = ca_hashes, command, warnings or []
        self.created_bindings, self.output_file, self.dry_run = created_bindings or [], output_file, dry_run

    def __repr__(self) -> str:  # never the secret
        return f"JoinResult(token_id={self.token_id!r}, endpoint={self.endpoint!r})"

    @property
    def token_id(self) -> str:
        return self.token.split(".")[0]

    def public(self, reveal: bool) -> dict[str, Any]:
        """Dict for -o json/yaml; the command carries the secret only when reveal."""
        command = self.command if reveal else self.command.replace(self.token, tokens.mask(self.token))
        d: dict[str, Any] = {
            "tokenID": self.token_id,
            "expiration": tokens.rfc3339(self.expiration) if self.expiration else None,
            "endpoint": self.endpoint,
            "endpointSource": self.endpoint_source,
            "caCertHashes": self.ca_hashes,
            "command": command,
        }
        if self.output_file:
            d["outputFile"] = self.output_file
        if self.dry_run != "none":
            d["dryRun"] = self.dry_run
        if self.created_bindings:
            d["createdRBAC"] = self.created_bindings
        return d


def validate_request(req: JoinRequest) -> None:
    if req.control_plane and not req.certificate_key:
        raise errors.InvalidInput("--control-plane needs --certificate-key (from `kubeadm init phase upload-certs --upload-certs`)")
    if req.certificate_key and not req.control_plane:
        raise errors.InvalidInput("--certificate-key only applies with --control-plane")
    if req.certificate_key and not CERT_KEY_RE.match(req.certificate_key):
        raise errors.InvalidInput("--certificate-key must be 64 hexadecimal characters (a 32-byte AES key)")
    if req.node_name is not None and not re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", req.node_name):
        raise errors.InvalidInput(f"--node-name {req.node_name!r} is not a valid node name (lower-case DNS subdomain)")
    if req.endpoint is not None:
        normalize_endpoint(req.endpoint)
    if req.output_file:
        p = req.output_file
        parent = os.path.dirname(os.path.abspath(p))
        if os.path.lexists(p):
            raise errors.InvalidInput(f"--output-file {p} already exists; remove it or choose another path")
        if not os.path.isdir(parent):
            raise errors.InvalidInput(f"--output-file {p}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise errors.InvalidInput(f"--output-file {p}: directory {parent} is not writable")
    tokens.validate_groups(list(req.groups))


def normalize_endpoint(server: str) -> str:
    """`https://host:port/...` or `host[:port]` -> `host:port` (kubeadm wants no scheme)."""
    s = server.strip()
    if "://" not in s:
        s = "https://" + s
    u = urlparse(s)
    if not u.hostname:
        raise errors.InvalidInput(f"endpoint {server!r} has no host")
    try:
        port = u.port or 443
    except ValueError as e:
        raise errors.InvalidInput(f"endpoint {server!r} has an invalid port") from e
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    return f"{host}:{port}"


def is_loopback(endpoint: str) -> bool:
    host = urlparse("https://" + endpoint).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_cluster_info(cm: dict[str, Any]) -> tuple[str | None, bytes | None]:
    """Server and CA from the cluster-info ConfigMap's embedded kubeconfig."""
    import base64

    raw = (cm.get("data") or {}).get("kubeconfig")
    if not raw:
        return None, None
    try:
        doc = yaml.safe_load(raw) or {}
    except yaml.YAMLError:
        return None, None
    clusters = doc.get("clusters") or []
    if not clusters:
        return None, None
    c = clusters[0].get("cluster") or {}
    ca = base64.b64decode(c["certificate-authority-data"]) if c.get("certificate-authority-data") else None
    return c.get("server"), ca


def missing_bindings(kube: Any) -> list[str]:
    """Names of kubeadm bootstrap bindings that are absent or point elsewhere."""
    missing = []
    for name, (_, role, skind, sname) in KUBEADM_BINDINGS.items():
        crb = kube.get_cluster_role_binding(name)
        ok = bool(crb) and crb.get("roleRef", {}).get("name") == role and any(
            s.get("kind") == skind and s.get("name") == sname for s in crb.get("subjects") or [])
        if not ok:
            missing.append(name)
    return missing


def ensure_bindings(kube: Any, names: list[str]) -> list[str]:
    """Create the missing kubeadm bindings (and the get-nodes role). Returns what was created."""
    created = []
    if "kubeadm:get-nodes" in names and kube.get_cluster_role("kubeadm:get-nodes") is None:
        kube.create_cluster_role(GET_NODES_ROLE)
        created.append("clusterrole/kubeadm:get-nodes")
    for name in names:
        if kube.get_cluster_role_binding(name) is not None:
            raise errors.Conflict(
                f"clusterrolebinding {name} exists but does not grant what kubeadm expects; "
                f"inspect it with `kubectl get clusterrolebinding {name} -o yaml` and fix or delete it")
        _, role, skind, sname = KUBEADM_BINDINGS[name]
        kube.create_cluster_role_binding({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubectl-ascend"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": skind, "name": sname}],
        })
        created.append(f"clusterrolebinding/{name}")
    return created


def build_command(endpoint: str, token: str, hashes: list[str], req: JoinRequest) -> str:
    parts = ["kubeadm", "join", endpoint, "--token", token]
    for h in hashes:
        parts += ["--discovery-token-ca-cert-hash", h]
    if req.node_name:
        parts += ["--node-name", req.node_name]
    if req.control_plane:
        parts += ["--control-plane", "--certificate-key", str(req.certificate_key)]
    return " ".join(parts)


def write_script(path: str, command: str, expiration: datetime | None) -> None:
    """Write an executable script (mode 0700, created exclusively) that runs the join command."""
    exp = tokens.rfc3339(expiration) if expiration else "never"
    body = ("#!/bin/sh\n"
            "# Joins this machine to the cluster. Generated by kubectl-ascend join-cmd.\n"
            f"# The bootstrap token inside is a credential; it expires: {exp}. Delete this file after use.\n"
            "set -e\n"
            f"exec {command}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    try:
        os.fchmod(fd, 0o700)
        os.write(fd, body.encode())
    finally:
        os.close(fd)


def _create_token_secret(kube: Any, secret: dict[str, Any]) -> None:
    """POST the token Secret once. The transport never resends a POST whose answer was lost
    (it could create the token twice, or report a conflict for our own token): look instead."""
    import base64

    name = secret["metadata"]["name"]
    try:
        kube.create_secret(tokens.NAMESPACE, secret)
        return
    except errors.OutcomeUnknown:
        pass
    try:
        found = kube.get_secret(tokens.NAMESPACE, name)
    except errors.AscendError as e:
        raise errors.OutcomeUnknown(
            f"the connection was lost while creating token Secret {tokens.NAMESPACE}/{name} and checking it "
            f"failed too ({e}); run `kubectl ascend token list` and revoke token "
            f"{secret['stringData']['token-id']} if it is listed") from None
    if found is None:
        raise errors.ClusterUnreachable(
            f"the connection to the API server was lost while creating token Secret {tokens.NAMESPACE}/{name}; "
            "the Secret does not exist, so no token was created: rerun join-cmd")
    theirs = (found.get("data") or {}).get("token-secret", "")
    ours = base64.b64encode(secret["stringData"]["token-secret"].encode()).decode()
    if theirs != ours:
        raise errors.Conflict(f"token Secret {tokens.NAMESPACE}/{name} exists but holds another token; "
                              "rerun join-cmd for a new token")
    _log.info("the answer to creating %s/%s was lost; the Secret exists with our token", tokens.NAMESPACE, name)


def join_command(kube: Any, kubeconfig: Any, req: JoinRequest, warn: Any) -> JoinResult:
    """Run the whole flow: validate, preflight, create the token, build the command."""
    validate_request(req)
    warnings: list[str] = []

    def w(msg: str) -> None:  # printed once every check has passed: a refusal prints only its error
        warnings.append(msg)

    cm = kube.get_configmap(CLUSTER_INFO_NS, CLUSTER_INFO)
    ci_server, ci_ca = parse_cluster_info(cm) if cm else (None, None)
    if cm is None:
        w("ConfigMap kube-public/cluster-info is missing: kubeadm discovery on the new node will fail. "
          "Create it as `kubeadm init phase bootstrap-token` does (server + CA, readable by system:anonymous).")
    if req.endpoint:
        endpoint, source = normalize_endpoint(req.endpoint), "--endpoint"
    elif ci_server:
        endpoint, source = normalize_endpoint(ci_server), "cluster-info"
    else:
        endpoint, source = normalize_endpoint(kubeconfig.server), "kubeconfig"
    if is_loopback(endpoint):
        w(f"endpoint {endpoint} (from {source}) is a loopback address a new node cannot reach; "
          "pass --endpoint HOST:PORT with an address the node can reach")
    ca_pem = ci_ca or kubeconfig.ca_pem
    if not ca_pem:
        raise errors.InvalidInput(
            "no CA certificate found in cluster-info or the kubeconfig; the join command needs its hash")
    hashes = ca_cert_hashes(ca_pem)
    if req.node_name and kube.get_node(req.node_name) is not None:
        raise errors.Conflict(
            f"a Node named {req.node_name!r} already exists: a server joining with that name would clash "
            "with it; pick another --node-name or delete the old Node first")
    missing = missing_bindings(kube)
    created: list[str] = []
    if missing and req.ensure_rbac and req.dry_run == "none":
        created = ensure_bindings(kube, missing)
    elif missing and req.ensure_rbac:
        w(f"would create the missing kubeadm bootstrap RBAC: {', '.join(missing)}")
    elif missing:
        w(f"kubeadm bootstrap RBAC is missing ({', '.join(missing)}): a node using this token cannot "
          "join (it may not create its CSR or have it approved). Rerun with --ensure-rbac to create it.")
    for msg in warnings:
        warn(msg)
    token = tokens.generate_token()
    ttl = req.ttl if req.ttl.total_seconds() > 0 else None
    now = datetime.now(timezone.utc)
    secret = tokens.build_secret(token, ttl, description=req.description, groups=req.groups, now=now)
    if req.dry_run == "server":
        kube.create_secret(tokens.NAMESPACE, secret, dry_run=True)
    elif req.dry_run == "none":
        _create_token_secret(kube, secret)
        _log.info("created bootstrap token %s (secret %s/%s)", tokens.mask(token), tokens.NAMESPACE,
                 secret["metadata"]["name"])
    command = build_command(endpoint, token, hashes, req)
    result = JoinResult(token, now + ttl if ttl else None, endpoint, source, hashes, command, warnings,
                        created, req.output_file, req.dry_run)
    if req.output_file and req.dry_run == "none":
        try:
            write_script(req.output_file, command, result.expiration)
        except OSError as e:
            kube.delete_secret(tokens.NAMESPACE, secret["metadata"]["name"])
            raise errors.AscendError(
                f"cannot write {req.output_file}: {e.strerror}; the token was revoked again") from None
    return result
