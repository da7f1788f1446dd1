#!/usr/bin/env bash
# Configures the clang build tree shared by scripts/fuzz.sh and
# scripts/sanitize.sh: AddressSanitizer + UndefinedBehaviorSanitizer on
# every target, libFuzzer coverage instrumentation (so fuzz regression
# inputs replay under the same build), -O1 with line tables only (readable
# reports; about a quarter quicker to compile than -O2 -g) and assertions on
# (no NDEBUG). Re-running it on a configured tree with the same settings
# changes nothing.
# Usage: scripts/configure-sanitized.sh [BUILD_DIR]   (default: build-san)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-san}
flags="-O1 -gline-tables-only"
cache="$BUILD_DIR/CMakeCache.txt"
if [ -f "$cache" ] && grep -qx "CMAKE_CXX_FLAGS_RELWITHDEBINFO:STRING=$flags" "$cache"; then
  exit 0
fi
# The build type's own flags are replaced (RelWithDebInfo's are -O2 -g -DNDEBUG).
CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
  -DTRIALOG_SANITIZE=ON -DTRIALOG_FUZZ=ON >/dev/null
