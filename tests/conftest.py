"""Shared fixtures. The cluster fixtures are session/module scoped and never autouse."""
from __future__ import annotations

import os
import secrets

import pytest

from tests.clusters import Cluster, install_stack, own_cluster, start_cluster, stop_cluster, wait_for_volcano


@pytest.fixture(scope="session")
def cluster():
    """The default simulated cluster: $ASCEND_E2E_KUBECONFIG if set, else one started for this session."""
    existing = os.environ.get("ASCEND_E2E_KUBECONFIG")
    if existing:
        yield Cluster("external", existing, False)
        return
    with own_cluster("e2e") as c:
        yield c


@pytest.fixture(scope="session")
def volcano_cluster():
    """A cluster with the MindCluster stack (less the Ascend Operator) installed and the real Volcano scheduling.

    hack/cluster.sh up starts the Volcano addon (hack/volcano.sh); it runs
    vc-scheduler and vc-controller-manager with the chart's ServiceAccounts as
    soon as `kubectl ascend install` has created them. Every pod with
    schedulerName volcano here is placed by the real scheduler, and pods of
    Volcano Jobs (multi-pod mindie-service instances) keep running as on a
    real kubelet (--long-running-jobs).
    $ASCEND_E2E_KUBECONFIG (a cluster started with hack/cluster.sh up) is used
    when set.
    """
    existing = os.environ.get("ASCEND_E2E_KUBECONFIG")
    c = Cluster("external", existing, False) if existing else start_cluster(f"vc-{secrets.token_hex(3)}", "--long-running-jobs")
    try:
        install_stack(c)
        wait_for_volcano(c)
        yield c
    finally:
        stop_cluster(c)


@pytest.fixture(scope="module")
def bare_cluster():
    """A cluster without cluster-info and kubeadm bootstrap RBAC (what non-kubeadm clusters look like)."""
    with own_cluster("bare", "--bare", "--layout", "single") as c:
        yield c


@pytest.fixture(scope="module")
def single_cluster():
    """A single-node cluster: one Atlas 800I A2 that is also the management node."""
    with own_cluster("single", "--layout", "single") as c:
        yield c


@pytest.fixture
def namespace(cluster):
    """A fresh namespace per test, deleted afterwards."""
    ns = f"t-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", ns)
    yield ns
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def node_prefix():
    return f"t{secrets.token_hex(3)}-"
