#!/usr/bin/env bash
# Installs the system packages Consort's build and tests need when they are
# missing: RocksDB's bindgen wants libclang (libclang-dev, clang); the Python
# client's test wants pip (python3-pip). Debian/Ubuntu; runs apt-get as root
# or via sudo.
set -euo pipefail
missing=()
if ! dpkg -s libclang-dev >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
  missing+=(libclang-dev clang)
fi
if command -v python3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing ${missing[*]} (needed to build RocksDB and run the tests)..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
