#!/usr/bin/env bash
# Runs Consort's tests. Installs the build's system packages first if they are
# missing, the Python client's packages (clients/python/requirements.txt)
# that node/tests/python_client.rs runs it with, and for the slow lane
# Debian's chromium, which node/tests/explorer_browser.rs drives headless.
#
#   bash deploy/test.sh          the lint lane, then the fast lane, then the slow lane
#   bash deploy/test.sh fast     unit tests, the SDK, the client crate, doc tests,
#                                the benchmarks run once each
#                                (no network processes; under 2 minutes warm)
#   bash deploy/test.sh slow     multi-process networks on loopback and docker
#   bash deploy/test.sh lint     cargo fmt --check and clippy -D warnings
#
# Everything builds in the one debug profile, so RocksDB compiles once; clippy
# (check mode) shares its build scripts through [profile.dev.build-override].
set -euo pipefail
cd "$(dirname "$0")/.."
lane="${1:-all}"
bash deploy/prereqs.sh

lint() {
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
}

fast() {
  # Library, binary and in-process integration tests of every crate but the
  # node's multi-process suites (node/tests/*.rs), then the doc tests.
  cargo test --workspace --lib --bins
  cargo test -p consort-client -p chaincode-sdk -p notes-chaincode --tests
  cargo test --workspace --doc
  # The criterion benchmarks, compiled in this profile (so RocksDB is not
  # built a second time for the bench profile) and each run once as a test;
  # `cargo bench -p consort` measures them.
  cargo test -p consort --bench pipeline
}

slow() {
  # pip as the current user, no sudo: into the active Python environment,
  # else the user's site-packages (also where the system Python is
  # externally managed).
  pip_install() {
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check "$@" \
      -r clients/python/requirements.txt
  }
  pip_install || pip_install --user || pip_install --user --break-system-packages ||
    echo "warning: could not install clients/python/requirements.txt; the python_client test will fail" >&2
  # The explorer's browser test loads its pages in headless Chromium.
  if ! command -v chromium >/dev/null 2>&1; then
    sudo_=""
    if [ "$(id -u)" -ne 0 ]; then sudo_="sudo"; fi
    { $sudo_ apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium >/dev/null; } ||
      echo "warning: could not install chromium; the explorer_browser test will fail" >&2
  fi
  # Each suite's networks run one at a time (two cores).
  cargo test -p consort --test '*' -- --test-threads 1
}

case "$lane" in
  all) lint; fast; slow ;;
  fast) fast ;;
  slow) slow ;;
  lint) lint ;;
  *) echo "usage: bash deploy/test.sh [all|fast|slow|lint]" >&2; exit 2 ;;
esac
