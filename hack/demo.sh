#!/usr/bin/env bash
# The main job end to end on a local simulated cluster: bare Ascend nodes ->
# join command -> MindCluster labels -> MindCluster stack -> status/doctor ->
# a small PD-separated MindIE service. Leaves the cluster running
# (`make cluster-down` removes it). Rerunnable: every step is idempotent.
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

DEMO_WORK=""

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

main() {
  cd "${ASCEND_REPO_ROOT}"
  export PATH="${ASCEND_REPO_ROOT}/.venv/bin:${ASCEND_TOOLS_BIN}:${PATH}"
  step "Start the local cluster (KWOK binary runtime, simulated Ascend servers)"
  KUBECONFIG="$(hack/cluster.sh up | tail -n1)"
  export KUBECONFIG
  DEMO_WORK="$(mktemp -d)"
  trap 'rm -rf "${DEMO_WORK}"' EXIT

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
  run helm upgrade --install demo-llm charts/mindie-service -n mindie --create-namespace -f hack/demo/mindie-pd.yaml \
    --wait --timeout 3m
  step "The Ascend Operator fills each instance's ranktable (here: hack/ascend_operator_emulator.py, a cluster addon running with the chart's ServiceAccount); the global ranktable follows"
  run kubectl get configmaps -n mindie -l mindie.huawei.com/ranktable=instance
  run kubectl ascend -n mindie mindie ranktable demo-llm --wait --timeout 2m
  run kubectl ascend status
  printf '\nThe cluster keeps running: export KUBECONFIG=%s (make cluster-down removes it)\n' "${KUBECONFIG}"
}

main "$@"
