#!/usr/bin/env bash
# helm lint --strict on every chart, mypy on the package.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
  local chart
  for chart in charts/*/; do
    [[ "${chart}" == charts/ascend-stack/ ]] && helm dependency build "${chart}" --skip-refresh >/dev/null
    helm lint --strict "${chart}" ${LINT_VALUES:+-f "${LINT_VALUES}"}
  done
  .venv/bin/mypy
}

main "$@"
