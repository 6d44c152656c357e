"""NPU counts from resource quantities, read as Kubernetes reads them (kube.quantity, workloads.npu_count).

"1k" is a valid quantity (1000) a pod creator may write; "500m" or garbage is no NPU count: None, never a crash.
"""
from __future__ import annotations

import pytest

from kubectl_ascend.labels import npu_resources
from kubectl_ascend.workloads import allocatable_npus, npu_count, pod_npu_requests

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value,want", [("8", 8), (8, 8), ("1k", 1000), ("2Ki", 2048), ("1e3", 1000), ("0", 0),
                                        ("500m", None), ("-1", None), ("NaN", None), ("x", None), ("", None),
                                        (None, None)])
def test_npu_count(value, want):
    assert npu_count(value) == want


def test_pods_and_nodes_with_odd_quantities_do_not_crash():
    pod = {"spec": {"containers": [{"resources": {"requests": {"huawei.com/Ascend910": "1k", "cpu": "500m"}}},
                                   {"resources": {"requests": {"huawei.com/Ascend910": "500m"}}}]}}
    assert pod_npu_requests(pod) == {"huawei.com/Ascend910": 1000}
    node = {"status": {"capacity": {"huawei.com/Ascend910": "1k", "huawei.com/Ascend310P": "x"},
                       "allocatable": {"huawei.com/Ascend910": "8", "huawei.com/Ascend310P": "1.5"}}}
    assert npu_resources(node) == {"huawei.com/Ascend910": 1000}
    assert allocatable_npus(node) == 8
