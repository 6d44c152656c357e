#!/usr/bin/env bash
# Run the whole test suite. The e2e fixtures start (and stop) their own local
# clusters unless ASCEND_E2E_KUBECONFIG points at a running one.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  command -v openssl >/dev/null || die "openssl is needed by the CA-hash tests (apt-get install openssl)"
  .venv/bin/python -m pytest "${@:-tests}"
}

main "$@"
