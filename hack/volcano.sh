#!/usr/bin/env bash
# Real Volcano v1.7.0 on the local cluster: vc-scheduler and vc-controller-manager
# (built by `hack/tools.sh volcano`) run as host processes next to the other
# control-plane processes. hack/cluster.sh starts this script as the addon
# "volcano" at `up` (own process group, log logs/addon-volcano.log) and `down`
# kills the group by pid, so nothing outlives the cluster.
#
#   hack/volcano.sh run --kubeconfig ADMIN --dir DIR
#   env: VOLCANO_LOG_LEVEL (vc-scheduler -v, default 2),
#        VOLCANO_TOKEN_RENEW (seconds between token renewals, default 86400)
#
# What it does, in a loop (ADMIN is used only for what the kubelet and the
# token controller would do: read the ServiceAccounts and the ConfigMap, mint
# tokens):
#  1. waits for the ascend-volcano chart's ServiceAccounts volcano-system/
#     volcano-scheduler and volcano-system/volcano-controllers and its
#     ConfigMap (created by `kubectl ascend install` or `helm install` of
#     ascend-stack);
#  2. mints a private 0600 kubeconfig for each with hack/sa-kubeconfig.sh
#     (TokenRequest). The processes never see the admin kubeconfig: they have
#     exactly the chart's RBAC, and a missing rule fails here as it would on a
#     real cluster (the error is in their logs, logs/volcano-*.log);
#  3. copies the scheduler conf from the cluster's ConfigMap
#     volcano-system/volcano-scheduler-configmap (key volcano-scheduler.conf),
#     as the kubelet would mount it, minus the Huawei NPU plugin entry (see
#     strip_npu_plugin);
#  4. runs both processes with --leader-elect=false, restarts one that exits
#     (after a back-off, like a crash-looping container), rewrites the conf
#     when the ConfigMap changes (vc-scheduler v1.7.0 watches its conf
#     directory with fsnotify and reloads the file by itself:
#     pkg/scheduler/scheduler.go watchSchedulerConf), renews the tokens daily
#     (they last 48h), and stops both when the chart is uninstalled (its
#     ServiceAccounts are gone), then waits again.
#
# The chart's own volcano-scheduler / volcano-controllers Deployments still
# exist: on this cluster their pods are simulated by KWOK (no container runs),
# so nothing of them executes. The real processes run with leader election off
# and take no lease, so they never contend with those pods. Never pass
# --csi-storage=true: storage v1beta1 CSIStorageCapacity is gone since 1.27.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NS=volcano-system
CM=volcano-scheduler-configmap
CM_KEY=volcano-scheduler.conf
SCHED_SA=volcano-scheduler
CTRL_SA=volcano-controllers
POLL=2         # seconds between looks at the ServiceAccounts / ConfigMap (one kubectl call)
BACKOFF=5      # seconds before a crashed process is restarted
RENEW="${VOLCANO_TOKEN_RENEW:-86400}"  # seconds before the 48h tokens are renewed
SCHED_V="${VOLCANO_LOG_LEVEL:-2}"

ADMIN=""
DIR=""
LOGS=""
SCHED_PID=""
CTRL_PID=""

kadm() { kubectl --kubeconfig "${ADMIN}" "$@"; }

# observe: one cheap API call per poll, printing "<scheduler SA uid> <controllers SA
# uid> <ConfigMap resourceVersion>"; fewer than three words while any is missing.
observe() {
  kadm get "serviceaccount/${SCHED_SA}" "serviceaccount/${CTRL_SA}" "configmap/${CM}" -n "${NS}" \
    --ignore-not-found -o jsonpath='{range .items[*]}{.kind}={.metadata.uid}={.metadata.resourceVersion}{" "}{end}' \
    2>/dev/null | awk '{for (i = 1; i <= NF; i++) { split($i, f, "="); printf "%s ", (f[1] == "ConfigMap" ? f[3] : f[2]) }}' \
    | sed 's/ $//' || true
}

sa_part() { cut -d' ' -f1-2 <<<"$1"; }
cm_part() { cut -s -d' ' -f3 <<<"$1"; }

