#!/usr/bin/env bash
# make conformance: the PD and ClusterD-mode e2e tests with Huawei's real Ascend
# Operator and ClusterD in place of our emulator (hack/mind-cluster.sh builds them
# from MIND_CLUSTER_SRC, a mind-cluster checkout or git mirror), plus
# tests/e2e/test_conformance.py (real operator vs emulator on the same pods, the
# table the real ClusterD pushes). Every cluster the tests start runs
# `hack/cluster.sh up --operator real --clusterd real` (ASCEND_E2E_CONTROLLERS=real,
# read by tests/clusters.py). Extra arguments go to pytest (e.g. -k NAME).
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  cd "${ASCEND_REPO_ROOT}"
  [[ -n "${MIND_CLUSTER_SRC:-}" ]] || die "make conformance needs MIND_CLUSTER_SRC: a mind-cluster checkout or git mirror (git clone https://gitcode.com/Ascend/mind-cluster), e.g. make conformance MIND_CLUSTER_SRC=~/src/mind-cluster"
  "${ASCEND_REPO_ROOT}/hack/tools.sh" helm kwok etcd kube volcano
  local start=${SECONDS}
  "${ASCEND_REPO_ROOT}/hack/mind-cluster.sh" build
  log "real controllers ready in $((SECONDS - start))s"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  export ASCEND_E2E_CONTROLLERS=real MIND_CLUSTER_SRC
  .venv/bin/python -m pytest -m "e2e or conformance" \
    tests/e2e/test_conformance.py tests/e2e/test_mindie.py tests/e2e/test_mindie_clusterd.py \
    tests/e2e/test_mindie_vcjob.py "$@"
}

main "$@"
