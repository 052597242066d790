#!/usr/bin/env bash
# Live capture cost: the synthetic benchmark capture sent through a veth pair (tcpreplay, in a
# network namespace of its own) into `spanwatch run` capturing the other end, with the default
# settings; the sensor's CPU time per packet and its context switches, read from /proc.
#
# usage: sudo bench/live.sh [--packets N] [--seed S] [--pps R] [--immediate] [--workers "1 2"]
#                           [--vxlan] [--no-build]
#
#   --packets N   packets in the synthetic capture (default 300000; the file is shared with run.sh)
#   --seed S      generator seed (default 1)
#   --pps R       send at R packets/s (default: as fast as tcpreplay can, --topspeed)
#   --immediate   also measure libpcap (`capture.method = "pcap"`), batched and with
#                 `capture.immediate = true` (one wake-up a packet), beside the default (AF_PACKET)
#   --workers L   measure AF_PACKET with each number of workers in the list L (default: the
#                 default settings only, whose workers follow the cores)
#   --vxlan       send the capture inside VXLAN (UDP 4789, one outer tuple for every packet, as a
#                 tunnelled span feed): the kernel's fanout puts it all on one worker, and the
#                 workers hand packets to the worker of their inner flow
#   --no-build    use the release binary already built
#
# Needs root (network namespaces), tcpreplay (Debian: tcpreplay), iproute2, curl, python3 and
# ../shared/bench/gen_bench_pcap.py. Sends nothing outside the two namespaces it creates (and
# deletes). Output: progress on stderr, a Markdown table on stdout (also bench/out/live-*.md).
#
# Columns: packets sent (tcpreplay) and seen by spanwatch (spanwatch_packets_total), kernel
# drops, the rate tcpreplay reached, the sensor's CPU time (all its threads, from
# /proc/PID/task/*/schedstat) divided by packets seen, and its context switches (voluntary +
# involuntary, all threads, /proc/PID/task/*/status) per 1000 packets.
set -euo pipefail

PACKETS=300000 SEED=1 PPS="" IMMEDIATE=0 BUILD=1 WORKERS="" VXLAN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --packets) PACKETS=${2:?}; shift 2 ;;
        --seed) SEED=${2:?}; shift 2 ;;
        --pps) PPS=${2:?}; shift 2 ;;
        --immediate) IMMEDIATE=1; shift ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        --vxlan) VXLAN=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/live.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SHARED="$(cd "$ROOT/.." && pwd)/shared/bench"