wait_for_chart() {
  log "waiting for ServiceAccounts ${NS}/${SCHED_SA}, ${NS}/${CTRL_SA} and ConfigMap ${NS}/${CM} (kubectl ascend install creates them)"
  local seen=""
  until [[ "$(wc -w <<<"${seen}")" -eq 3 ]]; do
    sleep "${POLL}"
    seen="$(observe)"
  done
  printf '%s\n' "${seen}"
}

mint_kubeconfigs() {
  local sa
  for sa in "${SCHED_SA}" "${CTRL_SA}"; do
    "${ASCEND_REPO_ROOT}/hack/sa-kubeconfig.sh" --kubeconfig "${ADMIN}" --namespace "${NS}" \
      --serviceaccount "${sa}" --out "${DIR}/${sa}.kubeconfig" --duration 48h --wait 30 >/dev/null
  done
  log "kubeconfigs minted for ${SCHED_SA} and ${CTRL_SA} (TokenRequest, 48h; not cluster-admin)"
}

# strip_npu_plugin: stdin = the chart's volcano-scheduler.conf, stdout = the same
# conf without the Huawei NPU plugin. `volcano-npu_<version>_linux-<arch>` is a
# closed-source .so that ships only inside Huawei's vc-scheduler image; it is
# not part of this open-source build (vc-scheduler would log "Failed to get
# plugin" every session). Every other action, tier, plugin and argument stays.
strip_npu_plugin() {
  "$(python_bin)" -c '
import sys, yaml
conf = yaml.safe_load(sys.stdin.read()) or {}
for tier in conf.get("tiers") or []:
    tier["plugins"] = [p for p in tier.get("plugins") or [] if not str(p.get("name", "")).startswith("volcano-npu_")]
sys.stdout.write(yaml.safe_dump(conf, sort_keys=False))
'
}

