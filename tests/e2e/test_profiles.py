"""MindCluster release profiles on a real API server (own cluster, no Volcano processes).

Scenarios:
- `helm install` of the umbrella with the defaults (26.0.0): Volcano v1.7.0's
  five CRDs, per-family device plugin DaemonSets, v26.0.0 images;
- `helm upgrade` to 26.1.0 with Volcano v1.12.0 and every optional component:
  jobflows, jobtemplates and hypernodes CRDs appear (kept on uninstall), the
  single device plugin DaemonSet on workerselector replaces the per-family
  ones, next to the opt-in SoC DaemonSet (workerselector + servertype=soc, no
  -useAscendDocker), every MindCluster image carries v26.1.0-openeuler24.03,
  app.kubernetes.io/version of every workload and pod template is 26.1.0
  (v1.12.0-v26.1.0 for Volcano's);
- the API server enforces what the v1.12.0 schemas say: a HyperNode naming
  two selectors is refused by the CEL rule, a valid one is stored; a Queue's
  parent / deserved / priority are stored (not pruned); a PodGroup's
  networkTopology mode outside hard|soft is refused;
- every allowed (release, Volcano version) render of the umbrella with every
  component on passes server-side apply dry-run.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.chart.helmutil import template
from tests.clusters import reset_stack
from tests.tooling import CHARTS, build_chart_deps, need_tool, run

pytestmark = pytest.mark.e2e

FACTS = json.loads((CHARTS / "ascend-common" / "facts" / "mindcluster.json").read_text())
RELEASE, NS = "ascend-stack", "mindx-dl"
EVERYTHING = ["--set", "ascend-clusterd.enabled=true", "--set", "ascend-noded.enabled=true",
              "--set", "ascend-npu-exporter.enabled=true", "--set", "ascend-volcano.clusterd.installed=true",
              "--set-string", "ascend-volcano.scheduler.initParams.useClusterInfoManager=true"]
V1_12 = ["--set", "global.mindcluster.version=26.1.0", "--set", "ascend-volcano.volcanoVersion=v1.12.0"]
SOC = ["--set", "ascend-device-plugin.families.ascend310p.soc.enabled=true",
       "--set", "ascend-device-plugin.families.ascend310p.soc.image.repository=ascendhub/ascend-k8sdeviceplugin",
       # upstream's build.sh tags the SoC build like the ordinary image (its own Dockerfile-310P-1usoc)
       "--set", "ascend-device-plugin.families.ascend310p.soc.image.tag="
       f"{FACTS['releases']['26.1.0']['tag']}-{FACTS['releases']['26.1.0']['defaultOsSuffix']}"]


@pytest.fixture(scope="module")
def profiles_cluster(novolcano_cluster):
    """The shared cluster without Volcano, clean (reset_stack); also covers the SoC device plugin variant."""
    reset_stack(novolcano_cluster)
    build_chart_deps(CHARTS / "ascend-stack")
    return novolcano_cluster


def helm(c, *args: str) -> None:
    run([need_tool("helm"), "--kubeconfig", c.kubeconfig, *args], timeout=600)


def crds(c) -> set[str]:
    items = c.get_json("crd", "-l", "app.kubernetes.io/part-of=mindcluster")["items"]
    return {i["metadata"]["name"] for i in items}


def workloads(c, kind: str, ns: str) -> dict[str, dict[str, Any]]:
    items = c.get_json(kind, "-n", ns, "-l", "app.kubernetes.io/part-of=mindcluster")["items"]
    return {i["metadata"]["name"]: i for i in items}


def images(c) -> set[str]:
    out = set()
    for kind in ("deployments", "daemonsets"):
        for o in c.get_json(kind, "-A", "-l", "app.kubernetes.io/part-of=mindcluster")["items"]:
            out |= {ct["image"] for ct in o["spec"]["template"]["spec"]["containers"]}
    return out


def apply(c, obj: dict[str, Any], check: bool = True):
    return c.kubectl("apply", "-f", "-", input=yaml.safe_dump(obj), check=check)


def test_install_26_0_then_upgrade_to_26_1_with_volcano_1_12(profiles_cluster) -> None:
    c = profiles_cluster
    chart = str(CHARTS / "ascend-stack")
    helm(c, "install", RELEASE, chart, "-n", NS, "--create-namespace")
    volcano_crds = {n for n in crds(c) if "volcano.sh" in n}
    assert volcano_crds == {"jobs.batch.volcano.sh", "commands.bus.volcano.sh", "podgroups.scheduling.volcano.sh",
                            "queues.scheduling.volcano.sh", "numatopologies.nodeinfo.volcano.sh"}
    assert set(workloads(c, "daemonsets", "kube-system")) >= {"ascend-device-plugin-daemonset-910",
                                                              "ascend-device-plugin-daemonset-310"}
    assert all(i.endswith((":v26.0.0", ":v1.7.0-v26.0.0")) for i in images(c)), images(c)

    helm(c, "upgrade", RELEASE, chart, "-n", NS, *EVERYTHING, *V1_12, *SOC)
    assert {"jobflows.flow.volcano.sh", "jobtemplates.flow.volcano.sh", "hypernodes.topology.volcano.sh"} <= crds(c)
    dss = workloads(c, "daemonsets", "kube-system")
    assert set(dss) == {"ascend-device-plugin-daemonset", "ascend-device-plugin-daemonset-310p-soc"}
    ds = dss["ascend-device-plugin-daemonset"]
    assert ds["spec"]["template"]["spec"]["nodeSelector"] == {"workerselector": "dls-worker-node"}
    soc = dss["ascend-device-plugin-daemonset-310p-soc"]["spec"]["template"]["spec"]
    assert soc["nodeSelector"] == {"workerselector": "dls-worker-node", "servertype": "soc"}
    assert "useAscendDocker" not in " ".join(soc["containers"][0]["command"] + soc["containers"][0]["args"])
    # app.kubernetes.io/version moved to the release on the upgrade (selectors, immutable, never hold it)
    volcano = f"v1.12.0-{FACTS['releases']['26.1.0']['tag']}"
    for kind, ns in (("daemonsets", "kube-system"), ("deployments", NS), ("deployments", "volcano-system")):
        for name, o in workloads(c, kind, ns).items():
            want = volcano if o["metadata"]["labels"]["app.kubernetes.io/name"] == "ascend-volcano" else "26.1.0"
            assert o["metadata"]["labels"]["app.kubernetes.io/version"] == want, name
            assert o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == want, name
    tag = f"{FACTS['releases']['26.1.0']['tag']}-{FACTS['releases']['26.1.0']['defaultOsSuffix']}"
    got = images(c)
    assert got and all(i.endswith((f":{tag}", f":v1.12.0-{tag}")) for i in got), got
    cm = c.get_json("configmap", "-n", "volcano-system", "volcano-controller-configmap")
    assert cm["data"] == {"volcano-controller.conf": ""}


def test_v1_12_schemas_are_enforced_by_the_api_server(profiles_cluster) -> None:
    c = profiles_cluster
    if "hypernodes.topology.volcano.sh" not in crds(c):
        helm(c, "upgrade", "--install", RELEASE, str(CHARTS / "ascend-stack"), "-n", NS, "--create-namespace",
             *EVERYTHING, *V1_12)
    c.kubectl("wait", "--for=condition=Established", "crd/hypernodes.topology.volcano.sh", "--timeout=60s")
    bad = {"apiVersion": "topology.volcano.sh/v1alpha1", "kind": "HyperNode", "metadata": {"name": "hn-bad"},
           "spec": {"tier": 1, "members": [{"type": "Node", "selector": {
               "exactMatch": {"name": "a"}, "regexMatch": {"pattern": "b.*"}}}]}}
    proc = apply(c, bad, check=False)
    assert proc.returncode != 0 and "Only one of ExactMatch, RegexMatch, or LabelMatch" in proc.stderr
    good = {"apiVersion": "topology.volcano.sh/v1alpha1", "kind": "HyperNode", "metadata": {"name": "hn-s0"},
            "spec": {"tier": 1, "members": [{"type": "Node", "selector": {"regexMatch": {"pattern": "^npu-.*"}}}]}}
    apply(c, good)
    assert c.get_json("hypernode", "hn-s0")["spec"]["members"][0]["selector"] == {"regexMatch": {"pattern": "^npu-.*"}}
    queue = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue", "metadata": {"name": "q-child"},
             "spec": {"weight": 1, "parent": "root", "priority": 5, "deserved": {"cpu": "4"}}}
    apply(c, queue)
    spec = c.get_json("queue", "q-child")["spec"]
    assert (spec["parent"], spec["priority"], spec["deserved"]) == ("root", 5, {"cpu": "4"})
    pg = {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
          "metadata": {"name": "pg-topo", "namespace": "default"},
          "spec": {"minMember": 1, "networkTopology": {"mode": "sideways", "highestTierAllowed": 1}}}
    proc = apply(c, pg, check=False)
    assert proc.returncode != 0 and "sideways" in proc.stderr
    pg["spec"]["networkTopology"]["mode"] = "soft"
    apply(c, pg)
    got = c.get_json("podgroup", "-n", "default", "pg-topo")["spec"]["networkTopology"]
    assert got == {"mode": "soft", "highestTierAllowed": 1}


@pytest.mark.parametrize("version, volcano", [(v, vv) for v, r in sorted(FACTS["releases"].items())
                                              for vv in r["volcano"]["versions"]])
def test_every_release_and_volcano_version_passes_server_dry_run(profiles_cluster, version: str,
                                                                  volcano: str) -> None:
    c = profiles_cluster
    c.kubectl("create", "namespace", NS, check=False)
    sets = [*EVERYTHING, "--set", f"global.mindcluster.version={version}",
            "--set", f"ascend-volcano.volcanoVersion={volcano}", "--set", "namespaces.create=false"]
    manifest = template("ascend-stack", release=RELEASE, namespace=NS, kube_version="1.34.0", sets=None,
                        extra=sets).stdout
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    for ns in sorted({d["metadata"].get("namespace") for d in docs} - {None}):
        c.kubectl("create", "namespace", ns, check=False)
    proc = c.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=dry-run-test",
                     "--dry-run=server", "-f", "-", input=manifest, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(docs)
