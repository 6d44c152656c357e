#!/usr/bin/env bash
# Build Huawei's real Ascend Operator and ClusterD (MindCluster) from a
# mind-cluster source tree into the tool cache, for `hack/cluster.sh up
# --operator real --clusterd real` and `make conformance`. Their source is
# never copied into this repository: it is read from MIND_CLUSTER_SRC.
#
#   MIND_CLUSTER_SRC=DIR hack/mind-cluster.sh build      build (or find cached) all binaries
#   hack/mind-cluster.sh path operator|clusterd|subscriber   print a built binary's path
#   hack/mind-cluster.sh run operator|clusterd --kubeconfig ADMIN --workdir DIR [--ip IP]
#       run a built controller as a host process for as long as the cluster
#       lives (a hack/cluster.sh addon), as its chart's ServiceAccount
#
# MIND_CLUSTER_SRC names either a git repository holding the tags pinned in
# hack/versions.env (a clone or a bare mirror: each tag's components are
# extracted with `git archive` into the cache, and a rerun at the same tag and
# commit is instant), or a plain source tree (no .git) already at those tags,
# built in place every time (Go's build cache keeps reruns quick).
#
# Besides the two controllers it builds hack/clusterd-subscriber (our stand-in
# for the MindIE controller's ClusterD client) against ClusterD's generated
# gRPC package, inside the extracted ClusterD module in the cache.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

MC_CACHE="${ASCEND_CACHE}/mind-cluster"

usage() {
  die "usage: MIND_CLUSTER_SRC=DIR hack/mind-cluster.sh build | hack/mind-cluster.sh path operator|clusterd|subscriber"
}

# source_tree TAG COMPONENT... -> a directory holding component/<COMPONENT> at TAG.
source_tree() {
  local tag="$1"; shift
  local src="${MIND_CLUSTER_SRC:-}"
  [[ -n "${src}" ]] || die "MIND_CLUSTER_SRC is not set: point it at a mind-cluster checkout or git mirror (https://gitcode.com/Ascend/mind-cluster)"
  [[ -d "${src}" ]] || die "MIND_CLUSTER_SRC=${src} is not a directory"
  if git -C "${src}" rev-parse --git-dir >/dev/null 2>&1; then
    local commit
    commit="$(git -C "${src}" rev-parse --verify --quiet "${tag}^{commit}")" \
      || die "MIND_CLUSTER_SRC=${src} has no tag ${tag} (git -C ${src} fetch --tags)"
    local out="${MC_CACHE}/src-${tag}"
    if [[ ! -f "${out}/.complete" || "$(cat "${out}/.complete")" != "${commit}" ]]; then
      log "extracting ${*} at ${tag} (${commit:0:12}) into ${out}"
      rm -rf "${out}"; mkdir -p "${out}"
      local paths=() c; for c in "$@"; do paths+=("component/${c}"); done
      git -C "${src}" archive --format=tar "${commit}" -- "${paths[@]}" | tar -x -C "${out}"
      printf '%s\n' "${commit}" > "${out}/.complete"
    fi
    printf '%s\n' "${out}"
  else
    local c; for c in "$@"; do
      [[ -d "${src}/component/${c}" ]] || die "MIND_CLUSTER_SRC=${src} has no component/${c}"
    done
    printf '%s\n' "${src}"
  fi
}

# stamp TREE: what a cached binary was built from (the extracted commit, or
# "local" for a plain tree, which is always rebuilt).
stamp_of() { if [[ -f "$1/.complete" ]]; then cat "$1/.complete"; else echo local; fi; }

