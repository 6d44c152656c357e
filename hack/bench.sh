#!/usr/bin/env bash
# Run the benchmarks (each starts and stops its own local cluster named "bench", or $ASCEND_BENCH_CLUSTER).
# BENCH_ARGS_ONBOARDING / BENCH_ARGS_STACK / BENCH_ARGS_VOLCANO pass options through (see each script's --help).
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  # bench_onboarding.py builds bench/labellimit (client-go) with `go build`.
  require_go
  cd "${ASCEND_REPO_ROOT}/bench"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  # shellcheck disable=SC2086
  ../.venv/bin/python bench_onboarding.py ${BENCH_ARGS_ONBOARDING:-}
  # shellcheck disable=SC2086
  ../.venv/bin/python bench_stack.py ${BENCH_ARGS_STACK:-}
  # shellcheck disable=SC2086
  ../.venv/bin/python bench_volcano.py ${BENCH_ARGS_VOLCANO:-}
}

main "$@"
