#!/usr/bin/env bash
# Build the krew archives and their manifest.
#
#   hack/dist.sh [--out DIR] [--platforms "linux/amd64 linux/arm64"] [--pythons "3.10 3.11 ..."]
#
# One archive per platform, dist/kubectl-ascend-vVERSION-OS-ARCH.tar.gz, holding:
#   kubectl-ascend, kubectl_complete-ascend   the launcher (krew/launcher.py), twice
#   wheels/*.whl                               the plugin's wheel and its dependencies' wheels
#                                              from PyPI, for that platform and each Python version
#   wheels/index.json                          which wheels belong to which Python version
# The launcher unpacks the wheels for the running python3 on first use (offline). The
# archive is reproducible (sorted names, fixed mtimes and owners, gzip without a timestamp).
# dist/ascend.yaml is krew/ascend.yaml.tmpl rendered with the version, a platform entry
# per archive and each archive's sha256.
#
# "host" and "current" stand for this machine's platform and python3. Needs PyPI (pip
# download) unless pip's cache or PIP_FIND_LINKS already has the wheels.
# Env: KREW_BASE_URL  where the archives will be published (manifest `uri`); default file://DIR
#      KREW_HOMEPAGE  the manifest's homepage (left out when unset)
set -o errexit -o nounset -o pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PY=".venv/bin/python"
WORK=""

cleanup() { [[ -z "${WORK}" ]] || rm -rf "${WORK}"; }

# pip --platform tags per krew os/arch, best first (manylinux2014 = glibc 2.17).
platform_tags() {
  case "$1" in
    linux/amd64) echo "manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_12_x86_64 manylinux2010_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64 manylinux_2_28_x86_64" ;;
    linux/arm64) echo "manylinux_2_17_aarch64 manylinux2014_aarch64 manylinux_2_28_aarch64" ;;
    darwin/amd64) echo "macosx_10_9_x86_64 macosx_10_12_x86_64 macosx_10_13_x86_64 macosx_10_9_universal2 macosx_11_0_x86_64" ;;
    darwin/arm64) echo "macosx_11_0_arm64 macosx_10_9_universal2 macosx_12_0_arm64" ;;
    *) die "unsupported platform $1 (linux/amd64, linux/arm64, darwin/amd64, darwin/arm64, host)" ;;
  esac
}

host_platform() {
  local os arch
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "unsupported machine $(uname -m)" ;;
  esac
  echo "${os}/${arch}"
}

# download_wheels PLATFORM PYTHON PLUGIN_WHEEL DIR: the plugin's dependency closure as wheels.
download_wheels() {
  local platform="$1" python="$2" wheel="$3" dir="$4" args=() tag
  for tag in $(platform_tags "${platform}"); do args+=(--platform "${tag}"); done
  "${PY}" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --implementation cp --python-version "${python}" "${args[@]}" --dest "${dir}" "${wheel}" \
    || die "pip could not collect wheels for Python ${python} on ${platform} (see above)"
}

# build_archive PLATFORM PYTHONS WHEEL OUT: stage, tar, print the archive path
build_archive() {
  local platform="$1" pythons="$2" wheel="$3" out="$4" version="$5" stage py
  stage="$(mktemp -d)"
  mkdir -p "${stage}/root/wheels"
  install -m 0755 krew/launcher.py "${stage}/root/kubectl-ascend"
  install -m 0755 krew/launcher.py "${stage}/root/kubectl_complete-ascend"
  cp LICENSE "${stage}/root/" 2>/dev/null || true
  for py in ${pythons}; do
    mkdir -p "${stage}/py${py}"
    log "collecting wheels for ${platform}, Python ${py}"
    download_wheels "${platform}" "${py}" "${wheel}" "${stage}/py${py}"
  done
  "${PY}" - "${stage}" ${pythons} <<'EOF'
import hashlib, json, os, shutil, sys
stage, pythons = sys.argv[1], sys.argv[2:]
index = {"python": {}}
for py in pythons:
    names = sorted(n for n in os.listdir(os.path.join(stage, "py" + py)) if n.endswith(".whl"))
    index["python"][py] = names
    for n in names:
        dst = os.path.join(stage, "root", "wheels", n)
        if not os.path.exists(dst):
            shutil.copy(os.path.join(stage, "py" + py, n), dst)
h = hashlib.sha256()
for n in sorted(os.listdir(os.path.join(stage, "root", "wheels"))):
    with open(os.path.join(stage, "root", "wheels", n), "rb") as f:
        h.update(n.encode() + b"\0" + hashlib.sha256(f.read()).digest())
index["id"] = h.hexdigest()[:16]
with open(os.path.join(stage, "root", "wheels", "index.json"), "w") as f:
    json.dump(index, f, indent=1, sort_keys=True)
    f.write("\n")
EOF
  local archive="${out}/kubectl-ascend-v${version}-${platform%/*}-${platform#*/}.tar.gz"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "${stage}/root" -cf - . | gzip -9 -n > "${archive}"
  rm -rf "${stage}"
  echo "${archive}"
}