# go_build MODULE_DIR OUT PKG: upstream's build flags without their PIE/external
# linker options (CGO_ENABLED=0 as upstream's build.sh sets it).
go_build() {
  (cd "$1" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -X main.BuildVersion=$4" -o "$2" "$3")
}

build_operator() {
  local tree out bin
  tree="$(source_tree "${MIND_CLUSTER_OPERATOR_TAG}" ascend-operator ascend-common)"
  out="${MC_CACHE}/ascend-operator-${MIND_CLUSTER_OPERATOR_TAG}"
  bin="${out}/ascend-operator"
  if [[ -x "${bin}" && -f "${out}/.complete" && "$(cat "${out}/.complete")" == "$(stamp_of "${tree}")" && "$(stamp_of "${tree}")" != local ]]; then
    log "ascend-operator ${MIND_CLUSTER_OPERATOR_TAG}: cached in ${out}"; return
  fi
  require_go
  log "ascend-operator ${MIND_CLUSTER_OPERATOR_TAG}: building from ${tree}"
  local start=${SECONDS}
  mkdir -p "${out}"; rm -f "${out}/.complete"
  go_build "${tree}/component/ascend-operator" "${bin}" . "${MIND_CLUSTER_OPERATOR_TAG}"
  stamp_of "${tree}" > "${out}/.complete"
  log "ascend-operator ${MIND_CLUSTER_OPERATOR_TAG}: built in $((SECONDS - start))s"
}

build_clusterd() {
  local tree out
  tree="$(source_tree "${MIND_CLUSTER_CLUSTERD_TAG}" clusterd ascend-common ascend-faultdiag-online)"
  out="${MC_CACHE}/clusterd-${MIND_CLUSTER_CLUSTERD_TAG}"
  local sub_sum; sub_sum="$(sha256sum "${ASCEND_REPO_ROOT}/hack/clusterd-subscriber/main.go" | cut -c1-16)"
  local want; want="$(stamp_of "${tree}") ${sub_sum}"
  if [[ -x "${out}/clusterd" && -x "${out}/clusterd-subscriber" && -f "${out}/.complete" \
        && "$(cat "${out}/.complete")" == "${want}" && "$(stamp_of "${tree}")" != local ]]; then
    log "clusterd ${MIND_CLUSTER_CLUSTERD_TAG}: cached in ${out}"; return
  fi
  require_go
  log "clusterd ${MIND_CLUSTER_CLUSTERD_TAG}: building from ${tree}"
  local start=${SECONDS}
  mkdir -p "${out}"; rm -f "${out}/.complete"
  go_build "${tree}/component/clusterd" "${out}/clusterd" . "${MIND_CLUSTER_CLUSTERD_TAG}"
  # The subscriber imports clusterd/pkg/interface/grpc/config, so it is built as
  # a throwaway module that requires ClusterD's module by a replace directive;
  # it lives in the cache, never in the source tree or this repository.
  local mod="${out}/subscriber-module"
  rm -rf "${mod}"; mkdir -p "${mod}"
  cp "${ASCEND_REPO_ROOT}/hack/clusterd-subscriber/main.go" "${mod}/main.go"
  local cd_dir="${tree}/component/clusterd"
  local go_line; go_line="$(grep -m1 '^go ' "${cd_dir}/go.mod")"
  {
    printf 'module clusterd-subscriber\n\n%s\n\nrequire clusterd v0.0.0\n\n' "${go_line}"
    printf 'replace clusterd => %s\n' "${cd_dir}"
    # ClusterD's own replaces (relative paths made absolute) so its dependency graph resolves the same.
    sed -n '/^replace (/,/^)/p' "${cd_dir}/go.mod" | sed "s#=> \.\./#=> ${tree}/component/#"
  } > "${mod}/go.mod"
  cp "${cd_dir}/go.sum" "${mod}/go.sum"
  (cd "${mod}" && CGO_ENABLED=0 GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true)
  (cd "${mod}" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "${out}/clusterd-subscriber" .)
  printf '%s\n' "${want}" > "${out}/.complete"
  log "clusterd ${MIND_CLUSTER_CLUSTERD_TAG}: built in $((SECONDS - start))s"
}

# run_operator / run_clusterd run in a background subshell and end in exec, so that
# subshell's pid is the controller's own.
# run_controller operator|clusterd ADMIN WORKDIR IP: wait for the chart's ServiceAccount,
# get a token for it (hack/sa-kubeconfig.sh; ADMIN is used only for that) and run the
# binary with it; when it exits (a missing RBAC rule, a token that no longer works
# after a reinstall) start it again after a pause with a fresh token.
run_controller() {
  local what="$1" admin="$2" workdir="$3" ip="$4" ns=mindx-dl sa bin
  case "${what}" in
    operator) sa=ascend-operator-manager ;;
    clusterd) sa=clusterd ;;
    *) usage ;;
  esac
  bin="$("$0" path "${what}")"
  mkdir -p "${workdir}/${what}"
  local creds="${workdir}/${what}/sa.kubeconfig" rc
  while true; do
    "${ASCEND_REPO_ROOT}/hack/sa-kubeconfig.sh" --kubeconfig "${admin}" --namespace "${ns}" \
      --serviceaccount "${sa}" --out "${creds}" --duration 48h --wait 31536000 >/dev/null \
      || { log "no token for ${ns}/${sa} yet; retrying in 5s"; sleep 5; continue; }
    # Neither binary exits when its token stops working (they log Unauthorized forever), so the
    # ServiceAccount is watched: recreated (a chart reinstall) or gone, the binary is stopped
    # and started again with a fresh token.
    local uid child now
    uid="$(kubectl --kubeconfig "${admin}" get serviceaccount "${sa}" -n "${ns}" -o jsonpath='{.metadata.uid}')"
    log "running the real ${what} (${bin}) as ${ns}/${sa}"
    if [[ "${what}" == operator ]]; then
      run_operator "${bin}" "${creds}" "${workdir}/${what}" &
    else
      run_clusterd "${bin}" "${creds}" "${workdir}/${what}" "${ns}" "${ip}" &
    fi
    child=$!
    while kill -0 "${child}" 2>/dev/null; do
      sleep 3
      now="$(kubectl --kubeconfig "${admin}" get serviceaccount "${sa}" -n "${ns}" --ignore-not-found \
        -o jsonpath='{.metadata.uid}' 2>/dev/null)" || continue
      if [[ "${now}" != "${uid}" ]]; then
        log "ServiceAccount ${ns}/${sa} was deleted or recreated: stopping the real ${what} (its token is void)"
        kill -TERM "${child}" 2>/dev/null || true
        break
      fi
    done
    rc=0
    wait "${child}" || rc=$?
    log "the real ${what} exited with code ${rc}; restarting in 5s"
    sleep 5
  done
}