OUT="$ROOT/bench/out"
say() { echo "bench/live: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "needs root (network namespaces, live capture)"; exit 2; }
missing=()
for c in tcpreplay ip curl python3; do command -v $c >/dev/null || missing+=("$c"); done
[ -f "$SHARED/gen_bench_pcap.py" ] || missing+=("$SHARED/gen_bench_pcap.py")
[ ${#missing[@]} = 0 ] || { say "missing: ${missing[*]} (Debian: tcpreplay iproute2 curl python3)"; exit 2; }

if [ "$BUILD" = 1 ]; then
    say "building"
    nice cargo build --release --quiet --bin spanwatch
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/spanwatch
[ -x "$BIN" ] || { say "no binary at $BIN"; exit 2; }
mkdir -p "$OUT"
PCAP=$OUT/synthetic-p$PACKETS-s$SEED.pcap
if [ ! -s "$PCAP" ]; then
    say "generating $PCAP"
    nice python3 "$SHARED/gen_bench_pcap.py" "$PCAP" --packets "$PACKETS" --seed "$SEED" >&2
fi

if [ "$VXLAN" = 1 ]; then
    VX=${PCAP%.pcap}-vxlan.pcap
    if [ ! -s "$VX" ]; then
        say "wrapping it in VXLAN: $VX"
        # each frame behind Ethernet / IPv4 10.88.0.1 -> 10.88.0.2 / UDP 4789 -> 4789 / VXLAN 42
        nice python3 - "$PCAP" "$VX" <<'PY'
import struct, sys
src, dst = open(sys.argv[1], "rb"), open(sys.argv[2], "wb")
head = src.read(24)
end = "<" if head[:4] == b"\xd4\xc3\xb2\xa1" else ">"
dst.write(head)
def csum(b):
    s = sum(struct.unpack("!10H", b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
while True:
    rec = src.read(16)
    if len(rec) < 16:
        break
    ts, us, incl, orig = struct.unpack(end + "IIII", rec)
    frame = src.read(incl)
    udp_len = 8 + 8 + len(frame)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0,
                     bytes([10, 88, 0, 1]), bytes([10, 88, 0, 2]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    outer = (b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
             + struct.pack("!HHHH", 4789, 4789, udp_len, 0) + struct.pack("!II", 0x08000000, 42 << 8))
    dst.write(struct.pack(end + "IIII", ts, us, len(outer) + len(frame), len(outer) + orig))
    dst.write(outer + frame)
PY
    fi
    PCAP=$VX
fi

SUF="$$$RANDOM"; SUF=${SUF:0:8}
NA="swbench-a-$SUF" NB="swbench-b-$SUF"
LISTEN=127.0.0.1:9650
WORK=$(mktemp -d /tmp/spanwatch-bench-live.XXXXXX)
SW=""
cleanup() {
    [ -n "$SW" ] && kill -TERM "$SW" 2>/dev/null && wait "$SW" 2>/dev/null
    for ns in "$NA" "$NB"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null; ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NA"; ip netns add "$NB"
ip link add veth-a netns "$NA" type veth peer name veth-b netns "$NB"
for x in "$NA veth-a" "$NB veth-b"; do
    set -- $x
    ip -n "$1" link set lo up
    ip -n "$1" link set "$2" mtu 9000
    ip netns exec "$1" sh -c "command -v ethtool >/dev/null && ethtool -K $2 tso off gso off gro off >/dev/null 2>&1" || true
    ip -n "$1" link set "$2" up
done
# no IPv6 chatter of our own on the link
ip netns exec "$NA" sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
ip netns exec "$NB" sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1

metric() {
    ip netns exec "$NA" curl -fsS --max-time 3 "http://$LISTEN/metrics" |
        awk -v n="$1" '$1 == n { print $2 }'
}
# cpu_ns PID: CPU time of every thread; ctx PID: context switches of every thread.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'; }
# stat_ns PID: the same from /proc/PID/stat (utime + stime, clock ticks): a cross-check.
stat_ns() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d\n", ($12 + $13) * 1e9 / hz }' /proc/"$1"/stat; }
ctx() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }'; }

RESULTS=()
measure() {
    local name=$1 cfg=$2
    printf '%s' "$cfg" >"$WORK/$name.toml"
    ip netns exec "$NA" "$BIN" run --interface veth-a --listen "$LISTEN" --config "$WORK/$name.toml" -q \
        >"$WORK/$name.log" 2>&1 </dev/null &
    SW=$!
    local i
    for i in $(seq 1 100); do
        [ "$(ip netns exec "$NA" curl -fsS --max-time 1 "http://$LISTEN/healthz" 2>/dev/null)" = ok ] && break
        sleep 0.1
    done
    sleep 0.5
    local p0 c0 x0 d0 s0
    p0=$(metric spanwatch_packets_total); c0=$(cpu_ns $SW); x0=$(ctx $SW); s0=$(stat_ns $SW)
    d0=$(metric spanwatch_capture_kernel_dropped_packets_total)
    say "$name: sending $PCAP"
    local rate=(--topspeed)
    [ -n "$PPS" ] && rate=(--pps="$PPS")
    ip netns exec "$NB" tcpreplay -i veth-b "${rate[@]}" "$PCAP" >"$WORK/$name.tcpreplay" 2>&1 || true
    # wait until the sensor has read everything (the count stops moving)
    local last=-1 now
    for i in $(seq 1 60); do
        sleep 0.5
        now=$(metric spanwatch_packets_total)
        [ "$now" = "$last" ] && break
        last=$now
    done
    local p1 c1 x1 d1 s1
    p1=$(metric spanwatch_packets_total); c1=$(cpu_ns $SW); x1=$(ctx $SW); s1=$(stat_ns $SW)
    d1=$(metric spanwatch_capture_kernel_dropped_packets_total)
    local sent pps
    sent=$(awk '/Successful packets:/ { print $3 }' "$WORK/$name.tcpreplay")
    pps=$(grep -o 'Rated: [^,]*, [^,]*, [0-9.]* pps' "$WORK/$name.tcpreplay" | awk '{ print $(NF-1) }')
    local w0 w1 hand
    w0=$(metric 'spanwatch_worker_packets_total{worker="0"}'); w1=$(metric 'spanwatch_worker_packets_total{worker="1"}')
    hand=$(metric spanwatch_capture_handoff_packets_total)
    say "$name: worker packets ${w0:-?} / ${w1:--}, handed over ${hand:-0}, queue drops $(metric spanwatch_queue_dropped_packets_total)"
    kill -TERM "$SW"; wait "$SW" 2>/dev/null || true; SW=""
    local seen=$((p1 - p0)) cpu=$((c1 - c0)) sw=$((x1 - x0)) drops=$((d1 - d0))
    local line
    line=$(python3 -c "
seen, cpu, sw = $seen, $cpu, $sw
print(f'| $name | ${sent:-?} | {seen} | $drops | ${pps:-?} | {cpu / 1e9:.2f} | {cpu / max(seen, 1) / 1e3:.2f} | {sw} | {sw * 1000 / max(seen, 1):.1f} |')")
    say "$line (CPU from /proc/PID/stat: $(( (s1 - s0) / 1000000 )) ms)"
    RESULTS+=("$line")
}

if [ -n "$WORKERS" ]; then
    for n in $WORKERS; do measure "af_packet-$n" "$(printf '[sensor]\nworkers = %s\n' "$n")"; done
else
    measure default ""
fi
# capture.immediate is libpcap's: measure it, and libpcap's batched path beside it
if [ "$IMMEDIATE" = 1 ]; then
    measure pcap $'[capture]\nmethod = "pcap"\n'
    measure pcap-immediate $'[capture]\nmethod = "pcap"\nimmediate = true\n'
fi

report=$OUT/live-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "bench/live.sh on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(basename "$PCAP"); sender: tcpreplay ${PPS:+--pps=$PPS}${PPS:---topspeed}"
    echo
    echo "| settings | sent | seen | kernel drops | sent at (pps) | sensor CPU (s) | CPU µs / packet | context switches | per 1000 packets |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${RESULTS[@]}"
} | tee "$report"