render_manifest() {
  local out="$1" version="$2" base_url="$3"; shift 3
  "${PY}" - "${out}/ascend.yaml" "${version}" "${base_url}" "${KREW_HOMEPAGE:-}" "$@" <<'EOF'
import hashlib, os, sys
dest, version, base, homepage, archives = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
entries = []
for a in archives:
    name = os.path.basename(a)
    os_, arch = name[:-len(".tar.gz")].rsplit("-", 2)[1:]
    with open(a, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    entries.append(
        f"  - selector:\n      matchLabels:\n        os: {os_}\n        arch: {arch}\n"
        f"    uri: {base.rstrip('/')}/{name}\n    sha256: {sha}\n"
        f"    files:\n    - from: \"*\"\n      to: .\n    bin: kubectl-ascend\n")
text = open("krew/ascend.yaml.tmpl").read()
text = text.replace("@VERSION@", version).replace("@PLATFORMS@\n", "".join(entries))
lines = text.splitlines(keepends=True)
text = "".join(l.replace("@HOMEPAGE@", homepage) for l in lines if homepage or "@HOMEPAGE@" not in l)
open(dest, "w").write(text)
EOF
  echo "${out}/ascend.yaml"
}

main() {
  local out="dist" platforms="linux/amd64 linux/arm64" pythons="3.10 3.11 3.12 3.13"
  while (($#)); do
    case "$1" in
      --out) out="$2"; shift 2 ;;
      --platforms) platforms="$2"; shift 2 ;;
      --pythons) pythons="$2"; shift 2 ;;
      -h|--help) sed -n '2,/^set -o/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; return 0 ;;
      *) die "unknown argument $1 (see hack/dist.sh --help)" ;;
    esac
  done
  cd "${ASCEND_REPO_ROOT}"
  [[ -x "${PY}" ]] || die "${PY} is missing; run make dev"
  platforms="${platforms//host/$(host_platform)}"
  pythons="${pythons//current/$("${PY}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
  mkdir -p "${out}"
  out="$(cd "${out}" && pwd)"
  local version wheeldir archives=() p
  version="$("${PY}" -c 'import kubectl_ascend; print(kubectl_ascend.__version__)')"
  WORK="$(mktemp -d)"
  trap cleanup EXIT
  wheeldir="${WORK}"
  log "building the kubectl-ascend ${version} wheel"
  # SOURCE_DATE_EPOCH: fixed zip timestamps in the wheel, so the archive is reproducible
  SOURCE_DATE_EPOCH=315532800 "${PY}" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation -w "${wheeldir}" . >&2
  local wheel
  wheel="$(ls "${wheeldir}"/kubectl_ascend-*.whl)"
  for p in ${platforms}; do
    archives+=("$(build_archive "${p}" "${pythons}" "${wheel}" "${out}" "${version}")")
    log "wrote ${archives[-1]}"
  done
  log "wrote $(render_manifest "${out}" "${version}" "${KREW_BASE_URL:-file://${out}}" "${archives[@]}")"
}

main "$@"
