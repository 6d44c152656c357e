"""install's two-step plan, on real renders of the umbrella: which rendered objects Helm cannot map
while their CRD is created by the same release (kubectl_ascend/install.py `unmappable`), and the
first step's values (`first_step`). The e2e side: tests/e2e/test_stack.py
`test_install_with_mindie_service_on_a_fresh_cluster`."""
from __future__ import annotations

from typing import Any

import pytest

from kubectl_ascend import errors
from kubectl_ascend.install import Pending, first_step, unmappable
from tests.chart.helmutil import render

PODGROUPS = "podgroups.scheduling.volcano.sh"
VCJOBS = "jobs.batch.volcano.sh"


def mindie(**extra: Any) -> dict[str, Any]:
    return {"enabled": True, "image": {"repository": "registry.example/ascendhub/mindie", "tag": "2.1.RC1-800I-A2"},
            "model": {"name": "qwen2.5-7b", "path": "/data/qwen2.5-7b"},
            "accelerator": {"type": "module-910b-8"}, **extra}


def stack(values: dict[str, Any]) -> list[dict[str, Any]]:
    return render("ascend-stack", values, release="ascend-stack", namespace="mindx-dl")


def test_multi_pod_pd_volcano_jobs_wait_for_their_crd() -> None:
    # multi-pod instances are Volcano Jobs (mindie-service pd-instances.yaml)
    values = {"mindie-service": mindie(mode="pd", prefill={"podsPerInstance": 2}, decode={"podsPerInstance": 2})}
    objs = stack(values)
    pending = unmappable(objs, set())
    assert {(p.kind, p.crd, p.part_of) for p in pending} == {("Job", VCJOBS, "mindie-service")}
    assert sorted(p.name for p in pending) == ["ascend-stack-mindie-service-decode-0",
                                               "ascend-stack-mindie-service-prefill-0"]
    # the chart's own default Queue is a hook, and Helm maps hooks with the rest: refused up front
    with_queue = stack({**values, "ascend-volcano": {"defaultQueue": {"create": True}}})
    queued = unmappable(with_queue, set())
    assert {p.kind for p in queued} == {"Job", "Queue"}
    with pytest.raises(errors.InvalidInput, match="Queue default .*ascend-volcano.defaultQueue.create=false"):
        first_step(values, queued)
    # once the cluster serves the CRD, one step does
    assert unmappable(objs, {VCJOBS}) == []
    first, creates = first_step(values, pending)
    assert creates == [VCJOBS]
    assert first["mindie-service"]["enabled"] is False and values["mindie-service"]["enabled"] is True
    step1 = stack(first)
    assert not [o for o in step1 if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of")
                == "mindie-service"]
    assert unmappable(step1, set()) == []
    assert any(o["kind"] == "CustomResourceDefinition" and o["metadata"]["name"] == VCJOBS for o in step1)


def test_clusterd_mode_volcano_jobs_wait_for_their_crd() -> None:
    values = {"global": {"mindcluster": {"version": "26.1.0"}}, "ascend-clusterd": {"enabled": True},
              "ascend-volcano": {"clusterd": {"installed": True},
                                 "scheduler": {"initParams": {"useClusterInfoManager": "true"}}},
              "mindie-service": mindie(mode="pd", clusterd={"enabled": True})}
    pending = unmappable(stack(values), set())
    assert {(p.kind, p.crd) for p in pending} == {("Job", VCJOBS)}
    # every PD role is a Volcano Job in ClusterD mode
    assert sorted(p.name.removeprefix("ascend-stack-mindie-service-") for p in pending) == [
        "controller", "coordinator", "decode-0", "prefill-0"]
    assert first_step(values, pending)[1] == [VCJOBS]


@pytest.mark.parametrize("values", [
    {},  # the stack alone
    {"mindie-service": mindie()},  # single mode: Deployments and Services only
    {"mindie-service": mindie(mode="pd")},  # single-pod instances: no PodGroups
], ids=["stack", "single", "pd-single-pod"])
def test_one_step_when_nothing_needs_a_new_crd(values: dict[str, Any]) -> None:
    assert unmappable(stack(values), set()) == []


def test_other_custom_resources_are_refused_before_any_change() -> None:
    pending = [Pending("PodGroup", "mine", PODGROUPS, "mindie-service"),
               Pending("Queue", "team-a", "queues.scheduling.volcano.sh", "")]
    with pytest.raises(errors.InvalidInput) as e:
        first_step({"mindie-service": {"enabled": True}}, pending)
    assert "Queue team-a" in str(e.value) and "queues.scheduling.volcano.sh" in str(e.value)
    assert "PodGroup" not in str(e.value)
