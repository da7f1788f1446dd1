#!/usr/bin/env bash
# The test suite built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (any report fails the test that triggered it;
# LeakSanitizer is on). Shares its build directory with scripts/fuzz.sh
# (the code is also instrumented for fuzzing coverage), so the fuzz
# regression inputs replay here too.
# Usage: scripts/sanitize.sh [--unit] [extra ctest arguments]
#   --unit   only the unit-labelled tests and the fuzz regressions (what
#            scripts/test.sh runs in CI); without it, every test, including
#            the integration tests that run the real trialogd
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-san}
scope=all
if [ "${1:-}" = "--unit" ]; then
  scope=unit
  shift
fi
bash scripts/install-deps.sh --with-chromium
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
bash scripts/configure-sanitized.sh "$BUILD_DIR"
# halt_on_error: the first report ends the process with a failure; leaks
# are reported too (LeakSanitizer is part of ASan on x86_64 Linux).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if [ "$scope" = unit ]; then
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target trialog_unit_tests trialog_fuzz_all
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" -L 'unit|fuzz' "$@"
else
  cmake --build "$BUILD_DIR" -j"$(nproc)"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
fi
