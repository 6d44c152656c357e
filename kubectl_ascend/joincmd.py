"""`join-cmd`: create a bootstrap token through the API and build the `kubeadm join` line.

Order matters: every check (inputs, endpoint, CA, node name, output file,
RBAC) runs before the token Secret is created, so a refused command leaves
the cluster as it was.
"""
from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import yaml

from kubectl_ascend import _log, errors, tokens, validate
from kubectl_ascend.cahash import ca_cert_hashes
from kubectl_ascend.kubeapi import KubeAPI, KubeconfigView

CLUSTER_INFO_NS = "kube-public"
CLUSTER_INFO = "cluster-info"

#: The RBAC kubeadm init creates so bootstrap tokens can join nodes (docs/domain.md, "Bootstrap tokens and the join command").
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
        command = self.command if reveal else self.command.replace(self.token, shlex.quote(tokens.mask(self.token)))
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
    if req.certificate_key is not None:
        validate.certificate_key(req.certificate_key)
    if req.node_name is not None:
        validate.dns_subdomain(req.node_name, "--node-name")
    if req.endpoint is not None:
        validate.endpoint(req.endpoint, "--endpoint")
    if req.description is not None and (len(req.description) > 256 or not req.description.isprintable()):
        raise errors.InvalidInput("--description must be at most 256 printable characters (no control characters)")
    tokens.validate_groups(list(req.groups))


