#!/usr/bin/env bash
# A quiet link still ticks: a TCP session opens and closes, then not one packet more; the flow
# record reaches the EVE file within its timeout and a tick or two, `stats` records keep coming
# on schedule, and the kernel drop counter in /metrics (after drops made on purpose while the
# sensor was stopped) already equals the final one. Run with AF_PACKET (one socket per worker
# in a fanout group: every worker ticks on its own) and with libpcap.
. "$(dirname "$0")/lib.sh"
live_init quiet python3 curl
live_netns

# Nothing but our own packets on the link: no IPv6 (router and neighbour solicitations, MLD)
# and fixed neighbour entries (no ARP probes once the session is over).
in_a sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
mac_a=$(in_a cat /sys/class/net/veth-a/address)
mac_b=$(in_b cat /sys/class/net/veth-b/address)
in_a ip neigh replace $B4 lladdr "$mac_b" dev veth-a nud permanent
in_b ip neigh replace $A4 lladdr "$mac_a" dev veth-b nud permanent

CLOSED_S=2 STATS_S=2 TICK_MS=250
cat >"$WORK/spanwatch.toml" <<CFG
[capture]
tick_ms = $TICK_MS
# small kernel buffers, so that packets sent to a stopped sensor are dropped: libpcap's
# buffer, and each AF_PACKET socket's ring (4 blocks of 256 KiB)
buffer_mib = 1
ring_blocks = 4
block_kib = 256
[flow]
tcp_closed_timeout_s = $CLOSED_S
[output]
stats_interval_s = $STATS_S
CFG

# A TCP server in swb: one line in, one line back, close.
cat >"$WORK/server.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7777)); s.listen(4)
while True:
    c, _ = s.accept(); c.recv(100); c.sendall(b"pong\n"); c.close()
PY
bg_b server python3 "$WORK/server.py" $B4
wait_port "$NS_B" 7777 tcp 10 || fail "the test server did not listen on 7777"

# metric NAME: its value on the live /metrics (sum over series), or nothing.
metric() {
  scrape_metrics "$WORK/m.prom" || return 1
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2; f = 1 } END { if (f) printf "%d\n", s }' "$WORK/m.prom"
}
drops_seen() { local d; d=$(metric spanwatch_capture_kernel_dropped_packets_total) && [ "${d:-0}" -gt 0 ]; }

# scenario WORKERS METHOD: the whole story with that many worker threads (2: the workers must
# tick too), reading with that capture method.
scenario() {
  local W=$1 M=$2
  log "--- $W worker(s), capture.method = $M"
  sed "/^\[capture\]/a method = \"$M\"" "$WORK/spanwatch.toml" >"$WORK/spanwatch-$M.toml"
  start_spanwatch --config "$WORK/spanwatch-$M.toml" --workers "$W"
  EVE1=$EVE.$SW_RUNS

  # --- kernel drops on purpose: the sensor stopped, 1 MiB of buffer, 20,000 UDP packets.
  kill -STOP "$SW_PID"
  in_a python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20000):
    s.sendto(b"x" * 1000, (sys.argv[1], 9))' $B4 2>/dev/null
  kill -CONT "$SW_PID"
  if wait_for 10 drops_seen; then pass "[$W worker(s), $M] kernel drops made while the sensor was stopped show in /metrics"
  else fail "[$W worker(s), $M] no kernel drops in /metrics after 20,000 packets into a stopped sensor"; fi

  # --- one TCP session, then silence.
  in_a timeout 10 python3 -c 'import socket, sys
c = socket.create_connection((sys.argv[1], 7777)); c.sendall(b"ping\n"); c.recv(100); c.close()' $B4 \
    && pass "[$W worker(s), $M] a TCP session to 7777 opened and closed" || fail "[$W worker(s), $M] the TCP session to 7777"
  closed_at=$(date +%s.%N)
  sleep 0.3   # the last ACK
  packets_before=$(metric spanwatch_packets_total)
  stats_before=$(grep -c '"event_type":"stats"' "$EVE1")

  flow_in_eve() {
    python3 "$LIVE_DIR/eve.py" any "$EVE1" "r.get('event_type')=='flow' and r.get('dest_port')==7777"
  }
  # The record comes after the closed-flow timeout; within it, a tick, the capture's lag
  # (2 x timeout_ms + 50 ms) and a tick of the output thread — given 1 s more for a busy machine.
  limit=$(python3 -c "print($CLOSED_S + 3 * $TICK_MS / 1000 + 0.25 + 1)")
  seen_at=""
  for i in $(seq 1 100); do
    if flow_in_eve >/dev/null 2>&1; then seen_at=$(date +%s.%N); break; fi
    sleep 0.1
  done
  if [ -n "$seen_at" ]; then
    took=$(python3 -c "print(round($seen_at - $closed_at, 2))")
    log "flow record in the EVE file ${took} s after the close"
    check "[$W worker(s), $M] the flow record is in the EVE file no sooner than its ${CLOSED_S} s timeout (${took} s)" \
      python3 -c "import sys; sys.exit(0 if $took >= $CLOSED_S - 0.3 else 1)"
    check "[$W worker(s), $M] the flow record is in the EVE file within ${limit} s of the close (${took} s)" \
      python3 -c "import sys; sys.exit(0 if $took <= $limit else 1)"
  else
    fail "[$W worker(s), $M] no flow record for the TCP session in the EVE file 10 s after the close"
  fi

  # stats records keep coming every STATS_S seconds with no packet: two more within 2 x STATS_S + 2 s.
  more_stats() { [ $(($(grep -c '"event_type":"stats"' "$EVE1") - stats_before)) -ge 2 ]; }
  if wait_for $((2 * STATS_S + 2)) more_stats; then pass "[$W worker(s), $M] stats records keep coming on a quiet link"
  else fail "[$W worker(s), $M] fewer than 2 new stats records in $((2 * STATS_S + 2)) s of a quiet link"; fi

  packets_after=$(metric spanwatch_packets_total)
  check "[$W worker(s), $M] no packet crossed the link while waiting ($packets_before = $packets_after)" \
    test "$packets_before" = "$packets_after"
  drops_live=$(metric spanwatch_capture_kernel_dropped_packets_total)

  stop_spanwatch
  drops_final=$(awk '$1 == "spanwatch_capture_kernel_dropped_packets_total" { print $2 }' "$METRICS")
  log "kernel drops: /metrics on the quiet link $drops_live, final $drops_final"
  check "[$W worker(s), $M] the kernel drop counter in /metrics ($drops_live) equals the final one ($drops_final)" \
    test -n "$drops_live" -a "$drops_live" = "$drops_final"
}

scenario 1 af_packet
scenario 2 af_packet
scenario 2 pcap
assert_flow unknown "r.get('dest_port')==7777 and get(r,'flow.reason')=='closed'"
live_finish
