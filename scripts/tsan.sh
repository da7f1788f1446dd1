#!/usr/bin/env bash
# The concurrent code under ThreadSanitizer: clang, -fsanitize=thread on
# every target of its own build tree (build-tsan), and the tests that
# exercise threads run with halt_on_error=1, so the first data race or
# lock-order inversion fails the test (or the trialogd it started).
#
# Two scopes (TSAN_TARGETS overrides the binaries built):
#   (default)  the in-process concurrency tests, strict: TSAN_OPTIONS
#              halt_on_error=1, any report fails the test that made it.
#              storage_test (sequencer, indexer, node store, pipeline),
#              storage_scrub_parallel_test, storage_snapshot_test,
#              ledger_test (parallel verifier), batch_test,
#              refusal_log_test, witness_test (submitter)
#   --server   the trialogd integration tests (server_test,
#              storage_fault_test, trial_state_service_test,
#              access_control_test, bulk_import_test): trialogd under TSan,
#              its gRPC handlers calling into the ledger at once. Debian's
#              gRPC is not instrumented and its own thread hand-overs raise
#              hundreds of reports inside it, so here reports do not stop
#              the processes (halt_on_error=0, exitcode=0); afterwards
#              scripts/tsan_triage.py fails the run when any report has
#              trialog code making a racing access, or is not a data race.
#   --all      both
# Usage: scripts/tsan.sh [--server|--all] [extra ctest arguments]
#   e.g.     scripts/tsan.sh -R 'Pipeline' --repeat until-fail:20
#
# Reports go to $BUILD_DIR/tsan-reports/ (one file per reporting process,
# trialogd and the CLI included): in the default scope the script fails
# when any is there.
#
# Debian's abseil, gRPC, protobuf and RocksDB are not instrumented. Their
# own memory accesses are invisible to TSan, but so would be absl::Mutex's
# locking, which scripts/tsan/absl_sync_annotations.cc makes visible (linked
# into every executable of this build). scripts/tsan.supp holds the few
# narrowly justified suppressions for uninstrumented third-party internals.
# Not in CI: see docs/RELIABILITY.md ("Thread sanitizer") for the cost.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
scope=unit
case "${1:-}" in
  --server) scope=server; shift ;;
  --all) scope=all; shift ;;
esac
unit=(storage_test storage_scrub_parallel_test storage_snapshot_test ledger_test batch_test
      refusal_log_test witness_test)
integration=(server_test storage_fault_test trial_state_service_test access_control_test
             bulk_import_test trialogd trialog trialog_fault_injection)
if [ -n "${TSAN_TARGETS:-}" ]; then
  read -r -a targets <<<"$TSAN_TARGETS"
elif [ "$scope" = unit ]; then
  targets=("${unit[@]}")
elif [ "$scope" = server ]; then
  targets=("${integration[@]}")
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
supp="suppressions=$PWD/scripts/tsan.supp"
# second_deadlock_stack: both stacks of a lock-order inversion.
strict="halt_on_error=1:second_deadlock_stack=1:$supp:log_path=$reports/unit"
lenient="halt_on_error=0:exitcode=0:second_deadlock_stack=1:$supp:log_path=$reports/server"
# Only the tests of the binaries built above run (ctest lists the others
# as <target>_NOT_BUILT); the script-driven tests need the full build.
skip='_NOT_BUILT$|^interop_python$|^cli_e2e_test$'
rm -rf "$reports"
mkdir -p "$reports"
status=0
if [ "$scope" != server ]; then
  # halt_on_error: the first report ends the process (exit code 66).
  TSAN_OPTIONS=${TSAN_OPTIONS:-$strict} ctest --test-dir "$BUILD_DIR" --output-on-failure \
    -j"$(nproc)" -L unit -E "$skip" "$@" || status=$?
  if compgen -G "$reports/unit*" >/dev/null; then
    echo "ThreadSanitizer reports ($reports):" >&2
    for f in "$reports"/unit*; do
      echo "== $f" >&2
      head -n 80 "$f" >&2
    done
    status=1
  fi
fi
if [ "$scope" != unit ]; then
  TSAN_OPTIONS=${TSAN_OPTIONS:-$lenient} ctest --test-dir "$BUILD_DIR" --output-on-failure \
    -j"$(nproc)" -L integration -E "$skip" "$@" || status=$?
  if compgen -G "$reports/server*" >/dev/null; then
    python3 scripts/tsan_triage.py "$reports"/server* || status=1
  fi
fi
exit "$status"
