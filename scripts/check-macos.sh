#!/usr/bin/env bash
# Compiles the macOS addon's sources for Apple targets, as a Mac build would, without a Mac:
#   clang++ --target=arm64-apple-macos13 and --target=x86_64-apple-macos11,
#   -fblocks -fsyntax-only -Wall -Wextra -Werror -Wunguarded-availability-new (the shared core:
#   errors and availability only).
#
# MACOS_SDK=/path/to/MacOSX.sdk (a folder with usr/include): against Apple's real headers and
# the SDK's libc++. Otherwise against native/test-double (Apple's API shapes and availability,
# written for this project) with Debian's glibc/libstdc++ headers for each architecture
# (packages libc6-dev-arm64-cross and libstdc++-12-dev-arm64-cross for arm64).
# CLANGXX overrides the compiler (a real SDK's libc++ may need a newer clang); NODE_HEADERS the
# folder with node_api.h (default: beside the running node).
set -euo pipefail
cd "$(dirname "$0")/.."

CLANGXX=${CLANGXX:-clang++}
# Arguments: sources to check instead of those of the macOS addon build (the shared core and
# native/macos, as binding.gyp compiles them on a Mac).
if [ $# -gt 0 ]; then SOURCES=("$@"); else SOURCES=(native/core/*.cc native/macos/*.cc); fi
COMMON=(-std=c++17 -fblocks -fsyntax-only -Wall -Wextra -Wunguarded-availability-new)
# Warnings are errors in the macOS-only sources; the shared core (built and warned about on
# Linux too) fails the check only when it would not build on a Mac, or would call an API newer
# than the deployment target.
strictness() {
  case $1 in
    native/core/*) echo -Werror=unguarded-availability-new ;;
    *) echo -Werror ;;
  esac
}
# The N-API files need node-addon-api and Node's headers, as binding.gyp gives them.
NAPI=(-DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
  -isystem "$(node -p "require('node-addon-api').include_dir")"
  -isystem "${NODE_HEADERS:-$(node -p "require('path').resolve(process.execPath, '../../include/node')")}")

if ! command -v "$CLANGXX" >/dev/null; then
  echo "check-macos: $CLANGXX not found (apt-get install clang)" >&2
  exit 2
fi

# Debian's C/C++ headers for one architecture, standing in for the SDK's libc and libc++
# when checking against the double.
host_std_includes() {
  local gcc_major cxx cxx_arch libc_arch libc
  gcc_major=$(printf '%s\n' /usr/include/c++/* | sed 's#.*/##' | sort -n | tail -1)
  case $1 in
    x86_64)
      cxx=/usr/include/c++/$gcc_major cxx_arch=/usr/include/x86_64-linux-gnu/c++/$gcc_major
      libc_arch=/usr/include/x86_64-linux-gnu libc=/usr/include ;;
    arm64)
      cxx=/usr/aarch64-linux-gnu/include/c++/$gcc_major cxx_arch=$cxx/aarch64-linux-gnu
      libc_arch=/usr/aarch64-linux-gnu/include libc=/usr/aarch64-linux-gnu/include ;;
  esac
  for dir in "$cxx" "$cxx_arch" "$libc_arch"; do
    if [ ! -d "$dir" ]; then
      echo "check-macos: $dir missing: apt-get install g++ libc6-dev-arm64-cross libstdc++-12-dev-arm64-cross" >&2
      return 1
    fi
  done
  # glibc and Darwin clang disagree on __nonnull (a glibc macro, a Darwin keyword alias);
  # libstdc++ expects _GNU_SOURCE as g++ defines it.
  printf '%s\n' -nostdinc++ -nostdlibinc -U__nonnull -U__nullable -D_GNU_SOURCE \
    -isystem "$PWD/native/test-double/usr/include" \
    -isystem "$cxx" -isystem "$cxx_arch" -isystem "$libc_arch" -isystem "$libc"
}

check() {
  local target=$1 arch=${1%%-*} flags
  if [ -n "${MACOS_SDK:-}" ]; then
    if [ ! -d "$MACOS_SDK/usr/include" ]; then
      echo "check-macos: MACOS_SDK=$MACOS_SDK has no usr/include" >&2
      return 2
    fi
    flags=(-isysroot "$MACOS_SDK")
  else
    mapfile -t flags < <(host_std_includes "$arch")
    [ ${#flags[@]} -gt 0 ] || return 1
  fi
  local failed=0
  for src in "${SOURCES[@]}"; do
    if ! "$CLANGXX" "--target=$target" "${COMMON[@]}" "$(strictness "$src")" "${NAPI[@]}" "${flags[@]}" "$src"; then
      echo "check-macos: FAILED $src for $target" >&2
      failed=1
    fi
  done
  [ $failed = 0 ] && echo "check-macos: ${#SOURCES[@]} sources OK for $target against ${MACOS_SDK:-native/test-double}"
  return $failed
}

status=0
check arm64-apple-macos13 || status=1
check x86_64-apple-macos11 || status=1
exit $status
