#!/usr/bin/env bash
# The main job end to end on a local simulated cluster: bare Ascend nodes ->
# join command -> MindCluster labels -> MindCluster stack -> status/doctor ->
# a small PD-separated MindIE service -> gang scheduling by the real Volcano
# scheduler (an over-subscribed service waits whole, binds when a server
# joins) -> a MindIE 3.x (PyMotor) service answering one completion through
# the real mindie-motor control plane. Leaves the cluster running
# (`make cluster-down` removes it). Rerunnable: every step is idempotent.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

DEMO_WORK=""
LOOP_PID=""

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# podgroups_in PHASE_REGEX COUNT RELEASE [SECONDS]: wait until COUNT of the
# PodGroups of the release's multi-pod instances are in a phase matching
# PHASE_REGEX and, for Pending / Inqueue, carry Volcano's Unschedulable
# condition. Those instances are Volcano Jobs: vc-controller names each Job's
# PodGroup <job>-<job uid> and does not copy the chart's labels, so the
# PodGroups are found by the Jobs' name prefix.
podgroups_in() {
  local want="$1" count="$2" release="$3" deadline=$((SECONDS + ${4:-120}))
  local jp='{range .items[*]}{.metadata.name} {.status.phase}/{.status.conditions[?(@.type=="Unschedulable")].status}{"\n"}{end}'
  until [[ "$(kubectl get podgroups -n mindie -o "jsonpath=${jp}" | grep -E "^${release}-mindie-service-" \
             | cut -d' ' -f2 | grep -cE "^(${want})")" -ge "${count}" ]]; do
    (( SECONDS < deadline )) || die "PodGroups of ${release} did not reach ${want}"
    sleep 1
  done
}

gang_demo() {
  step "Who placed the pods: the real Volcano scheduler (vc-scheduler, with the chart's ServiceAccount and RBAC)"
  run kubectl get events -n mindie --field-selector reason=Scheduled,involvedObject.kind=Pod \
    -o custom-columns='POD:.involvedObject.name,SCHEDULED-BY:.source.component,MESSAGE:.message'

  step "Over-subscription: a second service of 2-pod instances (2 x 8 NPUs each) while only one server is free"
  run helm upgrade --install demo-gang charts/mindie-service -n mindie -f hack/demo/mindie-gang.yaml
  podgroups_in "(Pending|Inqueue)/True" 2 demo-gang
  printf 'No instance is half-placed: a pod alone would hold 8 NPUs and serve nothing.\n'
  run kubectl get jobs.batch.volcano.sh,pods -n mindie -l app.kubernetes.io/instance=demo-gang
  run kubectl ascend status
  step "Why is demo-gang not serving? kubectl ascend diagnose walks its layers and names the first that fails"
  local rc=0
  run kubectl ascend diagnose demo-gang -n mindie || rc=$?
  printf 'diagnose exited %s (1: a layer FAILed)\n' "${rc}"

  step "Room is made: the next Atlas 800I A2 joins (simulated) and is labelled; one instance binds, whole"
  run "${ASCEND_REPO_ROOT}/.venv/bin/python" hack/nodes.py --kubeconfig "${KUBECONFIG}" --nodes 1 \
    --model atlas-800i-a2 --no-management --prefix joined- --offset 50
  run kubectl ascend label-node --all
  podgroups_in "Running/" 1 demo-gang
  run kubectl get jobs.batch.volcano.sh,pods -n mindie -l app.kubernetes.io/instance=demo-gang -o wide
  run kubectl ascend status
}

# pymotor_demo: a mode-pymotor release served by the real PyMotor controller, coordinator and
# node_managers (hack/pymotor_loop.py runs them as host processes from the applied objects; the
# vLLM engines are hack/pymotor_engine_standin.py); one completion through the coordinator.
pymotor_demo() {
  step "Make room: the gang demo's service goes"
  run helm uninstall demo-gang -n mindie --wait --timeout 2m
  step "MindIE 3.x: a PyMotor service (1 Prefill + 1 Decode, 2 NPUs each), its control plane the real mindie-motor ${PYMOTOR_VERSION} running as host processes"
  local py work coord="demo-motor-mindie-service-coordinator.mindie.svc.cluster.local" ip="" answer="" deadline
  py="$(hack/pymotor.sh python)"
  work="${DEMO_WORK}/pymotor"
  mkdir -p "${work}"
  "${py}" hack/pymotor_loop.py --kubeconfig "${KUBECONFIG}" --namespace mindie --release demo-motor \
    --workdir "${work}" --python "${py}" --kubectl "$(command -v kubectl)" &
  LOOP_PID=$!
  run helm upgrade --install demo-motor charts/mindie-service -n mindie -f hack/demo/mindie-pymotor.yaml
  run kubectl get configmap demo-motor-mindie-service-pymotor-config -n mindie -o jsonpath='{.data.user_config\.json}'
  printf '\n'
  deadline=$((SECONDS + 240))
  until [[ -n "${answer}" ]]; do
    (( SECONDS < deadline )) || die "no answer from the PyMotor coordinator within 4 minutes; logs in ${work}"
    sleep 2
    ip="$("${py}" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "${work}/hosts.json" "${coord}" 2>/dev/null || true)"
    [[ -n "${ip}" ]] || continue
    answer="$(curl -sf "http://${ip}:1025/v1/completions" -H 'Content-Type: application/json' \
      -d '{"model": "qwen2.5-7b", "prompt": "Hello from the local cluster", "max_tokens": 32}' || true)"
  done
  step "One completion through the coordinator (Service ${coord} -> ${ip}): client -> coordinator -> decode -> metaserver -> prefill -> decode"
  printf '%s\n' "${answer}"
  kill "${LOOP_PID}" && wait "${LOOP_PID}" || true
  LOOP_PID=""
  printf 'The PyMotor processes stopped with the demo; the release stays installed.\n'
}

