#!/bin/sh
# Installs Ascend Docker Runtime on the node this pod runs on and makes it a
# containerd runtime. Runs in a privileged init container with the host's
# root filesystem at /host. Idempotent: containerd is restarted only when its
# config file changed. Arguments: the restart command (may be empty).
#
# Environment (set by the chart): SOURCE_DIR, INSTALL_DIR, CONTAINERD_CONFIG,
# RUNTIME_NAME, SET_AS_DEFAULT (true|false), CONFIG_VERSION (auto|2|3),
# RESTART (true|false), BASE_LIST (the lines of
# /etc/ascend-docker-runtime.d/base.list, which the runtime's hook reads),
# UNINSTALL (true: put back what install changed, from its backups).
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

# Writes to stdout the config with the runtime RUNTIME_NAME using the
# Ascend Docker Runtime binary, every other line kept as it was.
#   RUNTIME_NAME=runc (upstream's way, mind-cluster v26.0.0
#     install/process/containerd_process.go): BinaryName is set in the existing
#     runc options table, so runc's other options (SystemdCgroup, ...) stay.
#   any other name: a runtime of that name is added as a copy of the runc
#     entry and its options (SystemdCgroup survives there too) plus BinaryName;
#     an existing table of that name gets BinaryName set in place.
# SET_AS_DEFAULT=true also sets default_runtime_name in [<cri>.containerd].
patch_config() {
  cfg=$1 cri=$2
  awk -v q="'" -v cri="$cri" -v name="$RUNTIME_NAME" -v bin="$INSTALL_DIR/ascend-docker-runtime" \
      -v setdefault="$SET_AS_DEFAULT" '
    function norm(s) { gsub(q, "\"", s); sub(/^[ \t]+/, "", s); sub(/[ \t]*(#.*)?$/, "", s); return s }
    function binline(indent) { return indent "BinaryName = \"" bin "\"" }
    BEGIN {
      pre = "[" cri ".containerd.runtimes."
      hdr = "[" cri ".containerd]"
      runc = pre "runc]"; runco = pre "runc.options]"
      rt = pre name "]"; rto = pre name ".options]"
    }
    # First pass: is there a table for NAME, and what do the runc tables hold?
    NR == FNR {
      t = norm($0)
      if (substr(t, 1, 1) == "[") { cur = t; if (t == rt) hasrt = 1; if (t == rto) hasrto = 1; next }
      if (cur == runc) runcbody[++nrunc] = $0
      if (cur == runco) runcobody[++nrunco] = $0
      next
    }
    FNR == 1 { cur = "" }
    {
      t = norm($0)
      if (substr(t, 1, 1) == "[") {
        closetable()
        cur = t; intable = (t == hdr); if (intable) seenhdr = 1
        print; next
      }
      if (intable && setdefault == "true" && t ~ /^default_runtime_name[ \t]*=/) {
        if (!donedefault) { match($0, /^[ \t]*/); print substr($0, 1, RLENGTH) "default_runtime_name = \"" name "\""; donedefault = 1 }
        next
      }
      if (cur == rto && t ~ /^BinaryName[ \t]*=/) {
        match($0, /^[ \t]*/); print binline(substr($0, 1, RLENGTH)); donebin = 1; next
      }
      if (t != "") { match($0, /^[ \t]*/); lastindent = substr($0, 1, RLENGTH) }
      print
    }
    function closetable() {
      if (intable && !donedefault && setdefault == "true") { print "  default_runtime_name = \"" name "\""; donedefault = 1 }
      if (cur == rto && !donebin) { print binline(lastindent); donebin = 1 }
      intable = 0
    }
    END {
      closetable()
      if (!seenhdr && setdefault == "true") { print ""; print hdr; print "  default_runtime_name = \"" name "\"" }
      if (!hasrt) {
        print ""
        print rt
        copied = 0
        for (i = 1; i <= nrunc; i++) { if (norm(runcbody[i]) != "") { print runcbody[i]; if (norm(runcbody[i]) ~ /^runtime_type[ \t]*=/) copied = 1 } }
        if (!copied) print "  runtime_type = \"io.containerd.runc.v2\""
      }
      if (!hasrto) {
        print rto
        for (i = 1; i <= nrunco; i++) { l = norm(runcobody[i]); if (l != "" && l !~ /^BinaryName[ \t]*=/) print runcobody[i] }
        print "  BinaryName = \"" bin "\""
      }
    }' "$cfg" "$cfg"
}

# The hook reads /etc/ascend-docker-runtime.d/base.list (mind-cluster v26.0.0
# component/ascend-docker-runtime/hook/process/process.go); upstream's .run
# installer writes it for the product (build/scripts/run_main.sh).
write_base_list() {
  dir="$HOST/etc/ascend-docker-runtime.d"
  [ -n "${BASE_LIST:-}" ] || die "BASE_LIST is empty: set baseList.content (or baseList.product)"
  mkdir -p "$dir"
  chmod 750 "$dir"
  printf '%s\n' "$BASE_LIST" > "$dir/base.list.ascend-tmp"
  if [ -f "$dir/base.list" ] && cmp -s "$dir/base.list" "$dir/base.list.ascend-tmp"; then
    rm -f "$dir/base.list.ascend-tmp"
    return
  fi
  if [ -f "$dir/base.list" ] && [ ! -e "$dir/base.list.ascend-backup" ]; then
    cp -p "$dir/base.list" "$dir/base.list.ascend-backup"
  fi
  chmod 640 "$dir/base.list.ascend-tmp"
  mv -f "$dir/base.list.ascend-tmp" "$dir/base.list"
  log "/etc/ascend-docker-runtime.d/base.list written"
}

# Undo install: the containerd config and base.list come back from their
# backups (or base.list goes when there was none), the runtime files go.
# Returns 0 when the containerd config changed (restart needed).
uninstall() {
  changed=1
  cfg="$HOST$CONTAINERD_CONFIG"
  if [ -e "$cfg.ascend-backup" ]; then
    cat "$cfg.ascend-backup" > "$cfg"
    rm -f "$cfg.ascend-backup"
    log "$CONTAINERD_CONFIG restored from $CONTAINERD_CONFIG.ascend-backup"
    changed=0
  else
    log "$CONTAINERD_CONFIG has no backup from this installer; left as it is"
  fi
  dir="$HOST/etc/ascend-docker-runtime.d"
  if [ -e "$dir/base.list.ascend-backup" ]; then
    mv -f "$dir/base.list.ascend-backup" "$dir/base.list"
    log "/etc/ascend-docker-runtime.d/base.list restored"
  elif [ -e "$dir/base.list" ]; then
    rm -f "$dir/base.list"
    rmdir "$dir" 2>/dev/null || true
    log "/etc/ascend-docker-runtime.d/base.list removed"
  fi
  if [ -d "$HOST$INSTALL_DIR" ]; then
    rm -rf "$HOST$INSTALL_DIR"
    log "$INSTALL_DIR removed"
  fi
  return $changed
}

configure_containerd() {
  cfg="$HOST$CONTAINERD_CONFIG"
  [ -f "$cfg" ] || die "$CONTAINERD_CONFIG not found on the node; create it (containerd config default > $CONTAINERD_CONFIG) or set containerd.configPath"
  ver=$(config_version "$cfg")
  case "$ver" in
    2) cri='plugins."io.containerd.grpc.v1.cri"' ;;
    3|4) cri='plugins."io.containerd.cri.v1.runtime"' ;;
    *) die "containerd config version $ver is not supported; use version 2 (containerd 1.x), 3 or 4 (containerd 2.x), e.g. after 'containerd config migrate'" ;;
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

restart() {
  if [ "$RESTART" = true ] && [ "$#" -gt 0 ]; then
    log "restarting containerd: $*"
    "$@"
  else
    log "containerd NOT restarted (restart.enabled=false); restart it to apply the change"
  fi
}

main() {
  if [ "${UNINSTALL:-false}" = true ]; then
    if uninstall; then restart "$@"; fi
    log "uninstalled"
    return
  fi
  install_files
  write_base_list
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
