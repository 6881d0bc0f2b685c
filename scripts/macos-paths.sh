# shellcheck shell=bash
# Where keysentry lives on a Mac; must agree with launchd/*.plist and src/config/defaults.ts.
# shellcheck disable=SC2034 # used by the scripts that source this
APP_BUNDLE="/Library/Application Support/keysentry/keysentry.app"
CONFDIR="/Library/Application Support/keysentry"
DAEMONS_DIR=/Library/LaunchDaemons
STATEDIR=/var/db/keysentry
LOGDIR=/Library/Logs/keysentry
RUNDIR=/var/run/keysentry
COLLECTOR_DB_DIR=/var/db/keysentry-collector
AGENT_LABEL=com.keysentry.agent
COLLECTOR_LABEL=com.keysentry.collector
DESTDIR=${DESTDIR:-}
if [ -n "$DESTDIR" ]; then LAUNCHCTL=${LAUNCHCTL:-none}; else LAUNCHCTL=${LAUNCHCTL:-launchctl}; fi
