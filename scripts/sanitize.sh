#!/usr/bin/env bash
# The whole test suite again, built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (any report fails the test that triggered it),
# plus the fuzzers' regression inputs. Shares its build directory with
# scripts/fuzz.sh (the code is also instrumented for coverage).
# Usage: scripts/sanitize.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-san}
bash scripts/install-deps.sh --with-chromium
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRIALOG_SANITIZE=ON -DTRIALOG_FUZZ=ON >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
# halt_on_error: the first report ends the process with a failure; leaks
# are reported too (LeakSanitizer is part of ASan on x86_64 Linux).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