# write_conf: fetch the ConfigMap and (re)write DIR/conf/volcano-scheduler.conf
# atomically (rename = an fsnotify Create event, which makes vc-scheduler reload).
# Returns 1 when the ConfigMap is missing; prints "changed" when the file changed.
write_conf() {
  local raw tmp
  raw="$(kadm get configmap "${CM}" -n "${NS}" -o "jsonpath={.data.${CM_KEY//./\\.}}" 2>/dev/null)" || return 1
  [[ -n "${raw}" ]] || return 1
  mkdir -p "${DIR}/conf"
  tmp="$(mktemp "${DIR}/conf.XXXXXX")"
  strip_npu_plugin <<<"${raw}" > "${tmp}"
  if cmp -s "${tmp}" "${DIR}/conf/${CM_KEY}"; then
    rm -f "${tmp}"
  else
    mv -f "${tmp}" "${DIR}/conf/${CM_KEY}"
    echo changed
  fi
}

start_scheduler() {
  "${ASCEND_TOOLS_BIN}/vc-scheduler" --kubeconfig "${DIR}/${SCHED_SA}.kubeconfig" \
    --scheduler-conf "${DIR}/conf/${CM_KEY}" --leader-elect=false --logtostderr -v="${SCHED_V}" \
    >>"${LOGS}/volcano-scheduler.log" 2>&1 &
  SCHED_PID=$!
  log "vc-scheduler started (pid ${SCHED_PID}, log ${LOGS}/volcano-scheduler.log)"
}

start_controllers() {
  "${ASCEND_TOOLS_BIN}/vc-controller-manager" --kubeconfig "${DIR}/${CTRL_SA}.kubeconfig" \
    --leader-elect=false --logtostderr -v=2 \
    >>"${LOGS}/volcano-controllers.log" 2>&1 &
  CTRL_PID=$!
  log "vc-controller-manager started (pid ${CTRL_PID}, log ${LOGS}/volcano-controllers.log)"
}

stop_processes() {
  local p
  for p in "${SCHED_PID}" "${CTRL_PID}"; do
    [[ -n "${p}" ]] && kill "${p}" 2>/dev/null || true
  done
  for p in "${SCHED_PID}" "${CTRL_PID}"; do
    [[ -n "${p}" ]] && wait "${p}" 2>/dev/null || true
  done
  SCHED_PID="" CTRL_PID=""
}

# alive PID: the child is still running.
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# supervise SEEN: keep both processes running for this install of the chart.
supervise() {
  local seen="$1" now sched_dead_at=0 ctrl_dead_at=0 rc minted_at=${SECONDS}
  while true; do
    sleep "${POLL}"
    if (( SECONDS - minted_at > RENEW )); then
      # The tokens live 48h and the kubeconfigs hold them inline (read once at start).
      log "renewing the ServiceAccount tokens: restarting Volcano with fresh kubeconfigs"
      stop_processes
      mint_kubeconfigs
      start_controllers
      start_scheduler
      minted_at=${SECONDS}
    fi
    now="$(observe)"
    if [[ "$(wc -w <<<"${now}")" -ne 3 || "$(sa_part "${now}")" != "$(sa_part "${seen}")" ]]; then
      log "the chart's ServiceAccounts or ConfigMap are gone or were recreated (uninstall/reinstall): stopping Volcano"
      stop_processes
      return 0
    fi
    if [[ "$(cm_part "${now}")" != "$(cm_part "${seen}")" ]] && [[ "$(write_conf || true)" == changed ]]; then
      log "ConfigMap ${NS}/${CM} changed: conf rewritten, vc-scheduler reloads it"
    fi
    seen="${now}"
    if [[ -n "${SCHED_PID}" ]] && ! alive "${SCHED_PID}"; then
      rc=0; wait "${SCHED_PID}" || rc=$?
      log "vc-scheduler exited (status ${rc}); see ${LOGS}/volcano-scheduler.log; restarting in ${BACKOFF}s"
      SCHED_PID=""; sched_dead_at=${SECONDS}
    fi
    if [[ -z "${SCHED_PID}" ]] && (( SECONDS - sched_dead_at >= BACKOFF )); then start_scheduler; fi
    if [[ -n "${CTRL_PID}" ]] && ! alive "${CTRL_PID}"; then
      rc=0; wait "${CTRL_PID}" || rc=$?
      log "vc-controller-manager exited (status ${rc}); see ${LOGS}/volcano-controllers.log; restarting in ${BACKOFF}s"
      CTRL_PID=""; ctrl_dead_at=${SECONDS}
    fi
    if [[ -z "${CTRL_PID}" ]] && (( SECONDS - ctrl_dead_at >= BACKOFF )); then start_controllers; fi
  done
}

run() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --kubeconfig) ADMIN="$2"; shift ;;
      --dir) DIR="$2"; shift ;;
      *) die "usage: hack/volcano.sh run --kubeconfig ADMIN --dir DIR" ;;
    esac
    shift
  done
  [[ -n "${ADMIN}" && -n "${DIR}" ]] || die "usage: hack/volcano.sh run --kubeconfig ADMIN --dir DIR"
  export PATH="${ASCEND_TOOLS_BIN}:${PATH}"
  local b; for b in vc-scheduler vc-controller-manager kubectl; do
    [[ -x "${ASCEND_TOOLS_BIN}/${b}" ]] || die "${ASCEND_TOOLS_BIN}/${b} is missing; run hack/tools.sh volcano kube"
  done
  mkdir -p "${DIR}"; chmod 700 "${DIR}"
  LOGS="${LOGS:-$(dirname "${DIR}")/logs}"
  mkdir -p "${LOGS}"
  trap 'stop_processes; exit 0' TERM INT
  local seen
  while true; do
    seen="$(wait_for_chart)"
    mint_kubeconfigs
    until write_conf >/dev/null; do
      log "waiting for ConfigMap ${NS}/${CM}"
      sleep "${POLL}"
    done
    log "scheduler conf from ${NS}/${CM} written to ${DIR}/conf/${CM_KEY} (NPU plugin entry removed)"
    start_controllers
    start_scheduler
    supervise "${seen}"
  done
}

main() {
  case "${1:-}" in
    run) shift; run "$@" ;;
    *) die "usage: hack/volcano.sh run --kubeconfig ADMIN --dir DIR" ;;
  esac
}

main "$@"