# kubectl ascend preflight on every NPU node, with one fault injected through the emulated host tools
# (hack/preflight_kubelet.py reads it from this ConfigMap): chip 3 of atlas-800i-a2-1 has its link DOWN.
preflight_demo() {
  step "Preflight: a read-only pod per NPU node runs npu-smi / hccn_tool (here: hack/preflight_kubelet.py runs the agent against emulated tools); injected fault: atlas-800i-a2-1 chip 3 link DOWN"
  kubectl create configmap ascend-preflight-emulator -n kube-system --from-literal=atlas-800i-a2-1='{"linkDown": [3]}' \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  local rc=0
  run kubectl ascend preflight --all --cann 8.2.RC1 || rc=$?
  printf 'preflight exited %s (1: a node FAILed)\n' "${rc}"
  kubectl delete configmap ascend-preflight-emulator -n kube-system --ignore-not-found >/dev/null
}

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  step "Start the local cluster (KWOK binary runtime, simulated Ascend servers)"
  # --long-running-jobs: pods of the gang demo's Volcano Jobs keep running, as on a real kubelet
  KUBECONFIG="$(hack/cluster.sh up --long-running-jobs | tail -n1)"
  export KUBECONFIG
  DEMO_WORK="$(mktemp -d)"
  trap 'if [[ -n "${LOOP_PID}" ]]; then kill "${LOOP_PID}" 2>/dev/null || true; fi; rm -rf "${DEMO_WORK}"' EXIT

  step "The servers and their NPUs, as the kubelet and device plugin report them"
  run kubectl get nodes -o custom-columns='NAME:.metadata.name,ARCH:.status.nodeInfo.architecture,CHIP:.metadata.labels.node\.kubernetes\.io/npu\.chip\.name,ASCEND910:.status.allocatable.huawei\.com/Ascend910,ASCEND310P:.status.allocatable.huawei\.com/Ascend310P'

  step "A join command for the next server, handed over as a script (the token never hits the terminal)"
  run kubectl ascend join-cmd --ttl 2h --description "demo: next rack" --node-name atlas-800i-a2-9 --output-file "${DEMO_WORK}/join.sh"
  run kubectl ascend token list

  step "MindCluster node labels, detected from each node's NPUs"
  run kubectl ascend label-node --all
  run kubectl ascend label-node mgmt-0 --role master

  step "Install the MindCluster stack with a profile fitted to this cluster"
  run kubectl ascend install --wait --timeout 5m

  step "Status and readiness checks"
  run kubectl ascend status
  run kubectl ascend doctor

  step "A PD-separated MindIE service (1 Prefill + 1 Decode instance)"
  run hack/chart-deps.sh  # a chart directory needs its dependencies (the ascend-common library) packaged
  run helm upgrade --install demo-llm charts/mindie-service -n mindie --create-namespace -f hack/demo/mindie-pd.yaml \
    --wait --timeout 3m
  step "The Ascend Operator fills each instance's ranktable (here: hack/ascend_operator_emulator.py, cluster addons running with the operator's and the device plugin's ServiceAccounts); the global ranktable follows"
  run kubectl get configmaps -n mindie -l mindie.huawei.com/ranktable=instance
  run kubectl ascend -n mindie mindie ranktable demo-llm --wait --timeout 2m
  run kubectl ascend status
  run kubectl ascend diagnose demo-llm -n mindie

  gang_demo
  pymotor_demo
  preflight_demo
  printf '\nThe cluster keeps running: export KUBECONFIG=%s (make cluster-down removes it)\n' "${KUBECONFIG}"
}

main "$@"
