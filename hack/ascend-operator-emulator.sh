#!/usr/bin/env bash
# Run hack/ascend_operator_emulator.py as the ascend-operator chart's
# ServiceAccount, for as long as the cluster lives (a hack/cluster.sh addon).
#
#   hack/ascend-operator-emulator.sh --kubeconfig ADMIN --workdir DIR \
#       [--namespace mindx-dl] [--serviceaccount ascend-operator-manager]
#
# Waits for the ServiceAccount (created when the stack or the ascend-operator
# chart is installed), gets a token for it through the TokenRequest API
# (hack/sa-kubeconfig.sh) and runs the emulator with it; the device-plugin
# step runs with ADMIN (no device plugin runs on the simulated cluster). When
# the emulator exits - a missing RBAC rule (exit 3, like the real operator's
# crash loop), a token that no longer works (the chart was reinstalled) - it
# starts again after a pause with a fresh token.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  die "usage: hack/ascend-operator-emulator.sh --kubeconfig ADMIN --workdir DIR [--namespace NS] [--serviceaccount SA]"
}

main() {
  local admin="" workdir="" ns=mindx-dl sa=ascend-operator-manager
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --kubeconfig) admin="$2"; shift ;;
      --workdir) workdir="$2"; shift ;;
      --namespace) ns="$2"; shift ;;
      --serviceaccount) sa="$2"; shift ;;
      *) usage ;;
    esac
    shift
  done
  [[ -n "${admin}" && -n "${workdir}" ]] || usage
  mkdir -p "${workdir}"
  local creds="${workdir}/ascend-operator-sa.kubeconfig" py rc
  py="$(python_bin)"
  while true; do
    # A year: the addon lives as long as the cluster, and the chart may be installed at any time.
    "${ASCEND_REPO_ROOT}/hack/sa-kubeconfig.sh" --kubeconfig "${admin}" --namespace "${ns}" \
      --serviceaccount "${sa}" --out "${creds}" --duration 48h --wait 31536000 >/dev/null \
      || { log "no token for ${ns}/${sa} yet; retrying in 5s"; sleep 5; continue; }
    log "running the Ascend Operator emulator as ${ns}/${sa}"
    rc=0
    "${py}" "${ASCEND_REPO_ROOT}/hack/ascend_operator_emulator.py" --kubeconfig "${creds}" \
      --device-plugin-kubeconfig "${admin}" || rc=$?
    log "the emulator exited with code ${rc}; restarting in 5s"
    sleep 5
  done
}

main "$@"
