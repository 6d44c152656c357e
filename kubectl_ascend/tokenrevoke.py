"""token revoke: find tokens by the ID `token list` shows, check them all, then delete.

Identity: a bootstrap token is the Secret in kube-system of type
bootstrap.kubernetes.io/token whose data `token-id` is the ID (the name
`bootstrap-token-<id>` is where the API server's authenticator looks it up).
`token list` and `revoke` both go through tokens.info_from_secret, so they
agree on which Secret an ID means; every Secret that carries the ID is
deleted (normally exactly one, bootstrap-token-<id>).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kubectl_ascend import errors, tokens
from kubectl_ascend.kubeapi import KubeAPI
from kubectl_ascend.output import first_few


@dataclass
class RevokeResult:
    revoked: list[str] = field(default_factory=list)
    #: ID -> why it was not revoked (delete failed, or not attempted after an interrupt).
    failed: dict[str, str] = field(default_factory=dict)
    #: ID -> the Secret name(s) deleted (or that would be).
    secrets: dict[str, list[str]] = field(default_factory=dict)

    def failure_message(self) -> str:
        bad = sorted(self.failed)
        first = self.failed[bad[0]]
        done = f"revoked {len(self.revoked)}: {first_few(self.revoked)}" if self.revoked else "revoked none"
        return (f"{len(bad)} of {len(bad) + len(self.revoked)} token(s) NOT revoked: {first_few(bad)} "
                f"({first}); {done}. Rerun `kubectl ascend token revoke` with the IDs not revoked")


def find(kube: KubeAPI, ids: list[str]) -> dict[str, list[str]]:
    """ID -> names of the Secrets that hold it; refuses (deleting nothing) if any ID is unknown."""
    secrets = kube.list_secrets(tokens.NAMESPACE, field_selector=f"type={tokens.SECRET_TYPE}")
    by_id: dict[str, list[str]] = {}
    for info in filter(None, map(tokens.info_from_secret, secrets)):
        by_id.setdefault(info.id, []).append(info.secret_name)
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise errors.NotFound(f"no bootstrap token with ID {', '.join(unknown)}; nothing was revoked "
                              "(see `kubectl ascend token list`)")
    return {i: sorted(by_id[i]) for i in ids}


def revoke(kube: KubeAPI, ids: list[str], dry_run: str = "none") -> RevokeResult:
    """Delete the tokens' Secrets. A failed delete does not stop the others; all are reported."""
    found = find(kube, ids)
    result = RevokeResult(secrets=found)
    if dry_run != "none":
        result.revoked = list(ids)
        return result
    pending = list(ids)
    try:
        while pending:
            i = pending[0]
            try:
                for name in found[i]:
                    try:
                        kube.delete_secret(tokens.NAMESPACE, name)
                    except errors.NotFound:
                        pass  # gone already (tokencleaner, another revoke): the goal is met
                result.revoked.append(i)
            except errors.ClusterUnreachable as e:
                result.failed[i] = f"not confirmed: {e}"
            except errors.AscendError as e:
                result.failed[i] = str(e)
            pending.pop(0)
    except KeyboardInterrupt:
        for i in pending:
            result.failed.setdefault(i, "interrupted before its delete was confirmed")
        raise errors.Interrupted("interrupted: " + result.failure_message()) from None
    return result
