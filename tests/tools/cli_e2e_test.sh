#!/usr/bin/env bash
# End-to-end test of the trialog CLI against a real trialogd: the synthetic
# trial is appended, then `trialog verify` / `checkpoint` must accept the
# honest ledger and give the documented exit code for each kind of damage.
# Usage: cli_e2e_test.sh BUILD_DIR
set -uo pipefail
BIN=$1
T=$(mktemp -d)
trap 'kill $PID 2>/dev/null; rm -rf "$T"' EXIT
TRIAL=imt-crizotinib-01
failures=0; passes=0
check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT
  if [ "$2" = "$3" ]; then passes=$((passes+1)); echo "ok   $1 (exit $3)";
  else failures=$((failures+1)); echo "FAIL $1: expected exit $2, got $3"; fi
}
start_server() {  # start_server DATA_DIR
  rm -f "$T/ready"
  "$BIN/server/trialogd" --data_dir="$1" --listen=127.0.0.1:0 --plaintext --accept_new_trials \
    --ledger_key_file="$T/ledger.key" --ledger_key_passphrase_file="$T/pass" \
    --ready_file="$T/ready" 2>>"$T/server.log" &
  PID=$!
  for _ in $(seq 1 200); do [ -s "$T/ready" ] && break; sleep 0.05; done
  PORT=$(sed -n 's/^grpc_port=//p' "$T/ready")
}
stop_server() { kill -TERM $PID; wait $PID 2>/dev/null; }

echo "test passphrase" > "$T/pass"
"$BIN/server/trialogd" --new_ledger_key --ledger_key_file="$T/ledger.key" --ledger_name=trialog.test \
  --ledger_key_passphrase_file="$T/pass" 2>/dev/null
"$BIN/server/trialogd" --print_verifier_key --ledger_key_file="$T/ledger.key" --trial_id=$TRIAL > "$T/vkey"

start_server "$T/data"
"$BIN/tools/trialog" demo --server 127.0.0.1:$PORT --plaintext --key "@$T/vkey" --seed 7 \
  --subjects 13 > "$T/demo.out" 2>&1
check "demo appends the synthetic trial" 0 $?
"$BIN/tools/trialog" checkpoint --server 127.0.0.1:$PORT --plaintext --trial $TRIAL \
  --key "@$T/vkey" --save "$T/cp1" >/dev/null 2>&1
check "checkpoint prints and saves the signed note" 0 $?
"$BIN/tools/trialog" verify --server 127.0.0.1:$PORT --plaintext --trial $TRIAL --key "@$T/vkey" \
  --json > "$T/v.json"
check "verify a live server" 0 $?
grep -q '"result": "ok"' "$T/v.json"; check "verify --json says ok" 0 $?

# A second, different ledger under the same key: its checkpoint is a fork.
"$BIN/tools/trialog" keygen --name other --out "$T/other.key" --passphrase-file "$T/pass" \
  --weak-kdf > "$T/other.vkey" 2>/dev/null
check "keygen writes a key and prints its verifier key" 0 $?
grep -q '^other+[0-9a-f]\{8\}+' "$T/other.vkey"; check "keygen output is a C2SP vkey" 0 $?
"$BIN/tools/trialog" keygen --name trialog.test/$TRIAL --out "$T/swapped.key" \
  --passphrase-file "$T/pass" --weak-kdf > "$T/swapped.vkey" 2>/dev/null
"$BIN/tools/trialog" verify --server 127.0.0.1:$PORT --plaintext --trial $TRIAL \
  --key "@$T/swapped.vkey" >/dev/null 2>&1
check "verify under a swapped ledger key: checkpoint signature failure" 5 $?
"$BIN/tools/trialog" verify --server 127.0.0.1:$PORT --plaintext --trial $TRIAL \
  --key "not+a+key" >/dev/null 2>&1
check "verify with a malformed key is a usage error" 64 $?
stop_server

start_server "$T/data2"
"$BIN/tools/trialog" demo --server 127.0.0.1:$PORT --plaintext --key "@$T/vkey" --seed 8 \
  --subjects 13 > /dev/null 2>&1
"$BIN/tools/trialog" checkpoint --server 127.0.0.1:$PORT --plaintext --trial $TRIAL \
  --key "@$T/vkey" --trusted "$T/cp1" >/dev/null 2>&1
check "checkpoint of another history under the same key is a fork" 7 $?
stop_server

"$BIN/tools/trialog" verify --data "$T/data" --trial $TRIAL --key "@$T/vkey" --trusted "@$T/cp1" \
  >/dev/null 2>&1
check "offline verify of the data directory against the trusted checkpoint" 0 $?
"$BIN/tools/trialog" verify --data "$T/data2" --trial $TRIAL --key "@$T/vkey" --trusted "@$T/cp1" \
  >/dev/null 2>&1
check "offline verify of a forked data directory against the trusted checkpoint" 7 $?
"$BIN/tools/trialog" verify --data "$T/nowhere" --trial $TRIAL --key "@$T/vkey" >/dev/null 2>&1
check "verify of a missing directory is unreadable input" 2 $?
"$BIN/tools/trialog" verify --key "@$T/vkey" >/dev/null 2>&1
check "verify without a source is a usage error" 64 $?

echo "$passes passed, $failures failed"
[ $failures -eq 0 ]
