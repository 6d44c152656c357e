"""The Helm door (kubectl_ascend.helm) with a stub `helm` on HELM_BIN: arguments, errors, time bounds.

Real rendering and installs are covered by tests/chart and tests/e2e with the
pinned helm; here a stub stands in for what the real one will not do on demand:
hang, or fail with a given message. Scenarios: every call is bounded in time
(a hanging helm is stopped and reported in one line); helm's error reaches the
user once, without `Error: `; install/upgrade goes through pyhelm3 with
Helm 4 flags, the kubeconfig and context; the release lookup reads `helm list`.
"""
from __future__ import annotations

import json
import stat
import time

import pytest

from kubectl_ascend import errors, helm

pytestmark = pytest.mark.unit

STUB = """#!/usr/bin/env python3
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:1] == ["version"]:
    sys.stdout.write("v4.2.4"); sys.exit(0)
mode = os.environ.get("STUB_MODE", "ok")
if mode == "hang":
    time.sleep(60)
if mode == "fail":
    sys.stderr.write("Error: INSTALLATION FAILED: admission webhook said no\\n"); sys.exit(1)
if args[:1] == ["show"]:
    print("apiVersion: v2\\nname: demo\\nversion: 1.2.3\\n"); sys.exit(0)
if args[:1] == ["template"]:
    sys.stdin.read()
    print("---\\nkind: ConfigMap\\nmetadata: {name: a}\\n---\\nkind: Service\\nmetadata: {name: b}\\n"); sys.exit(0)
if args[:1] == ["list"]:
    print(json.dumps([{"name": "other", "revision": "1"}, {"name": "rel", "revision": "3", "status": "deployed",
                      "chart": "demo-1.2.3", "app_version": "26.0.0"}])); sys.exit(0)
if args[:1] == ["upgrade"]:
    sys.stdin.read()
    print(json.dumps({"name": "rel", "namespace": "ns", "version": 4, "info": {"status": "deployed", "last_deployed": "2026-11-30T06:00:00Z"}, "manifest": "", "config": {},
                      "chart": {"metadata": {"apiVersion": "v2", "name": "demo", "version": "1.2.3"}}})); sys.exit(0)
sys.exit(0)
"""


@pytest.fixture
def stub(tmp_path, monkeypatch):
    exe = tmp_path / "helm"
    exe.write_text(STUB)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "log"
    monkeypatch.setenv("HELM_BIN", str(exe))
    monkeypatch.setenv("STUB_LOG", str(log))
    return lambda: [json.loads(ln) for ln in log.read_text().splitlines()] if log.exists() else []


def test_template_returns_objects(stub):
    objs = helm.Helm("/k/config", "ctx").template("/chart", "rel", "ns", {"a": 1})
    assert [o["kind"] for o in objs] == ["ConfigMap", "Service"]
    call = stub()[-1]
    assert call[:3] == ["template", "rel", "/chart"] and "--include-crds" in call
    assert call[call.index("--kubeconfig") + 1] == "/k/config" and call[call.index("--kube-context") + 1] == "ctx"


def test_hanging_helm_is_stopped(stub, monkeypatch):
    monkeypatch.setenv("STUB_MODE", "hang")
    monkeypatch.setattr(helm, "TEMPLATE_TIMEOUT", 1.0)
    t = time.monotonic()
    with pytest.raises(errors.HelmError, match=r"^helm template rel: helm did not finish within 1 s; it was stopped$"):
        helm.Helm().template("/chart", "rel", "ns", {})
    assert time.monotonic() - t < 10


def test_helm_error_is_one_line_without_prefix(stub, monkeypatch):
    monkeypatch.setenv("STUB_MODE", "fail")
    with pytest.raises(errors.HelmError) as e:
        helm.Helm().uninstall("rel", "ns")
    assert str(e.value) == "helm uninstall rel: INSTALLATION FAILED: admission webhook said no"


def test_install_or_upgrade_through_pyhelm3(stub, tmp_path):
    with pytest.raises(errors.HelmError, match="the chart reference is not an existing chart directory"):
        helm.Helm().install_or_upgrade(str(tmp_path / "nope"), "rel", "ns", {})
    chart = tmp_path / "chart"
    chart.mkdir()
    r = helm.Helm("/k/config").install_or_upgrade(str(chart), "rel", "ns", {"x": 1}, timeout="2m")
    assert (r["revision"], r["status"], r["chartVersion"]) == (4, "deployed", "1.2.3")
    up = [c for c in stub() if c[0] == "upgrade"][-1]
    assert up[:4] == ["upgrade", "rel", str(chart), "--history-max"] and "--install" in up
    assert up[up.index("--timeout") + 1] == "2m" and "--rollback-on-failure" not in up


def test_release_lookup(stub):
    assert helm.Helm().release("rel", "ns") == {"release": "rel", "namespace": "ns", "revision": 3,
                                                "status": "deployed", "chart": "demo-1.2.3", "appVersion": "26.0.0"}
    assert helm.Helm().release("missing", "ns") is None
    call = [c for c in stub() if c[0] == "list"][-1]
    assert {"--deployed", "--failed", "--pending"} <= set(call) and call[call.index("--namespace") + 1] == "ns"
