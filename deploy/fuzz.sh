#!/usr/bin/env bash
# Runs the fuzz targets with cargo-fuzz (libFuzzer, AddressSanitizer).
#
#   deploy/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]
#
# Targets: envelope block signed_proposal policy transaction (default: all).
# The seed corpus is fuzz/corpus/<target>; what the fuzzer finds goes to
# fuzz/work/<target> (new inputs) and fuzz/artifacts/<target> (crashes).
# Needs the nightly toolchain (sanitizers); installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(envelope block signed_proposal policy transaction)
fi

bash deploy/prereqs.sh
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cd fuzz
for target in "${targets[@]}"; do
  mkdir -p "work/$target"
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1
done
