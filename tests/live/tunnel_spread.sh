#!/usr/bin/env bash
# A tunnelled span feed spreads over the workers by its inner flows. First the namespaces talk
# through a VXLAN tunnel (UDP 4789, one fixed outer source port, so every packet on the link
# has the same outer tuple and the kernel's fanout hash sends all of them to one worker).
# `run --workers 2` on the link (AF_PACKET) hands each tunnelled packet whose inner flow
# another worker owns to that worker: /metrics shows packets handed over, both workers
# carrying a good share of the packets, no hand-off drop, and the flow records (the inner
# sessions) equal those of a replay of tcpdump's recording of the same link. Then an ERSPAN
# type II feed (GRE 0x88BE with sequence numbers, crafted raw in swb: no erspan device needed)
# of 64 inner UDP conversations: the same checks.
. "$(dirname "$0")/lib.sh"
live_init tunnel_spread python3 curl tcpdump iproute2
live_netns

in_a sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
mac_a=$(in_a cat /sys/class/net/veth-a/address)
mac_b=$(in_b cat /sys/class/net/veth-b/address)
in_a ip neigh replace $B4 lladdr "$mac_b" dev veth-a nud permanent
in_b ip neigh replace $A4 lladdr "$mac_a" dev veth-b nud permanent

# VXLAN 42 between the namespaces: inner 10.99.0.1 (swa) and 10.99.0.2 (swb), outer source port
# fixed to 4789 (Linux otherwise varies it by the inner flow's hash).
IA=10.99.0.1 IB=10.99.0.2
ip -n "$NS_A" link add vx0 type vxlan id 42 local $A4 remote $B4 dstport 4789 srcport 4789 4790 dev veth-a ||
  skip "cannot create a VXLAN device"
ip -n "$NS_B" link add vx0 type vxlan id 42 local $B4 remote $A4 dstport 4789 srcport 4789 4790 dev veth-b ||
  skip "cannot create a VXLAN device"
in_a sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1
ip -n "$NS_A" addr add $IA/24 dev vx0
ip -n "$NS_B" addr add $IB/24 dev vx0
ip -n "$NS_A" link set vx0 up
ip -n "$NS_B" link set vx0 up
vmac_a=$(in_a cat /sys/class/net/vx0/address)
vmac_b=$(in_b cat /sys/class/net/vx0/address)
in_a ip neigh replace $IB lladdr "$vmac_b" dev vx0 nud permanent
in_b ip neigh replace $IA lladdr "$vmac_a" dev vx0 nud permanent
in_a ping -c1 -W2 $IB >/dev/null 2>&1 || skip "the VXLAN tunnel does not pass traffic"

cat >"$WORK/spanwatch.toml" <<CFG
[capture]
method = "af_packet"
ring_blocks = 16
block_kib = 256
block_timeout_ms = 20
tick_ms = 100
CFG

mkdir -p "$WORK/www"
head -c 100000 /dev/urandom >"$WORK/www/blob.bin"
echo hello >"$WORK/www/index.html"
bg_b http bash -c "cd '$WORK/www' && exec python3 -m http.server --bind $IB 8080"
wait_port "$NS_B" 8080 tcp 10 || fail "python3 -m http.server did not listen on 8080"

start_spanwatch --config "$WORK/spanwatch.toml" --workers 2
record_start 100000 262144
# tcpdump may say "listening" a moment before it records: ping until a packet is in its file
rec_ready() { in_a ping -c1 -W1 -q $B4 >/dev/null 2>&1; [ "$(stat -c %s "$REC_FILE" 2>/dev/null || echo 0)" -gt 24 ]; }
wait_for 10 rec_ready || log "tcpdump has recorded nothing after 10 s of pings"

# inner flows: 24 TCP sessions (new source port each; 12 one after another, 12 at once) and
# UDP datagrams to 40 ports (each answered by an ICMP error: flows too)
ok=0
for i in $(seq 1 12); do
  in_a timeout 10 curl -fsS -o /dev/null "http://$IB:8080/blob.bin" && ok=$((ok + 1))
done
pids=()
for i in $(seq 1 12); do
  in_a timeout 10 curl -fsS -o /dev/null "http://$IB:8080/index.html?$i" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
check "24 HTTP sessions through the tunnel completed ($ok)" test "$ok" = 24
in_a python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(40):
    s.sendto(b"x" * 100, (sys.argv[1], 41000 + p))' $IB

