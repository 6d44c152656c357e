#!/usr/bin/env bash
# Run one step of hack/ascend_operator_emulator.py as its chart's
# ServiceAccount, for as long as the cluster lives (a hack/cluster.sh addon).
#
#   hack/ascend-operator-emulator.sh --kubeconfig ADMIN --workdir DIR \
#       [--step operator|device-plugin] [--namespace NS] [--serviceaccount SA]
#
#   --step operator       the Ascend Operator's ranktables, as
#                         mindx-dl/ascend-operator-manager (ascend-operator chart)
#   --step device-plugin  the device plugin's pod annotation, as
#                         kube-system/ascend-device-plugin (ascend-device-plugin chart)
#
# Waits for the ServiceAccount (created when the stack or the component chart
# is installed), gets a token for it through the TokenRequest API
# (hack/sa-kubeconfig.sh) and runs the emulator step with it: ADMIN is used
# only to request that token. When the emulator exits - a missing RBAC rule
# (exit 3, like the real operator's crash loop), a token that no longer works
# (the chart was reinstalled) - it starts again after a pause with a fresh token.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  die "usage: hack/ascend-operator-emulator.sh --kubeconfig ADMIN --workdir DIR [--step operator|device-plugin] [--namespace NS] [--serviceaccount SA]"
}

main() {
  local admin="" workdir="" step=operator ns="" sa=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --kubeconfig) admin="$2"; shift ;;
      --workdir) workdir="$2"; shift ;;
      --step) step="$2"; shift ;;
      --namespace) ns="$2"; shift ;;
      --serviceaccount) sa="$2"; shift ;;
      *) usage ;;
    esac
    shift
  done
  [[ -n "${admin}" && -n "${workdir}" ]] || usage
  case "${step}" in
    operator) ns="${ns:-mindx-dl}" sa="${sa:-ascend-operator-manager}" ;;
    device-plugin) ns="${ns:-kube-system}" sa="${sa:-ascend-device-plugin}" ;;
    *) usage ;;
  esac
  mkdir -p "${workdir}"
  local creds="${workdir}/${step}-sa.kubeconfig" py rc
  py="$(python_bin)"
  while true; do
    # A year: the addon lives as long as the cluster, and the chart may be installed at any time.
    "${ASCEND_REPO_ROOT}/hack/sa-kubeconfig.sh" --kubeconfig "${admin}" --namespace "${ns}" \
      --serviceaccount "${sa}" --out "${creds}" --duration 48h --wait 31536000 >/dev/null \
      || { log "no token for ${ns}/${sa} yet; retrying in 5s"; sleep 5; continue; }
    log "running the ${step} emulator as ${ns}/${sa}"
    rc=0
    "${py}" "${ASCEND_REPO_ROOT}/hack/ascend_operator_emulator.py" --step "${step}" --kubeconfig "${creds}" || rc=$?
    log "the ${step} emulator exited with code ${rc}; restarting in 5s"
    sleep 5
  done
}

main "$@"
