#!/usr/bin/env bash
# AF_PACKET capture with a fanout group: `run` with 2 workers on capture.method = "af_packet"
# (each worker reads its own socket; the kernel spreads flows over them by a symmetric flow
# hash) sees real TCP sessions between the two namespaces and VLAN-tagged frames, and writes
# the same flow records (5-tuple, VLAN, packets and bytes each way) and alerts as a replay of
# the same traffic recorded with tcpdump; both workers carried packets. Then the sensor is starved (a tiny ring, stopped
# while 20,000 packets arrive): the loss shows in /metrics, and every packet that crossed the
# link is either read or counted as dropped.
. "$(dirname "$0")/lib.sh"
live_init afpacket python3 curl tcpdump
live_netns

# Nothing but our own packets on the link: no IPv6 (router and neighbour solicitations, MLD)
# and fixed neighbour entries (no ARP once the sessions are over).
in_a sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
mac_a=$(in_a cat /sys/class/net/veth-a/address)
mac_b=$(in_b cat /sys/class/net/veth-b/address)
in_a ip neigh replace $B4 lladdr "$mac_b" dev veth-a nud permanent
in_b ip neigh replace $A4 lladdr "$mac_a" dev veth-b nud permanent

cat >"$WORK/spanwatch.toml" <<CFG
[capture]
method = "af_packet"
ring_blocks = 16
block_kib = 256
block_timeout_ms = 20
tick_ms = 100
CFG

# An HTTP server in swb with a 300 KB file (several hundred packets a session).
mkdir -p "$WORK/www"
head -c 300000 /dev/urandom >"$WORK/www/blob.bin"
echo hello >"$WORK/www/index.html"
bg_b http bash -c "cd '$WORK/www' && exec python3 -m http.server --bind $B4 8080"
wait_port "$NS_B" 8080 tcp 10 || fail "python3 -m http.server did not listen on 8080"

start_spanwatch --config "$WORK/spanwatch.toml" --workers 2
record_start 100000 262144

# 16 TCP sessions (new source port each): 8 one after another, 8 at once; and a few UDP
# datagrams to a closed port (the ICMP errors that answer them are flows too).
ok=0
for i in $(seq 1 8); do
  in_a timeout 10 curl -fsS -o /dev/null "http://$B4:8080/blob.bin" && ok=$((ok + 1))
done
pids=()
for i in $(seq 1 8); do
  in_a timeout 10 curl -fsS -o /dev/null "http://$B4:8080/index.html?$i" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
check "16 HTTP sessions completed ($ok)" test "$ok" = 16
in_a python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(5):
    s.sendto(b"x" * 100, (sys.argv[1], 40000 + p))' $B4

# 802.1Q-tagged frames (VLAN 100; sent raw from swb: no VLAN interface needed). The kernel
# takes the tag off before the capture sees them (it travels beside the packet); the sensor
# must put it back, as libpcap does for tcpdump.
cat >"$WORK/vlan.py" <<'PY'
import socket, struct, sys
dst, src = bytes.fromhex(sys.argv[1].replace(":", "")), bytes.fromhex(sys.argv[2].replace(":", ""))
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("veth-b", 0))
for i in range(5):
    payload = b"vlan%d" % i
    udp = struct.pack("!HHHH", 5000 + i, 6000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     socket.inet_aton("10.78.0.2"), socket.inet_aton("10.78.0.1"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.send(dst + src + struct.pack("!HH", 0x8100, 100) + struct.pack("!H", 0x0800) + ip + udp)
PY
in_b python3 "$WORK/vlan.py" "$mac_a" "$mac_b" || fail "sending VLAN-tagged frames"

# Every packet read (settle_capture waits for it), tcpdump stopped, then the sensor.
record_stop
spread() {
  scrape_metrics "$WORK/m.prom" || return 1
  python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" 'spanwatch_worker_packets_total{worker="0"}' 1 >/dev/null &&
    python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" 'spanwatch_worker_packets_total{worker="1"}' 1 >/dev/null
}
check "both workers read packets of their own (the kernel's fanout spread the flows)" spread
LIVE_EVE=$EVE.$SW_RUNS
stop_spanwatch
check "the VLAN-tagged flows carry their tag (vlan 100) in the live run" \
  python3 "$LIVE_DIR/eve.py" any "$LIVE_EVE" "r.get('event_type')=='flow' and r.get('vlan')==[100] and r.get('src_port')==5000"
check "no kernel drops in the comparison run" \
  python3 "$LIVE_DIR/eve.py" metric "$METRICS" '^spanwatch_capture_kernel_dropped_packets_total 0$'

# The same traffic, replayed from tcpdump's recording with one worker.
if [ -s "${REC_FILE:-}" ]; then
  "$SPANWATCH_BIN" --config "$WORK/spanwatch.toml" replay --workers 1 --eve "$WORK/replay.json" -q "$REC_FILE" \
    >"$WORK/replay.log" 2>&1 || fail "spanwatch replay of the recording failed"
  check "live flow records and alerts (2 workers, af_packet) = those of the replay of tcpdump's recording" \
    python3 "$LIVE_DIR/flows_equal.py" "$LIVE_EVE" "$WORK/replay.json" 16
else
  fail "tcpdump recorded nothing"
fi

# --- starvation: a ring of 2 blocks of 4 KiB per worker, the sensor stopped while 20,000
# packets arrive. The kernel drops what does not fit, and counts it.
cat >"$WORK/tiny.toml" <<CFG
[capture]
method = "af_packet"
ring_blocks = 2
block_kib = 4
block_timeout_ms = 10
tick_ms = 100
CFG
start_spanwatch --config "$WORK/tiny.toml" --workers 2
kill -STOP "$SW_PID"
in_a python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20000):
    s.sendto(b"x" * 200, (sys.argv[1], 9))' $B4 2>/dev/null
kill -CONT "$SW_PID"
drops() { local d; d=$(sw_metric spanwatch_capture_kernel_dropped_packets_total); [ "${d:-0}" -gt 1000 ]; }
check "a starved sensor counts the kernel's drops in /metrics" wait_for 10 drops
# no packet lost without being counted: read + dropped covers every packet on the link
counted() {
  local want cur d
  want=$(( SW_BASE_SW + $(if_packets) - SW_BASE_IF ))
  cur=$(sw_metric spanwatch_packets_total); d=$(sw_metric spanwatch_capture_kernel_dropped_packets_total)
  [ -n "$cur" ] && [ $(( ${cur%.*} + ${d:-0} )) -ge "$want" ]
}
check "every packet that crossed the link was read or counted as dropped" wait_for 10 counted
starved_metrics() {
  scrape_metrics "$WORK/starved.prom" || return 1
  python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/starved.prom" 'spanwatch_capture_kernel_dropped_packets_per_interface_total{interface="veth-a"}' 1000 >/dev/null &&
    python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/starved.prom" 'spanwatch_capture_ring_freezes_total' 1 >/dev/null &&
    grep -q '^spanwatch_capture_ring_fill_ratio{worker="1"} ' "$WORK/starved.prom"
}
check "the drops by interface, the rings' freezes and each worker's ring fill are in /metrics" wait_for 10 starved_metrics
log "starved: read $(sw_metric spanwatch_packets_total), dropped $(sw_metric spanwatch_capture_kernel_dropped_packets_total)"
grep -q "the kernel is dropping packets" "$WORK/spanwatch.$SW_RUNS.log" &&
  pass "the log says when drops start" || fail "no log line when drops started"
stop_spanwatch
live_finish
