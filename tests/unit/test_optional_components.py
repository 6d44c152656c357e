"""Install profile and stack bookkeeping for the optional components (ClusterD, NodeD, NPU Exporter).

Pure logic: `profile.decide` switches Volcano to ClusterD when ClusterD is
enabled (and warns on one node); `expected_components` waits for the
optional workloads only when enabled; the namespaces `install` reuses or
creates include cluster-system / npu-exporter only for enabled components.
"""
from __future__ import annotations

from typing import Any

from kubectl_ascend import install, profile


def node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "status": {"capacity": {}, "allocatable": {}}}


NODES = [node("mgmt-0", {"masterselector": "dls-master-node"}),
         node("npu-0", {"accelerator": "huawei-Ascend910", "workerselector": "dls-worker-node"}),
         node("npu-1", {"accelerator": "huawei-Ascend910", "workerselector": "dls-worker-node"})]


def test_clusterd_switches_volcano() -> None:
    p = profile.decide(NODES, {"ascend-clusterd": {"enabled": True}})
    vc = p.values["ascend-volcano"]
    assert vc["scheduler"]["initParams"]["useClusterInfoManager"] == "true"
    assert vc["clusterd"] == {"installed": True}
    assert any("ClusterD enabled" in d for d in p.decisions)
    assert any("--set clusterd.enabled=true" in d for d in p.decisions)  # the mindie-service hint
    assert not p.warnings


def test_without_clusterd_volcano_reads_device_plugin() -> None:
    p = profile.decide(NODES, {})
    assert not any("clusterd.enabled=true" in d for d in p.decisions)
    assert p.values["ascend-volcano"]["scheduler"]["initParams"]["useClusterInfoManager"] == "false"
    assert "clusterd" not in p.values["ascend-volcano"]
    # the user still wins
    p = profile.decide(NODES, {"ascend-clusterd": {"enabled": True},
                               "ascend-volcano": {"scheduler": {"initParams": {"useClusterInfoManager": "false"}}}})
    assert p.values["ascend-volcano"]["scheduler"]["initParams"]["useClusterInfoManager"] == "false"


def test_clusterd_on_single_node_warns() -> None:
    one = [node("solo", {"accelerator": "huawei-Ascend910", "masterselector": "dls-master-node"})]
    p = profile.decide(one, {"ascend-clusterd": {"enabled": True}})
    assert any("single-node cluster with ClusterD" in w for w in p.warnings)


def test_expected_components() -> None:
    base = ["device-plugin", "volcano-scheduler", "volcano-controllers", "ascend-operator"]
    assert install.expected_components({}) == base
    on = {k: {"enabled": True} for k in ("ascend-clusterd", "ascend-noded", "ascend-npu-exporter")}
    assert install.expected_components(on) == base + ["clusterd", "noded", "npu-exporter"]


def test_component_namespaces() -> None:
    assert install._component_namespaces({}) == ["volcano-system", "mindx-dl"]
    on = {"ascend-clusterd": {"enabled": True}, "ascend-npu-exporter": {"enabled": True},
          "ascend-noded": {"enabled": True}}
    assert install._component_namespaces(on) == ["volcano-system", "mindx-dl", "cluster-system", "npu-exporter"]
    custom = {"ascend-clusterd": {"enabled": True, "clusterInfoNamespace": "info"}, "ascend-volcano": {"enabled": False}}
    assert install._component_namespaces(custom) == ["mindx-dl", "info"]
