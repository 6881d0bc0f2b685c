#!/usr/bin/env bash
# Installs the keysentry agent as a systemd service. Idempotent: running it again upgrades
# the program and keeps an existing config.
#
#   sudo scripts/install-linux.sh [--no-start]
#
# Environment:
#   DESTDIR   stage into this directory (for packaging); paths written into files stay final
#   ROOT      relocate the whole install under this directory (tests); default /
#   APPDIR CONFDIR UNITDIR STATEDIR LOGDIR RUNDIR   override single locations
#   NODE      the node binary the service runs (default: the one on PATH)
#   SYSTEMCTL systemctl command; "none" skips daemon-reload/enable/start
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# shellcheck source=linux-paths.sh
. "$here/linux-paths.sh"

no_start=$(ks_flag --no-start "$@")
NODE=${NODE:-$(command -v node || true)}

[ -n "$DESTDIR" ] || ks_require_root "$@"
case $NODE in /*) ;; *) ks_die "node not found: set NODE=/absolute/path/to/node" ;; esac
"$NODE" -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 17) ? 0 : 1)' ||
  ks_die "$NODE is older than Node 20.17"

src=$(cd "$here/.." && pwd)
ks_say "installing $src into ${DESTDIR}${APPDIR}"
mkdir -p "${DESTDIR}$(dirname "$APPDIR")"
ks_copy_app "$src" "${DESTDIR}${APPDIR}"
cat >"${DESTDIR}${APPDIR}/bin/keysentry" <<LAUNCHER
#!/bin/sh
exec "$NODE" "$APPDIR/dist/src/cli/main.js" "\$@"
LAUNCHER
chmod 0755 "${DESTDIR}${APPDIR}/bin/keysentry"

install -d -m 0755 "${DESTDIR}${CONFDIR}" "${DESTDIR}${UNITDIR}"
install -d -m 0700 "${DESTDIR}${STATEDIR}" "${DESTDIR}${LOGDIR}"
vars=(APPDIR="$APPDIR" CONFDIR="$CONFDIR" STATEDIR="$STATEDIR" LOGDIR="$LOGDIR" RUNDIR="$RUNDIR")
if [ -e "${DESTDIR}${CONFDIR}/config.toml" ] || [ -e "${DESTDIR}${CONFDIR}/config.json" ]; then
  ks_say "keeping the existing config in ${DESTDIR}${CONFDIR}"
else
  ks_render "$here/config.toml.in" "${DESTDIR}${CONFDIR}/config.toml" 0644 "${vars[@]}"
fi
ks_render "$here/keysentry.service" "${DESTDIR}${UNITDIR}/keysentry.service" 0644 "${vars[@]}"

if [ -n "$DESTDIR" ] || [ "$SYSTEMCTL" = none ]; then
  ks_say "installed; not touching systemd (DESTDIR or SYSTEMCTL=none)"
  exit 0
fi
$SYSTEMCTL daemon-reload
if [ "$no_start" = no ]; then
  $SYSTEMCTL enable keysentry.service
  $SYSTEMCTL restart keysentry.service
  ks_say "started: check with 'sudo $APPDIR/bin/keysentry status'"
else
  ks_say "installed; start with 'systemctl enable --now keysentry'"
fi
