"""mindie-service values (and NOTES rendering) the chart tests share (test_mindie_service.py, test_mindie_release.py, test_mindie_clusterd.py)."""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from tests.tooling import CHARTS, need_tool, run

CHART = "mindie-service"
FULL = "rel-mindie-service"

BASE: dict[str, Any] = {
    "image": {"repository": "registry.example/ascendhub/mindie", "tag": "2.1.RC1-800I-A2"},
    "model": {"name": "qwen2.5-7b", "path": "/data/qwen2.5-7b"},
    # Required for Ascend 910 workloads (Atlas 800I A2: 8 NPUs, 1 to 8 per pod).
    "accelerator": {"type": "module-910b-8"},
}


def values(**overrides: Any) -> dict[str, Any]:
    """BASE deep-merged with overrides (nested dicts merge, the rest replaces)."""
    out = copy.deepcopy(BASE)

    def merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)

    merge(out, overrides)
    return out


def pd_values(**overrides: Any) -> dict[str, Any]:
    return values(mode="pd", **overrides)


def notes(vals: dict[str, Any], release: str = "rel", namespace: str = "llm") -> str:
    """The chart's NOTES as `helm install --dry-run=client` prints them for VALS."""
    helm = need_tool("helm")
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"mindie-notes-{os.getpid()}.yaml"
    tmp.write_text(yaml.safe_dump(vals))
    try:
        proc = run([helm, "install", release, str(CHARTS / CHART), "-f", str(tmp), "-n", namespace,
                    "--dry-run=client"], env={"KUBECONFIG": os.devnull})
    finally:
        tmp.unlink(missing_ok=True)
    return proc.stdout.split("NOTES:", 1)[1]
