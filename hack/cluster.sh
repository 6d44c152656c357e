#!/usr/bin/env bash
# Local control plane with simulated Ascend servers (KWOK binary runtime:
# real etcd, kube-apiserver, kube-controller-manager, kube-scheduler; only
# kubelets are simulated) plus the real Volcano scheduler and controllers
# (hack/volcano.sh, an addon that starts them once the ascend-volcano chart is
# installed, with the chart's ServiceAccounts).
#
#   hack/cluster.sh up [--bare] [--layout default|single|all-models | --nodes N] [--merge-kubeconfig] [--no-volcano]
#                      [--long-running-jobs] [--operator emulated|real|none] [--clusterd real|none]
#   hack/cluster.sh down          # stops every process, removes every file (also after a crash)
#   hack/cluster.sh kubeconfig    # prints the kubeconfig path
#
# --no-volcano: do not start the Volcano addon (pods with schedulerName
# volcano then stay Pending, as on a cluster without Volcano).
# --long-running-jobs: KWOK's default pod-complete stage finishes every pod
# owned by an object of kind "Job" as soon as it runs (kwok v0.8.0
# kustomize/stage/pod/fast/pod-complete.yaml) - a Volcano Job's too, whose
# restartPolicy Always pods a real kubelet never completes. With the flag a
# new cluster's stage skips pods with restartPolicy Always (a batch/v1 Job's
# pods are Never/OnFailure and still complete): the saved kwok config is
# edited and the cluster restarted once (kwokctl stop/start, ~3 s).
# --operator: what fills the ranktables. emulated (default, what CI uses):
# hack/ascend_operator_emulator.py; real: Huawei's Ascend Operator built from
# the mind-cluster tree named by MIND_CLUSTER_SRC (hack/mind-cluster.sh); none:
# nothing. --clusterd real: also run Huawei's ClusterD (same source) as a host
# process; it serves gRPC on a loopback address written to
# addons/clusterd.addr in the cluster dir (default none: the chart's ClusterD
# pod is a KWOK pod that runs nothing). Both run as their chart's
# ServiceAccount once the chart is installed. With MIND_CLUSTER_SRC set the
# binaries are built (or found cached) first, else the cached ones are used.
# The device-plugin stand-in (the
# pod device annotation) runs in every mode.
# --merge-kubeconfig (what `make cluster-up` passes) also adds the context
# kwok-<name> to your kubeconfig and switches to it, as kind does; `down`
# removes it again. Without it your kubeconfig is never touched.
# Env: ASCEND_CLUSTER (name, default "ascend"), KUBECTL_ASCEND_CACHE (tool/cluster cache).
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

CLUSTER="${ASCEND_CLUSTER:-ascend}"
export KWOK_WORKDIR="${ASCEND_CACHE}/kwok"
CLUSTER_DIR="${KWOK_WORKDIR}/clusters/${CLUSTER}"
KUBECONFIG_OUT="${KWOK_WORKDIR}/${CLUSTER}.kubeconfig"
export PATH="${ASCEND_TOOLS_BIN}:${PATH}"

kctl() { kubectl --kubeconfig "${KUBECONFIG_OUT}" "$@"; }

write_config() {
  cat > "${KWOK_WORKDIR}/${CLUSTER}-kwokctl.yaml" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeAuthorization: true
componentsPatches:
  - name: kube-apiserver
    extraArgs:
      - key: enable-bootstrap-token-auth
        value: "true"
  - name: kube-controller-manager
    extraArgs:
      - key: controllers
        value: "*,bootstrapsigner,tokencleaner"
YAML
}

# kubeadm init leaves cluster-info (server + CA) in kube-public and bootstrap RBAC.
emulate_kubeadm() {
  local server ca
  server="$(kctl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
  ca="$(base64 -w0 < "${CLUSTER_DIR}/pki/ca.crt")"
  kctl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: kube-public
data:
  kubeconfig: |
    apiVersion: v1
    kind: Config
    clusters:
    - name: ""
      cluster:
        server: ${server}
        certificate-authority-data: ${ca}
    contexts: []
    users: []
    preferences: {}
YAML
  kctl apply -f "${ASCEND_REPO_ROOT}/hack/kubeadm-bootstrap.yaml" >/dev/null
}

user_kubeconfig() {
  local first="${KUBECONFIG:-${HOME}/.kube/config}"
  printf '%s\n' "${first%%:*}"
}

merge_kubeconfig() {
  local user; user="$(user_kubeconfig)"
  mkdir -p "$(dirname "${user}")"
  [[ -f "${user}" ]] || printf 'apiVersion: v1\nkind: Config\n' > "${user}"
  local merged; merged="$(mktemp)"
  KUBECONFIG="${KUBECONFIG_OUT}:${user}" kubectl config view --flatten > "${merged}"
  cat "${merged}" > "${user}"
  rm -f "${merged}"
  kubectl --kubeconfig "${user}" config use-context "kwok-${CLUSTER}" >/dev/null
  log "context kwok-${CLUSTER} added to ${user} and made current"
}

