#!/usr/bin/env bash
# spanwatch new-flow flood: microseconds per new flow, end to end, with EVE written; bytes per flow.
#
# usage: bench/flow_rate.sh [--flows F] [--proto tcp|udp] [--runs K] [--eve FILE] [--bin PATH]
#                           [--no-build]
#
#   --flows F    distinct flows, one packet each (default 500000; bench/gen_flows.py: TCP SYNs,
#                or UDP datagrams, 1 us apart, from 10.0.0.1 to servers in 198.18.0.0/15)
#   --proto P    tcp (default) or udp
#   --runs K     runs of each measurement, median taken (default 3)
#   --eve FILE   where the EVE lines go (default /dev/null: the record is built and written,
#                no disk in the figure; give a file to include the disk)
#   --bin PATH   measure this spanwatch binary (no build), e.g. an older build to compare with
#   --no-build   use the release binary already built
#   --evidence   with packet evidence on ([evidence] enabled, files to a temporary directory):
#                what keeping every new flow's opening packets costs
#
# Each run is one whole process (`spanwatch replay -q --workers W --eve FILE`, default
# configuration), with 1 and with 2 workers, on the flood capture and on a capture of the same
# size and packet count with only 16 distinct flows (the cost of reading and dispatching the
# packets, and of start-up). Reported: wall and CPU (user + system, all threads) per new flow,
# the same less the 16-flow baseline (what a new flow adds), peak RSS, and bytes per flow (peak
# RSS above the 16-flow baseline, divided by F; every flow stays in the table until the end).
# Wall time moves with the machine's load: the CPU column and the medians are steadier, and
# `valgrind --tool=callgrind` gives instruction counts that do not move at all (bench/README.md).
# Output: progress on stderr, the Markdown report on stdout and in bench/out/flow-rate-*.md.
set -euo pipefail

FLOWS=500000
PROTO=tcp
RUNS=3
EVE=/dev/null
BUILD=1
BIN=
EVIDENCE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --flows) FLOWS=${2:?}; shift 2 ;;
        --proto) PROTO=${2:?}; shift 2 ;;
        --runs) RUNS=${2:?}; shift 2 ;;
        --eve) EVE=${2:?}; shift 2 ;;
        --bin) BIN=${2:?--bin needs a path}; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --evidence) EVIDENCE=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/flow_rate.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$FLOWS$RUNS" in *[!0-9]*) echo "bench/flow_rate.sh: numbers expected" >&2; exit 2 ;; esac
case "$PROTO" in tcp|udp) ;; *) echo "bench/flow_rate.sh: --proto tcp or udp" >&2; exit 2 ;; esac
[ "$FLOWS" -ge 16 ] && [ "$RUNS" -ge 1 ] \
    || { echo "bench/flow_rate.sh: --flows at least 16, --runs at least 1" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT="$ROOT/bench/out"
say() { echo "bench: $*" >&2; }
for t in cargo python3; do command -v $t >/dev/null || { say "missing: $t"; exit 1; }; done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ "$BUILD" = 1 ]; then
    say "cargo build --release"
    nice -n 10 cargo build --release --quiet --bin spanwatch
fi
if [ -n "$BIN" ]; then
    SW=$BIN
else
    TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
    SW="$TARGET_DIR/release/spanwatch"
fi
[ -x "$SW" ] || { say "no spanwatch binary at $SW (run without --no-build, or give --bin)"; exit 1; }

mkdir -p "$OUT"
gen() {  # gen FILE ARGS...
    local f=$1; shift
    if [ ! -s "$f" ]; then
        python3 "$ROOT/bench/gen_flows.py" "$f.tmp" "$@" >&2
        mv "$f.tmp" "$f"
    fi
}
BIG="$OUT/flows-$PROTO-f$FLOWS-h1.pcap"
SAME="$OUT/flows-$PROTO-f$FLOWS-h1-d16.pcap"
gen "$BIG" --flows "$FLOWS" --proto "$PROTO"
gen "$SAME" --flows "$FLOWS" --proto "$PROTO" --distinct 16
# No flow may time out or be evicted before the end: every flow is one record at shutdown.
printf '[flow]\nmax_flows = %s\n' "$(( FLOWS * 2 > 1000000 ? FLOWS * 2 : 1000000 ))" > "$TMP/flood.toml"
if [ "$EVIDENCE" = 1 ]; then
    printf '[evidence]\nenabled = true\ndirectory = "%s"\n' "$TMP/evidence" >> "$TMP/flood.toml"
fi

# measure WORKERS CAPTURE -> "wall_s cpu_s maxrss_kb" (medians over RUNS)
measure() {
    local w=$1 cap=$2 i m
    : > "$TMP/runs"
    for i in $(seq "$RUNS"); do
        cat "$cap" > /dev/null
        [ "$EVE" = /dev/null ] || : > "$EVE"
        m=$(python3 "$ROOT/bench/benchlib.py" once -- \
            "$SW" replay -q --workers "$w" --config "$TMP/flood.toml" --eve "$EVE" "$cap")
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["wall_s"], r["cpu_s"], r["maxrss_kb"])' "$m" >> "$TMP/runs"
        say "  workers $w, $(basename "$cap") run $i: $(tail -1 "$TMP/runs") (wall s, cpu s, peak RSS KiB)"
    done
    python3 - "$TMP/runs" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(*(statistics.median(c) for c in zip(*rows)))
PY
}

say "replaying $FLOWS new flows ($PROTO), $RUNS runs each, EVE to $EVE$([ "$EVIDENCE" = 1 ] && echo ', evidence on')"
for w in 1 2; do
    measure "$w" "$BIG" > "$TMP/big.$w"
    measure "$w" "$SAME" > "$TMP/same.$w"
done

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT="$OUT/flow-rate-$STAMP.md"
python3 - "$FLOWS" "$TMP" "$(cat /proc/loadavg)" "$EVE" "$EVIDENCE" <<'PY' | tee "$REPORT"
import sys
F, tmp, load, eve, ev = int(sys.argv[1]), sys.argv[2], sys.argv[3].split()[0], sys.argv[4], sys.argv[5]
rd = lambda n: list(map(float, open(f"{tmp}/{n}").read().split()))
print(f"{F} one-packet flows, EVE to {eve}{', packet evidence on' if ev == '1' else ''}, medians; load average {load} at the end\n")
print("| workers | wall µs / flow | CPU µs / flow | wall µs / flow above the 16-flow capture | CPU µs / flow above it | peak RSS (MiB) | bytes / flow |")
print("|---:|---:|---:|---:|---:|---:|---:|")
res = {}
for w in (1, 2):
    bw, bc, br = rd(f"big.{w}")
    sw, sc, sr = rd(f"same.{w}")
    us = lambda s: s / F * 1e6
    res[w] = bw
    print(f"| {w} | {us(bw):.2f} | {us(bc):.2f} | {us(bw - sw):.2f} | {us(bc - sc):.2f} | {br / 1024:.0f} | {(br - sr) * 1024 / F:.0f} |")
print(f"\n1 worker: {res[1] / F * 1e6:.2f} µs per new flow end to end (target ≤ 2 µs); "
      f"2 workers {res[1] / res[2]:.2f}× the rate of 1")
PY
say "report: $REPORT"
