"""Watches: the events of a collection (`watch`), and several collections kept current (`observe`).

A watch the server closes is resumed from the last resourceVersion seen; one too old
(410 Gone) makes the caller list again. `observe` lists each collection once and then
follows a watch per collection in threads, yielding the whole current state after every
batch of changes: what waits and live views build on.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Iterator
from urllib.parse import urlencode

from kubectl_ascend import errors
from kubectl_ascend.kube.client import RETRY_STATUSES, Client
from kubectl_ascend.kube.errors import Lost, explain, tls_problem


class Watching(Client):
    """The client with watches (Kube adds the typed resources)."""


    def watch(self, what: str, path: str, resource_version: str, timeout: float,
              stop: threading.Event | None = None, **query: Any) -> Iterator[dict[str, Any]]:
        """Events of a collection after resource_version, as plain dicts ({"type", "object"}).

        Ends when `timeout` seconds have passed or `stop` is set. A watch the server
        closes is resumed from the last resourceVersion seen (bookmarks keep it fresh);
        when that is too old (410 Gone) a {"type": "RELIST"} event tells the caller to
        list again and watch from the new version. Setting `stop` closes the open stream.
        """
        deadline = time.monotonic() + timeout
        rv = resource_version
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            left = max(1, int(deadline - time.monotonic()))
            q = {**{k: v for k, v in query.items() if v is not None}, "watch": "true", "resourceVersion": rv,
                 "allowWatchBookmarks": "true", "timeoutSeconds": min(left, 300)}
            try:
                # the server ends the watch after timeoutSeconds; the read timeout is only a backstop
                r = self._send("GET", path + "?" + urlencode(q), None, "", (min(10.0, self.timeout), left + 15))
            except Lost as lost:
                if tls_problem(lost.cause) is not None or not self._reached:
                    raise self._unreachable(what, lost) from None
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                continue
            self._reached = True
            if r.status >= 400:
                body = r.read().decode("utf-8", "replace")
                r.response.release_conn()
                if r.status == 410:
                    yield {"type": "RELIST"}
                    return
                if r.status in RETRY_STATUSES:
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                    continue
                raise explain(r.status, what, body, self._impersonating)
            resp = r.response
            if stop is not None:  # wake a blocked read when the caller stops
                threading.Thread(target=_close_when_set, args=(stop, resp), daemon=True).start()
            try:
                for line in _lines(resp):
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            yield {"type": "RELIST"}
                            return
                        raise explain(obj.get("code"), what, json.dumps(obj), self._impersonating)
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if ev.get("type") != "BOOKMARK":
                        yield ev
                    if time.monotonic() >= deadline or (stop and stop.is_set()):
                        return
            except Exception as e:  # noqa: BLE001 - the stream broke (or was closed by stop): resume or end
                import urllib3

                if stop is not None and stop.is_set():
                    return  # closed under a blocked read on purpose (urllib3 then fails in various ways)
                if not isinstance(e, (urllib3.exceptions.HTTPError, OSError, ValueError)):
                    raise
            finally:
                _close_quietly(resp)

    def observe(self, what: str, sources: dict[str, tuple[str, dict[str, Any]]], timeout: float,
                ) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """Current contents of several collections, again after every change, for `timeout` seconds.

        sources: key -> (API collection path, query such as labelSelector). Lists each once,
        then follows a watch per collection (in threads); yields {key: [objects]} first and
        after each batch of events. Stops when the caller stops iterating or time is up.
        """
        import queue

        deadline = time.monotonic() + timeout
        state: dict[str, dict[str, dict[str, Any]]] = {}
        versions: dict[str, str] = {}
        events: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        stop = threading.Event()

        def relist(key: str) -> None:
            path, query = sources[key]
            items, rv = self.list_with_version(f"{what}: list", path, **query)
            state[key] = {_uid(o): o for o in items}
            versions[key] = rv

        def follow(key: str, rv: str) -> None:
            path, query = sources[key]
            try:
                while not stop.is_set() and time.monotonic() < deadline:
                    for ev in self.watch(f"{what}: watch", path, rv, deadline - time.monotonic(), stop, **query):
                        events.put((key, ev))
                    break
            except errors.AscendError as e:
                events.put((key, e))

        for key in sources:
            relist(key)
        threads = [threading.Thread(target=follow, args=(k, versions[k]), daemon=True) for k in sources]
        for t in threads:
            t.start()
        try:
            yield {k: list(v.values()) for k, v in state.items()}
            while time.monotonic() < deadline:
                try:
                    key, ev = events.get(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
                except queue.Empty:
                    continue
                batch = [(key, ev)]
                while True:
                    try:
                        batch.append(events.get_nowait())
                    except queue.Empty:
                        break
                for key, ev in batch:
                    if isinstance(ev, errors.AscendError):
                        raise ev
                    if ev["type"] == "RELIST":
                        relist(key)
                        t = threading.Thread(target=follow, args=(key, versions[key]), daemon=True)
                        t.start()
                        threads.append(t)
                        continue
                    obj = ev["object"]
                    if ev["type"] == "DELETED":
                        state[key].pop(_uid(obj), None)
                    else:
                        state[key][_uid(obj)] = obj
                yield {k: list(v.values()) for k, v in state.items()}
        finally:
            stop.set()

def _lines(resp: Any) -> Iterator[bytes]:
    """The newline-separated JSON events of a watch response, as they arrive."""
    buf = b""
    chunks = resp.read_chunked() if getattr(resp, "chunked", False) else iter(lambda: resp.read1(65536), b"")
    for chunk in chunks:
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
    if buf.strip():
        yield buf


def _close_when_set(stop: threading.Event, resp: Any) -> None:
    stop.wait()
    _close_quietly(resp)


def _close_quietly(resp: Any) -> None:
    try:
        resp.close()
        resp.release_conn()
    except Exception:  # noqa: BLE001 - closing a stream another thread reads may race; nothing to report
        pass


def _uid(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