unmerge_kubeconfig() {
  local user; user="$(user_kubeconfig)"
  [[ -f "${user}" ]] || return 0
  kubectl --kubeconfig "${user}" config get-contexts "kwok-${CLUSTER}" >/dev/null 2>&1 || return 0
  if [[ "$(kubectl --kubeconfig "${user}" config current-context 2>/dev/null)" == "kwok-${CLUSTER}" ]]; then
    kubectl --kubeconfig "${user}" config unset current-context >/dev/null
  fi
  kubectl --kubeconfig "${user}" config delete-context "kwok-${CLUSTER}" >/dev/null 2>&1 || true
  kubectl --kubeconfig "${user}" config delete-cluster "kwok-${CLUSTER}" >/dev/null 2>&1 || true
  kubectl --kubeconfig "${user}" config delete-user "kwok-${CLUSTER}" >/dev/null 2>&1 || true
  log "context kwok-${CLUSTER} removed from ${user}"
  # a kubeconfig left with nothing in it (we created it for the cluster) goes too
  if [[ -z "$(kubectl --kubeconfig "${user}" config get-contexts -o name 2>/dev/null)" && \
        -z "$(kubectl --kubeconfig "${user}" config view -o jsonpath='{.clusters[*].name}{.users[*].name}' 2>/dev/null)" ]]; then
    rm -f "${user}"
  fi
}

# Addons: host processes that stand in for in-cluster components (real Volcano,
# the Ascend Operator emulator). Each runs in its own session (process group),
# logs to ${CLUSTER_DIR}/logs/addon-NAME.log and records its pid in
# ${ADDON_DIR}/NAME.pid; `down` stops every group by pid. Addons start with the
# cluster and wait for their chart's ServiceAccount themselves, so they come to
# life when `kubectl ascend install` (or `helm install`) creates it.
ADDON_DIR="${CLUSTER_DIR}/addons"

addon_running() { # addon_running NAME
  local pidfile="${ADDON_DIR}/$1.pid"
  [[ -f "${pidfile}" ]] && kill -0 "$(cat "${pidfile}")" 2>/dev/null
}

start_addon() { # start_addon NAME CMD...  (idempotent: a running addon is left alone)
  local name="$1"; shift
  if addon_running "${name}"; then
    log "addon ${name} already running (pid $(cat "${ADDON_DIR}/${name}.pid"))"
    return 0
  fi
  mkdir -p "${ADDON_DIR}" "${CLUSTER_DIR}/logs"
  setsid "$@" >>"${CLUSTER_DIR}/logs/addon-${name}.log" 2>&1 < /dev/null &
  printf '%s\n' "$!" > "${ADDON_DIR}/${name}.pid"
  log "addon ${name} started (pid $!, log ${CLUSTER_DIR}/logs/addon-${name}.log)"
}

