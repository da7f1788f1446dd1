#!/usr/bin/env bash
# The issue-7 benchmark in one run: builds trialogd, trialog and trialog-bench,
# starts a throwaway PostgreSQL on loopback (initdb in a temp dir, fsync=on,
# synchronous_commit=on) with the hash-chain baseline of bench/pg-baseline/,
# then runs trialog-bench, which starts a real trialogd on a temp data dir on
# loopback and prints ONE table: ceilings, appends through gRPC, PostgreSQL,
# and replay/verify/proofs/restart/RSS at the chosen size.
#
# Usage: scripts/bench.sh [quick|full|10m] [more trialog-bench flags, e.g. --json,
#        or --scale_cold_proofs: as root, the proofs again after dropping the page cache]
#   quick  3 s per run, scale runs at 100k entries        (~3 min)
#   full   5 s per run, scale runs at 1M entries          (~10 min on 2 cores)
#   10m    5 s per run, scale runs at 10M entries         (long: ~1-2 h to build the ledger)
# Environment: BUILD_DIR (default build), BENCH_TMP (default /tmp; put it on the
# disk you care about), BENCH_SVG (where the chart of measured / target for every
# target goes; default $BENCH_TMP/trialog-bench-targets.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-quick}
if [ $# -gt 0 ]; then shift; fi
case "$MODE" in
  quick) ARGS=(--seconds 3 --scale 100000) ;;
  full) ARGS=(--seconds 5 --scale 1000000) ;;
  10m) ARGS=(--seconds 5 --scale 10000000) ;;
  *) echo "usage: scripts/bench.sh [quick|full|10m] [trialog-bench flags]" >&2; exit 64 ;;
esac
BUILD_DIR=${BUILD_DIR:-build}
TMP=${BENCH_TMP:-/tmp}
SVG=${BENCH_SVG:-$TMP/trialog-bench-targets.svg}

bash scripts/install-deps.sh --with-bench
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target trialogd trialog trialog-bench >/dev/null

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDIR=$(mktemp -d "$TMP/trialog-bench-pg-XXXXXX")
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AS=()
if [ "$(id -u)" -eq 0 ]; then  # initdb refuses to run as root
  chown postgres: "$PGDIR"
  AS=(runuser -u postgres --)
fi
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U bench >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGDIR -c fsync=on -c synchronous_commit=on" \
  start >/dev/null
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U bench)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
"${PSQL[@]}" -d bench -f bench/pg-baseline/schema.sql >/dev/null 2>&1
echo "bench: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT" \
     "($("${PSQL[@]}" -d bench -Atc "SHOW synchronous_commit")/fsync=$("${PSQL[@]}" -d bench -Atc "SHOW fsync"));" \
     "uptime: $(uptime)" >&2

"$BUILD_DIR/tools/bench/trialog-bench" \
  --trialogd "$BUILD_DIR/server/trialogd" --trialog "$BUILD_DIR/tools/trialog" --tmp "$TMP" \
  --pgbench "$PGBIN/pgbench" --pg_port "$PGPORT" --pg_user bench --pg_db bench \
  --pg_script bench/pg-baseline/insert_chain.sql --svg_out "$SVG" "${ARGS[@]}" "$@"
echo "bench: chart of every measured target (measured / target, 1 = met): $SVG" >&2

# The baseline's own chain check (rows, bad hashes, bad links) after the runs.
echo "bench: PostgreSQL chain check (rows|bad_hash|bad_link): $("${PSQL[@]}" -d bench -Atf bench/pg-baseline/verify.sql)" >&2
