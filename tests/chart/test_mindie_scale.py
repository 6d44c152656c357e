"""Scaling a pd or pymotor release changes no surviving instance's pod template (`mindie scale` keeps their pods).

Scenarios:
- pd and pymotor: rendering 1P1D and 3P2D, the instances both renders have (prefill-0, decode-0) carry
  the same pod template, checksum included; the controller and coordinator do change (their configs
  carry the instance counts), and so does user_config.json's motor_deploy_config;
- scaling.ratio: rendered as the mindie.huawei.com/ratio-band annotation of every per-instance
  ranktable ConfigMap (what `status` shows); a value that is not MIN:MAX is refused by the schema.
"""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.chart.helmutil import render_error, template
from tests.chart.mindie_values import CHART, FULL, values

pytestmark = pytest.mark.chart


def render(mode: str, prefill: int, decode: int, **extra: Any) -> dict[tuple[str, str], dict[str, Any]]:
    vals = values(mode=mode, prefill={"instances": prefill, "npusPerPod": 2}, decode={"instances": decode,
                                                                                         "npusPerPod": 2}, **extra)
    if mode == "pymotor":
        vals["pymotor"] = {"parallel": {"prefill": {"tp": 2}, "decode": {"tp": 2}}}
    docs = [d for d in yaml.safe_load_all(template(CHART, vals).stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def template_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["tasks"][0] if obj["kind"] == "Job" else obj["spec"]
    return spec["template"]


@pytest.mark.parametrize("mode", ["pd", "pymotor"])
def test_surviving_instances_keep_their_pod_template(mode: str) -> None:
    small, big = render(mode, 1, 1), render(mode, 3, 2)
    for name in (f"{FULL}-prefill-0", f"{FULL}-decode-0"):
        assert template_of(small[("StatefulSet", name)]) == template_of(big[("StatefulSet", name)]), name
    assert ("StatefulSet", f"{FULL}-prefill-2") in big and ("StatefulSet", f"{FULL}-decode-1") in big
    # the control plane does see the new counts (and restarts)
    changed = [k for k in small if k[0] == "Deployment"
               and template_of(small[k])["metadata"]["annotations"]["checksum/config"]
               != template_of(big[k])["metadata"]["annotations"]["checksum/config"]]
    assert len(changed) == 2, changed


def test_ratio_band_annotation_on_every_instance_configmap() -> None:
    objs = render("pd", 2, 1, scaling={"ratio": "1:3"})
    cms = [o for (k, _), o in objs.items() if k == "ConfigMap"
           and (o["metadata"].get("labels") or {}).get("mindie.huawei.com/ranktable") == "instance"]
    assert len(cms) == 3
    assert {c["metadata"]["annotations"]["mindie.huawei.com/ratio-band"] for c in cms} == {"1:3"}
    none = render("pd", 1, 1)
    assert not any("mindie.huawei.com/ratio-band" in (o["metadata"].get("annotations") or {})
                   for o in none.values())


def test_ratio_value_must_be_min_max() -> None:
    msg = render_error(CHART, values(mode="pd", scaling={"ratio": "3"}))
    assert "/scaling/ratio" in msg and "does not match pattern" in msg, msg
