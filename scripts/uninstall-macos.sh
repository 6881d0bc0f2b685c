#!/usr/bin/env bash
# Stops and removes the keysentry LaunchDaemons and keysentry.app. Idempotent.
#
#   sudo scripts/uninstall-macos.sh [--purge]
#
# --purge also removes the config (and token), state (spool), logs and the collector database.
# Takes DESTDIR and LAUNCHCTL as install-macos.sh does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=macos-paths.sh
. "$here/macos-paths.sh"

purge=$(ks_flag --purge "$@")
[ -n "$DESTDIR" ] || ks_require_root "$@"

for label in "$AGENT_LABEL" "$COLLECTOR_LABEL"; do
  plist=${DESTDIR}${DAEMONS_DIR}/$label.plist
  if [ "$LAUNCHCTL" != none ] && [ -e "$plist" ]; then
    $LAUNCHCTL bootout "system/$label" 2>/dev/null || ks_say "$label was not running"
    $LAUNCHCTL disable "system/$label" || true
  fi
  rm -f "$plist"
done
rm -rf "${DESTDIR}${APP_BUNDLE}" "${DESTDIR}${RUNDIR}"
if [ "$purge" = yes ]; then
  rm -rf "${DESTDIR}${CONFDIR}" "${DESTDIR}${STATEDIR}" "${DESTDIR}${LOGDIR}" "${DESTDIR}${COLLECTOR_DB_DIR}"
  ks_say "removed keysentry, its config, state and logs"
else
  ks_say "removed keysentry; kept $CONFDIR, $STATEDIR and $LOGDIR (--purge removes them)"
fi
