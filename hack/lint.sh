#!/usr/bin/env bash
# helm lint --strict on every chart, mypy on the package. Needs only helm
# (hack/tools.sh helm) and the virtualenv (make dev).
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
  # Lint a copy: `helm dependency build` writes Chart.lock and charts/*.tgz.
  local tmp chart
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '${tmp}'" EXIT
  cp -R charts "${tmp}/charts"
  hack/chart-deps.sh "${tmp}/charts"
  for chart in "${tmp}"/charts/*/; do
    helm lint --strict "${chart}" ${LINT_VALUES:+-f "${LINT_VALUES}"}
  done
  .venv/bin/mypy
}

main "$@"
