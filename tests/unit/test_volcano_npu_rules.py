"""The NPU counts of facts/accelerators.json are exactly what Volcano's NPU plugin accepts.

`volcano_accepts` below is our own transcription of the job checks of
mind-cluster v26.1.0 component/ascend-for-volcano (the same rules at v26.0.0),
written from the upstream functions, not from the fact table:

- internal/npu/factory.go get910CardHandlerName: the handler is picked by the
  job's accelerator-type; any value containing "card" gets the card handler
  (initCard910ByBaseHandler: base.New with WithMaxNodeNum(8)), half gets
  base.New max 4 without 3, module-910b-8 base.New max 8, module-a3-8-super-pod /
  module-a3-16-super-pod superpod.New with 8 / 16 NPUs per node;
- base/frame.go ValidNPUJob: every task 1..MaxNodeNPUNum, not in NpuNumInvalidMap
  (module: ascend910old/module910x8/frame.go New, max 8 without 3/5/6/7;
  module-910b-16: ascend910b/module910bx16/frame.go New, max 16 without 9/11/13/15);
- ascend910a3/module910a3x16/frame.go ValidNPUJob + CheckTaskNPU: a job of 1 NPU
  only with one task, else the job total even and each task even and <= 16;
- ascend910a3/superpod/frame.go checkRequireNPU + CheckTaskNPU (sp-block
  defaulting to the job's NPUs: plugin/job.go setSpBlock): one task 1 or even
  up to the node size, each task of a distributed job exactly the node size.

Scenarios: for every accelerator-type, allowedPerPod is what a one-task job may
request and allowedPerPodMulti what each task of a two- or four-task job may
request, capped at the NPUs one node has; both new 910 node types are present.
"""
from __future__ import annotations

import pytest

from kubectl_ascend import facts

TYPES = facts.accelerators()["types"]

#: accelerator-type -> (handler, MaxNodeNPUNum, NpuNumInvalidMap)
HANDLERS: dict[str, tuple[str, int, frozenset[int]]] = {
    "module": ("base", 8, frozenset({3, 5, 6, 7})),
    "half": ("base", 4, frozenset({3})),
    "module-910b-8": ("base", 8, frozenset()),
    "module-910b-16": ("base", 16, frozenset({9, 11, 13, 15})),
    "module-a3-16": ("a3x16", 16, frozenset()),
    "module-a3-16-super-pod": ("superpod", 16, frozenset()),
    "module-a3-8-super-pod": ("superpod", 8, frozenset()),
}
CARD = ("base", 8, frozenset())


def handler(acc_type: str) -> tuple[str, int, frozenset[int]]:
    if "card" in acc_type:
        return CARD
    return HANDLERS[acc_type]


def volcano_accepts(acc_type: str, tasks: int, per_task: int) -> bool:
    """Whether Volcano's ValidNPUJob passes a job of TASKS tasks asking PER_TASK NPUs each."""
    kind, max_node, invalid = handler(acc_type)
    total = tasks * per_task
    if kind == "base":
        return 1 <= per_task <= max_node and per_task not in invalid
    if kind == "a3x16":
        if total == 1:
            return tasks == 1
        return total % 2 == 0 and per_task % 2 == 0 and 0 < per_task <= max_node
    assert kind == "superpod"
    if tasks == 1:
        return per_task == 1 or (per_task % 2 == 0 and per_task <= max_node)
    return per_task == max_node


@pytest.mark.parametrize("acc_type", sorted(TYPES))
def test_one_pod_jobs_get_exactly_what_volcano_accepts(acc_type):
    size = int(TYPES[acc_type]["npusPerNode"])
    want = [n for n in range(1, size + 1) if volcano_accepts(acc_type, 1, n)]
    assert TYPES[acc_type]["allowedPerPod"] == want


@pytest.mark.parametrize("tasks", [2, 4])
@pytest.mark.parametrize("acc_type", sorted(TYPES))
def test_multi_pod_jobs_get_exactly_what_volcano_accepts(acc_type, tasks):
    size = int(TYPES[acc_type]["npusPerNode"])
    want = [n for n in range(1, size + 1) if volcano_accepts(acc_type, tasks, n)]
    assert TYPES[acc_type]["allowedPerPodMulti"] == want


def test_both_new_910_node_types_are_known():
    assert TYPES["card-910b-infer"]["family"] == TYPES["module-a3-8-super-pod"]["family"] == "910"
    assert TYPES["module-a3-8-super-pod"]["npusPerNode"] == 8
    # the card handler places at most 8 NPUs on a node (factory.go initCard910ByBaseHandler)
    assert TYPES["card-910b-infer"]["npusPerNode"] == 8
    # every type Volcano has a handler for is in the table, and nothing else
    assert set(TYPES) == set(HANDLERS) | {"card", "card-910b-2", "card-910b-infer"}
