#!/usr/bin/env bash
# Opt-in: installs Debian 12's bazel-bootstrap (Bazel 4.2.3) for bazel_compat/.
# Not part of scripts/install-deps.sh because the main CMake CI path does not need it
# (37 packages, ~35 MB, ~13 s). Idempotent: when bazel-bootstrap is present it only runs
# dpkg-query. The C++ libraries themselves come from scripts/install-deps.sh.
set -euo pipefail

PACKAGES=(bazel-bootstrap)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-bazel: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
