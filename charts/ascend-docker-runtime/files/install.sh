#!/bin/sh
# Installs Ascend Docker Runtime on the node this pod runs on and makes it a
# containerd runtime. Runs in a privileged init container with the host's
# root filesystem at /host. Idempotent: containerd is restarted only when its
# config file changed. Arguments: the restart command (may be empty).
#
# Environment (set by the chart): SOURCE_DIR, INSTALL_DIR, CONTAINERD_CONFIG,
# RUNTIME_NAME, SET_AS_DEFAULT (true|false), CONFIG_VERSION (auto|2|3),
# RESTART (true|false).
set -eu

HOST=${HOST_ROOT:-/host}
log() { echo "ascend-docker-runtime-installer: $*"; }
die() { log "ERROR: $*"; exit 1; }

install_files() {
  [ -d "$SOURCE_DIR" ] || die "$SOURCE_DIR does not exist in the image; set image.sourceDir to the directory that holds the runtime files"
  [ -f "$SOURCE_DIR/ascend-docker-runtime" ] || die "$SOURCE_DIR/ascend-docker-runtime is missing; the image must contain the installed Ascend Docker Runtime tree"
  mkdir -p "$HOST$INSTALL_DIR"
  cp -a "$SOURCE_DIR/." "$HOST$INSTALL_DIR/"
  chmod 755 "$HOST$INSTALL_DIR"
  log "runtime files copied to $INSTALL_DIR"
}

# Prints the config schema version: from the file when CONFIG_VERSION=auto.
config_version() {
  if [ "$CONFIG_VERSION" != auto ]; then
    echo "$CONFIG_VERSION"
    return
  fi
  v=$(sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
  echo "${v:-1}"
}

# Writes to stdout the config with the runtime table added (when missing)
# and, when SET_AS_DEFAULT=true, default_runtime_name set in [<cri>.containerd].
patch_config() {
  cfg=$1 cri=$2
  awk -v q="'" -v cri="$cri" -v name="$RUNTIME_NAME" -v bin="$INSTALL_DIR/ascend-docker-runtime" \
      -v setdefault="$SET_AS_DEFAULT" '
    function norm(s) { gsub(q, "\"", s); sub(/^[ \t]+/, "", s); sub(/[ \t]*(#.*)?$/, "", s); return s }
    BEGIN { hdr = "[" cri ".containerd]"; rt = "[" cri ".containerd.runtimes." name "]"; intable = 0; done = 0; seen = 0; hasrt = 0 }
    {
      t = norm($0)
      if (substr(t, 1, 1) == "[") {
        if (intable && !done && setdefault == "true") { print "  default_runtime_name = \"" name "\""; done = 1 }
        intable = (t == hdr); if (intable) seen = 1
        if (t == rt) hasrt = 1
        print; next
      }
      if (intable && setdefault == "true" && t ~ /^default_runtime_name[ \t]*=/) {
        if (!done) { match($0, /^[ \t]*/); print substr($0, 1, RLENGTH) "default_runtime_name = \"" name "\""; done = 1 }
        next
      }
      print
    }
    END {
      if (intable && !done && setdefault == "true") { print "  default_runtime_name = \"" name "\""; done = 1 }
      if (!seen && setdefault == "true") { print ""; print hdr; print "  default_runtime_name = \"" name "\"" }
      if (!hasrt) {
        print ""
        print rt
        print "  runtime_type = \"io.containerd.runc.v2\""
        print "[" cri ".containerd.runtimes." name ".options]"
        print "  BinaryName = \"" bin "\""
      }
    }' "$cfg"
}

configure_containerd() {
  cfg="$HOST$CONTAINERD_CONFIG"
  [ -f "$cfg" ] || die "$CONTAINERD_CONFIG not found on the node; create it (containerd config default > $CONTAINERD_CONFIG) or set containerd.configPath"
  ver=$(config_version "$cfg")
  case "$ver" in
    2) cri='plugins."io.containerd.grpc.v1.cri"' ;;
    3) cri='plugins."io.containerd.cri.v1.runtime"' ;;
    *) die "containerd config version $ver is not supported; use version 2 (containerd 1.x) or 3 (containerd 2.x), e.g. after 'containerd config migrate'" ;;
  esac
  patch_config "$cfg" "$cri" > "$cfg.ascend-tmp"
  if cmp -s "$cfg" "$cfg.ascend-tmp"; then
    rm -f "$cfg.ascend-tmp"
    log "$CONTAINERD_CONFIG already configured for runtime $RUNTIME_NAME"
    return 1
  fi
  [ -e "$cfg.ascend-backup" ] || cp -p "$cfg" "$cfg.ascend-backup"
  cat "$cfg.ascend-tmp" > "$cfg"
  rm -f "$cfg.ascend-tmp"
  log "$CONTAINERD_CONFIG updated (backup: $CONTAINERD_CONFIG.ascend-backup)"
  return 0
}

main() {
  install_files
  if configure_containerd; then
    if [ "$RESTART" = true ] && [ "$#" -gt 0 ]; then
      log "restarting containerd: $*"
      "$@"
    else
      log "containerd NOT restarted (restart.enabled=false); restart it to use runtime $RUNTIME_NAME"
    fi
  fi
  log "done"
}

main "$@"
