# shellcheck shell=bash
# Helpers shared by the install and package scripts. Sourced, never run.

ks_die() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

ks_say() {
  printf '%s: %s\n' "${0##*/}" "$*"
}

# ks_flag FLAG ARGS...: "yes" when FLAG is among ARGS, "no" when not; dies on any other argument.
ks_flag() {
  local flag=$1 arg found=no
  shift
  for arg in "$@"; do
    if [ "$arg" = "$flag" ]; then found=yes; else ks_die "unknown argument '$arg' (usage: $0 [$flag])"; fi
  done
  echo "$found"
}

# Refuses to go on unless root: the files must end up root-owned for the agent to trust them.
ks_require_root() {
  [ "$(id -u)" = 0 ] || ks_die "must run as root (try: sudo $0 $*)"
}

# ks_render TEMPLATE DEST MODE NAME=VALUE...: copies TEMPLATE with every @NAME@ replaced.
ks_render() {
  local template=$1 dest=$2 mode=$3 expr=() pair value
  shift 3
  for pair in "$@"; do
    value=${pair#*=}
    value=${value//\\/\\\\}
    value=${value//|/\\|}
    value=${value//&/\\&}
    expr+=(-e "s|@${pair%%=*}@|${value}|g")
  done
  sed "${expr[@]}" "$template" >"$dest.tmp"
  chmod "$mode" "$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}

# ks_copy_app SRC DEST: the runnable package (compiled code, production dependencies,
# rules, native addons, service files) from a built checkout SRC into DEST, replacing
# whatever an earlier version left there.
ks_copy_app() {
  local src=$1 dest=$2 dep rel
  [ -f "$src/dist/src/cli/main.js" ] || ks_die "$src/dist/src/cli/main.js is missing: run 'npm run build' first"
  rm -rf "$dest.new"
  mkdir -p "$dest.new/dist" "$dest.new/node_modules" "$dest.new/docs"
  cp -R "$src/dist/src" "$dest.new/dist/src"
  cp -R "$src/rules" "$src/launchd" "$src/scripts" "$src/bin" "$src/package.json" "$dest.new/"
  [ -f "$src/docs/daemon.md" ] && cp "$src/docs/daemon.md" "$dest.new/docs/"
  # Only the agent's addon: test addons built beside it are not shipped (or signed).
  if [ -f "$src/build/Release/keysentry_native.node" ]; then
    mkdir -p "$dest.new/build/Release"
    cp "$src/build/Release/keysentry_native.node" "$dest.new/build/Release/"
  fi
  # Top-level production dependencies; their own node_modules come along.
  while IFS= read -r dep; do
    rel=${dep#"$src"/}
    case $rel in
      node_modules/*/node_modules/*) continue ;;
      node_modules/*) ;;
      *) continue ;;
    esac
    mkdir -p "$dest.new/$(dirname "$rel")"
    cp -R "$dep" "$dest.new/$rel"
  done < <(cd "$src" && npm ls --omit=dev --all --parseable 2>/dev/null)
  [ -d "$dest.new/node_modules/winston" ] || ks_die "could not list the production dependencies (run 'npm install' in $src)"
  chown -R 0:0 "$dest.new" 2>/dev/null || true
  chmod -R go-w "$dest.new"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
}
