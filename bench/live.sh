#!/usr/bin/env bash
# Live capture: the synthetic benchmark capture sent through a veth pair (tcpreplay, in a network
# namespace of its own) into a capturing program on the other end. By default: `spanwatch run`
# with the default settings, sent once at top speed; the sensor's CPU time per packet and its
# context switches, read from /proc. With --steps: each program at stepped rates, and the highest
# rate each one kept under 0.1% loss, with the CPU it used there.
#
# usage: sudo bench/live.sh [--packets N] [--seed S] [--pps R] [--steps "R1 R2 ... top"]
#                           [--programs "P1 P2 ..."] [--all-steps] [--immediate]
#                           [--workers "1 2"] [--vxlan] [--no-build]
#
#   --packets N   packets in the synthetic capture (default 300000; the file is shared with run.sh)
#   --seed S      generator seed (default 1)
#   --pps R       send once at R packets/s (default: as fast as tcpreplay can, --topspeed)
#   --steps L     send at each rate of the list L in turn (packets/s, `top` for --topspeed), one
#                 fresh program a step; a program stops climbing at its first step with 0.1% loss
#                 or more. Without --programs (nor --workers, --immediate) it measures
#                 af_packet-1 af_packet-2 pcap tcpdump ndpiReader; it ends with each program's
#                 highest loss-free rate, the CPU used there and the issue's ratios
#   --programs L  what to measure, in order: `default` (spanwatch, an empty config), `af_packet-N`
#                 (spanwatch AF_PACKET with N workers), `pcap` and `pcap-immediate` (spanwatch's
#                 libpcap path, batched and with capture.immediate = true), `tcpdump`
#                 (tcpdump -w /dev/null) and `ndpiReader` (ndpiReader -i)
#   --all-steps   keep climbing after a lossy step (every program runs every step)
#   --immediate   add pcap and pcap-immediate to the programs
#   --workers L   measure af_packet-N for each N in the list L (instead of `default`)
#   --vxlan       send the capture inside VXLAN (UDP 4789, one outer tuple for every packet, as a
#                 tunnelled span feed): the kernel's fanout puts it all on one worker, and the
#                 workers hand packets to the worker of their inner flow
#   --no-build    use the release binary already built
#
# Needs root (network namespaces), tcpreplay (Debian: tcpreplay), iproute2, curl, python3 and
# ../shared/bench/gen_bench_pcap.py; tcpdump and ndpiReader (Debian: tcpdump, libndpi-bin) only
# for their rows. Sends nothing outside the two namespaces it creates (and deletes). Output:
# progress on stderr, Markdown tables on stdout (also bench/out/live-*.md).
#
# Columns (one row a program and rate): the rate asked, packets sent (tcpreplay) and counted by
# the program (spanwatch_packets_total; tcpdump's "packets captured"; ndpiReader's "packets
# total"), the drops the program counted in the kernel (spanwatch: its kernel drop counter from
# /metrics; tcpdump: "dropped by kernel"; ndpiReader prints none), packets the veth pair dropped
# itself (the sender's tx_dropped: no capture could see them), loss ((sent - counted) / sent),
# packets lost and counted by nobody (sent - counted - kernel drops - link drops), the rate
# tcpreplay reached, the program's CPU time (all its threads, /proc/PID/task/*/schedstat) in
# seconds, as a share of one core over the send time and per packet counted, and its context
# switches (voluntary + involuntary, /proc/PID/task/*/status) per 1000 packets counted.
set -euo pipefail

PACKETS=300000 SEED=1 PPS="" IMMEDIATE=0 BUILD=1 WORKERS="" VXLAN=0 STEPS="" PROGRAMS="" ALL_STEPS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --packets) PACKETS=${2:?}; shift 2 ;;
        --seed) SEED=${2:?}; shift 2 ;;
        --pps) PPS=${2:?}; shift 2 ;;
        --steps) STEPS=${2:?}; shift 2 ;;
        --programs) PROGRAMS=${2:?}; shift 2 ;;
        --all-steps) ALL_STEPS=1; shift ;;
        --immediate) IMMEDIATE=1; shift ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        --vxlan) VXLAN=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/live.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$STEPS" ] && [ -n "$PPS" ]; then
    echo "bench/live.sh: --pps and --steps do not go together (put the rate in --steps)" >&2; exit 2
