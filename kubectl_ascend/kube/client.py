"""The client: one API call by raw path, its retries, and paginated lists.

Transport is the official `kubernetes` client's REST layer (urllib3): TLS (CA,
tls-server-name, insecure-skip-tls-verify), proxies (`proxy-url`, HTTPS_PROXY / NO_PROXY),
the connection pool, and credentials refreshed by the loader (`kube/credentials.py`).
Requests go out by raw API path so objects stay the dicts the server sent. What this module
adds: retries only where they are safe (`Client._exchange`), one retry budget per run,
impersonation (`--as`, `--as-group`), errors translated (`kube/errors.py`).
"""
from __future__ import annotations

import json
import random
import threading
import time
from typing import Any
from urllib.parse import urlencode

from kubectl_ascend import errors
from kubectl_ascend.kube import credentials
from kubectl_ascend.kube.config import resolve_config
from kubectl_ascend.kube.errors import Lost, explain, tls_problem, unreachable

#: Page size for list calls: big enough that 5,000 nodes take a handful of
#: round trips, small enough that the API server never builds a huge response.
PAGE_SIZE = 500

#: How long requests that are safe to repeat keep being retried (connection loss, 429, 5xx). One budget
#: per Kube (per run): it starts at the first failure and every request retrying meanwhile shares it, so
#: 1,000 queued label patches against a dead API server give up together after it, not one after another.
RETRY_SECONDS = 20.0

#: Statuses that mean "not done, try again later" (the API server's own overload answers).
RETRY_STATUSES = (429, 500, 502, 503, 504)


class Client:
    """A connection to one cluster: raw API calls by path, JSON in, plain dicts out.

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
        info, merged, sel = resolve_config(kubeconfig, context)
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
        self._api = credentials.api_client(info, merged, sel, pool_size, token)
        from urllib3 import HTTPHeaderDict

        headers = HTTPHeaderDict({"Accept": "application/json", "User-Agent": "kubectl-ascend"})
        if impersonate_user:
            headers["Impersonate-User"] = impersonate_user
        for g in impersonate_groups:
            headers.add("Impersonate-Group", g)
        self._headers = headers

    # -- plumbing ---------------------------------------------------------

    def _auth_header(self) -> str | None:
        # Calls the loader's refresh hook: an exec plugin's expired credential is renewed here.
        auth = self._api.configuration.auth_settings().get("BearerToken")
        # kubectl trims a tokenFile's content (a trailing newline is the norm); the client does not
        return " ".join(str(auth["value"]).split()) if auth and auth.get("value") else None

    def _send(self, method: str, url: str, body: Any, content_type: str, timeout: Any,
              accept: str | None = None) -> Any:
        """One HTTP exchange through the client's REST layer; urllib3 errors become Lost."""
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
            raise Lost(cause, sent=not unsent) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise Lost(e, sent=True) from None
        except ApiException as e:  # the REST layer turns TLS failures into status-0 ApiExceptions
            if not e.status:
                raise Lost(e, sent=False) from None
            raise

    def _unreachable(self, what: str, lost: Lost, idempotent: bool = False) -> errors.AscendError:
        return unreachable(what, lost, self.info, self.server, idempotent)

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
            except Lost as lost:
                retryable = (not lost.sent and self._reached) or (lost.sent and idempotent)
                if tls_problem(lost.cause) is not None or not retryable:
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
                    raise explain(status, what, text, self._impersonating)
                deadline = self._retry_deadline()
                if time.monotonic() >= deadline:
                    raise explain(status, what, text, self._impersonating)
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
