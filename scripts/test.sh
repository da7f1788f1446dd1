#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test;
# then builds the fuzzers with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs each for a bounded time (scripts/fuzz.sh,
# $TRIALOG_FUZZ_SECONDS per target, default 20); then builds everything else
# in that sanitized tree and runs every test again there (scripts/sanitize.sh).
# Usage: scripts/test.sh [extra ctest arguments]
#        TRIALOG_TEST_QUICK=1 scripts/test.sh   # without fuzzing and sanitizers
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite renders the HTML report in headless Chromium (tests/export).
bash scripts/install-deps.sh --with-chromium
bash scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
if [ -n "${TRIALOG_TEST_QUICK:-}" ]; then
  exit 0
fi
echo "test.sh: fuzzing each target for ${TRIALOG_FUZZ_SECONDS:-20} s (scripts/fuzz.sh)"
bash scripts/fuzz.sh "${TRIALOG_FUZZ_SECONDS:-20}"
echo "test.sh: the whole suite again under ASan, LeakSanitizer and UBSan (scripts/sanitize.sh)"
bash scripts/sanitize.sh "$@"