fi
if [ -z "$PROGRAMS" ]; then
    if [ -n "$STEPS" ] && [ -z "$WORKERS" ] && [ "$IMMEDIATE" = 0 ]; then
        PROGRAMS="af_packet-1 af_packet-2 pcap tcpdump ndpiReader"
    else
        if [ -n "$WORKERS" ]; then
            for n in $WORKERS; do PROGRAMS="$PROGRAMS af_packet-$n"; done
        else
            PROGRAMS="default"
        fi
        [ "$IMMEDIATE" = 0 ] || PROGRAMS="$PROGRAMS pcap pcap-immediate"
    fi
fi
STEPPED=0
[ -z "$STEPS" ] || STEPPED=1
[ -n "$STEPS" ] || STEPS=${PPS:-top}
for r in $STEPS; do
    case "$r" in
        top) ;;
        *[!0-9]*|"") echo "bench/live.sh: --steps takes packets/s or top, not $r" >&2; exit 2 ;;
    esac
done
for p in $PROGRAMS; do
    case "$p" in
        default|pcap|pcap-immediate|tcpdump|ndpiReader) ;;
        af_packet-[1-9]|af_packet-[1-9][0-9]) ;;
        *) echo "bench/live.sh: unknown program $p (default, af_packet-N, pcap, pcap-immediate, tcpdump, ndpiReader)" >&2; exit 2 ;;
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
kept=""
for p in $PROGRAMS; do
    case "$p" in
        tcpdump|ndpiReader)
            if ! command -v "$p" >/dev/null; then
                say "no $p on this machine (Debian: ${p/ndpiReader/libndpi-bin}): its rows are left out"
                continue
            fi ;;
    esac
    kept="$kept $p"
done
PROGRAMS=$kept

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
PID=""
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    for ns in "$NA" "$NB"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null; ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NA"; ip netns add "$NB"
ip link add veth-a netns "$NA" type veth peer name veth-b netns "$NB"
for pair in "$NA:veth-a" "$NB:veth-b"; do
    ns=${pair%%:*} dev=${pair#*:}
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" mtu 9000
    ip netns exec "$ns" sh -c "command -v ethtool >/dev/null && ethtool -K $dev tso off gso off gro off >/dev/null 2>&1" || true
    ip -n "$ns" link set "$dev" up
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
ctx() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }'; }

# link_drops: packets the veth pair itself dropped on the way (the sender's tx_dropped: a full
# backlog on the receiving side); no capture on veth-a can see them.
link_drops() { ip netns exec "$NB" cat /sys/class/net/veth-b/statistics/tx_dropped; }
alive() { kill -0 "$1" 2>/dev/null; }

# start NAME: start the program NAME capturing veth-a; sets PID. Fails if it does not come up.
start() {
    local name=$1 log=$WORK/$1.log
    case "$name" in
        tcpdump)
            ip netns exec "$NA" tcpdump -i veth-a -n -w /dev/null >"$log" 2>&1 </dev/null &
            PID=$! ;;
        ndpiReader)
            ip netns exec "$NA" ndpiReader -i veth-a >"$log" 2>&1 </dev/null &
            PID=$! ;;
        *)
            local cfg=""
            case "$name" in
                af_packet-*) cfg=$(printf '[capture]\nmethod = "af_packet"\n[sensor]\nworkers = %s\n' "${name#af_packet-}") ;;
                pcap) cfg=$'[capture]\nmethod = "pcap"\n' ;;
                pcap-immediate) cfg=$'[capture]\nmethod = "pcap"\nimmediate = true\n' ;;
            esac
            printf '%s' "$cfg" >"$WORK/$name.toml"
            ip netns exec "$NA" "$BIN" run --interface veth-a --listen "$LISTEN" --config "$WORK/$name.toml" -q \
                >"$log" 2>&1 </dev/null &
            PID=$!
            for _ in $(seq 1 100); do
                [ "$(ip netns exec "$NA" curl -fsS --max-time 1 "http://$LISTEN/healthz" 2>/dev/null)" = ok ] && break
                alive "$PID" || break
                sleep 0.1
            done ;;
    esac
    # ready once it holds a packet socket in the namespace (/proc/PID/net/packet lists them)
    for _ in $(seq 1 100); do
        alive "$PID" || break
        [ "$(wc -l <"/proc/$PID/net/packet")" -gt 1 ] && break
        sleep 0.1
    done
    sleep 0.5
    if ! alive "$PID"; then
        say "$name did not start:"; sed 's/^/    /' "$log" >&2; PID=""; return 1
    fi
}

# stop NAME: end it (SIGTERM for spanwatch, SIGINT for tcpdump and ndpiReader, which then print
# their counts), within 10 s or SIGKILL.
stop() {
    local sig=INT
    case "$1" in tcpdump|ndpiReader) ;; *) sig=TERM ;; esac
    kill -s "$sig" "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.1; done
    alive "$PID" && { say "$1 still running 10 s after SIG$sig: killed"; kill -KILL "$PID"; }
    wait "$PID" 2>/dev/null || true
    PID=""
}