def check_output_file(req: JoinRequest) -> None:
    """The script path must be new and its directory writable (checked before the token exists)."""
    if req.output_file:
        p = req.output_file
        parent = os.path.dirname(os.path.abspath(p))
        if os.path.lexists(p):
            raise errors.InvalidInput(f"--output-file {p} already exists; remove it or choose another path")
        if not os.path.isdir(parent):
            raise errors.InvalidInput(f"--output-file {p}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise errors.InvalidInput(f"--output-file {p}: directory {parent} is not writable")


CLUSTER_INFO_REF = f"ConfigMap {CLUSTER_INFO_NS}/{CLUSTER_INFO}"
_OVERRIDE = "fix it, or pass --endpoint HOST:PORT with the address new nodes should use"


def endpoint_from(server: Any, source: str) -> str:
    """A server URL or HOST:PORT from cluster-info or the kubeconfig, validated like --endpoint."""
    if not isinstance(server, str):
        raise errors.InvalidInput(f"the server in {source} is not a string; {_OVERRIDE}")
    try:
        return validate.endpoint(server, f"the server in {source}")
    except errors.InvalidInput as e:
        raise errors.InvalidInput(f"{e}; refusing to put it in a join command: {_OVERRIDE}") from None


def is_loopback(endpoint: str) -> bool:
    """endpoint: a validated HOST:PORT. Loopback however it is written: localhost, 127.0.0.0/8, ::1, the
    IPv4-mapped [::ffff:127.0.0.1], and the numeric forms C's inet_aton (so getaddrinfo, curl) reads as
    127.x (0x7f.1, which passes as a DNS name)."""
    import ipaddress
    import socket

    host = endpoint.rpartition(":")[0].strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def parse_cluster_info(cm: dict[str, Any]) -> tuple[str | None, bytes | None]:
    """Server and CA from the cluster-info ConfigMap's embedded kubeconfig (strictly: a bad field is named)."""
    import base64
    import binascii

    where = f"{CLUSTER_INFO_REF} key kubeconfig"
    raw = (cm.get("data") or {}).get("kubeconfig")
    if not raw:
        return None, None
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise errors.InvalidInput(f"{where} is not valid YAML; {_OVERRIDE}") from None
    if doc is None:
        return None, None
    if not isinstance(doc, dict):
        raise errors.InvalidInput(f"{where} is not a kubeconfig (a {type(doc).__name__}, want a mapping); {_OVERRIDE}")
    clusters = doc.get("clusters") or []
    if not isinstance(clusters, list):
        raise errors.InvalidInput(f"{where}: clusters must be a list; {_OVERRIDE}")
    if not clusters:
        return None, None
    first = clusters[0]
    c = first.get("cluster") if isinstance(first, dict) else None
    if not isinstance(c, dict):
        raise errors.InvalidInput(f"{where}: clusters[0].cluster must be a mapping; {_OVERRIDE}")
    ca = None
    if c.get("certificate-authority-data"):
        try:
            ca = base64.b64decode(str(c["certificate-authority-data"]), validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidInput(f"{where}: clusters[0].cluster.certificate-authority-data is not valid base64"
                                      f"; fix the ConfigMap (kubeadm init phase bootstrap-token rewrites it)") from None
    server = c.get("server")
    if server is not None and not isinstance(server, str):
        raise errors.InvalidInput(f"{where}: clusters[0].cluster.server is not a string; {_OVERRIDE}")
    return server, ca


def missing_bindings(kube: KubeAPI) -> list[str]:
    """Names of kubeadm bootstrap bindings that are absent or point elsewhere."""
    missing = []
    for name, (_, role, skind, sname) in KUBEADM_BINDINGS.items():
        crb = kube.get_cluster_role_binding(name)
        ok = crb is not None and crb.get("roleRef", {}).get("name") == role and any(
            s.get("kind") == skind and s.get("name") == sname for s in crb.get("subjects") or [])
        if not ok:
            missing.append(name)
    return missing


def ensure_bindings(kube: KubeAPI, names: list[str]) -> list[str]:
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


def build_argv(endpoint: str, token: str, hashes: list[str], req: JoinRequest) -> list[str]:
    parts = ["kubeadm", "join", endpoint, "--token", token]
    for h in hashes:
        parts += ["--discovery-token-ca-cert-hash", h]
    if req.node_name:
        parts += ["--node-name", req.node_name]
    if req.control_plane:
        parts += ["--control-plane", "--certificate-key", str(req.certificate_key)]
    return parts


def build_command(endpoint: str, token: str, hashes: list[str], req: JoinRequest) -> str:
    """The command line; every argument is shell-quoted even though each was validated (defence in depth)."""
    return " ".join(shlex.quote(p) for p in build_argv(endpoint, token, hashes, req))


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


def _create_token_secret(kube: KubeAPI, secret: dict[str, Any]) -> None:
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


def join_command(kube: KubeAPI, kubeconfig: KubeconfigView, req: JoinRequest,
                 warn: Callable[[str], None]) -> JoinResult:
    """Run the whole flow: validate, preflight, create the token, build the command."""
    validate_request(req)
    check_output_file(req)
    warnings: list[str] = []

    def w(msg: str) -> None:  # printed once every check has passed: a refusal prints only its error
        warnings.append(msg)

    cm = kube.get_configmap(CLUSTER_INFO_NS, CLUSTER_INFO)
    ci_server, ci_ca = parse_cluster_info(cm) if cm else (None, None)
    if cm is None:
        w("ConfigMap kube-public/cluster-info is missing: kubeadm discovery on the new node will fail. "
          "Create it as `kubeadm init phase bootstrap-token` does (server + CA, readable by system:anonymous).")
    if req.endpoint:
        endpoint, source = validate.endpoint(req.endpoint, "--endpoint"), "--endpoint"
    elif ci_server:
        endpoint, source = endpoint_from(ci_server, CLUSTER_INFO_REF), "cluster-info"
    else:
        endpoint, source = endpoint_from(kubeconfig.server, f"the kubeconfig (context {kubeconfig.context!r})"), \
            "kubeconfig"
    if is_loopback(endpoint):
        w(f"endpoint {endpoint} (from {source}) is a loopback address a new node cannot reach; "
          "pass --endpoint HOST:PORT with an address the node can reach")
    ca_pem = ci_ca or kubeconfig.ca_pem
    if not ca_pem:
        raise errors.InvalidInput(
            "no CA certificate found in cluster-info or the kubeconfig; the join command needs its hash")
    try:
        hashes = ca_cert_hashes(ca_pem)
    except errors.InvalidInput as e:
        where = f"{CLUSTER_INFO_REF} (certificate-authority-data)" if ci_ca else \
            f"the kubeconfig's CA for context {kubeconfig.context!r}"
        raise errors.InvalidInput(f"cannot compute the CA hash from {where}: {e}") from None
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
