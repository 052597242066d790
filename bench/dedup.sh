#!/usr/bin/env bash
# Per-alert cost of alert deduplication from 10k to 1M distinct alert identities.
#
# usage: bench/dedup.sh [N ...]   (default: 10000 100000 300000 1000000)
#
# Builds and runs bench/dedup_bench.rs (a Cargo example that drives the output stage
# directly: no capture, no EVE file), niced. Each N is run three times and the fastest run
# reported. Prints a Markdown table; per-alert cost should not grow with N (it grew with the
# table before: one sweep of the whole table per alert past 100k identities).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
nice cargo build --release --quiet --example dedup_bench
exec nice "${CARGO_TARGET_DIR:-target}/release/examples/dedup_bench" "$@"
