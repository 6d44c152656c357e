"""Release-level tests of charts/mindie-service.

Scenarios:
- golden files of the defaults (single and pd), normalised (objects sorted,
  chart-version labels and config checksums dropped); regenerate with
  UPDATE_GOLDEN=1;
- `helm lint --strict` for the chart defaults, single, pd and multi-pod pd values;
- renders for Kubernetes 1.19 ... 1.36 and refuses 1.18 (kubeVersion floor);
- two releases in one namespace share no (kind, name); the same release name
  in two namespaces shares no cluster-scoped name;
- the chart renders as a subchart of an umbrella (file:// dependency,
  condition mindie-service.enabled, `global` values present) and disappears
  when disabled;
- NOTES: warnings first, the ready-to-run chat request with the model name,
  and in pd mode the `kubectl ascend mindie ranktable` step.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helmutil import find, lint, render, render_error
from tests.chart.mindie_values import BASE, CHART, FULL, pd_values, values
from tests.chart.mindie_values import notes as _notes
from tests.tooling import CHARTS, need_tool, run

pytestmark = pytest.mark.chart

GOLDEN = Path(__file__).parent / "golden"
VOLATILE_LABELS = ("helm.sh/chart", "app.kubernetes.io/version")
VOLATILE_ANNOTATIONS = ("checksum/config",)


def _strip(meta: dict[str, Any]) -> None:
    for key in VOLATILE_LABELS:
        (meta.get("labels") or {}).pop(key, None)
    for key in VOLATILE_ANNOTATIONS:
        (meta.get("annotations") or {}).pop(key, None)


class _GoldenDumper(yaml.SafeDumper):
    """Multi-line strings (config files, scripts) as readable block literals."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_GoldenDumper.add_representer(str, _str)


def normalise(objs: list[dict[str, Any]]) -> str:
    """Stable text of rendered objects: sorted, without version-dependent noise."""
    out = []
    for obj in sorted(objs, key=lambda o: (o["kind"], o["metadata"]["name"])):
        _strip(obj["metadata"])
        template = (obj.get("spec") or {}).get("template")
        if isinstance(template, dict) and "metadata" in template:
            _strip(template["metadata"])
        out.append(obj)
    return yaml.dump_all(out, Dumper=_GoldenDumper, sort_keys=True, default_flow_style=False, width=120)


@pytest.mark.parametrize("name, vals", [
    ("mindie-single", values()),
    ("mindie-pd", pd_values()),
])
def test_golden_defaults(name, vals):
    got = normalise(render(CHART, vals))
    path = GOLDEN / f"{name}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(got)
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1 to create it"
    assert got == path.read_text(), f"{path.name} differs; review, then regenerate with UPDATE_GOLDEN=1"


@pytest.mark.parametrize("vals", [
    None,
    values(),
    values(single={"replicas": 3}, service={"type": "NodePort", "nodePort": 30080}),
    pd_values(),
    pd_values(prefill={"instances": 3, "podsPerInstance": 2}, metrics={"serviceMonitor": {"enabled": True, "force": True}}),
], ids=["defaults", "single", "single-3-nodeport", "pd", "pd-3p1d-multipod"])
def test_lint_strict(vals):
    # "defaults" is what `helm lint --with-subcharts` on the umbrella does: lint
    # mode logs the required-value failures instead of stopping, and the output
    # must still be valid YAML.
    lint(CHART, vals)


@pytest.mark.parametrize("kube", ["1.19.0", "1.20.0", "1.21.0", "1.23.0", "1.25.0", "1.29.0",
                                  "1.32.0", "1.34.0", "1.36.0"])
@pytest.mark.parametrize("vals", [values(single={"replicas": 2}),
                                  pd_values(decode={"podsPerInstance": 2})], ids=["single", "pd"])
def test_renders_for_kubernetes_versions(kube, vals):
    objs = render(CHART, vals, kube_version=kube)
    assert objs
    for pdb in find(objs, "PodDisruptionBudget"):
        minor = int(kube.split(".")[1])
        assert pdb["apiVersion"] == ("policy/v1" if minor >= 21 else "policy/v1beta1")


def test_refuses_kubernetes_below_floor():
    err = render_error(CHART, values(), kube_version="1.18.0")
    assert "kubeVersion" in err or ">=1.19.0-0" in err


def _names(objs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in objs}


