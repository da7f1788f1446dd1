#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan and UBSan), makes the
# seed corpora (a real signed ledger and its exports, and ../shared/vectors),
# and runs each fuzzer for a bounded time. A crash, a sanitizer report or a
# broken invariant stops that fuzzer, keeps the input under
# $BUILD_DIR/fuzz-artifacts/ and makes this script exit 1: fix it and copy
# the input into fuzz/regressions/<target>/ (ctest replays those).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; $FUZZ_SECONDS)
#        FUZZ_TARGETS="note proof" scripts/fuzz.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-60}}
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-san}
TARGETS=${FUZZ_TARGETS:-entry_chain envelope_admission note proof bundle}
bash scripts/install-deps.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
bash scripts/configure-sanitized.sh "$BUILD_DIR"
cmake --build "$BUILD_DIR" -j"$(nproc)" --target seed_gen $(for t in $TARGETS; do echo "${t}_fuzzer"; done)

seeds="$BUILD_DIR/fuzz-corpus"
"$BUILD_DIR/fuzz/seed_gen" "$seeds" >/dev/null
python3 fuzz/make_seeds.py "$(cmake -L -N "$BUILD_DIR" | sed -n 's/^TRIALOG_VECTORS_DIR:PATH=//p')" "$seeds" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

max_len() {
  case "$1" in
    entry_chain|bundle) echo 262144 ;;
    envelope_admission) echo 65536 ;;
    *) echo 8192 ;;
  esac
}

failed=0
printf '%-20s %8s %12s %10s %8s %8s  %s\n' target seconds executions "exec/s" cov corpus result
for t in $TARGETS; do
  work="$BUILD_DIR/fuzz-work/$t"
  artifacts="$BUILD_DIR/fuzz-artifacts"
  mkdir -p "$work" "$artifacts" "$seeds/$t"
  log="$BUILD_DIR/fuzz-work/$t.log"
  result=ok
  if ! "$BUILD_DIR/fuzz/${t}_fuzzer" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
      -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/$t-" "$work" "$seeds/$t" "fuzz/regressions/$t" >"$log" 2>&1; then
    result="FAILED (see $log and $artifacts/)"
    failed=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$work" -type f | wc -l)
  printf '%-20s %8s %12s %10s %8s %8s  %s\n' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "$corpus" "$result"
done
exit $failed
