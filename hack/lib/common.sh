# Shared helpers for hack/ scripts. Source it; it defines functions only.
# shellcheck shell=bash

ASCEND_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../versions.env
source "${ASCEND_REPO_ROOT}/hack/versions.env"

# Tools live outside the checkout so fresh clones (and CI) reuse them.
ASCEND_CACHE="${KUBECTL_ASCEND_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/kubectl-ascend}"
ASCEND_TOOLS_BIN="${ASCEND_CACHE}/bin"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The project's virtualenv python (hack/dev.sh), else python3 from PATH.
python_bin() {
  if [[ -x "${ASCEND_REPO_ROOT}/.venv/bin/python" ]]; then echo "${ASCEND_REPO_ROOT}/.venv/bin/python"; else echo python3; fi
}

tool_dir() { # tool_dir NAME VERSION -> per-version cache dir
  printf '%s/tools/%s-%s\n' "${ASCEND_CACHE}" "$1" "$2"
}

require_go() {
  command -v go >/dev/null 2>&1 || die "Go ${GO_MIN_VERSION}+ is required to build the pinned tools; install it (https://go.dev/doc/install or 'apt-get install golang') and rerun."
  local have
  have="$(go env GOVERSION | sed 's/^go//')"
  if ! printf '%s\n%s\n' "${GO_MIN_VERSION}" "${have}" | sort -V -C; then
    die "Go ${have} is too old: the pinned tools need Go ${GO_MIN_VERSION}+."
  fi
}