@pytest.mark.parametrize("vals", [
    values(single={"replicas": 3}, metrics={"serviceMonitor": {"enabled": True, "force": True}}),
    pd_values(prefill={"instances": 3, "podsPerInstance": 2}, decode={"podsPerInstance": 2}),
], ids=["single", "pd"])
def test_two_releases_in_one_namespace_do_not_collide(vals):
    a = render(CHART, vals, release="alpha", namespace="llm")
    b = render(CHART, vals, release="beta", namespace="llm")
    assert _names(a) and _names(b)
    assert _names(a) & _names(b) == set()


def test_same_release_in_two_namespaces_has_distinct_cluster_scoped_names():
    cluster_scoped = {"PriorityClass"}
    a = [o for o in render(CHART, pd_values(), namespace="team-a") if o["kind"] in cluster_scoped]
    b = [o for o in render(CHART, pd_values(), namespace="team-b") if o["kind"] in cluster_scoped]
    assert len(a) == len(b) == 2
    assert _names(a) & _names(b) == set()


@pytest.fixture(scope="module")
def umbrella(tmp_path_factory) -> Path:
    helm = need_tool("helm")
    root = tmp_path_factory.mktemp("umbrella")
    chart = root / "stack"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": "stack", "version": "0.1.0", "kubeVersion": ">=1.19.0-0",
        "dependencies": [{"name": "mindie-service", "version": "0.1.0",
                          "repository": f"file://{CHARTS / 'mindie-service'}",
                          "condition": "mindie-service.enabled"}],
    }))
    (chart / "values.yaml").write_text(yaml.safe_dump({
        "global": {"imageRegistry": "registry.example"},
        "mindie-service": {"enabled": False},
    }))
    run([helm, "dependency", "update", str(chart), "--skip-refresh"])
    yield chart
    shutil.rmtree(root, ignore_errors=True)


def test_renders_as_subchart(umbrella):
    sub = dict(BASE, enabled=True, mode="pd")
    objs = render(umbrella, {"mindie-service": sub}, release="stack")
    names = _names(objs)
    assert ("StatefulSet", "stack-mindie-service-prefill-0") in names
    assert ("Service", "stack-mindie-service-coordinator") in names
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    assert sts["metadata"]["labels"]["app.kubernetes.io/instance"] == "stack"


def test_disabled_subchart_renders_nothing(umbrella):
    assert render(umbrella, None, release="stack") == []


def test_notes_single_warnings_first_then_request():
    notes = _notes(values())
    assert notes.lstrip().startswith("WARNINGS")
    assert notes.index("WARNINGS") < notes.index("MindIE single-machine service")
    assert "/data/qwen2.5-7b must exist on every node labelled accelerator=huawei-Ascend910" in notes
    assert f"http://{FULL}:1025/v1/chat/completions" in notes
    assert '"model": "qwen2.5-7b"' in notes
    assert "kubectl ascend mindie ranktable" not in notes
    assert "helm test rel -n llm" in notes


def test_notes_pd_ranktable_step_and_coordinator_entry():
    notes = _notes(pd_values(model={"source": "pvc", "pvc": {"claimName": "w"}}))
    assert "WARNINGS" not in notes
    assert "kubectl ascend mindie ranktable rel -n llm" in notes
    assert notes.index("kubectl ascend mindie ranktable") < notes.index("/v1/chat/completions")
    assert f"http://{FULL}-coordinator:1025/v1/chat/completions" in notes


def test_notes_warns_about_short_startup_budget():
    notes = _notes(values(probes={"startup": {"periodSeconds": 10, "failureThreshold": 30,
                                              "timeoutSeconds": 5}}))
    assert "The startup probe allows only 300 s" in notes


@pytest.mark.parametrize("vals", [values(), pd_values(), pd_values(clusterd={"enabled": True})],
                         ids=["single", "pd", "pd-clusterd"])
def test_notes_say_how_to_remove_clusterd_job_summaries(vals):
    """ClusterD writes job-summary-<workload> ConfigMaps (label outside-job-info=true) for every
    Volcano-scheduled workload, outside the release (mind-cluster v26.1.0 clusterd
    pkg/domain/job/job_cm_util.go initCM); the NOTES name them and a command limited to this release's."""
    text = _notes(vals, release="qwen", namespace="llm")
    assert "job-summary-qwen-mindie-service-* ConfigMaps" in text
    assert ("kubectl get configmap -n llm -l outside-job-info=true -o name | "
            "grep '/job-summary-qwen-mindie-service-' | xargs -r kubectl delete -n llm") in text
