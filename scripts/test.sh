#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test;
# then builds the fuzzers with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs each for a bounded time (scripts/fuzz.sh,
# $TRIALOG_FUZZ_SECONDS per target, default 20). The whole suite under the
# sanitizers is scripts/sanitize.sh (not run here yet: it doubles the time).
# Usage: scripts/test.sh [extra ctest arguments]
#        TRIALOG_TEST_QUICK=1 scripts/test.sh   # without the fuzzing
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
