"""Simulated server nodes and the labels label-node gives them: shared by tests/unit and tests/e2e."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

MODELS = Path(__file__).resolve().parents[1] / "hack" / "nodes" / "models"


def node_of(model: str, name: str = "n1") -> dict:
    doc = yaml.safe_load((MODELS / f"{model}.yaml").read_text())
    node = copy.deepcopy(doc["node"])
    node["metadata"]["name"] = name
    return node


BASE = {"node-role.kubernetes.io/worker": "worker", "workerselector": "dls-worker-node"}

EXPECTED_AUTO = {
    "atlas-800i-a2": {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8", "host-arch": "huawei-arm"},
    "atlas-800t-a2": {"accelerator": "huawei-Ascend910", "accelerator-type": "module-910b-8", "host-arch": "huawei-arm"},
    "atlas-300i-duo": {"accelerator": "huawei-Ascend310P", "host-arch": "huawei-x86"},
    "atlas-800-9000": {"accelerator": "huawei-Ascend910", "accelerator-type": "module", "host-arch": "huawei-arm"},
    # A3 chips: 800I/800T A3 and the SuperPoD differ in accelerator-type -> not derived
    "atlas-800i-a3": {"accelerator": "huawei-Ascend910", "host-arch": "huawei-arm"},
    "atlas-300i": {"accelerator": "huawei-Ascend310", "host-arch": "huawei-x86"},
    "atlas-300t-a2": {"accelerator": "huawei-Ascend910", "accelerator-type": "card-910b-2", "host-arch": "huawei-x86"},
    "atlas-200i-soc-a1": {"accelerator": "huawei-Ascend310P", "host-arch": "huawei-arm"},
    "atlas-950": {"accelerator": "huawei-npu", "host-arch": "huawei-arm"},
}
