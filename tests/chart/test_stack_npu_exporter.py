"""Render-and-assert tests of charts/ascend-npu-exporter, alone and through the ascend-stack umbrella.

Scenarios:
- defaults: DaemonSet npu-exporter in namespace npu-exporter on
  workerselector=dls-worker-node, no ServiceAccount token and no RBAC (as
  upstream), privileged root with a read-only root filesystem, args (-port
  8082, -ip, -logFile, -logLevel, -containerMode, healthz 11256), metrics and
  healthz ports, liveness probe, log dir 750 root by an init container,
  mounts (driver, dcmi, localtime, tmp, the runtime's socket dir);
- containerMode picks the runtime mounts (containerd / docker / isula);
- Service npu-exporter; ServiceMonitor only when the API server has
  monitoring.coreos.com/v1 ServiceMonitor (helm --api-versions), with labels
  and interval; not without it, not with serviceMonitor.enabled=false;
- NetworkPolicy as upstream (Prometheus pods in any namespace), selector from
  values, off;
- refusals: schema (typo, containerMode, interval), port clash; an empty tag
  is the MindCluster profile's; health flags and probe only from 26.1.0;
- umbrella: off by default; on creates namespace npu-exporter, pull secrets
  reach the pod, ServiceMonitor through the umbrella; helm lint --strict.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helmutil import find, lint, one, render, render_error

pytestmark = pytest.mark.chart

CHART = "ascend-npu-exporter"
SM_API = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]


def pod_spec(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objs, "DaemonSet", "npu-exporter")["spec"]["template"]["spec"]


def test_daemonset_defaults() -> None:
    objs = render(CHART)
    assert {o["kind"] for o in objs} == {"DaemonSet", "Service", "NetworkPolicy"}
    ds = one(objs, "DaemonSet", "npu-exporter")
    assert ds["metadata"]["namespace"] == "npu-exporter"
    assert ds["metadata"]["labels"]["app.kubernetes.io/component"] == "npu-exporter"
    assert ds["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "ascend-npu-exporter",
                                                     "app.kubernetes.io/instance": "rel"}
    spec = pod_spec(objs)
    assert spec["automountServiceAccountToken"] is False and "serviceAccountName" not in spec
    assert spec["nodeSelector"] == {"workerselector": "dls-worker-node"}
    (c,) = spec["containers"]
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/npu-exporter:v26.0.0"
    # 26.0.0 (the default release) has no health flags: the binary would exit on them.
    assert c["args"] == ["-port=8082", "-ip=0.0.0.0", "-logFile=/var/log/mindx-dl/npu-exporter/npu-exporter.log",
                         "-logLevel=0", "-containerMode=containerd"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http-metrics": 8082}
    assert "livenessProbe" not in c
    (c,) = pod_spec(render(CHART, {"global": {"mindcluster": {"version": "26.1.0"}}}))["containers"]
    assert c["image"] == "swr.cn-south-1.myhuaweicloud.com/ascendhub/npu-exporter:v26.1.0-openeuler24.03"
    assert c["args"][-2:] == ["--enable-healthz=true", "--healthz-address=11256"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http-metrics": 8082, "healthz": 11256}
    assert c["livenessProbe"]["httpGet"]["port"] == "healthz"
    assert c["securityContext"] == {"privileged": True, "readOnlyRootFilesystem": True,
                                    "runAsUser": 0, "runAsGroup": 0}
    (init,) = spec["initContainers"]
    assert {e["name"]: e["value"] for e in init["env"]} == {"LOG_DIR_NAME": "npu-exporter"}
    assert "chmod 750" in init["args"][0] and "chown 0:0" in init["args"][0]
    mounts = {m["name"]: (m["mountPath"], m.get("readOnly", False)) for m in c["volumeMounts"]}
    assert mounts == {"log-dir": ("/var/log/mindx-dl/npu-exporter", False),
                      "localtime": ("/etc/localtime", True),
                      "driver": ("/usr/local/Ascend/driver", True), "dcmi": ("/usr/local/dcmi", True),
                      "tmp": ("/tmp", False), "containerd": ("/run/containerd", True)}
    assert {v["name"] for v in spec["volumes"]} == set(mounts) | {"log-parent"}


@pytest.mark.parametrize("mode, sockets", [
    ("containerd", {"containerd": "/run/containerd"}),
    ("docker", {"docker-shim": "/var/run/dockershim.sock", "docker": "/var/run/docker",
                "cri-dockerd": "/var/run/cri-dockerd.sock", "containerd": "/run/containerd"}),
    ("isula", {"isulad": "/run/isulad.sock"}),
])
def test_container_mode_mounts(mode: str, sockets: dict[str, str]) -> None:
    spec = pod_spec(render(CHART, {"containerMode": mode}))
    fixed = {"log-dir", "log-parent", "localtime", "driver", "dcmi", "tmp"}
    vols = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if v["name"] not in fixed}
    assert vols == sockets
    assert f"-containerMode={mode}" in spec["containers"][0]["args"]


def test_service_and_service_monitor() -> None:
    svc = one(render(CHART), "Service", "npu-exporter")
    assert svc["spec"]["ports"] == [{"name": "http-metrics", "protocol": "TCP", "port": 8082,
                                     "targetPort": "http-metrics"}]
    assert not find(render(CHART), "ServiceMonitor")
    objs = render(CHART, {"serviceMonitor": {"labels": {"release": "prom"}, "interval": "15s"}}, extra=SM_API)
    sm = one(objs, "ServiceMonitor", "npu-exporter")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"]
    assert sm["spec"]["endpoints"] == [{"port": "http-metrics", "path": "/metrics", "interval": "15s"}]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["npu-exporter"]}
    assert not find(render(CHART, {"serviceMonitor": {"enabled": False}}, extra=SM_API), "ServiceMonitor")
    none = render(CHART, {"service": {"enabled": False}}, extra=SM_API)
    assert not find(none, "ServiceMonitor") and not find(none, "Service")


def test_network_policy() -> None:
    np = one(render(CHART), "NetworkPolicy", "exporter-network-policy")
    peer = [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "prometheus"}}}]
    assert np["spec"]["ingress"] == [{"from": peer}] and np["spec"]["egress"] == [{"to": peer}]
    assert np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "ascend-npu-exporter"
    np2 = one(render(CHART, {"networkPolicy": {"prometheusPodLabels": {"app": None,
                                                                  "app.kubernetes.io/name": "prometheus"}}}),
              "NetworkPolicy")
    assert np2["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "prometheus"}
    assert not find(render(CHART, {"networkPolicy": {"enabled": False}}), "NetworkPolicy")


def test_no_rbac() -> None:
    kinds = {o["kind"] for o in render(CHART, extra=SM_API)}
    assert not kinds & {"ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


@pytest.mark.parametrize("values, needle", [
    ({"prot": 1}, "prot"),
    ({"containerMode": "podman"}, "containerMode"),
    ({"serviceMonitor": {"interval": "soon"}}, "interval"),
    ({"image": {"tag": "latest"}}, "tag"),
])
def test_schema_rejects(values: dict[str, Any], needle: str) -> None:
    assert needle in render_error(CHART, values)


def test_validations() -> None:
    # An empty tag is the profile's, not an error.
    (c,) = pod_spec(render(CHART, {"image": {"tag": ""}}))["containers"]
    assert c["image"].endswith("/npu-exporter:v26.0.0")
    assert "port and healthz.port are both 8082" in render_error(CHART, {"healthz": {"port": 8082}})


def test_lint_strict() -> None:
    lint(CHART)


@pytest.fixture
def umbrella(umbrella_deps: None) -> None:
    """The umbrella with its dependencies packaged (tests/chart/conftest.py)."""


def test_umbrella(umbrella: None) -> None:
    off = render("ascend-stack", release="m", namespace="mindx-dl", extra=SM_API)
    assert not find(off, "DaemonSet", "npu-exporter") and not find(off, "ServiceMonitor")
    on = render("ascend-stack", {"ascend-npu-exporter": {"enabled": True},
                                 "global": {"imagePullSecrets": ["r"], "imageRegistry": "mirror.local"}},
                release="m", namespace="mindx-dl", extra=SM_API)
    spec = pod_spec(on)
    assert spec["imagePullSecrets"] == [{"name": "r"}]
    assert spec["containers"][0]["image"] == "mirror.local/ascendhub/npu-exporter:v26.0.0"
    assert one(on, "ServiceMonitor")["metadata"]["namespace"] == "npu-exporter"
    ns = one(on, "Namespace", "npu-exporter")
    assert ns["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    lint("ascend-stack", {"ascend-npu-exporter": {"enabled": True}, "ascend-noded": {"enabled": True}})
