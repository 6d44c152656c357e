"""`kubectl ascend images` and `--pull-secret`, against the real render.

Scenarios:
- the listed images equal the set found by walking every pod template of the
  render independently (any object holding `containers`, at any depth): the
  defaults, every component on (incl. the docker-runtime installer and a
  mindie-service inside the stack), and a separate mindie-service release
  (--mindie-values, single and pd);
- global.imageRegistry rewrites every image (stack and mindie-service);
- --pull-secret reaches every pod spec of every component (and of
  mindie-service), by the same independent walk;
- per MindCluster release (26.0.0, 26.1.0 from mindcluster.json): the listed images
  equal the render with global.mindcluster.version set to it, and the
  -o json names the version;
- the CLI: text table, -o json equal to the library, -o yaml, version and
  option refusals (exit 1 / exit 2).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kubectl_ascend import releases
from kubectl_ascend.helm import Helm
from kubectl_ascend.images import list_images, stack_values
from tests.chart.helmutil import render
from tests.tooling import CHARTS, REPO_ROOT, need_tool

pytestmark = pytest.mark.chart

MINDIE = {"image": {"repository": "swr.cn-south-1.myhuaweicloud.com/ascendhub/mindie", "tag": "2.1.RC1-800I-A2"},
          "model": {"name": "qwen", "path": "/data/qwen"},
          # required for Ascend 910 workloads (the chart refuses a 910 service without it)
          "accelerator": {"family": "910", "type": "module-910b-8"}}
MINDIE_PD = {**MINDIE, "mode": "pd",
             "test": {"image": {"repository": "docker.io/curlimages/curl", "tag": "8.10.1"}}}
EVERYTHING = {
    "ascend-clusterd": {"enabled": True}, "ascend-noded": {"enabled": True}, "ascend-npu-exporter": {"enabled": True},
    "ascend-docker-runtime": {"enabled": True, "image": {"repository": "ascend/adr-installer", "tag": "v26.0.0"}},
    "ascend-device-plugin": {"families": {"npu": {"enabled": True}}},
    "mindie-service": {"enabled": True, **MINDIE},
}


@pytest.fixture(autouse=True)
def dependencies(umbrella_deps: None) -> None:
    """The umbrella with its dependencies packaged (tests/chart/conftest.py)."""


@pytest.fixture(scope="module")
def helm() -> Helm:
    need_tool("helm")
    return Helm()


def walk_pod_specs(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping that holds a `containers` list, wherever it sits (independent of the library)."""
    if isinstance(node, dict):
        if isinstance(node.get("containers"), list):
            yield node
        for v in node.values():
            yield from walk_pod_specs(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_pod_specs(v)


def images_in(objs: list[dict[str, Any]]) -> set[str]:
    return {c["image"] for spec in walk_pod_specs(objs)
            for c in spec.get("containers", []) + spec.get("initContainers", [])}


def listed(data: dict[str, Any]) -> set[str]:
    return {i["image"] for i in data["images"]}


def preflight(values: dict[str, Any]) -> set[str]:
    """The image of `kubectl ascend preflight`'s per-node pods, as that command builds them."""
    from kubectl_ascend.preflight.run import agent_image, example_pod

    pod = example_pod(agent_image((values.get("global") or {}).get("imageRegistry") or ""), [])
    return {c["image"] for c in pod["spec"]["containers"]}


def stack_render(values: dict[str, Any]) -> list[dict[str, Any]]:
    return render("ascend-stack", values, release="ascend-stack", namespace="mindx-dl", extra=["--include-crds"])


@pytest.mark.parametrize("user", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_images_equal_render(helm: Helm, user: dict[str, Any]) -> None:
    data = list_images(helm, user_values=user, pull_secrets=[])
    want = images_in(stack_render(stack_values(user, [])))
    assert listed(data) == want | preflight(user)
    assert len(want) >= 4
    if user:
        assert {"swr.cn-south-1.myhuaweicloud.com/ascendhub/clusterd:v26.0.0",
                "swr.cn-south-1.myhuaweicloud.com/ascendhub/noded:v26.0.0",
                "swr.cn-south-1.myhuaweicloud.com/ascendhub/npu-exporter:v26.0.0",
                "swr.cn-south-1.myhuaweicloud.com/ascendhub/mindie:2.1.RC1-800I-A2"} <= listed(data)


@pytest.mark.parametrize("version", releases.versions())
@pytest.mark.parametrize("user", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_images_equal_render_per_release(helm: Helm, user: dict[str, Any], version: str) -> None:
    data = list_images(helm, user_values=user, pull_secrets=[], mindcluster_version=version)
    assert data["mindclusterVersion"] == version
    with_version = {**user, "global": {"mindcluster": {"version": version}}}
    want = images_in(stack_render(stack_values(with_version, [])))
    assert listed(data) == want | preflight(user) and len(want) >= 4
    # the same version given as a value instead of the flag lists the same
    assert listed(list_images(helm, user_values=with_version, pull_secrets=[])) == want | preflight(user)
    # every MindCluster image carries the release's tag (26.1.0: with its default OS suffix)
    rel = releases.load()["releases"][version]
    tag = rel["tag"] + (f"-{rel['defaultOsSuffix']}" if rel["defaultOsSuffix"] else "")
    mindcluster = [i for i in want if "/ascendhub/" in i and "/ascendhub/mindie:" not in i]
    assert len(mindcluster) >= 4 and all(i.endswith(tag) for i in mindcluster), sorted(want)


@pytest.mark.parametrize("mindie", [MINDIE, MINDIE_PD], ids=["single", "pd"])
def test_mindie_release_images(helm: Helm, mindie: dict[str, Any]) -> None:
    data = list_images(helm, user_values={}, pull_secrets=[], mindie=mindie)
    want = images_in(stack_render({})) | images_in(render("mindie-service", mindie, release="mindie"))
    assert listed(data) == want | preflight({})
    assert [s["chart"] for s in data["sources"]] == ["ascend-stack", "mindie-service"]


def test_registry_rewrites_every_image(helm: Helm) -> None:
    reg = "registry.local:5000"
    user = {**EVERYTHING, "global": {"imageRegistry": reg}}
    data = list_images(helm, user_values=user, pull_secrets=[], mindie=MINDIE_PD)
    images = listed(data)
    assert images and all(i.startswith(reg + "/") for i in images), sorted(images)
    assert f"{reg}/ascendhub/mindie:2.1.RC1-800I-A2" in images
    assert f"{reg}/curlimages/curl:8.10.1" in images
    assert f"{reg}/ascendhub/vc-scheduler:v1.7.0-v26.0.0" in images
    assert f"{reg}/library/python:3.12.8-slim-bookworm" in images  # kubectl ascend preflight's agent
    usage = next(i["usedBy"] for i in data["images"] if i["image"] == f"{reg}/library/python:3.12.8-slim-bookworm")
    assert usage == ["kubectl ascend preflight: Pod kube-system/ascend-preflight-RUN-0 agent"]
    assert data["registry"] == reg
    # the same values rendered independently
    assert images_in(stack_render(stack_values(user, []))) <= images


def test_pull_secret_on_every_pod(helm: Helm) -> None:
    values = stack_values(EVERYTHING, ["regcred"])
    specs = list(walk_pod_specs(stack_render(values)))
    assert len(specs) >= 10
    for spec in specs:
        assert {"name": "regcred"} in (spec.get("imagePullSecrets") or []), spec.get("containers")[0]["name"]
    data = list_images(helm, user_values=EVERYTHING, pull_secrets=["regcred"], mindie=MINDIE_PD)
    assert data["pullSecrets"] == ["regcred"]
    from kubectl_ascend.images import mindie_values
    for spec in walk_pod_specs(render("mindie-service", mindie_values(MINDIE_PD, ["regcred"], ""), release="m")):
        assert {"name": "regcred"} in spec["imagePullSecrets"]
    # a secret given both ways is listed once
    twice = stack_values({"global": {"imagePullSecrets": ["regcred"]}}, ["regcred", "other"])
    assert twice["global"]["imagePullSecrets"] == ["regcred", "other"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubectl_ascend", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT)


def test_cli(helm: Helm, tmp_path: Path) -> None:
    mfile = tmp_path / "mindie.yaml"
    mfile.write_text(yaml.safe_dump(MINDIE))
    proc = cli("images", "--set", "ascend-npu-exporter.enabled=true", "--pull-secret", "regcred",
               "--mindie-values", str(mfile), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    want = list_images(helm, user_values={"ascend-npu-exporter": {"enabled": True}}, pull_secrets=["regcred"],
                       mindie=MINDIE)
    assert data == want
    text = cli("images", "--mindcluster-version", "26.0.0")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].split() == ["IMAGE", "CONTAINERS"]
    assert "5 image(s); pull secrets on the pods: none" in text.stdout
    assert yaml.safe_load(cli("images", "-o", "yaml").stdout)["images"]
    newer = cli("images", "--mindcluster-version", "26.1.0", "-o", "json")
    assert newer.returncode == 0, newer.stderr
    assert json.loads(newer.stdout)["mindclusterVersion"] == "26.1.0"
    bad = cli("images", "--mindcluster-version", "26.2.0")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --mindcluster-version '26.2.0': this plugin installs 26.0.0 or 26.1.0")
    clash = cli("images", "--mindcluster-version", "26.1.0", "--set", "global.mindcluster.version=26.0.0")
    assert clash.returncode == 1 and "disagree" in clash.stderr and clash.stdout == ""
    assert cli("images", "--bogus").returncode == 2
    typo = cli("images", "--set", "ascend-volcano.shceduler.x=1")
    assert typo.returncode == 1 and "shceduler" in typo.stderr


def test_artifacthub_images_annotation_matches_render(helm: Helm) -> None:
    """The umbrella's artifacthub.io/images lists exactly the images of the components with default images."""
    chart = yaml.safe_load((CHARTS / "ascend-stack" / "Chart.yaml").read_text())
    annotated = {i["image"] for i in yaml.safe_load(chart["annotations"]["artifacthub.io/images"])}
    optional = {k: {"enabled": True} for k in ("ascend-clusterd", "ascend-noded", "ascend-npu-exporter")}
    # preflight's agent image is the plugin's, not the chart's
    assert annotated == listed(list_images(helm, user_values=optional, pull_secrets=[])) - preflight({})