RESULTS=()
declare -A BEST_PPS BEST_ASK BEST_CPU BEST_US TOPPED
UNACCOUNTED=0 SW_RUNS=0
# run NAME RATE: one send at RATE (packets/s or top) into a fresh NAME. Sets LOSSFREE=1 when under
# 0.1% of the packets were lost.
LOSSFREE=0
run() {
    local name=$1 ask=$2 tag="$1@$2"
    LOSSFREE=0
    start "$name" || { RESULTS+=("| $name | $ask | did not start | | | | | | | | | | |"); return 0; }
    local sw=0
    case "$name" in tcpdump|ndpiReader) ;; *) sw=1 ;; esac
    local p0=0 d0=0 f0=0 l0 c0 x0
    if [ "$sw" = 1 ]; then
        p0=$(metric spanwatch_packets_total); d0=$(metric spanwatch_capture_kernel_dropped_packets_total)
        f0=$(metric spanwatch_capture_interface_dropped_packets_total)
    fi
    l0=$(link_drops); c0=$(cpu_ns "$PID"); x0=$(ctx "$PID")
    # --preload-pcap: the capture is read into memory before the clock starts, so the file's
    # reading does not slow the sender
    local rate=(--preload-pcap --topspeed)
    [ "$ask" = top ] || rate=(--preload-pcap --pps="$ask")
    say "$tag: sending $(basename "$PCAP")"
    ip netns exec "$NB" tcpreplay -i veth-b "${rate[@]}" "$PCAP" >"$WORK/$tag.tcpreplay" 2>&1 || true
    # wait until it has read everything: spanwatch's count stops moving; the others' CPU time
    # stops growing (under 5 ms in half a second)
    local last=-1 now
    for _ in $(seq 1 60); do
        sleep 0.5
        if [ "$sw" = 1 ]; then now=$(metric spanwatch_packets_total); else now=$(( $(cpu_ns "$PID") / 5000000 )); fi
        [ "$now" = "$last" ] && break
        last=$now
    done
    local c1 x1 l1 seen drops ifd=0
    c1=$(cpu_ns "$PID"); x1=$(ctx "$PID"); l1=$(link_drops)
    if [ "$sw" = 1 ]; then
        seen=$(( $(metric spanwatch_packets_total) - p0 ))
        drops=$(( $(metric spanwatch_capture_kernel_dropped_packets_total) - d0 ))
        ifd=$(( $(metric spanwatch_capture_interface_dropped_packets_total) - f0 ))
        case "$name" in
            af_packet-*|default)
                say "$tag: worker packets $(metric 'spanwatch_worker_packets_total{worker="0"}') / $(metric 'spanwatch_worker_packets_total{worker="1"}'), handed over $(metric spanwatch_capture_handoff_packets_total), queue drops $(metric spanwatch_queue_dropped_packets_total)" ;;
        esac
    fi
    stop "$name"
    case "$name" in
        tcpdump)
            seen=$(awk '/packets captured/ { print $1 }' "$WORK/$name.log")
            drops=$(awk '/packets dropped by kernel/ { print $1 }' "$WORK/$name.log") ;;
        ndpiReader)
            seen=$(awk '/IP packets:/ { print $5 }' "$WORK/$name.log")
            drops="" ;;
    esac
    local sent pps secs
    sent=$(awk '/Successful packets:/ { print $3 }' "$WORK/$tag.tcpreplay")
    pps=$(grep -o 'Rated: [^,]*, [^,]*, [0-9.]* pps' "$WORK/$tag.tcpreplay" | awk '{ print $(NF-1) }')
    secs=$(awk '/Actual:/ { for (i = 1; i < NF; i++) if ($i == "in") print $(i + 1) }' "$WORK/$tag.tcpreplay")
    if [ -z "$sent" ] || [ -z "$seen" ]; then
        say "$tag: no count (tcpreplay: ${sent:-none}, $name: ${seen:-none}); its log:"; sed 's/^/    /' "$WORK/$name.log" >&2
        RESULTS+=("| $name | $ask | ${sent:-?} | ${seen:-?} | | | | | | | | | |")
        return 0
    fi
    local out
    out=$(python3 -c "
sent, seen, drops, link = $sent, $seen, ${drops:-0}, $((l1 - l0))
cpu, ctx, secs, pps = $((c1 - c0)), $((x1 - x0)), float('${secs:-0}' or 0), float('${pps:-0}' or 0)
lost = sent - seen
unacc = lost - drops - link
share = cpu / 1e9 / secs * 100 if secs > 0 else 0
us = cpu / max(seen, 1) / 1e3
ok = 1 if lost * 1000 < sent else 0
print(ok, unacc, f'{pps:.0f}', f'{share:.0f}', f'{us:.2f}')
print(f'| $name | $ask | {sent} | {seen} | ${drops:-—} | {link} | {max(lost, 0) * 100 / sent:.3f} | {unacc} | {pps:.0f} | {cpu / 1e9:.2f} | {share:.0f} | {us:.2f} | {ctx * 1000 / max(seen, 1):.1f} |')")
    local ok unacc rpps share us line
    read -r ok unacc rpps share us <<<"$(head -1 <<<"$out")"
    line=$(tail -1 <<<"$out")
    [ "$ifd" = 0 ] || say "$tag: spanwatch also counted $ifd interface drops (libpcap's ps_ifdrop: the link's drops)"
    say "$line"
    RESULTS+=("$line")
    if [ "$sw" = 1 ]; then
        SW_RUNS=$((SW_RUNS + 1))
        [ "$unacc" -le 0 ] || UNACCOUNTED=$((UNACCOUNTED + unacc))
    fi
    LOSSFREE=$ok
    if [ "$ok" = 1 ] && [ "$rpps" -gt "${BEST_PPS[$name]:-0}" ]; then
        BEST_PPS[$name]=$rpps BEST_ASK[$name]=$ask BEST_CPU[$name]=$share BEST_US[$name]=$us
    fi
}