stop_addons() { # TERM each addon's process group, then KILL what is left
  [[ -d "${ADDON_DIR}" ]] || return 0
  local f pid
  for f in "${ADDON_DIR}"/*.pid; do
    [[ -f "${f}" ]] || continue
    pid="$(cat "${f}")"
    kill -TERM -- "-${pid}" 2>/dev/null || true
  done
  for _ in $(seq 50); do
    local alive=false
    for f in "${ADDON_DIR}"/*.pid; do
      [[ -f "${f}" ]] && kill -0 -- "-$(cat "${f}")" 2>/dev/null && alive=true
    done
    [[ "${alive}" == true ]] || break
    sleep 0.1
  done
  for f in "${ADDON_DIR}"/*.pid; do
    [[ -f "${f}" ]] || continue
    kill -KILL -- "-$(cat "${f}")" 2>/dev/null || true
    rm -f "${f}"
  done
}

healthy() {
  [[ -f "${KUBECONFIG_OUT}" ]] && kctl get --raw /readyz >/dev/null 2>&1
}

# Poll /readyz until the API server answers ready (kubectl wait fails at once on a refused connection).
wait_ready() {
  local deadline=$((SECONDS + ${1:-120}))
  until healthy; do
    (( SECONDS < deadline )) || die "the API server of cluster ${CLUSTER} did not become ready; logs: ${CLUSTER_DIR}/logs"
    sleep 0.5
  done
}

# --long-running-jobs: restrict KWOK's pod-complete stage to pods whose restartPolicy is not Always.
keep_always_pods_running() {
  local conf="${CLUSTER_DIR}/kwok.yaml"
  "$(python_bin)" - "${conf}" <<'PY' || die "cannot restrict KWOK's pod-complete stage in ${conf}"
import sys
path = sys.argv[1]
text = open(path).read()
head, sep, rest = text.partition("  name: pod-complete\n")
job = "    - jq:\n        key: .metadata.ownerReferences.[].kind\n        operator: In\n        values:\n        - Job\n"
if not sep or job not in rest.split("\n---", 1)[0]:
    sys.exit(f"{path}: no pod-complete stage selecting owner kind Job (another KWOK version?)")
always = "    - jq:\n        key: .spec.restartPolicy\n        operator: NotIn\n        values:\n        - Always\n"
open(path, "w").write(head + sep + rest.replace(job, job + always, 1))
PY
  log "KWOK pod-complete stage: pods with restartPolicy Always keep running; restarting cluster ${CLUSTER}"
  kwokctl stop cluster --name "${CLUSTER}" >&2
  kwokctl start cluster --name "${CLUSTER}" >&2
}

cluster_up() {
  local bare=false layout=default nodes="" merge=false volcano=true long_jobs=false operator=emulated clusterd=none
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --bare) bare=true ;;
      --layout) layout="$2"; shift ;;
      --nodes) nodes="$2"; shift ;;
      --merge-kubeconfig) merge=true ;;
      --no-volcano) volcano=false ;;
      --long-running-jobs) long_jobs=true ;;
      --operator) operator="${2:-}"; shift ;;
      --clusterd) clusterd="${2:-}"; shift ;;
      *) die "unknown option '$1' (see hack/cluster.sh header)" ;;
    esac
    shift
  done
  case "${operator}" in emulated|real|none) ;; *) die "--operator must be emulated, real or none, not '${operator}'" ;; esac
  case "${clusterd}" in real|none) ;; *) die "--clusterd must be real or none, not '${clusterd}'" ;; esac
  local py; py="$(python_bin)"
  "${py}" -I -c 'import kubectl_ascend' 2>/dev/null \
    || die "the kubectl_ascend package is not installed for ${py}: run 'make dev' in ${ASCEND_REPO_ROOT} first"
  # real controllers: built from MIND_CLUSTER_SRC when set (instant when cached), else what the cache holds
  local mc="${ASCEND_REPO_ROOT}/hack/mind-cluster.sh"
  if [[ "${operator}" == real || "${clusterd}" == real ]] && [[ -n "${MIND_CLUSTER_SRC:-}" ]]; then "${mc}" build; fi
  if [[ "${operator}" == real ]]; then "${mc}" path operator >/dev/null; fi
  if [[ "${clusterd}" == real ]]; then "${mc}" path clusterd >/dev/null; "${mc}" path subscriber >/dev/null; fi
  local start=${SECONDS}
  local tools=(helm kwok etcd kube)
  [[ "${volcano}" == true ]] && tools+=(volcano)
  "${ASCEND_REPO_ROOT}/hack/tools.sh" "${tools[@]}"
  mkdir -p "${KWOK_WORKDIR}"
  if healthy; then
    log "cluster ${CLUSTER} is already running; reconciling bootstrap objects and nodes"
  else
    [[ -d "${CLUSTER_DIR}" ]] && { log "removing a stale cluster ${CLUSTER}"; cluster_down; mkdir -p "${KWOK_WORKDIR}"; }
    write_config
    log "starting cluster ${CLUSTER} (kwokctl, binary runtime)"
    rm -f "${KUBECONFIG_OUT}"
    kwokctl create cluster --name "${CLUSTER}" --runtime binary \
      --config "${KWOK_WORKDIR}/${CLUSTER}-kwokctl.yaml" \
      --kubeconfig "${KUBECONFIG_OUT}" \
      --kube-apiserver-binary "${ASCEND_TOOLS_BIN}/kube-apiserver" \
      --kube-controller-manager-binary "${ASCEND_TOOLS_BIN}/kube-controller-manager" \
      --kube-scheduler-binary "${ASCEND_TOOLS_BIN}/kube-scheduler" \
      --kwok-controller-binary "${ASCEND_TOOLS_BIN}/kwok" \
      --etcd-binary "${ASCEND_TOOLS_BIN}/etcd" \
      --timeout 5m --wait 5m >&2
    if [[ "${long_jobs}" == true ]]; then keep_always_pods_running; fi
  fi
  wait_ready 120
  kctl wait --for=create serviceaccount/default -n default --timeout=300s >/dev/null
  if [[ "${bare}" == true ]]; then
    log "bare cluster: no cluster-info, no kubeadm bootstrap RBAC"
  else
    emulate_kubeadm
  fi
  if [[ -n "${nodes}" ]]; then
    "${py}" "${ASCEND_REPO_ROOT}/hack/nodes.py" --kubeconfig "${KUBECONFIG_OUT}" --nodes "${nodes}"
  else
    "${py}" "${ASCEND_REPO_ROOT}/hack/nodes.py" --kubeconfig "${KUBECONFIG_OUT}" --layout "${layout}"
  fi
  kctl wait --for=condition=Ready nodes --all --timeout=600s >/dev/null
  # Stand-ins for the Ascend Operator (ranktables) and the device plugin (pod device
  # annotation); each waits for its chart's ServiceAccount and runs with that chart's RBAC.
  case "${operator}" in
    emulated)
      start_addon ascend-operator-emulator "${ASCEND_REPO_ROOT}/hack/ascend-operator-emulator.sh" \
        --step operator --kubeconfig "${KUBECONFIG_OUT}" --workdir "${ADDON_DIR}" ;;
    real)
      start_addon ascend-operator-real "${ASCEND_REPO_ROOT}/hack/mind-cluster.sh" run operator \
        --kubeconfig "${KUBECONFIG_OUT}" --workdir "${ADDON_DIR}" ;;
  esac
  if [[ "${clusterd}" == real ]]; then
    # a loopback address of its own per cluster, so clusters side by side each get :8899
    local sum; sum="$(printf '%s' "${CLUSTER}" | cksum | cut -d' ' -f1)"
    local ip="127.$(( sum % 200 + 20 )).$(( sum / 200 % 250 + 1 )).1"
    mkdir -p "${ADDON_DIR}"
    printf '%s:8899\n' "${ip}" > "${ADDON_DIR}/clusterd.addr"
    start_addon clusterd-real "${ASCEND_REPO_ROOT}/hack/mind-cluster.sh" run clusterd \
      --kubeconfig "${KUBECONFIG_OUT}" --workdir "${ADDON_DIR}" --ip "${ip}"
  fi
  start_addon device-plugin-emulator "${ASCEND_REPO_ROOT}/hack/ascend-operator-emulator.sh" \
    --step device-plugin --kubeconfig "${KUBECONFIG_OUT}" --workdir "${ADDON_DIR}"
  # Plays the kubelet for `kubectl ascend preflight` pods (runs their agent against emulated npu-smi/hccn_tool).
  start_addon preflight-kubelet "${py}" "${ASCEND_REPO_ROOT}/hack/preflight_kubelet.py" \
    --kubeconfig "${KUBECONFIG_OUT}" --workdir "${ADDON_DIR}/preflight"
  if [[ "${volcano}" == true ]]; then
    start_addon volcano "${ASCEND_REPO_ROOT}/hack/volcano.sh" run --kubeconfig "${KUBECONFIG_OUT}" \
      --dir "${CLUSTER_DIR}/volcano"
  fi
  [[ "${merge}" == true ]] && merge_kubeconfig
  log "cluster ${CLUSTER} ready in $((SECONDS - start))s; use: export KUBECONFIG=${KUBECONFIG_OUT}"
  printf '%s\n' "${KUBECONFIG_OUT}"
}

cluster_down() {
  stop_addons
  if command -v kwokctl >/dev/null 2>&1 && [[ -d "${CLUSTER_DIR}" ]]; then
    kwokctl delete cluster --name "${CLUSTER}" --kubeconfig "${KUBECONFIG_OUT}" >&2 || log "kwokctl delete failed; cleaning up by hand"
  fi
  # Whatever survived (a crashed run): processes started from the cluster dir.
  local pids
  pids="$(pgrep -f "${CLUSTER_DIR}/" || true)"
  if [[ -n "${pids}" ]]; then
    log "stopping leftover processes: ${pids//$'\n'/ }"
    kill ${pids} 2>/dev/null || true
    for _ in $(seq 50); do pgrep -f "${CLUSTER_DIR}/" >/dev/null || break; sleep 0.1; done
    pids="$(pgrep -f "${CLUSTER_DIR}/" || true)"
    [[ -z "${pids}" ]] || kill -9 ${pids} 2>/dev/null || true
  fi
  rm -rf "${CLUSTER_DIR}" "${KUBECONFIG_OUT}" "${KWOK_WORKDIR}/${CLUSTER}-kwokctl.yaml"
  if command -v kubectl >/dev/null 2>&1; then unmerge_kubeconfig; fi
  log "cluster ${CLUSTER} is down"
}

main() {
  case "${1:-}" in
    up) shift; cluster_up "$@" ;;
    down) cluster_down ;;
    kubeconfig) printf '%s\n' "${KUBECONFIG_OUT}" ;;
    *) die "usage: hack/cluster.sh up [--bare] [--layout NAME | --nodes N] [--no-volcano] [--operator emulated|real|none] [--clusterd real|none] | down | kubeconfig" ;;
  esac
}

main "$@"
