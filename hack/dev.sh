#!/usr/bin/env bash
# Create the project virtualenv and install the plugin (editable) with test tools.
# Reruns are quick: pip skips what is installed.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  local venv="${1:-.venv}"
  cd "${ASCEND_REPO_ROOT}"
  command -v python3 >/dev/null || die "python3 (3.10+: the kubernetes client needs it) is required"
  if [[ ! -x "${venv}/bin/python" ]]; then
    log "creating ${venv}"
    python3 -m venv "${venv}"
  fi
  local stamp="${venv}/.installed"
  if [[ ! -f "${stamp}" || setup.cfg -nt "${stamp}" || hack/dev.sh -nt "${stamp}" ]]; then
    "${venv}/bin/pip" install --quiet --disable-pip-version-check -e '.[test]' 'mypy==2.4.1' 'ruff==0.17.6' types-PyYAML 'setuptools>=61' wheel
    touch "${stamp}"
  fi
  # The MindIE 3.x control plane the pymotor chart tests and the local loop run, in its own venv.
  hack/pymotor.sh install
}

main "$@"
