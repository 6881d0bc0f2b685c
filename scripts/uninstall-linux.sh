#!/usr/bin/env bash
# Stops and removes the keysentry systemd service and program. Idempotent.
#
#   sudo scripts/uninstall-linux.sh [--purge]
#
# --purge also removes the config (and token), state (spool) and logs.
# Takes the same ROOT / APPDIR / CONFDIR / UNITDIR / STATEDIR / LOGDIR / RUNDIR / SYSTEMCTL
# as install-linux.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# shellcheck source=linux-paths.sh
. "$here/linux-paths.sh"

purge=$(ks_flag --purge "$@")
ks_require_root "$@"

unit="$UNITDIR/keysentry.service"
if [ "$SYSTEMCTL" != none ] && [ -e "$unit" ]; then
  $SYSTEMCTL disable --now keysentry.service || ks_say "could not stop keysentry.service; removing it anyway"
fi
rm -f "$unit"
[ "$SYSTEMCTL" = none ] || $SYSTEMCTL daemon-reload || true
rm -rf "$APPDIR" "$RUNDIR"
if [ "$purge" = yes ]; then
  rm -rf "$CONFDIR" "$STATEDIR" "$LOGDIR"
  ks_say "removed keysentry, its config, state and logs"
else
  ks_say "removed keysentry; kept $CONFDIR, $STATEDIR and $LOGDIR (--purge removes them)"
fi
