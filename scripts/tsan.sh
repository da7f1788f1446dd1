#!/usr/bin/env bash
# The concurrent code under ThreadSanitizer: clang, -fsanitize=thread on
# every target of its own build tree (build-tsan), and the tests that
# exercise threads run with halt_on_error=1, so the first data race or
# lock-order inversion fails the test (or the trialogd it started).
#
# What is built and run (TSAN_TARGETS overrides the list):
#   unit:        storage_test (sequencer, indexer, node store, pipeline),
#                storage_scrub_parallel_test, storage_snapshot_test,
#                ledger_test (parallel verifier), batch_test,
#                refusal_log_test, witness_test (submitter)
#   integration: server_test, storage_fault_test, trial_state_service_test,
#                access_control_test, bulk_import_test (trialogd under
#                TSan, its gRPC handlers calling into the ledger at once)
# Usage: scripts/tsan.sh [--unit] [extra ctest arguments]
#   --unit   only the unit binaries (minutes less to build)
#   e.g.     scripts/tsan.sh -R StorageFaultTest --repeat until-fail:20
#
# Reports go to $BUILD_DIR/tsan-reports/ (one file per reporting process,
# trialogd and the CLI included): the script fails when any is there.
#
# Debian's abseil, gRPC, protobuf and RocksDB are not instrumented. Their
# own memory accesses are invisible to TSan (no false reports from inside
# them, no coverage either), but so would be absl::Mutex's locking, which
# scripts/tsan/absl_sync_annotations.cc makes visible (linked into every
# executable of this build). scripts/tsan.supp holds the few narrowly
# justified suppressions for uninstrumented third-party internals.
# Not in CI: see docs/RELIABILITY.md ("Thread sanitizer") for the cost.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
scope=all
if [ "${1:-}" = "--unit" ]; then
  scope=unit
  shift
fi
unit=(storage_test storage_scrub_parallel_test storage_snapshot_test ledger_test batch_test
      refusal_log_test witness_test)
integration=(server_test storage_fault_test trial_state_service_test access_control_test
             bulk_import_test trialogd trialog trialog_fault_injection)
if [ -n "${TSAN_TARGETS:-}" ]; then
  read -r -a targets <<<"$TSAN_TARGETS"
elif [ "$scope" = unit ]; then
  targets=("${unit[@]}")
else
  targets=("${unit[@]}" "${integration[@]}")
fi

bash scripts/install-deps.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
# -O1 with full debug info: readable stacks, TSan's usual setting.
flags="-O1 -g"
cache="$BUILD_DIR/CMakeCache.txt"
if ! { [ -f "$cache" ] && grep -qx "CMAKE_CXX_FLAGS_RELWITHDEBINFO:STRING=$flags" "$cache" &&
       grep -qx "TRIALOG_TSAN:BOOL=ON" "$cache"; }; then
  CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DTRIALOG_TSAN=ON >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}"

reports="$PWD/$BUILD_DIR/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error: the first report ends the process (exit code 66);
# second_deadlock_stack: both stacks of a lock-order inversion.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp:log_path=$reports/report}
# Only the tests of the binaries built above run (ctest lists the others
# as <target>_NOT_BUILT); the script-driven tests need the full build.
status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" \
  -E '_NOT_BUILT$|^interop_python$|^cli_e2e_test$' "$@" || status=$?
if compgen -G "$reports/report*" >/dev/null; then
  echo "ThreadSanitizer reports ($reports):" >&2
  for f in "$reports"/report*; do
    echo "== $f" >&2
    head -n 80 "$f" >&2
  done
  exit 1
fi
exit "$status"
