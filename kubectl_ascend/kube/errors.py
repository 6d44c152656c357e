"""API failures translated into the plugin's error types, each with a sentence saying what to do.

`explain` reads an HTTP answer (status and the server's Status message), `unreachable` a
request that got no answer (`Lost`: TLS, connection, a response lost after sending).
Request bodies are never echoed (they may hold secrets).
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from kubectl_ascend import errors
from kubectl_ascend.kube.config import KubeconfigInfo


def explain(status: int | None, what: str, body: str, impersonating: str = "") -> errors.AscendError:
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


def tls_problem(e: BaseException) -> str | None:
    import ssl

    for x in _chain(e):
        if isinstance(x, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(x):
            return str(getattr(x, "verify_message", "") or x)
        if isinstance(x, ssl.SSLError):
            return str(getattr(x, "reason", None) or x)
    return None


class Lost(Exception):
    """A request failed without an HTTP answer; sent=False means it never left this machine."""

    def __init__(self, cause: BaseException, sent: bool) -> None:
        super().__init__(str(cause))
        self.cause, self.sent = cause, sent


def unreachable(what: str, lost: Lost, info: KubeconfigInfo, server: str,
                idempotent: bool = False) -> errors.AscendError:
    """The error for a request to `server` (of kubeconfig context `info`) that got no answer."""
    tls = tls_problem(lost.cause)
    where = f"context {info.context} in {info.path}"
    if tls is not None:
        host = info.tls_server_name or urlsplit(server).hostname
        if "mismatch" in tls.lower() or "doesn't match" in tls:
            return errors.ClusterUnreachable(
                f"{what}: the API server's certificate is not valid for {host} ({tls}); set "
                f"tls-server-name in the kubeconfig cluster or use the name the certificate was issued "
                f"for ({where})")
        if "verify failed" in tls or "CERTIFICATE_VERIFY_FAILED" in tls or "certificate" in tls.lower():
            return errors.ClusterUnreachable(
                f"{what}: the API server's certificate is not signed by the CA in the kubeconfig ({tls}); "
                f"check certificate-authority(-data) of cluster {info.cluster} ({where})")
        return errors.ClusterUnreachable(
            f"{what}: TLS handshake with {server} failed ({tls}); check the CA and client "
            f"certificate of {where}")
    if lost.sent and not idempotent:
        return errors.OutcomeUnknown(
            f"{what}: the connection to the API server at {server} was lost after the request was "
            "sent, so it may or may not have been applied; check the object and rerun if needed")
    detail = str(lost.cause).split(": ", 1)[-1] if str(lost.cause) else type(lost.cause).__name__
    return errors.ClusterUnreachable(
        f"{what}: cannot reach the API server at {server} ({detail}); check that the cluster is "
        "running and --kubeconfig/--context point at it")