record_stop
m() { python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" "$1" "$2" >/dev/null; }
spread() {
  scrape_metrics "$WORK/m.prom" || return 1
  local w0 w1
  w0=$(sed -n 's/^spanwatch_worker_packets_total{worker="0"} //p' "$WORK/m.prom")
  w1=$(sed -n 's/^spanwatch_worker_packets_total{worker="1"} //p' "$WORK/m.prom")
  log "worker packets: ${w0:-?} and ${w1:-?}; handed over: $(sed -n 's/^spanwatch_capture_handoff_packets_total //p' "$WORK/m.prom")"
  # each worker at least a tenth of the packets (all on one worker without the hand-off)
  [ -n "$w0" ] && [ -n "$w1" ] && [ $((w0 * 10)) -ge $((w0 + w1)) ] && [ $((w1 * 10)) -ge $((w0 + w1)) ]
}
check "both workers carried a share of the tunnelled flows" spread
check "tunnelled packets were handed to the worker of their inner flow" \
  m 'spanwatch_capture_handoff_packets_total' 100
check "every packet on the link was VXLAN-encapsulated" \
  m 'spanwatch_encapsulated_packets_total{encap="vxlan"}' 1000
check "no hand-off queue dropped a packet" \
  python3 "$LIVE_DIR/eve.py" metric "$WORK/m.prom" '^spanwatch_queue_dropped_packets_total 0$'
live_eve=$EVE.$SW_RUNS
stop_spanwatch
check "no kernel drops" python3 "$LIVE_DIR/eve.py" metric "$METRICS" '^spanwatch_capture_kernel_dropped_packets_total 0$'
check "the inner sessions are flow records (10.99.0.1 -> 10.99.0.2:8080)" \
  python3 "$LIVE_DIR/eve.py" any "$live_eve" "r.get('event_type')=='flow' and r.get('dest_ip')=='$IB' and r.get('dest_port')==8080"

if [ -s "${REC_FILE:-}" ]; then
  "$SPANWATCH_BIN" --config "$WORK/spanwatch.toml" replay --workers 1 --eve "$WORK/replay.json" -q "$REC_FILE" \
    >"$WORK/replay.log" 2>&1 || fail "spanwatch replay of the recording failed"
  check "live flow records and alerts (2 workers, hand-off) = those of the replay of tcpdump's recording" \
    python3 "$LIVE_DIR/flows_equal.py" "$live_eve" "$WORK/replay.json" 24 $B4
else
  fail "tcpdump recorded nothing"
fi

# --- ERSPAN type II: a switch's mirror session to a collector address that is not swa's (the
# frames reach veth-a and go no further), 64 inner UDP conversations of 3 packets each way.
cat >"$WORK/erspan.py" <<'PY'
import socket, struct, sys
dst_mac = bytes.fromhex(sys.argv[1].replace(":", ""))
src_mac = bytes.fromhex(sys.argv[2].replace(":", ""))
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
def ipv4(src, dst, proto, payload, ident=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("veth-b", 0))
seq = 0
for c in range(64):
    client, cport = "10.55.0.%d" % (c + 1), 30000 + c
    for i in range(3):
        for (a, ap, b, bp) in ((client, cport, "10.55.1.1", 5353), ("10.55.1.1", 5353, client, cport)):
            payload = b"erspan %d %d" % (c, i)
            udp = struct.pack("!HHHH", ap, bp, 8 + len(payload), 0) + payload
            inner = b"\x02\x00\x00\x00\x01\x01" + b"\x02\x00\x00\x00\x01\x02" + b"\x08\x00" + ipv4(a, b, 17, udp)
            seq += 1
            gre = struct.pack("!HHI", 0x1000, 0x88BE, seq)
            ers = struct.pack("!HHI", (1 << 12) | 0, (0 << 13) | 123, 7)
            outer = ipv4(sys.argv[3], "10.77.0.9", 47, gre + ers + inner, seq & 0xFFFF)
            s.send(dst_mac + src_mac + b"\x08\x00" + outer)
PY
start_spanwatch --config "$WORK/spanwatch.toml" --workers 2
record_start 100000 262144
wait_for 10 rec_ready || log "tcpdump has recorded nothing after 10 s of pings"
in_b python3 "$WORK/erspan.py" "$mac_a" "$mac_b" $B4 || fail "sending ERSPAN frames"
record_stop
check "ERSPAN: both workers carried a share of the mirrored flows" spread
check "ERSPAN: packets were handed to the worker of their inner flow" \
  m 'spanwatch_capture_handoff_packets_total' 50
check "ERSPAN: 384 mirrored packets decoded" \
  m 'spanwatch_encapsulated_packets_total{encap="erspan"}' 384
live_eve=$EVE.$SW_RUNS
stop_spanwatch
if [ -s "${REC_FILE:-}" ]; then
  "$SPANWATCH_BIN" --config "$WORK/spanwatch.toml" replay --workers 1 --eve "$WORK/replay-erspan.json" -q "$REC_FILE" \
    >"$WORK/replay-erspan.log" 2>&1 || fail "spanwatch replay of the recording failed"
  check "ERSPAN: 64 inner conversations as flow records, 3 packets each way" \
    python3 - "$live_eve" "$WORK/replay-erspan.json" <<'PY'
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1])]
inner = [r for r in flows if r.get("event_type") == "flow" and r.get("dest_ip") == "10.55.1.1"
         and r["flow"]["pkts_toserver"] == 3 and r["flow"]["pkts_toclient"] == 3]
print(f"    {len(inner)} inner conversations with 3 packets each way")
sys.exit(0 if len(inner) == 64 else 1)
PY
  check "ERSPAN: live flow records = those of the replay of tcpdump's recording" \
    python3 "$LIVE_DIR/flows_equal.py" "$live_eve" "$WORK/replay-erspan.json" 0 $B4
else
  fail "tcpdump recorded nothing"
fi
live_finish
