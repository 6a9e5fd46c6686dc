#!/usr/bin/env bash
# Runs Consort's whole test suite: unit tests and multi-process network tests
# on loopback. Installs the build's system packages first if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/prereqs.sh
cargo test --workspace "$@"
