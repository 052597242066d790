#!/usr/bin/env bash
# spanwatch flow-table memory: bytes per flow, and bounded memory under the max_flows cap.
#
# usage: bench/flow_memory.sh [--flows F] [--hosts H] [--proto tcp|udp] [--workers W]
#                             [--cap M] [--runs K] [--no-build]
#
#   --flows F    distinct flows, one packet each (default 1000000): TCP SYNs (or UDP datagrams)
#                from internal hosts 10.x.y.z to servers in 198.18.0.0/15 (bench/gen_flows.py)
#   --hosts H    spread the F flows over H internal source addresses (default 1)
#   --proto P    tcp (SYNs, default) or udp
#   --workers W  spanwatch worker threads (default 1)
#   --cap M      max_flows of the bounded run (default 100000)
#   --runs K     runs of each measurement, median taken (default 3)
#   --no-build   use the release binary already built
#
# Timeouts are 100000 s so that every flow stays in the table until the end of the replay.
# Peak RSS is GNU /usr/bin/time -v's (else VmHWM polled from /proc). spanwatch memory-maps the capture, and
# the pages of the file it has read count in its RSS; so the number that matters is the difference
# to a baseline capture of the same size and packet count that has only 16 distinct flows. The
# difference to a tiny 16-packet capture (which leaves the mapped file in) is shown as well.
# Output: progress on stderr, the Markdown report on stdout and in bench/out/flow-memory-*.md.
set -euo pipefail

FLOWS=1000000
HOSTS=1
PROTO=tcp
WORKERS=1
CAP=100000
RUNS=3
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --flows) FLOWS=${2:?}; shift 2 ;;
        --hosts) HOSTS=${2:?}; shift 2 ;;
        --proto) PROTO=${2:?}; shift 2 ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        --cap) CAP=${2:?}; shift 2 ;;
        --runs) RUNS=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/flow_memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$FLOWS$HOSTS$WORKERS$CAP$RUNS" in *[!0-9]*) echo "bench/flow_memory.sh: numbers expected" >&2; exit 2 ;; esac
case "$PROTO" in tcp|udp) ;; *) echo "bench/flow_memory.sh: --proto tcp or udp" >&2; exit 2 ;; esac
[ "$FLOWS" -ge 16 ] && [ "$HOSTS" -ge 1 ] && [ "$WORKERS" -ge 1 ] && [ "$RUNS" -ge 1 ] && [ "$CAP" -ge 16 ] \
    || { echo "bench/flow_memory.sh: --flows and --cap at least 16, --hosts, --workers, --runs at least 1" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT="$ROOT/bench/out"
say() { echo "bench: $*" >&2; }
for t in cargo python3; do command -v $t >/dev/null || { say "missing: $t"; exit 1; }; done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ "$BUILD" = 1 ]; then
    say "cargo build --release"
    nice -n 10 cargo build --release --quiet
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
SW="$TARGET_DIR/release/spanwatch"
[ -x "$SW" ] || { say "no release binary at $SW (run without --no-build)"; exit 1; }

# ---- captures (deterministic; made once, kept in bench/out) ----
mkdir -p "$OUT"
gen() {  # gen FILE ARGS...
    local f=$1; shift
    if [ ! -s "$f" ]; then
        python3 "$ROOT/bench/gen_flows.py" "$f.tmp" "$@"
        mv "$f.tmp" "$f"
    fi
}
BIG="$OUT/flows-$PROTO-f$FLOWS-h$HOSTS.pcap"
SAME="$OUT/flows-$PROTO-f$FLOWS-h$HOSTS-d16.pcap"
TINY="$OUT/flows-$PROTO-f16-h1.pcap"
HALF="$OUT/flows-$PROTO-f$((FLOWS / 2))-h$HOSTS.pcap"
gen "$BIG" --flows "$FLOWS" --hosts "$HOSTS" --proto "$PROTO"
gen "$HALF" --flows "$((FLOWS / 2))" --hosts "$HOSTS" --proto "$PROTO"
gen "$SAME" --flows "$FLOWS" --hosts "$HOSTS" --proto "$PROTO" --distinct 16
gen "$TINY" --flows 16 --proto "$PROTO"

MAXF=$(( FLOWS * 2 > 2000000 ? FLOWS * 2 : 2000000 ))
conf() {  # conf FILE MAX_FLOWS
    printf '[flow]\nmax_flows = %s\nudp_timeout_s = 100000\ntcp_new_timeout_s = 100000\ntcp_established_timeout_s = 100000\nother_timeout_s = 100000\n' "$2" > "$1"
}
conf "$TMP/all.toml" "$MAXF"
conf "$TMP/cap.toml" "$CAP"

