"""The ascend-common library chart: shared helpers and the facts templates.

Scenarios (a probe chart that depends on the library renders each helper):
- image: registry/repository:tag; global.imageRegistry replaces the registry;
  a digest wins over the tag; a numeric tag is printed as written; a dict the
  caller computed works the same;
- imagePullSecrets: global + chart, names and {name:}, duplicates dropped,
  nothing at all when both lists are empty;
- pdbApiVersion: policy/v1beta1 below Kubernetes 1.21, policy/v1 from 1.21;
- labels / selectorLabels: the calling chart's name and version, the component;
  app.kubernetes.io/version is the MindCluster release (global.mindcluster.version) or the
  version the caller passes, never in the selector;
- logInitContainer: owner from runAs (LOG_UID/LOG_GID) or root (chown 0:0);
- crdAnnotations: keep only with crds.keep;
- every facts/*.json comes back unchanged through `ascend-common.facts.<name>`;
  _facts.tpl is what hack/gen-facts.py writes, and the generator refuses a
  fact string that would open a template action;
- every chart that uses an ascend-common helper declares the dependency, and no
  chart keeps its own copy of a shared helper.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tooling import CHARTS, REPO_ROOT, build_chart_deps, need_tool, run

pytestmark = pytest.mark.chart

LIBRARY = CHARTS / "ascend-common"
FACT_FILES = sorted((LIBRARY / "facts").glob("*.json"))
SHARED = ("image", "imagePullSecrets", "pdbApiVersion", "logInitContainer", "crdAnnotations", "chart", "name")
# Helpers with a shared name that do something else, and why.
OWN = {
    # honours nameOverride (mindie-service is installed many times, once per model)
    'define "mindie-service.name"',
    # the user names the whole MindIE image (no registry key, no global.imageRegistry rewrite)
    'define "mindie-service.image"',
}

PROBE = """\
{{- $out := dict -}}
{{- $_ := set $out "image" (include "ascend-common.image" (dict "ctx" $ "image" .Values.image)) -}}
{{- $_ := set $out "computed" (include "ascend-common.image" (dict "ctx" $ "image" (dict "repository" "r/x" "tag" "v9"))) -}}
{{- $_ := set $out "secrets" (include "ascend-common.imagePullSecrets" . | fromYaml) -}}
{{- $_ := set $out "pdb" (include "ascend-common.pdbApiVersion" .) -}}
{{- $_ := set $out "labels" (include "ascend-common.labels" (dict "ctx" $ "component" "probe") | fromYaml) -}}
{{- $_ := set $out "labelsGiven" (include "ascend-common.labels" (dict "ctx" $ "component" "probe" "version" "v9-x") | fromYaml) -}}
{{- $_ := set $out "selector" (include "ascend-common.selectorLabels" . | fromYaml) -}}
{{- $_ := set $out "crd" (include "ascend-common.crdAnnotations" . | fromYaml) -}}
{{- $_ := set $out "initRoot" (include "ascend-common.logInitContainer" (dict "ctx" $ "image" .Values.image "dir" "/var/log/x/probe") | fromYamlArray) -}}
{{- $_ := set $out "initOwned" (include "ascend-common.logInitContainer" (dict "ctx" $ "image" .Values.image "dir" "/var/log/x/probe/" "runAs" (dict "user" 9000 "group" 9001)) | fromYamlArray) -}}
{{- $facts := dict -}}
{{- range $name := .Values.factNames -}}
{{- $_ := set $facts $name (include (printf "ascend-common.facts.%s" $name) $ | fromJson) -}}
{{- end -}}
{{- $_ := set $out "facts" $facts -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  out: {{ toJson $out | quote }}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    chart = tmp_path_factory.mktemp("probe") / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: probe\nversion: 1.2.3\nappVersion: \"4.5\"\ndependencies:\n"
        f"  - name: ascend-common\n    version: \"~0.1.0\"\n    repository: file://{LIBRARY}\n")
    (chart / "values.yaml").write_text(yaml.safe_dump({
        "image": {"registry": "reg.example", "repository": "ns/img", "tag": "v1", "digest": "",
                  "pullPolicy": "IfNotPresent"},
        "imagePullSecrets": [], "initResources": {"limits": {"cpu": "50m"}}, "crds": {"keep": True},
        "factNames": [p.stem for p in FACT_FILES]}))
    (chart / "templates" / "probe.yaml").write_text(PROBE)
    build_chart_deps(chart)
    return chart


def render(chart: Path, *args: str) -> dict[str, Any]:
    out = run([need_tool("helm"), "template", "rel", str(chart), *args]).stdout
    return json.loads(yaml.safe_load(out)["data"]["out"])


def test_image_reference(probe):
    assert render(probe)["image"] == "reg.example/ns/img:v1"
    assert render(probe, "--set", "global.imageRegistry=mirror:5000")["image"] == "mirror:5000/ns/img:v1"
    assert render(probe, "--set", "image.registry=")["image"] == "ns/img:v1"
    digest = "sha256:" + "b" * 64
    assert render(probe, "--set", f"image.digest={digest}")["image"] == f"reg.example/ns/img@{digest}"
    assert render(probe, "--set", "image.tag=26")["image"] == "reg.example/ns/img:26"
    assert render(probe)["computed"] == "r/x:v9"


def test_image_pull_secrets(probe):
    assert render(probe)["secrets"] == {}
    got = render(probe, "--set", "global.imagePullSecrets[0]=a", "--set", "global.imagePullSecrets[1].name=b",
                 "--set", "imagePullSecrets[0].name=a", "--set", "imagePullSecrets[1]=c")
    assert got["secrets"] == {"imagePullSecrets": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}


@pytest.mark.parametrize("kube, want", [("1.19.0", "policy/v1beta1"), ("1.20.15", "policy/v1beta1"),
                                        ("1.21.0", "policy/v1"), ("1.34.4", "policy/v1")])
def test_pdb_api_version(probe, kube, want):
    assert render(probe, "--kube-version", kube)["pdb"] == want


def test_labels_are_the_calling_charts(probe):
    got = render(probe)
    default = json.loads((LIBRARY / "facts" / "mindcluster.json").read_text())["default"]
    assert got["selector"] == {"app.kubernetes.io/name": "probe", "app.kubernetes.io/instance": "rel"}
    # the version is the MindCluster release (the facts' default here), not the chart's appVersion 4.5
    assert got["labels"] == {**got["selector"], "helm.sh/chart": "probe-1.2.3", "app.kubernetes.io/version": default,
                             "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "mindcluster",
                             "app.kubernetes.io/component": "probe"}
    assert got["labelsGiven"]["app.kubernetes.io/version"] == "v9-x"


@pytest.mark.parametrize("version", sorted(json.loads((LIBRARY / "facts" / "mindcluster.json").read_text())["releases"]))
def test_labels_version_follows_the_release(probe, version):
    got = render(probe, "--set", f"global.mindcluster.version={version}")
    assert got["labels"]["app.kubernetes.io/version"] == version
    assert "app.kubernetes.io/version" not in got["selector"]


def test_crd_annotations(probe):
    assert render(probe)["crd"] == {"helm.sh/resource-policy": "keep"}
    assert render(probe, "--set", "crds.keep=false")["crd"] == {}


def test_log_init_container_owner(probe):
    got = render(probe, "--set", "global.imageRegistry=mirror")
    (root,), (owned,) = got["initRoot"], got["initOwned"]
    for c in (root, owned):
        assert c["name"] == "log-dir" and c["image"] == "mirror/ns/img:v1"
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"] == {"limits": {"cpu": "50m"}}
        assert c["volumeMounts"] == [{"name": "log-parent", "mountPath": "/log-parent"}]
    assert 'chown 0:0 "/log-parent/$(LOG_DIR_NAME)"' in root["args"][0]
    assert root["env"] == [{"name": "LOG_DIR_NAME", "value": "probe"}]
    assert 'chown "$(LOG_UID):$(LOG_GID)"' in owned["args"][0]
    assert owned["env"] == [{"name": "LOG_DIR_NAME", "value": "probe"}, {"name": "LOG_UID", "value": "9000"},
                            {"name": "LOG_GID", "value": "9001"}]
    assert owned["args"][0].startswith('mkdir -p "/log-parent/$(LOG_DIR_NAME)" && chown')
    assert owned["args"][0].endswith('&& chmod 750 "/log-parent/$(LOG_DIR_NAME)"')


def test_every_fact_file_round_trips(probe):
    assert FACT_FILES, "no facts/*.json"
    got = render(probe)["facts"]
    assert got == {p.stem: json.loads(p.read_text()) for p in FACT_FILES}


def _generator():
    spec = importlib.util.spec_from_file_location("gen_facts", REPO_ROOT / "hack" / "gen-facts.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_facts_template_is_generated_and_current(tmp_path, monkeypatch):
    gen = _generator()
    assert gen.main(["--check"]) == 0
    assert (LIBRARY / "templates" / "_facts.tpl").read_text() == gen.render()
    # a changed fact file makes the check fail until the template is regenerated
    facts = tmp_path / "facts"
    facts.mkdir()
    for p in FACT_FILES:
        (facts / p.name).write_text(p.read_text())
    (facts / "extra.json").write_text('{"a": 1}')
    monkeypatch.setattr(gen, "FACTS", facts)
    monkeypatch.setattr(gen, "OUT", tmp_path / "_facts.tpl")
    (tmp_path / "_facts.tpl").write_text((LIBRARY / "templates" / "_facts.tpl").read_text())
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
    assert '{{- define "ascend-common.facts.extra" -}}\n{"a":1}\n' in (tmp_path / "_facts.tpl").read_text()
    (facts / "extra.json").write_text('{"a": "{{ .Values.x }}"}')
    with pytest.raises(SystemExit, match="template action"):
        gen.render()


def test_shared_helpers_live_only_in_the_library():
    defines = re.compile(r'define "([\w-]+)\.(' + "|".join(SHARED) + r')"')
    for tpl in CHARTS.glob("*/templates/*.tpl"):
        if tpl.parent.parent == LIBRARY:
            continue
        found = [m.group(0) for m in defines.finditer(tpl.read_text()) if m.group(0) not in OWN]
        assert not found, f"{tpl.relative_to(CHARTS)} keeps its own copy of {found}: use ascend-common's"
    for chart in CHARTS.glob("*/Chart.yaml"):
        if chart.parent == LIBRARY:
            continue
        text = "".join(p.read_text() for p in chart.parent.glob("templates/**/*") if p.is_file())
        if 'include "ascend-common.' in text:
            deps = yaml.safe_load(chart.read_text()).get("dependencies") or []
            assert {"name": "ascend-common", "version": "~0.1.0", "repository": "file://../ascend-common"} in deps, \
                chart.parent.name
