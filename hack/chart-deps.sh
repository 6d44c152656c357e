#!/usr/bin/env bash
# Package the file:// dependencies of every chart under a charts directory,
# bottom-up and offline: the ascend-common library into each component chart's
# charts/, then the built components into the umbrella's. Needed before
# `helm install` / `helm template` of a chart directory from the checkout
# (`kubectl ascend install` does the same in a private copy of its own).
# Usage: hack/chart-deps.sh [CHARTS_DIR]   (default: charts/ of the checkout)
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  local root="${1:-${ASCEND_REPO_ROOT}/charts}" chart
  [[ -d "${root}" ]] || die "${root} is not a directory"
  export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
  command -v helm >/dev/null || die "helm is missing; run \`hack/tools.sh helm\`"
  # The order comes from the plugin (kubectl_ascend.helm.dependency_order), so
  # the checkout, the tests and `kubectl ascend install` build alike.
  while IFS= read -r chart; do
    rm -rf "${chart}/Chart.lock" "${chart}/charts"  # a lock left behind may predate Chart.yaml
    helm dependency build "${chart}" --skip-refresh >/dev/null
  done < <(cd "${ASCEND_REPO_ROOT}" && "$(python_bin)" -c '
import sys
from pathlib import Path
from kubectl_ascend.helm import dependency_order
print(*dependency_order(*(p.parent for p in sorted(Path(sys.argv[1]).glob("*/Chart.yaml")))), sep="\n")
' "${root}")
}

main "$@"
