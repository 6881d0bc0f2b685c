#!/usr/bin/env bash
# Builds keysentry.app from a built checkout (npm ci && npm run build && npm run build:native):
#
#   Contents/Info.plist
#   Contents/MacOS/keysentry          Node single executable application (scripts/sea-main.js)
#   Contents/Resources/app/           dist/, production node_modules/, rules/, build/Release/*.node
#   Contents/embedded.provisionprofile  with --profile
#
#   scripts/package-macos.sh [--out DIR] [--identity "Developer ID Application: Org (TEAMID)"
#                            --profile keysentry.provisionprofile [--team-id TEAMID]] [--layout-only]
#
# --identity signs every addon, then the bundle with the hardened runtime and
# launchd/keysentry.entitlements; the EndpointSecurity entitlement is restricted, so it needs
# the provisioning profile that grants it. --team-id (default: from the identity) also writes
# keysentry-pppc.mobileconfig, the Full Disk Access profile for MDM, into DIR.
# --layout-only (any OS, for tests) lays out the bundle with a shell launcher instead of the
# SEA binary and does not sign.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
src=$(cd "$here/.." && pwd)

out=$src/out
identity=
profile=
team_id=
layout_only=no
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --identity) identity=${2:?--identity needs a signing identity}; shift 2 ;;
    --profile) profile=${2:?--profile needs a .provisionprofile}; shift 2 ;;
    --team-id) team_id=${2:?--team-id needs a team ID}; shift 2 ;;
    --layout-only) layout_only=yes; shift ;;
    *) ks_die "unknown argument '$1' (see the comment at the top of $0)" ;;
  esac
done
if [ -n "$identity" ]; then
  [ -n "$profile" ] || ks_die "--identity needs --profile: com.apple.developer.endpoint-security.client is only valid with a provisioning profile"
  [ -f "$profile" ] || ks_die "$profile: no such provisioning profile"
  [ "$layout_only" = no ] || ks_die "--layout-only does not sign; drop --identity"
fi
if [ -z "$team_id" ] && [ -n "$identity" ]; then
  team_id=$(printf '%s' "$identity" | sed -n 's/.*(\([A-Z0-9]\{10\}\))$/\1/p')
fi
if [ "$layout_only" = no ] && [ "$(uname -s)" != Darwin ]; then
  ks_die "building the executable needs macOS (use --layout-only elsewhere)"
fi

version=$(cd "$src" && node -p 'require("./package.json").version')
bundle=$out/keysentry.app
rm -rf "$bundle"
mkdir -p "$bundle/Contents/MacOS" "$bundle/Contents/Resources"
ks_copy_app "$src" "$bundle/Contents/Resources/app"
ks_render "$src/launchd/Info.plist.in" "$bundle/Contents/Info.plist" 0644 VERSION="$version"
exe=$bundle/Contents/MacOS/keysentry

if [ "$layout_only" = yes ]; then
  cat >"$exe" <<'LAUNCHER'
#!/bin/sh
# Development layout (package-macos.sh --layout-only): unsigned, runs the node on PATH.
here=$(cd "$(dirname "$0")" && pwd)
exec node "$here/../Resources/app/dist/src/cli/main.js" "$@"
LAUNCHER
  chmod 0755 "$exe"
  ks_say "laid out $bundle (unsigned, no executable: --layout-only)"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp "$here/sea-main.js" "$work/sea-main.js"
  printf '{ "main": "%s", "output": "%s", "disableExperimentalSEAWarning": true, "useCodeCache": false }\n' \
    "$work/sea-main.js" "$work/sea.blob" >"$work/sea-config.json"
  node --experimental-sea-config "$work/sea-config.json"
  cp "$(command -v node)" "$exe"
  chmod 0755 "$exe"
  codesign --remove-signature "$exe"
  (cd "$src" && npx --yes postject@1.0.0-alpha.6 "$exe" NODE_SEA_BLOB "$work/sea.blob" \
    --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 --macho-segment-name NODE_SEA)
fi

if [ -n "$identity" ]; then
  cp "$profile" "$bundle/Contents/embedded.provisionprofile"
  # Inside out: every native addon first, then the bundle (which seals Resources/app).
  find "$bundle/Contents/Resources" -name '*.node' -print0 |
    xargs -0 codesign --force --timestamp --options runtime --sign "$identity"
  codesign --force --timestamp --options runtime --entitlements "$src/launchd/keysentry.entitlements" \
    --sign "$identity" "$bundle"
  codesign --verify --strict --verbose=2 "$bundle"
  codesign --display --entitlements - "$bundle"
  ks_say "signed $bundle as $identity"
elif [ "$layout_only" = no ]; then
  ks_say "built $bundle UNSIGNED: EndpointSecurity will refuse it (pass --identity and --profile)"
fi

if [ -n "$team_id" ]; then
  ks_render "$src/launchd/keysentry-pppc.mobileconfig" "$out/keysentry-pppc.mobileconfig" 0644 TEAM_ID="$team_id"
  ks_say "wrote $out/keysentry-pppc.mobileconfig for team $team_id: deploy it through MDM before installing"
fi