# The operator: controller-runtime's GetConfigOrDie reads KUBECONFIG; nothing listens
# (metrics "0", no probes). For jobs with a ranktable volume it also creates
# /user/mindx-dl/ranktable/<ns>.<job> (pkg/ranktable/utils/util.go GenRankTableDir; upstream
# mounts that hostPath). As root it runs in a private mount namespace with this cluster's
# own directory bound there (the host keeps only the empty mount point); otherwise the
# directory cannot be created and the operator logs that and goes on.
run_operator() {
  local bin="$1" creds="$2" dir="$3"
  if [[ "$(id -u)" != 0 ]]; then
    KUBECONFIG="${creds}" exec "${bin}" -logFile="${dir}/ascend-operator.log"
  fi
  mkdir -p /user/mindx-dl/ranktable "${dir}/ranktable"
  KUBECONFIG="${creds}" exec unshare --mount --propagation private -- /bin/sh -c '
    set -e
    mount --bind "$1/ranktable" /user/mindx-dl/ranktable
    exec "$2" -logFile="$1/ascend-operator.log"' operator "${dir}" "${bin}"
}

# ClusterD reads in-cluster config only (rest.InClusterConfig: the token, ca.crt and
# namespace files under /var/run/secrets/kubernetes.io/serviceaccount and
# KUBERNETES_SERVICE_HOST/PORT) and writes fixed paths under /var/log/mindx-dl and
# /home/hwMindX. It runs in a private mount namespace (unshare -m, root needed) where
# /run (what /var/run points at), /var/log and /home are this cluster's own directories;
# the host's are untouched. It serves gRPC on POD_IP:8899.
run_clusterd() {
  local bin="$1" creds="$2" dir="$3" ns="$4" ip="$5"
  [[ "$(id -u)" == 0 ]] || die "the real ClusterD needs a private mount namespace: run as root (unshare -m)"
  local server host port
  server="$(kubectl --kubeconfig "${creds}" config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
  host="${server#https://}"; port="${host##*:}"; host="${host%:*}"
  local sadir="${dir}/run/secrets/kubernetes.io/serviceaccount"
  mkdir -p "${sadir}" "${dir}/log" "${dir}/home"
  kubectl --kubeconfig "${creds}" config view --raw --minify -o jsonpath='{.users[0].user.token}' > "${sadir}/token"
  kubectl --kubeconfig "${creds}" config view --raw --minify \
    -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "${sadir}/ca.crt"
  printf '%s' "${ns}" > "${sadir}/namespace"
  chmod 600 "${sadir}/token"
  KUBERNETES_SERVICE_HOST="${host}" KUBERNETES_SERVICE_PORT="${port}" POD_IP="${ip}" NODE_NAME=mgmt-0 \
    exec unshare --mount --propagation private -- /bin/sh -c '
      set -e
      mount --bind "$1/run" /var/run
      mount --bind "$1/log" /var/log
      mount --bind "$1/home" /home
      exec "$2" -logFile=/var/log/mindx-dl/clusterd/clusterd.log -logLevel=0' clusterd "${dir}" "${bin}"
}

main() {
  [[ $# -ge 1 ]] || usage
  mkdir -p "${MC_CACHE}"
  case "$1" in
    build)
      local lock; exec {lock}>"${MC_CACHE}/.lock"; flock "${lock}"
      build_operator
      build_clusterd
      ;;
    path)
      [[ $# -eq 2 ]] || usage
      local p
      case "$2" in
        operator) p="${MC_CACHE}/ascend-operator-${MIND_CLUSTER_OPERATOR_TAG}/ascend-operator" ;;
        clusterd) p="${MC_CACHE}/clusterd-${MIND_CLUSTER_CLUSTERD_TAG}/clusterd" ;;
        subscriber) p="${MC_CACHE}/clusterd-${MIND_CLUSTER_CLUSTERD_TAG}/clusterd-subscriber" ;;
        *) usage ;;
      esac
      [[ -x "${p}" ]] || die "${p} is not built: run MIND_CLUSTER_SRC=<mind-cluster checkout> hack/mind-cluster.sh build"
      printf '%s\n' "${p}"
      ;;
    run)
      [[ $# -ge 2 ]] || usage
      local what="$2" admin="" workdir="" ip=127.0.0.1; shift 2
      while [[ $# -gt 0 ]]; do
        case "$1" in
          --kubeconfig) admin="$2"; shift ;;
          --workdir) workdir="$2"; shift ;;
          --ip) ip="$2"; shift ;;
          *) usage ;;
        esac
        shift
      done
      [[ -n "${admin}" && -n "${workdir}" ]] || usage
      export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
      run_controller "${what}" "${admin}" "${workdir}" "${ip}"
      ;;
    *) usage ;;
  esac
}

main "$@"
