#!/usr/bin/env bash
# Write a private kubeconfig that authenticates as a ServiceAccount, with a
# token from the TokenRequest API. Processes that stand in for in-cluster
# components on the local cluster (real Volcano, the Ascend Operator emulator)
# run with it, so they have exactly the RBAC our charts grant that component
# and a missing rule fails here as it would on a real cluster.
#
#   hack/sa-kubeconfig.sh --kubeconfig ADMIN --namespace NS --serviceaccount SA --out FILE \
#       [--duration 48h] [--wait 0]
#
# --wait SECONDS: wait up to that long for the ServiceAccount to exist (it is
# created by `helm install`); 0 fails at once when it is missing.
# The file is written with mode 0600 (atomically: temp file + rename) and holds
# the cluster's server and CA from the admin kubeconfig plus the SA token.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  die "usage: hack/sa-kubeconfig.sh --kubeconfig ADMIN --namespace NS --serviceaccount SA --out FILE [--duration 48h] [--wait SECONDS]"
}

main() {
  local admin="" ns="" sa="" out="" duration=48h wait=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --kubeconfig) admin="$2"; shift ;;
      --namespace) ns="$2"; shift ;;
      --serviceaccount) sa="$2"; shift ;;
      --out) out="$2"; shift ;;
      --duration) duration="$2"; shift ;;
      --wait) wait="$2"; shift ;;
      *) usage ;;
    esac
    shift
  done
  [[ -n "${admin}" && -n "${ns}" && -n "${sa}" && -n "${out}" ]] || usage
  export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
  local k=(kubectl --kubeconfig "${admin}")

  # One waiting kubectl rather than a `get` a second: the addons wait in every cluster for as
  # long as it lives (often for a chart that is never installed), two to three per cluster.
  if ! "${k[@]}" get serviceaccount "${sa}" -n "${ns}" >/dev/null 2>&1 &&
     ! "${k[@]}" wait --for=create "serviceaccount/${sa}" -n "${ns}" --timeout="${wait}s" >/dev/null 2>&1; then
    die "ServiceAccount ${ns}/${sa} does not exist (is the chart installed?)"
  fi

  local server ca token
  server="$("${k[@]}" config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
  ca="$("${k[@]}" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
  if [[ -z "${ca}" ]]; then
    local ca_file
    ca_file="$("${k[@]}" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')"
    [[ -n "${ca_file}" ]] || die "the admin kubeconfig ${admin} names no CA for its cluster"
    [[ "${ca_file}" = /* ]] || ca_file="$(dirname "${admin}")/${ca_file}"
    ca="$(base64 -w0 < "${ca_file}")"
  fi
  token="$("${k[@]}" create token "${sa}" -n "${ns}" --duration "${duration}")"

  mkdir -p "$(dirname "${out}")"
  local tmp; tmp="$(mktemp "${out}.XXXXXX")"
  chmod 600 "${tmp}"
  cat > "${tmp}" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: ${ns}-${sa}
  user:
    token: ${token}
contexts:
- name: ${ns}-${sa}
  context:
    cluster: local
    user: ${ns}-${sa}
    namespace: ${ns}
current-context: ${ns}-${sa}
YAML
  mv -f "${tmp}" "${out}"
  printf '%s\n' "${out}"
}

main "$@"
