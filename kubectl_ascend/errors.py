"""Error types. Library code raises these; cli.main turns them into `error: ...` and an exit code."""
from __future__ import annotations


class AscendError(Exception):
    """Base class: a failure the user can act on. str(e) is the whole message."""

    exit_code = 1


class InvalidInput(AscendError):
    """Input (flags, values, files) was rejected before anything was changed."""


class ClusterUnreachable(AscendError):
    """The API server could not be reached."""


class ServerFailed(ClusterUnreachable):
    """The API server answered, with an error of its own (429 or 5xx), until the retries ran out.

    `status` is its HTTP status; the message carries its reason (e.g. etcd's "database space exceeded").
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(AscendError):
    """The API server rejected our credentials (HTTP 401)."""


class Forbidden(AscendError):
    """The credentials lack permission for an operation (HTTP 403)."""


class NotFound(AscendError):
    """An object we need does not exist (HTTP 404)."""


class Conflict(AscendError):
    """The cluster's state conflicts with the request (existing object, foreign label values)."""


class KubeConfigError(AscendError):
    """The kubeconfig file or context is missing or unusable."""


class HelmError(AscendError):
    """helm failed; the message carries helm's own explanation."""


class PartialFailure(AscendError):
    """Some items of a bulk operation failed; the rest were applied (reported per item)."""


class UsageError(InvalidInput):
    """A flag or argument is malformed or does not fit the others (exit 2, like click's usage errors)."""

    exit_code = 2


class Interrupted(AscendError):
    """The user pressed Ctrl-C (SIGINT); the message says what was done and what was not (exit 130)."""

    exit_code = 130


class OutcomeUnknown(ClusterUnreachable):
    """The connection was lost after a request that changes something was sent: it may have been applied."""
