#!/usr/bin/env bash
# spanwatch host-stage memory: bytes per tracked internal host, and the host.max_hosts cap at work.
#
# usage: bench/host_memory.sh [--hosts H] [--cap M] [--runs K] [--no-build]
#
#   --hosts H    distinct internal hosts, one flow each (default 1000000): TCP SYNs from
#                10.x.y.z to servers in 198.18.0.0/15 (bench/gen_flows.py), so every host
#                sends bytes outside the home networks and gets a host-stage entry
#   --cap M      host.max_hosts of the bounded run (default 250000)
#   --runs K     runs of each measurement, median taken (default 1)
#   --no-build   use the release binary already built
#
# The baseline is a capture with as many flows and packets spread over 16 hosts: the flow
# table and the mapped file cost the same in both, so the difference is the host table.
# Packets are 100 µs apart and half-open flows time out after 2 s, so flows leave the flow
# table (and reach the host stage) while the capture is read.
# The state-file run also saves every host to host.state_file and reports its size.
# Output: progress on stderr, the Markdown report on stdout and in bench/out/host-memory-*.md.
set -euo pipefail

HOSTS=1000000
CAP=250000
RUNS=1
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --hosts) HOSTS=${2:?}; shift 2 ;;
        --cap) CAP=${2:?}; shift 2 ;;
        --runs) RUNS=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/host_memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$HOSTS$CAP$RUNS" in *[!0-9]*) echo "bench/host_memory.sh: numbers expected" >&2; exit 2 ;; esac
[ "$HOSTS" -ge 1000 ] && [ "$CAP" -ge 16 ] && [ "$RUNS" -ge 1 ] \
    || { echo "bench/host_memory.sh: --hosts at least 1000, --cap at least 16, --runs at least 1" >&2; exit 2; }

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

mkdir -p "$OUT"
gen() {  # gen FILE ARGS...
    local f=$1; shift
    if [ ! -s "$f" ]; then
        python3 "$ROOT/bench/gen_flows.py" "$f.tmp" "$@"
        mv "$f.tmp" "$f"
    fi
}
# 100 µs between packets and a 2 s timeout for half-open flows: the flow table holds about
# 30,000 flows at any time while the host table grows to every host.
BIG="$OUT/flows-tcp-f$HOSTS-h$HOSTS-g100.pcap"
BASE="$OUT/flows-tcp-f$HOSTS-h16-g100.pcap"
gen "$BIG" --flows "$HOSTS" --hosts "$HOSTS" --gap-us 100
gen "$BASE" --flows "$HOSTS" --hosts 16 --gap-us 100

conf() {  # conf FILE MAX_HOSTS [STATE_FILE]
    printf '[flow]\ntcp_new_timeout_s = 2\n[host]\nmax_hosts = %s\n' "$2" > "$1"
    [ -z "${3:-}" ] || printf 'state_file = "%s"\n' "$3" >> "$1"
}
conf "$TMP/all.toml" "$((HOSTS * 2))"
conf "$TMP/cap.toml" "$CAP"
conf "$TMP/state.toml" "$((HOSTS * 2))" "$TMP/state.json"

# measure NAME CONFIG CAPTURE -> "maxrss_kb anon_kb tracked evicted"
measure() {
    local name=$1 cfg=$2 cap=$3 i rss=() anon=() m
    for i in $(seq "$RUNS"); do
        cat "$cap" > /dev/null
        m=$(python3 "$ROOT/bench/benchlib.py" once --sample -- \
            "$SW" replay -q --config "$cfg" --metrics-file "$TMP/m.prom" "$cap")
        rss+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["maxrss_kb"])' "$m")")
        anon+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["anon_kb"])' "$m")")
        say "  $name run $i: peak RSS ${rss[-1]} KiB (anonymous ${anon[-1]} KiB)"
    done
    local r a
    r=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    a=$(printf '%s\n' "${anon[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    awk -v r="$r" -v an="$a" '
        $1=="spanwatch_hosts_tracked"{t=$2}
        $1=="spanwatch_hosts_evicted_total"{e=$2}
        END{printf "%s %s %d %d\n", r, an, t, e}' "$TMP/m.prom"
}

say "replaying ($RUNS runs each)"
measure "16 hosts" "$TMP/all.toml" "$BASE" > "$TMP/r.base"
measure "$HOSTS hosts" "$TMP/all.toml" "$BIG" > "$TMP/r.big"
measure "$HOSTS hosts, max_hosts $CAP" "$TMP/cap.toml" "$BIG" > "$TMP/r.cap"
measure "$HOSTS hosts, state file" "$TMP/state.toml" "$BIG" > "$TMP/r.state"
read -r S_RSS S_ANON S_T _ < "$TMP/r.base"
read -r B_RSS B_ANON B_T B_E < "$TMP/r.big"
read -r C_RSS C_ANON C_T C_E < "$TMP/r.cap"
read -r _ _ _ _ < "$TMP/r.state"
STATE_BYTES=$(stat -c %s "$TMP/state.json" 2>/dev/null || echo 0)
[ "$B_T" = "$HOSTS" ] || say "WARNING: spanwatch tracked $B_T hosts, expected $HOSTS"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT="$OUT/host-memory-$STAMP.md"
python3 - "$HOSTS" "$CAP" "$S_RSS" "$B_RSS" "$C_RSS" "$S_ANON" "$B_ANON" "$C_ANON" "$S_T" "$B_T" "$C_T" "$C_E" "$STATE_BYTES" <<'PY' > "$TMP/report.md"
import sys
H, CAP, s, b, c, sa, ba, ca, st, bt, ct, ce, sb = map(int, sys.argv[1:])
mib = lambda kb: f"{kb / 1024:.1f}"
print("| run | hosts tracked | hosts evicted | peak RSS (MiB) | anonymous at peak (MiB, sampled) |")
print("|---|---:|---:|---:|---:|")
print(f"| {H} flows from 16 hosts (baseline) | {st} | 0 | {mib(s)} | {mib(sa)} |")
print(f"| {H} flows from {H} hosts | {bt} | 0 | {mib(b)} | {mib(ba)} |")
print(f"| {H} flows from {H} hosts, max_hosts = {CAP} | {ct} | {ce} | {mib(c)} | {mib(ca)} |")
print()
bph = (b - s) * 1024 / H
print(f"Bytes per host: {bph:.0f} (peak RSS with {H} hosts minus the 16-host baseline, ÷ {H})")
print(f"Bytes per host, anonymous memory only (sampled peaks): {(ba - sa) * 1024 / H:.0f}")
print(f"Bounded run (max_hosts = {CAP}): {(c - s) / 1024:.1f} MiB above the baseline; "
      f"{CAP} × {bph:.0f} B would be {CAP * bph / 2**20:.1f} MiB; {ce} hosts evicted")
print(f"State file with {bt} hosts: {sb / 2**20:.1f} MiB ({sb / max(bt, 1):.0f} bytes per host)")
PY
{
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), spanwatch $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "Command: bench/host_memory.sh --hosts $HOSTS --cap $CAP --runs $RUNS"
    echo
    cat "$TMP/report.md"
} | tee "$REPORT"
say "report: $REPORT"
