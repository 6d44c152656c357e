#!/usr/bin/env bash
# Run the whole test suite. The e2e fixtures start (and stop) their own local
# clusters unless ASCEND_E2E_KUBECONFIG points at a running one: one per cluster
# shape for the whole run (tests/clusters.py), and the summary says how many.
# ASCEND_TEST_WORKERS=N runs N pytest-xdist workers (default 0: none). Not the
# default: the e2e tests are meant to form one xdist group (tests/conftest.py) so
# that each cluster shape starts once, but pytest-xdist 3.8's loadgroup does not
# group under pytest 9.2 (tests/conftest.py), so they were spread over both workers.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  command -v openssl >/dev/null || die "openssl is needed by the CA-hash tests (apt-get install openssl)"
  .venv/bin/python -m pytest -n "${ASCEND_TEST_WORKERS:-0}" --dist loadgroup "${@:-tests}"
}

main "$@"
