#!/usr/bin/env bash
# Installs the Debian 12 packages trialog needs to build, test and run its demo.
# Idempotent: when everything is present it only runs dpkg-query (well under a second).
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache git
  # libraries
  librocksdb-dev libgrpc++-dev libgrpc-dev libprotobuf-dev protobuf-compiler
  protobuf-compiler-grpc libsodium-dev libabsl-dev libgtest-dev libgmock-dev
  libbenchmark-dev nlohmann-json3-dev libmicrohttpd-dev libcli11-dev
  # HTTP client of the witness protocol (tools/witness, trialogd's witness submitter)
  libcurl4-openssl-dev
  # third-party peers used by the tests (interop client, XML schema validation)
  python3-grpcio python3-protobuf python3-nacl libxml2-utils openssl
  # ODM export validation with a second, independent XSD validator
  python3-xmlschema
  # scripts/sanitize.sh and scripts/fuzz.sh: clang with ASan, UBSan and libFuzzer
  clang libclang-rt-14-dev
)

# Opt-in extras (any order):
#   --with-chromium  (scripts/test.sh asks for it) headless Chromium renders the
#                    HTML report in tests/export (about 100 packages, several
#                    hundred MB); without it that test is skipped; the demo does
#                    not need it.
#   --with-bench     PostgreSQL 15 (server, pgbench and pgcrypto are all in
#                    postgresql-15; psql comes with it) for the hash-chain
#                    baseline of scripts/bench.sh. The test suite does not need it.
for arg in "$@"; do
  case "$arg" in
    --with-chromium) PACKAGES+=(chromium) ;;
    --with-bench) PACKAGES+=(postgresql-15) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 64 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
