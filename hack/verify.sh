#!/usr/bin/env bash
# The fast checks, no cluster and no Kubernetes build: ruff, shellcheck, mypy,
# helm lint --strict of every chart, chart READMEs current with their values.yaml.
# Needs the virtualenv (make dev), helm and helm-docs (built here when missing,
# both are small) and shellcheck (the Debian package, installed when missing
# and running as root).
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_shellcheck() {
  command -v shellcheck >/dev/null 2>&1 && return
  [[ "$(id -u)" == 0 ]] || die "shellcheck is missing: apt-get install shellcheck"
  log "installing shellcheck (Debian package)"
  apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null
}

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
  hack/tools.sh helm helm-docs
  ensure_shellcheck
  log "ruff"
  .venv/bin/ruff check --quiet .
  log "shellcheck"
  # Warnings and errors (hack/lib/*.sh through the scripts that source it); the
  # info/style notes flag word splitting the scripts do on purpose.
  shellcheck --external-sources --source-path=SCRIPTDIR --severity=warning \
    hack/*.sh charts/*/files/*.sh .ci/run
  log "helm lint, mypy"
  local out
  out="$(hack/lint.sh 2>&1)" || { printf '%s\n' "${out}" >&2; die "helm lint or mypy failed (output above)"; }
  log "chart docs"
  hack/docs.sh --check
}

main "$@"
