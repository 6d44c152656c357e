#!/usr/bin/env bash
# Install the pinned MindIE 3.x control plane (PyPI mindie-motor, package `motor`) into its own
# virtualenv in the tool cache, and print that venv's python with `hack/pymotor.sh python`.
#
# Why a separate venv and not the plugin's .venv: mindie-motor needs Python >= 3.11 (the plugin
# supports 3.10) and pulls fastapi, uvicorn, grpcio, transformers, opentelemetry and its own
# kubernetes client floor; none of that belongs next to the plugin, whose tests must keep proving
# the plugin's own dependency set is enough. The chart tests and the local-loop runner call this
# venv's python as a subprocess.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

pymotor_venv() { tool_dir pymotor "${PYMOTOR_VERSION}"; }

# A python3 that is 3.11 or newer: python3.13 .. python3.11, then python3.
pick_python() {
  local cand
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "${cand}" >/dev/null 2>&1 \
      && "${cand}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "${cand}"; return 0
    fi
  done
  die "mindie-motor ${PYMOTOR_VERSION} needs Python 3.11 or newer (apt-get install python3.11 python3.11-venv)"
}

install() {
  local venv stamp
  venv="$(pymotor_venv)"
  stamp="${venv}/.installed-${PYMOTOR_VERSION}"
  [[ -f "${stamp}" ]] && return 0
  log "pymotor: installing mindie-motor==${PYMOTOR_VERSION} into ${venv}"
  mkdir -p "$(dirname "${venv}")"
  [[ -x "${venv}/bin/python" ]] || "$(pick_python)" -m venv "${venv}"
  "${venv}/bin/pip" install --quiet --disable-pip-version-check "mindie-motor==${PYMOTOR_VERSION}"
  "${venv}/bin/python" -c 'import motor.config.controller, motor.config.coordinator, motor.config.node_manager' \
    || die "mindie-motor ${PYMOTOR_VERSION} installed but 'motor' does not import"
  touch "${stamp}"
}

main() {
  case "${1:-install}" in
    install) install ;;
    python) install; echo "$(pymotor_venv)/bin/python" ;;
    *) die "usage: hack/pymotor.sh [install|python]" ;;
  esac
}

main "$@"
