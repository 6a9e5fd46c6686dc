#!/usr/bin/env bash
# Runs Consort's whole test suite: unit tests and multi-process network tests
# on loopback. Installs the build's system packages first if they are missing,
# and the Python client's packages (clients/python/requirements.txt) that
# node/tests/python_client.rs runs it with.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/prereqs.sh
# pip as the current user, no sudo: into the active Python environment, else
# the user's site-packages (also where the system Python is externally managed).
pip_install() {
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check "$@" \
    -r clients/python/requirements.txt
}
pip_install || pip_install --user || pip_install --user --break-system-packages ||
  echo "warning: could not install clients/python/requirements.txt; the python_client test will fail" >&2
cargo test --workspace "$@"
