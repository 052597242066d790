#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS each (default 30); exit non-zero on the first
# crash, leak or timeout libFuzzer reports (its artifact lands in fuzz/artifacts/<target>/).
#
# Needs: the stable Rust toolchain (RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly
# flags), `cargo install cargo-fuzz --locked`, a C/C++ compiler (libfuzzer-sys builds
# libFuzzer), and libpcap-dev (the spanwatch crate links libpcap).
set -euo pipefail

SECONDS_EACH="${1:-30}"
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "run-all.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 2
fi

export RUSTC_BOOTSTRAP=1
TARGETS=$(cargo fuzz list)
cargo fuzz build

failed=0
for t in $TARGETS; do
    echo "== fuzz $t for ${SECONDS_EACH}s"
    mkdir -p "fuzz/corpus/$t"
    if ! cargo fuzz run "$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1; then
        echo "run-all.sh: target $t FAILED (see fuzz/artifacts/$t/)" >&2
        failed=1
        break
    fi
done
exit "$failed"
