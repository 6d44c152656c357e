"""Waiting for the cluster to reach a state: `wait_until`, on top of `KubeAPI.observe`.

The model is kr8s's `APIObject.wait()`: name what to watch and the condition, get the
state that met it. No poll loop: `observe` lists the collections once and follows their
watches, so a change is seen when it happens, not at the next tick of a sleep.
"""
from __future__ import annotations

from typing import Any, Callable

from kubectl_ascend.kubeapi import KubeAPI

#: What `observe` yields: key of a source -> the objects of its collection now.
Snapshot = dict[str, list[dict[str, Any]]]


def wait_until(kube: KubeAPI, what: str, sources: dict[str, tuple[str, dict[str, Any]]],
               done: Callable[[Snapshot], bool], timeout: float, *,
               progress: Callable[[Snapshot], None] | None = None) -> Snapshot | None:
    """The first snapshot of `sources` for which done(snapshot) is true; None when `timeout` seconds pass first.

    what: names the wait in API errors ("wait for ...: forbidden"). sources: key -> (API
    collection path, query such as labelSelector or fieldSelector), as `observe` takes them.
    progress: called with every snapshot that is not done yet (the first one included), so
    the caller can report what it still waits for. The first snapshot is the collections'
    current contents: a condition already met returns at once.
    """
    for snapshot in kube.observe(what, sources, timeout):
        if done(snapshot):
            return snapshot
        if progress is not None:
            progress(snapshot)
    return None


def object_gone_sources(paths: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Sources that watch single objects by API path (their collection, one fieldSelector per name):
    the snapshot of path P is [] once the object is gone."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in paths:
        collection, name = path.rsplit("/", 1)
        out[path] = (collection, {"fieldSelector": f"metadata.name={name}"})
    return out
