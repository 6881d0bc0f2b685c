#!/usr/bin/env bash
# Installs keysentry.app (from package-macos.sh) as a LaunchDaemon and starts it.
# Idempotent: running it again upgrades the bundle, keeps the config, restarts the daemon.
#
#   sudo scripts/install-macos.sh [--collector] [--no-start] path/to/keysentry.app
#
# --collector also installs com.keysentry.collector (for the machine that receives alerts).
# Environment: DESTDIR stages into a directory (packaging, tests); LAUNCHCTL is the launchctl
# command ("none" skips it; the default with DESTDIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=macos-paths.sh
. "$here/macos-paths.sh"

collector=no
start=yes
app=
for arg in "$@"; do
  case $arg in
    --collector) collector=yes ;;
    --no-start) start=no ;;
    -*) ks_die "unknown option '$arg' (usage: $0 [--collector] [--no-start] path/to/keysentry.app)" ;;
    *) app=$arg ;;
  esac
done
[ -n "$app" ] || ks_die "usage: $0 [--collector] [--no-start] path/to/keysentry.app"
if ! { [ -f "$app/Contents/Info.plist" ] && [ -x "$app/Contents/MacOS/keysentry" ]; }; then
  ks_die "$app is not a keysentry.app bundle (build it with scripts/package-macos.sh)"
fi
[ -n "$DESTDIR" ] || ks_require_root "$@"

labels=("$AGENT_LABEL")
[ "$collector" = yes ] && labels+=("$COLLECTOR_LABEL")

# Stop what runs from the old bundle before replacing it.
if [ "$LAUNCHCTL" != none ]; then
  for label in "${labels[@]}"; do
    $LAUNCHCTL bootout "system/$label" 2>/dev/null || true
  done
fi

ks_say "installing $app into ${DESTDIR}${APP_BUNDLE}"
mkdir -p "${DESTDIR}$(dirname "$APP_BUNDLE")"
rm -rf "${DESTDIR}${APP_BUNDLE}.new"
# ditto keeps the code signature's extended attributes; cp -pR is for staging off a Mac.
if command -v ditto >/dev/null; then ditto "$app" "${DESTDIR}${APP_BUNDLE}.new"; else cp -pR "$app" "${DESTDIR}${APP_BUNDLE}.new"; fi
chown -R 0:0 "${DESTDIR}${APP_BUNDLE}.new" 2>/dev/null || true
chmod -R go-w "${DESTDIR}${APP_BUNDLE}.new"
rm -rf "${DESTDIR}${APP_BUNDLE}"
mv "${DESTDIR}${APP_BUNDLE}.new" "${DESTDIR}${APP_BUNDLE}"

install -d -m 0755 "${DESTDIR}${CONFDIR}" "${DESTDIR}${DAEMONS_DIR}"
install -d -m 0700 "${DESTDIR}${STATEDIR}" "${DESTDIR}${LOGDIR}"
resources=${DESTDIR}${APP_BUNDLE}/Contents/Resources/app
if [ -e "${DESTDIR}${CONFDIR}/config.toml" ] || [ -e "${DESTDIR}${CONFDIR}/config.json" ]; then
  ks_say "keeping the existing config in ${DESTDIR}${CONFDIR}"
else
  ks_render "$resources/scripts/config.toml.in" "${DESTDIR}${CONFDIR}/config.toml" 0644 \
    APPDIR="$APP_BUNDLE/Contents/Resources/app" CONFDIR="$CONFDIR" STATEDIR="$STATEDIR" LOGDIR="$LOGDIR" RUNDIR="$RUNDIR"
fi
for label in "${labels[@]}"; do
  install -m 0644 "$resources/launchd/$label.plist" "${DESTDIR}${DAEMONS_DIR}/$label.plist"
  chown 0:0 "${DESTDIR}${DAEMONS_DIR}/$label.plist" 2>/dev/null || true
done
[ "$collector" = yes ] && install -d -m 0700 "${DESTDIR}${CONFDIR}/collector" "${DESTDIR}${COLLECTOR_DB_DIR}"

if [ "$LAUNCHCTL" = none ] || [ "$start" = no ]; then
  ks_say "installed; not started (load with: sudo launchctl bootstrap system $DAEMONS_DIR/$AGENT_LABEL.plist)"
  exit 0
fi
for label in "${labels[@]}"; do
  $LAUNCHCTL enable "system/$label"
  $LAUNCHCTL bootstrap system "${DESTDIR}${DAEMONS_DIR}/$label.plist"
done
ks_say "started; verify with: sudo \"$APP_BUNDLE/Contents/MacOS/keysentry\" status"
