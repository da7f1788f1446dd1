#!/usr/bin/env bash
# The main job: builds trialog, starts trialogd on an embedded RocksDB in a
# fresh directory, runs the synthetic paediatric IMT crizotinib trial through
# the client library, verifies the ledger live and offline, exports it, and
# says where everything is.
#
# Usage: scripts/demo.sh [--seed N] [--subjects N]
#   TRIALOG_DEMO_DIR  output directory (default: ./demo-out; emptied first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SEED=42
SUBJECTS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=$2; shift 2 ;;
    --subjects) SUBJECTS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

[ -n "${TRIALOG_SKIP_BUILD:-}" ] || bash scripts/build.sh build   # set TRIALOG_SKIP_BUILD=1 to reuse build/
BIN=$ROOT/build
OUT=${TRIALOG_DEMO_DIR:-$ROOT/demo-out}
rm -rf "$OUT"
mkdir -p "$OUT"
TRIAL=imt-crizotinib-01
LEDGER_NAME=trialog.demo
DATA=$OUT/data

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "ledger key (Ed25519, sealed with a passphrase; demo passphrase in $OUT/ledger.passphrase)"
umask 077
head -c 32 /dev/urandom | base64 > "$OUT/ledger.passphrase"
umask 022
"$BIN/server/trialogd" --new_ledger_key --ledger_key_file="$OUT/ledger.key" \
  --ledger_name="$LEDGER_NAME" --ledger_key_passphrase_file="$OUT/ledger.passphrase"
"$BIN/server/trialogd" --print_verifier_key --ledger_key_file="$OUT/ledger.key" \
  --trial_id="$TRIAL" > "$OUT/ledger.vkey"
echo "verifier key: $(cat "$OUT/ledger.vkey")"

step "trialogd on 127.0.0.1 (plaintext on loopback), data in $DATA"
mkdir -p "$OUT/backups"
"$BIN/server/trialogd" --data_dir="$DATA" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --plaintext --accept_new_trials --ledger_key_file="$OUT/ledger.key" \
  --ledger_key_passphrase_file="$OUT/ledger.passphrase" --ready_file="$OUT/ready" \
  --backup_dir="$OUT/backups" 2> "$OUT/trialogd.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$OUT/ready" ] && break
  kill -0 $SERVER_PID 2>/dev/null || { cat "$OUT/trialogd.log" >&2; exit 1; }
  sleep 0.1
done
PORT=$(sed -n 's/^grpc_port=//p' "$OUT/ready")
METRICS_PORT=$(sed -n 's/^metrics_port=//p' "$OUT/ready")
echo "serving on 127.0.0.1:$PORT (metrics on :$METRICS_PORT/metrics)"

step "synthetic trial: seed $SEED, $SUBJECTS subjects"
"$BIN/tools/trialog" demo --server "127.0.0.1:$PORT" --plaintext --key "@$OUT/ledger.vkey" \
  --seed "$SEED" --subjects "$SUBJECTS" --summary-json "$OUT/summary.json"

step "verify the live server end to end"
"$BIN/tools/trialog" verify --server "127.0.0.1:$PORT" --plaintext --trial "$TRIAL" \
  --key "@$OUT/ledger.vkey" --save-checkpoint "$OUT/checkpoint.note"

if command -v curl >/dev/null; then
  echo "appends counted by the metrics endpoint: $(curl -s "127.0.0.1:$METRICS_PORT/metrics" \
    | awk '/^trialog_appends_total/ {s += $2} END {print s + 0}')"
fi

step "online backup (consistent RocksDB checkpoint while serving)"
"$BIN/tools/trialog" backup --server "127.0.0.1:$PORT" --plaintext --name demo-backup \
  --trial "$TRIAL" --key "@$OUT/ledger.vkey"

step "stop trialogd (SIGTERM) and verify its data directory offline"
kill -TERM $SERVER_PID
wait $SERVER_PID || true
trap - EXIT
"$BIN/tools/trialog" verify --data "$DATA" --trial "$TRIAL" --key "@$OUT/ledger.vkey" \
  --trusted "@$OUT/checkpoint.note" --json > "$OUT/verify.json"