# measure NAME CONFIG CAPTURE -> prints "maxrss_kb anon_kb created evicted timeout"
measure() {
    local name=$1 cfg=$2 cap=$3 i rss=() anon=() m
    for i in $(seq "$RUNS"); do
        cat "$cap" > /dev/null
        m=$(python3 "$ROOT/bench/benchlib.py" once --sample -- \
            "$SW" replay -q --workers "$WORKERS" --config "$cfg" --metrics-file "$TMP/m.prom" "$cap")
        rss+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["maxrss_kb"])' "$m")")
        anon+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["anon_kb"])' "$m")")
        say "  $name run $i: peak RSS ${rss[-1]} KiB (anonymous ${anon[-1]} KiB)"
    done
    local med_rss med_anon
    med_rss=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    med_anon=$(printf '%s\n' "${anon[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    awk -v r="$med_rss" -v an="$med_anon" '
        $1=="spanwatch_flows_created_total"{c=$2}
        $1 ~ /^spanwatch_flows_ended_total\{.*reason="evicted"/{e=$2}
        $1 ~ /^spanwatch_flows_ended_total\{.*reason="timeout"/{t=$2}
        END{printf "%s %s %d %d %d\n", r, an, c, e, t}' "$TMP/m.prom"
}

say "replaying (workers $WORKERS, $RUNS runs each)"
measure "16 flows, tiny capture" "$TMP/all.toml" "$TINY" > "$TMP/r.tiny"
measure "16 flows, same-size capture" "$TMP/all.toml" "$SAME" > "$TMP/r.same"
measure "$FLOWS flows" "$TMP/all.toml" "$BIG" > "$TMP/r.big"
measure "$FLOWS flows, max_flows $CAP" "$TMP/cap.toml" "$BIG" > "$TMP/r.cap"
measure "$((FLOWS / 2)) flows, max_flows $CAP" "$TMP/cap.toml" "$HALF" > "$TMP/r.half"
read -r T_RSS T_ANON T_C _ _ < "$TMP/r.tiny"
read -r S_RSS S_ANON S_C _ _ < "$TMP/r.same"
read -r B_RSS B_ANON B_C B_E B_T < "$TMP/r.big"
read -r C_RSS C_ANON C_C C_E C_T < "$TMP/r.cap"
read -r H_RSS H_ANON H_C H_E H_T < "$TMP/r.half"

[ "$B_C" = "$FLOWS" ] || say "WARNING: spanwatch created $B_C flows, expected $FLOWS"
[ "$B_E" = 0 ] && [ "$B_T" = 0 ] || say "WARNING: flows left the table early (evicted $B_E, timed out $B_T): the per-flow number is too low"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT="$OUT/flow-memory-$STAMP.md"
SIZE=$(stat -c %s "$BIG")
python3 - "$FLOWS" "$CAP" "$T_RSS" "$S_RSS" "$B_RSS" "$C_RSS" "$T_ANON" "$S_ANON" "$B_ANON" "$C_ANON" \
    "$B_C" "$C_C" "$C_E" "$SIZE" "$H_RSS" "$H_ANON" "$H_C" "$H_E" <<'PY' > "$TMP/report.md"
import sys
F, CAP, t, s, b, c, ta, sa, ba, ca, bc, cc, ce, size, h, ha, hc, he = map(int, sys.argv[1:])
mib = lambda kb: f"{kb / 1024:.1f}"
print("| run | flows created | evicted | peak RSS (MiB) | anonymous at peak (MiB, sampled) |")
print("|---|---:|---:|---:|---:|")
print(f"| 16 flows, tiny capture (16 packets) | 16 | 0 | {mib(t)} | {mib(ta)} |")
print(f"| 16 flows, same size as the big capture ({F} packets, {size / 1e6:.0f} MB) | 16 | 0 | {mib(s)} | {mib(sa)} |")
print(f"| {F} flows, all kept | {bc} | 0 | {mib(b)} | {mib(ba)} |")
print(f"| {F // 2} flows, max_flows = {CAP} (capture half as big) | {hc} | {he} | {mib(h)} | {mib(ha)} |")
print(f"| {F} flows, max_flows = {CAP} | {cc} | {ce} | {mib(c)} | {mib(ca)} |")
print()
bpf = (b - s) * 1024 / F
print(f"Bytes per flow: {bpf:.0f} (peak RSS of {F} flows minus the same-size 16-flow capture, ÷ {F})")
print(f"Bytes per flow, anonymous memory only (sampled peaks): {(ba - sa) * 1024 / F:.0f}")
print(f"Bytes per flow against the tiny capture, as a check: {(b - t) * 1024 / F:.0f} "
      f"(includes the {size / F:.0f} bytes per packet of the memory-mapped capture file)")
cap_over = (c - s) * 1024
print(f"Bounded run (max_flows = {CAP}): {cap_over / 2**20:.1f} MiB above the same-size baseline, "
      f"{cap_over / CAP:.0f} bytes per table slot; {ce} flows evicted; "
      f"{CAP} × {bpf:.0f} B would be {CAP * bpf / 2**20:.1f} MiB")
print(f"Bounded: anonymous memory at peak with max_flows = {CAP}: {mib(ha)} MiB for {F // 2} flows, "
      f"{mib(ca)} MiB for {F} flows (without the cap: {mib(ba)} MiB for {F} flows)")
PY
{
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), spanwatch $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "Command: bench/flow_memory.sh --flows $FLOWS --hosts $HOSTS --proto $PROTO --workers $WORKERS --cap $CAP --runs $RUNS"
    if [ -x /usr/bin/time ]; then
        echo "Peak RSS: /usr/bin/time -v \"Maximum resident set size\", median of $RUNS runs; anonymous: highest RssAnon polled from /proc/PID/status every 2 ms, median."
    else
        echo "Peak RSS: VmHWM polled from /proc/PID/status every 2 ms (no /usr/bin/time; Debian: time), median of $RUNS runs; anonymous: highest RssAnon polled likewise, median."
    fi
    echo
    cat "$TMP/report.md"
} | tee "$REPORT"
say "report: $REPORT"
