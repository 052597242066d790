#!/usr/bin/env bash
# Rule loading time against the number of domains in one tool (and, with --tools, spread
# over many tools).
#
# usage: bench/rules_load.sh [--tools T] [--no-build] [N ...]   (default N: 10000 30000 60000 100000 300000)
#
# For each N, bench/gen_rules.py writes a rules folder (bench/out/rules-N-T/) with T tools
# (default 1) sharing N domains, and `spanwatch rules check DIR` is timed (wall clock, best of
# three; the check parses, validates and compiles the matchers, as start-up and SIGHUP do).
# SPANWATCH_BIN=PATH times another build (nothing is built then). Prints a Markdown table.
# Target: 100,000 domains load in under 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=1 BUILD=1 SIZES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tools) TOOLS=${2:?--tools needs a number}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *[!0-9]*) echo "bench/rules_load.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) SIZES+=("$1"); shift ;;
    esac
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 30000 60000 100000 300000)
BIN=${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}
[ "$BUILD" = 1 ] && [ -z "${SPANWATCH_BIN:-}" ] && nice cargo build --release --quiet --bin spanwatch
mkdir -p bench/out
echo "| domains | tools | rules file (MB) | rules check (s), best of 3 |"
echo "|---:|---:|---:|---:|"
for n in "${SIZES[@]}"; do
    dir=bench/out/rules-$n-$TOOLS
    [ -f "$dir/bench.toml" ] || python3 bench/gen_rules.py "$dir" --domains "$n" --tools "$TOOLS"
    best=
    for _ in 1 2 3; do
        t0=$(date +%s%N)
        "$BIN" rules check "$dir" >/dev/null
        t=$(( $(date +%s%N) - t0 ))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    size=$(stat -c %s "$dir/bench.toml")
    awk -v n="$n" -v tl="$TOOLS" -v s="$size" -v t="$best" \
        'BEGIN { printf "| %d | %d | %.1f | %.3f |\n", n, tl, s / 1e6, t / 1e9 }'
done
