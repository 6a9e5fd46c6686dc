#!/usr/bin/env bash
# Installs the system packages Consort's build needs (RocksDB's bindgen wants
# libclang) when they are missing. Debian/Ubuntu; runs apt-get as root or via sudo.
set -euo pipefail
if dpkg -s libclang-dev >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing libclang-dev and clang (needed to build RocksDB)..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev clang >/dev/null
