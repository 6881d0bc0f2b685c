#!/usr/bin/env bash
# Builds the native addon with AddressSanitizer + LeakSanitizer in a scratch copy (the
# regular build/ is left alone) and runs the addon's tests against it (KEYSENTRY_NATIVE_ADDON).
#
# Node itself frees little at exit, so LeakSanitizer reports every leak it sees into a log;
# this script fails on any invalid access, and on any leak whose allocation stack passes
# through the addon. Usage: scripts/asan-test.sh [compiled test files...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/keysentry-asan.XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # the tests load the addon as an unprivileged user too

cp -r "$root/binding.gyp" "$root/native" "$work/"
ln -s "$root/node_modules" "$work/node_modules"
# Offline machines point npm at the installed headers (npm config nodedir), as npm install does.
nodedir="${npm_config_nodedir:-}"
if [ -z "$nodedir" ]; then nodedir="$(cd "$root" && npm config get nodedir 2>/dev/null)" || nodedir=""; fi
gyp_args=(rebuild -j 2 --loglevel=error)
if [ -n "$nodedir" ] && [ "$nodedir" != undefined ] && [ "$nodedir" != null ]; then gyp_args+=("--nodedir=$nodedir"); fi
(
  cd "$work"
  CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" LDFLAGS="-fsanitize=address" \
    "$root/node_modules/.bin/node-gyp" "${gyp_args[@]}" >"$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    exit 1
  }
)
addon="$work/build/Release/keysentry_native.node"
libasan="$(gcc -print-file-name=libasan.so)"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=("$root/dist/test/native-core.test.js" "$root/dist/test/native-push.test.js")
  if [ "$(id -u)" = 0 ]; then tests+=("$root/dist/test/native-audit.test.js" "$root/dist/test/native-audit-watchdog.test.js" "$root/dist/test/native-urgent.test.js"); fi
fi

mkdir -p "$work/logs"
status=0
LD_PRELOAD="$libasan" KEYSENTRY_NATIVE_ADDON="$addon" \
  ASAN_OPTIONS="detect_leaks=1:log_path=$work/logs/asan:exitcode=0:verify_asan_link_order=0:detect_odr_violation=0" \
  LSAN_OPTIONS="report_objects=0" \
  "$root/node_modules/.bin/mocha" --config "$root/.mocharc.json" "${tests[@]}" || status=$?

shopt -s nullglob
reports=("$work"/logs/asan.*)
errors=0
if [ ${#reports[@]} -gt 0 ]; then
  # Invalid accesses (use after free, overflow, double free...) are always ours to fix.
  if grep -l "ERROR: AddressSanitizer" "${reports[@]}" >/dev/null 2>&1; then
    grep -h -A30 "ERROR: AddressSanitizer" "${reports[@]}" >&2
    errors=1
  fi
  # A leak report block runs from "Direct/Indirect leak" to the next blank line. It is the
  # addon's when, walking up from the allocator, an addon frame comes before any frame of
  # node itself (V8 allocating on behalf of JavaScript the addon called is not a leak of ours).
  ours="$(awk '
    /(Direct|Indirect) leak of/ { block = $0; decided = 0; mine = 0; next }
    block != "" && /^ *#[0-9]+ / {
      block = block "\n" $0
      if (!decided && ($0 ~ /native\/(core|linux|macos)\// || $0 ~ /keysentry::/)) { decided = 1; mine = 1 }
      else if (!decided && $0 ~ /\(\/usr\/bin\/node\+|libnode/) { decided = 1 }
      next
    }
    /^$/ { if (block != "" && mine) print block; block = "" }
  ' "${reports[@]}")"
  if [ -n "$ours" ]; then
    printf 'asan-test: leaks from the addon:\n%s\n' "$ours" >&2
    errors=1
  fi
fi
if [ "$status" -ne 0 ] || [ "$errors" -ne 0 ]; then
  echo "asan-test: FAILED (mocha status $status, sanitizer findings $errors)" >&2
  exit 1
fi
echo "asan-test: clean (no invalid access, no leak through the addon; ${#reports[@]} sanitizer logs read)"