echo "offline verification: $(grep -o '"result": "[a-z_]*"' "$OUT/verify.json")"

step "regulator exports: signed bundle, CDISC ODM 1.3.2, HTML report, one subject's disclosure"
T="$BIN/tools/trialog"
TRIALOG_PASSPHRASE=$(cat "$OUT/ledger.passphrase") "$T" keygen --name trialog.demo/exports \
  --out "$OUT/exporter.key" --weak-kdf > "$OUT/exporter.vkey"
export TRIALOG_PASSPHRASE
TRIALOG_PASSPHRASE=$(cat "$OUT/ledger.passphrase")
"$T" export bundle --data "$DATA" --trial "$TRIAL" --key "@$OUT/ledger.vkey" \
  --exporter-key-file "$OUT/exporter.key" --out "$OUT/bundle"
"$T" verify --bundle "$OUT/bundle" --key "@$OUT/ledger.vkey" --exporter-key "@$OUT/exporter.vkey"
"$T" export odm --bundle "$OUT/bundle" --key "@$OUT/ledger.vkey" --out "$OUT/$TRIAL.odm.xml"
if command -v xmllint >/dev/null && [ -f "$ROOT/../shared/vectors/odm/odm-1.3.2/ODM1-3-2.xsd" ]; then
  xmllint --noout --nonet --schema "$ROOT/../shared/vectors/odm/odm-1.3.2/ODM1-3-2.xsd" \
    "$OUT/$TRIAL.odm.xml"
fi
"$T" report --bundle "$OUT/bundle" --key "@$OUT/ledger.vkey" --out "$OUT/$TRIAL.report.html"
"$T" export subject --bundle "$OUT/bundle" --key "@$OUT/ledger.vkey" --subject RU-01-0001 \
  --exporter-key-file "$OUT/exporter.key" --out "$OUT/subject-RU-01-0001"
"$T" verify --bundle "$OUT/subject-RU-01-0001" --key "@$OUT/ledger.vkey"
unset TRIALOG_PASSPHRASE

step "restore the backup into a fresh data directory (verified before it is kept)"
"$T" restore --from "$OUT/backups/demo-backup" --data "$OUT/restored" --trial "$TRIAL" \
  --key "@$OUT/ledger.vkey"

step "audit trail of subject RU-01-0001 (who, what, when, why; first lines)"
"$T" audit-trail --data "$DATA" --trial "$TRIAL" --key "@$OUT/ledger.vkey" \
  --subject RU-01-0001 --csv > "$OUT/audit-trail-RU-01-0001.csv"
"$T" audit-trail --data "$DATA" --trial "$TRIAL" --key "@$OUT/ledger.vkey" \
  --subject RU-01-0001 | head -12 || true

step "results"
cat <<EOM
  verifier key (C2SP vkey):  $OUT/ledger.vkey
  latest checkpoint (note):  $OUT/checkpoint.note
  trial summary (JSON):      $OUT/summary.json
  verification report:       $OUT/verify.json
  export bundle (verifiable): $OUT/bundle
  CDISC ODM 1.3.2:           $OUT/$TRIAL.odm.xml
  report (open in a browser): $OUT/$TRIAL.report.html
  one subject's disclosure:  $OUT/subject-RU-01-0001
  online backup / restored:  $OUT/backups/demo-backup  /  $OUT/restored
  audit trail (CSV):         $OUT/audit-trail-RU-01-0001.csv
  data directory:            $DATA   (trial $TRIAL)
Explore it with, for example:
  $BIN/tools/trialog verify --data $DATA --trial $TRIAL --key @$OUT/ledger.vkey
  $BIN/tools/trialog checkpoint --data $DATA --trial $TRIAL --key @$OUT/ledger.vkey
  $BIN/tools/trialog audit-trail --data $DATA --trial $TRIAL --key @$OUT/ledger.vkey --type data_corrected
  $BIN/tools/trialog inspect --data $DATA --trial $TRIAL --key @$OUT/ledger.vkey --index 42
EOM
