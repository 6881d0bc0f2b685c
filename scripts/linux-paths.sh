# shellcheck shell=bash
# Where keysentry lives on Linux; each location can be overridden, ROOT relocates them all.
# Must agree with src/config/defaults.ts (the same paths without ROOT).
# shellcheck disable=SC2034 # used by the scripts that source this
ROOT=${ROOT:-}
APPDIR=${APPDIR:-$ROOT/opt/keysentry}
CONFDIR=${CONFDIR:-$ROOT/etc/keysentry}
UNITDIR=${UNITDIR:-$ROOT/etc/systemd/system}
STATEDIR=${STATEDIR:-$ROOT/var/lib/keysentry}
LOGDIR=${LOGDIR:-$ROOT/var/log/keysentry}
RUNDIR=${RUNDIR:-$ROOT/run/keysentry}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
DESTDIR=${DESTDIR:-}
