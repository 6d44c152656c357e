"""wait_until (kubectl_ascend/wait.py): waiting on top of KubeAPI.observe instead of a sleep loop.

Scenarios: a condition met in a later snapshot returns that snapshot and reads no further;
one already met returns the first; a condition never met returns None once observe ends (its
timeout); progress sees every snapshot that was not done, in order; the observe call gets the
name, sources and timeout it was given; object_gone_sources watches each path's collection by name.
"""
from __future__ import annotations

from typing import Any

import pytest

from kubectl_ascend.wait import object_gone_sources, wait_until

pytestmark = pytest.mark.unit

SOURCES = {"pods": ("/api/v1/namespaces/x/pods", {"labelSelector": "app=a"})}


class Observed:
    """A scripted observe: yields the given snapshots, then ends as observe does when time is up."""

    def __init__(self, *counts: int) -> None:
        self.snapshots = [{"pods": [{"metadata": {"name": f"p{i}"}} for i in range(n)]} for n in counts]
        self.read = 0
        self.args: tuple[Any, ...] = ()

    def observe(self, what: str, sources: dict[str, Any], timeout: float) -> Any:
        self.args = (what, sources, timeout)
        for snap in self.snapshots:
            self.read += 1
            yield snap


def three_pods(snap: dict[str, list[dict[str, Any]]]) -> bool:
    return len(snap["pods"]) >= 3


def test_condition_met_returns_that_snapshot_and_stops_reading():
    kube = Observed(0, 1, 3, 5)
    got = wait_until(kube, "wait for pods", SOURCES, three_pods, 30.0)  # type: ignore[arg-type]
    assert got is kube.snapshots[2] and kube.read == 3
    assert kube.args == ("wait for pods", SOURCES, 30.0)


def test_condition_already_met_returns_the_first_snapshot():
    kube = Observed(4, 0)
    seen: list[int] = []
    got = wait_until(kube, "w", SOURCES, three_pods, 5.0,  # type: ignore[arg-type]
                     progress=lambda s: seen.append(len(s["pods"])))
    assert got is kube.snapshots[0] and kube.read == 1 and seen == []


def test_timeout_returns_none_after_every_snapshot():
    kube = Observed(0, 1, 2)
    assert wait_until(kube, "w", SOURCES, three_pods, 1.0) is None  # type: ignore[arg-type]
    assert kube.read == 3


def test_progress_sees_each_snapshot_not_done_in_order():
    kube = Observed(0, 2, 1, 3)
    seen: list[int] = []
    got = wait_until(kube, "w", SOURCES, three_pods, 5.0,  # type: ignore[arg-type]
                     progress=lambda s: seen.append(len(s["pods"])))
    assert seen == [0, 2, 1] and got is not None and len(got["pods"]) == 3


def test_object_gone_sources_watch_each_path_by_collection_and_name():
    paths = ["/apis/apps/v1/namespaces/kube-system/daemonsets/dp-910",
             "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/volcano-scheduler-role"]
    assert object_gone_sources(paths) == {
        paths[0]: ("/apis/apps/v1/namespaces/kube-system/daemonsets", {"fieldSelector": "metadata.name=dp-910"}),
        paths[1]: ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                   {"fieldSelector": "metadata.name=volcano-scheduler-role"})}


def test_no_module_polls_with_sleep():
    """Waits go through wait_until; sleep is left to the client's retry backoff and watch resumption
    (kube/client.py, kube/watching.py) and to install's re-apply after a ranktable race (a helm retry)."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "kubectl_ascend"
    sleepers = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py") if "sleep(" in p.read_text())
    assert sleepers == ["install.py", "kube/client.py", "kube/watching.py"]
