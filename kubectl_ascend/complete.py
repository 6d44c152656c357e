"""Completion candidates that come from the cluster: node, release and namespace names.

Shell completion runs on every <TAB>, so every lookup here is bounded by a deadline
(DEADLINE seconds, wall clock, connection set-up included) and fails silently: on an
unreachable cluster, a missing permission, a missing helm binary or a slow answer the
caller gets an empty list, never an exception or a line on stderr.

The lookups go through the one Kubernetes door (kube.Kube) and the one Helm door
(helm.Helm); this module only bounds and filters them.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

#: Longest a completion waits for the cluster (seconds), unless $KUBECTL_ASCEND_COMPLETION_TIMEOUT
#: (seconds, > 0) says otherwise: a slow link or a loaded machine may need more.
DEFAULT_DEADLINE = 2.5


def _deadline() -> float:
    try:
        seconds = float(os.environ.get("KUBECTL_ASCEND_COMPLETION_TIMEOUT", ""))
    except ValueError:
        return DEFAULT_DEADLINE
    return seconds if 0 < seconds <= 60 else DEFAULT_DEADLINE


DEADLINE = _deadline()


def within_deadline(fn: Callable[[], list[str]], seconds: float = DEADLINE) -> list[str]:
    """fn() if it returns within `seconds`, else []. Any exception also gives [].

    The call runs in a daemon thread, so a request still in flight at the deadline
    never holds the process (or the user's shell) past it.
    """
    box: dict[str, list[str]] = {}

    def run() -> None:
        try:
            box["out"] = list(fn())
        except BaseException:  # noqa: BLE001 - completion must stay silent, whatever went wrong
            box["out"] = []

    t = threading.Thread(target=run, name="completion", daemon=True)
    t.start()
    t.join(seconds)
    return box.get("out", []) if not t.is_alive() else []


@dataclass(frozen=True)
class Target:
    """Whom a lookup asks, as whom: the kubeconfig, context and impersonation (--as/--as-group) typed on the
    line, so <TAB> offers what the command itself would see, never more."""

    kubeconfig: str | None = None
    context: str | None = None
    as_user: str | None = None
    as_groups: tuple[str, ...] = ()


def _names(items: list[dict[str, Any]]) -> list[str]:
    return sorted({(i.get("metadata") or {}).get("name") or "" for i in items} - {""})


def _kube(target: Target) -> Any:
    from kubectl_ascend.kube import Kube

    return Kube(target.kubeconfig, target.context, pool_size=1, timeout=DEADLINE,
                impersonate_user=target.as_user, impersonate_groups=target.as_groups)


def node_names(target: Target) -> list[str]:
    return within_deadline(lambda: _names(_kube(target).list_nodes()))


def namespace_names(target: Target) -> list[str]:
    return within_deadline(lambda: _names(_kube(target).paginate("list namespaces", "/api/v1/namespaces")))


def release_names(target: Target, namespace: str | None) -> list[str]:
    """Helm releases in `namespace` (the stack's namespace when None), any status."""
    def go() -> list[str]:
        from kubectl_ascend.helm import Helm

        if namespace is None:
            from kubectl_ascend.install import DEFAULT_NAMESPACE
            ns = DEFAULT_NAMESPACE
        else:
            ns = namespace
        return Helm(target.kubeconfig, target.context, as_user=target.as_user,
                    as_groups=target.as_groups).release_names(ns, timeout=DEADLINE)

    return within_deadline(go)


def matching(candidates: list[str], prefix: str) -> list[str]:
    return [c for c in candidates if c.startswith(prefix)]
