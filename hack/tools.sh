#!/usr/bin/env bash
# Build the pinned toolchain from source into a per-version cache outside the
# checkout (see hack/versions.env). Reruns skip tools already built at the
# pinned version. Usage: hack/tools.sh [all|helm|helm-docs|kwok|etcd|kube|volcano|containerd2]... ; hack/tools.sh path
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# link_tool DIR NAME: expose DIR/NAME as $ASCEND_TOOLS_BIN/NAME.
link_tool() {
  mkdir -p "${ASCEND_TOOLS_BIN}"
  ln -sfn "$1/$2" "${ASCEND_TOOLS_BIN}/$2"
}

# build_once NAME VERSION BINARIES... -- CMD...: run CMD with $OUT set to the
# per-version dir unless a stamp says it already completed, then link BINARIES.
build_once() {
  local name="$1" version="$2"; shift 2
  local bins=()
  while [[ "$1" != "--" ]]; do bins+=("$1"); shift; done
  shift
  local out; out="$(tool_dir "${name}" "${version}")"
  # One build per tool at a time: a second caller (another checkout, a parallel
  # test run) waits for the first and then finds it cached.
  mkdir -p "$(dirname "${out}")"
  local lock
  exec {lock}>"${out}.lock"
  flock "${lock}"
  if [[ -f "${out}/.complete" ]]; then
    log "${name} ${version}: cached in ${out}"
  else
    require_go
    log "${name} ${version}: building (cold builds of Kubernetes take many minutes)"
    local start=${SECONDS}
    rm -rf "${out}"; mkdir -p "${out}"
    OUT="${out}" "$@"
    touch "${out}/.complete"
    log "${name} ${version}: built in $((SECONDS - start))s"
  fi
  local b; for b in "${bins[@]}"; do link_tool "${out}" "${b}"; done
  exec {lock}>&-
}

build_helm() {
  GOBIN="${OUT}" go install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
}

build_kwok() {
  GOBIN="${OUT}" go install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" "sigs.k8s.io/kwok/cmd/kwokctl@${KWOK_VERSION}"
}

# helm-docs: generates each chart's values table in its README (make docs / verify).
build_helm_docs() {
  GOBIN="${OUT}" go install "github.com/norwoodj/helm-docs/cmd/helm-docs@${HELM_DOCS_VERSION}"
}

build_etcd() {
  (cd "${ASCEND_REPO_ROOT}/hack/etcd-build" && go build -o "${OUT}/etcd" \
    -ldflags "-X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}" .)
}

build_kube() {
  local v="${KUBE_VERSION#v}" major minor pkg ldflags=""
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitCommit=${KUBE_VERSION} -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "${ASCEND_REPO_ROOT}/hack/k8s-build" && go build -o "${OUT}/" -ldflags "${ldflags}" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl)
}

# containerd 2.x, only to generate and parse config version 3 files in tests:
# no cgo, no btrfs/devmapper/zfs snapshotters; installed as containerd2 so the
# Debian package's containerd 1.x keeps its name.
build_containerd2() {
  GOBIN="${OUT}" CGO_ENABLED=0 go install -tags "no_btrfs no_devmapper no_zfs" \
    "github.com/containerd/containerd/v2/cmd/containerd@${CONTAINERD2_VERSION}"
  mv "${OUT}/containerd" "${OUT}/containerd2"
}

# volcano.sh/volcano has replace directives, so `go install` fails: build from a
# wrapper module that requires the tag and repeats its replace block.
build_volcano() {
  (cd "${ASCEND_REPO_ROOT}/hack/volcano-build" && go build -o "${OUT}/" \
    -ldflags "-X volcano.sh/volcano/pkg/version.Version=${VOLCANO_VERSION} -X volcano.sh/volcano/pkg/version.GitSHA=${VOLCANO_VERSION}" \
    volcano.sh/volcano/cmd/scheduler volcano.sh/volcano/cmd/controller-manager)
  mv "${OUT}/scheduler" "${OUT}/vc-scheduler"
  mv "${OUT}/controller-manager" "${OUT}/vc-controller-manager"
}

# Debian packages the tests run for real: containerd 1.x (`containerd config default` /
# `config dump` in the docker-runtime installer tests; 2.x is built above) and openssl
# (the CA-hash tests). Installed with apt-get when missing and we are root, else named.
install_debian() {
  local cmd="$1" pkg="$2"
  command -v "${cmd}" >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "${pkg}: installing the Debian package"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkg}" >/dev/null
  else
    die "${cmd} is needed by the tests: install the ${pkg} package (e.g. sudo apt-get install ${pkg})"
  fi
}

install_one() {
  case "$1" in
    debian) install_debian containerd containerd; install_debian openssl openssl ;;
    helm) build_once helm "${HELM_VERSION}" helm -- build_helm ;;
    kwok) build_once kwok "${KWOK_VERSION}" kwok kwokctl -- build_kwok ;;
    helm-docs) build_once helm-docs "${HELM_DOCS_VERSION}" helm-docs -- build_helm_docs ;;
    etcd) build_once etcd "${ETCD_VERSION}" etcd -- build_etcd ;;
    kube) build_once kube "${KUBE_VERSION}" kube-apiserver kube-controller-manager kube-scheduler kubeadm kubectl -- build_kube ;;
    volcano) build_once volcano "${VOLCANO_VERSION}" vc-scheduler vc-controller-manager -- build_volcano ;;
    containerd2) build_once containerd2 "${CONTAINERD2_VERSION}" containerd2 -- build_containerd2 ;;
    all) local t; for t in helm helm-docs kwok etcd kube volcano containerd2 debian; do install_one "${t}"; done ;;
    path) printf '%s\n' "${ASCEND_TOOLS_BIN}" ;;
    *) die "unknown tool '$1' (expected one of: all helm helm-docs kwok etcd kube volcano containerd2 debian path)" ;;
  esac
}

main() {
  [[ $# -gt 0 ]] || set -- all
  local t; for t in "$@"; do install_one "${t}"; done
}

main "$@"
