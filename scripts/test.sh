#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test.
# Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite renders the HTML report in headless Chromium (tests/export).
bash scripts/install-deps.sh --with-chromium
bash scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
