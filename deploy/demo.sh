#!/usr/bin/env bash
# Quick start: build Consort and run `consort demo` (a three-org network on
# loopback with real transactions). Arguments go to `consort demo`, e.g. --once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/prereqs.sh
cargo build -p consort
exec ./target/debug/consort demo "$@"