for name in $PROGRAMS; do
    TOPPED[$name]=1
    for ask in $STEPS; do
        run "$name" "$ask"
        if [ "$LOSSFREE" = 0 ]; then
            TOPPED[$name]=0
            [ "$ALL_STEPS" = 1 ] || break
        fi
    done
done

ratio() {  # ratio A B TARGET LABEL
    local a=${BEST_PPS[$1]:-} b=${BEST_PPS[$2]:-} topped="" r
    if [ -z "$a" ] || [ -z "$b" ]; then
        echo "- $4: not measured (needs $1 and $2 with a loss-free step)"
        return
    fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
    [ "${TOPPED[$1]}" = 0 ] || topped="$1"
    [ "${TOPPED[$2]}" = 0 ] || topped="${topped:+$topped and }$2"
    if [ -n "$topped" ]; then
        echo "- $4: ${r}× (target ≥ $3×), not a capture limit: $topped lost nothing at any step, so its rate is the sender's"
    else
        echo "- $4: ${r}× (target ≥ $3×)"
    fi
}

report=$OUT/live-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "bench/live.sh on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(basename "$PCAP"); sender: tcpreplay, packets/s: $(echo "$STEPS" | sed 's/top/--topspeed/; s/ /, /g')"
    echo
    echo "| program | rate asked | sent | counted | kernel drops | link drops | lost % | lost, uncounted | sent at (pps) | CPU (s) | CPU % of a core | CPU µs / packet | context switches / 1000 packets |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${RESULTS[@]}"
    if [ "$STEPPED" = 1 ]; then
        echo
        echo "| program | highest rate under 0.1% loss (pps reached) | rate asked | CPU % of a core there | CPU µs / packet there |"
        echo "|---|---:|---:|---:|---:|"
        for name in $PROGRAMS; do
            if [ -n "${BEST_PPS[$name]:-}" ]; then
                top=""; [ "${TOPPED[$name]}" = 1 ] && top=" (no loss at any step)"
                echo "| $name | ${BEST_PPS[$name]}$top | ${BEST_ASK[$name]} | ${BEST_CPU[$name]} | ${BEST_US[$name]} |"
            else
                echo "| $name | lost 0.1% or more at every step | | | |"
            fi
        done
        echo
        ratio af_packet-2 af_packet-1 1.7 "AF_PACKET 2 workers vs 1 worker"
        ratio af_packet-2 pcap 2 "AF_PACKET 2 workers vs libpcap path"
        ratio af_packet-1 ndpiReader 4 "AF_PACKET 1 worker vs ndpiReader live"
    fi
    if [ "$SW_RUNS" -gt 0 ]; then
        if [ "$UNACCOUNTED" = 0 ]; then
            echo "- no packet lost without being counted: yes (every spanwatch run: sent = counted + kernel drops + link drops)"
        else
            echo "- no packet lost without being counted: NO ($UNACCOUNTED packets over the spanwatch runs)"
        fi
    fi
} | tee "$report"
