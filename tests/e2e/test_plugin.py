"""The krew archive installs and runs as a kubectl plugin; completion works through kubectl.

Scenarios: `hack/dist.sh` (what `make dist` runs) builds the archive for this platform
and python3 and a manifest whose sha256 matches it; the archive is installed as krew
installs it (unpacked into a store directory per the manifest's `files`, its `bin`
symlinked into a bin directory on PATH) with the completion executable linked next to
it as the README says; then, with no virtualenv on PATH and a fresh HOME, the real
pinned kubectl runs `kubectl ascend version` against the local cluster,
`kubectl __complete ascend lab` offers label-node, node names come from the cluster,
release names from helm in the namespace given with -n, and namespaces for -n; a
second build gives a byte-identical archive.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.tooling import REPO_ROOT, VERSIONS, need_tool, run

pytestmark = pytest.mark.e2e


def _host() -> tuple[str, str]:
    machine = os.uname().machine
    return sys.platform, {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[machine]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The archive built by hack/dist.sh, installed the way krew installs a plugin."""
    out = tmp_path_factory.mktemp("dist")
    run(["bash", str(REPO_ROOT / "hack" / "dist.sh"), "--out", str(out), "--platforms", "host",
         "--pythons", "current"], timeout=900)
    manifest = yaml.safe_load((out / "ascend.yaml").read_text())
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin" and manifest["metadata"]["name"] == "ascend"
    from kubectl_ascend import __version__
    assert manifest["spec"]["version"] == f"v{__version__}"
    os_, arch = _host()
    [platform] = [p for p in manifest["spec"]["platforms"]
                  if p["selector"]["matchLabels"] == {"os": os_, "arch": arch}]
    archive = out / Path(platform["uri"]).name
    assert platform["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()

    root = tmp_path_factory.mktemp("krew")
    store = root / "store" / "ascend" / manifest["spec"]["version"]
    staging = root / "staging"
    staging.mkdir()
    store.mkdir(parents=True)
    run(["tar", "-xzf", str(archive), "-C", str(staging)])
    for rule in platform["files"]:  # krew's file operations: from (glob in the archive) -> to (in the store)
        for src in staging.glob(rule["from"]):
            src.rename(store / rule["to"] / src.name)
    bindir = root / "bin"
    bindir.mkdir()
    (bindir / "kubectl-ascend").symlink_to(store / platform["bin"])
    (bindir / "kubectl_complete-ascend").symlink_to(store / "kubectl_complete-ascend")  # README step
    home = root / "home"
    home.mkdir()
    kubectl = need_tool("kubectl")
    env = {"PATH": os.pathsep.join([str(bindir), str(Path(kubectl).parent), str(Path(need_tool("helm")).parent),
                                    "/usr/bin", "/bin"]),
           "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    return {"kubectl": kubectl, "env": env, "store": store, "sha256": platform["sha256"], "archive": archive.name}


def test_kubectl_runs_the_installed_plugin(installed, cluster):
    proc = run([installed["kubectl"], "ascend", "--kubeconfig", cluster.kubeconfig, "version"], env=installed["env"])
    from kubectl_ascend import __version__
    assert f"Plugin Version: {__version__}" in proc.stdout
    assert f"Server Version: {VERSIONS['KUBE_VERSION']}" in proc.stdout
    assert "Bundled Chart: ascend-stack-" in proc.stdout  # the charts travel inside the wheel
    # not the checkout's package: the one unpacked from the archive's wheels
    proc = run([installed["kubectl"], "ascend", "completion", "bash"], env=installed["env"])
    assert "kubectl-ascend" in proc.stdout
    assert list(installed["store"].glob("lib/py*/kubectl_ascend/cli.py"))


def test_archive_is_reproducible(installed, tmp_path):
    run(["bash", str(REPO_ROOT / "hack" / "dist.sh"), "--out", str(tmp_path), "--platforms", "host",
         "--pythons", "current"], timeout=900)
    again = hashlib.sha256((tmp_path / installed["archive"]).read_bytes()).hexdigest()
    assert again == installed["sha256"]
    manifest = yaml.safe_load((tmp_path / "ascend.yaml").read_text())
    assert [p["sha256"] for p in manifest["spec"]["platforms"]] == [again]


def _complete(installed, *words: str) -> list[str]:
    proc = run([installed["kubectl"], "__complete", "ascend", *words], env=installed["env"])
    return [ln.split("\t")[0] for ln in proc.stdout.splitlines() if ln and not ln.startswith(":")]


def test_kubectl_completes_subcommands_through_the_plugin(installed):
    assert _complete(installed, "lab") == ["label-node"]
    assert "--server-model" in _complete(installed, "label-node", "--ser")


def test_node_names_from_the_cluster(installed, cluster):
    nodes = sorted(n["metadata"]["name"] for n in cluster.get_json("nodes")["items"])
    assert nodes
    # a loaded CI machine can take longer than the 2.5 s default to import the client and list nodes
    slow = {**installed, "env": {**installed["env"], "KUBECTL_ASCEND_COMPLETION_TIMEOUT": "30"}}
    assert _complete(slow, "--kubeconfig", cluster.kubeconfig, "label-node", "") == nodes
    prefix = nodes[0][:3]
    assert _complete(slow, "label-node", "--kubeconfig", cluster.kubeconfig, prefix) == \
        [n for n in nodes if n.startswith(prefix)]


def test_release_and_namespace_names_from_the_cluster(installed, cluster, namespace, tmp_path):
    chart = tmp_path / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata: {}\n")
    run([need_tool("helm"), "install", "relx", str(chart), "-n", namespace, "--kubeconfig", cluster.kubeconfig])
    assert _complete(installed, "--kubeconfig", cluster.kubeconfig, "-n", namespace, "uninstall", "--release", "") \
        == ["relx"]
    assert _complete(installed, "--kubeconfig", cluster.kubeconfig, "uninstall", "-n", namespace, "--release", "r") \
        == ["relx"]
    assert _complete(installed, "--kubeconfig", cluster.kubeconfig, "uninstall", "--release", "relx") == []
    assert namespace in _complete(installed, "--kubeconfig", cluster.kubeconfig, "install", "-n", namespace[:4])
