#!/usr/bin/env bash
# Run the whole test suite. The e2e fixtures start (and stop) their own local
# clusters unless ASCEND_E2E_KUBECONFIG points at a running one: one per cluster
# shape for the whole run (tests/clusters.py), and the summary says how many.
# Two pytest-xdist workers (ASCEND_TEST_WORKERS, 0 for none): every e2e test runs
# on one of them, in order (their xdist group, tests/conftest.py), while the unit,
# chart and contract tests fill the other.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  command -v openssl >/dev/null || die "openssl is needed by the CA-hash tests (apt-get install openssl)"
  .venv/bin/python -m pytest -n "${ASCEND_TEST_WORKERS:-2}" --dist loadgroup "${@:-tests}"
}

main "$@"
