#!/usr/bin/env bash
# Alertmanager down during an alert flood: `[alertmanager] urls` points at a closed port and at
# a black hole (a listener that accepts and never answers) while thousands of short VNC
# handshakes (tests/live/rfb_flood.py, each a distinct alert) cross veth-a. The sink must back
# off (circuit breaker), drop and count what does not fit, and cost little: its thread's CPU
# stays under 5% of the packet path's (both from /proc/PID/task/*/schedstat), and the capture
# loses nothing (kernel drops 0).
. "$(dirname "$0")/lib.sh"
live_init am_down curl
live_netns

FLOOD_S=${AM_DOWN_FLOOD_S:-15}
PORTS=50 SRCS=200
# Client addresses 10.77.1.1.. on host A (one alert identity per client, server and port).
in_a ip addr add 10.77.1.0/24 dev veth-a 2>/dev/null || true
for i in $(seq 1 $SRCS); do in_a ip addr add 10.77.1.$i/32 dev veth-a; done
in_b ip route add 10.77.1.0/24 dev veth-b

bg_b rfb python3 "$LIVE_DIR/rfb_flood.py" serve $B4 5900 $PORTS
wait_port "$NS_B" $((5900 + PORTS - 1)) tcp 10 || fail "RFB servers did not listen"

# In host A (where spanwatch runs): a port nobody listens on, and a black hole.
CLOSED=9093 HOLE=9094
bg_a hole python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $HOLE)); s.listen(1024)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # never a byte back
"
wait_port "$NS_A" $HOLE tcp 10 || fail "black hole did not listen"
cat >"$WORK/spanwatch.toml" <<EOF
[alertmanager]
urls = ["http://127.0.0.1:$CLOSED", "http://127.0.0.1:$HOLE"]
timeout_s = 5
EOF

start_spanwatch --config "$WORK/spanwatch.toml"

# CPU time in nanoseconds (the first field of schedstat: time on a CPU, exact, where the
# utime/stime of stat count 10 ms ticks) summed over the threads of spanwatch whose name
# matches the extended regex $1 (empty when none does).
thread_ns() {
  local f n=0 found=""
  for f in /proc/"$SW_PID"/task/*; do
    if [[ "$(cat "$f/comm" 2>/dev/null)" =~ ^($1)$ ]]; then
      n=$((n + $(cut -d' ' -f1 "$f/schedstat"))) found=1
    fi
  done
  [ -n "$found" ] && echo "$n" || echo ""
}
# The packet path: with AF_PACKET (the default) each worker reads its own ring, so it is the
# worker threads; with libpcap it is the capture thread and the workers.
PACKET_PATH='capture|worker-[0-9]+'
# The spanwatch process itself (SW_PID is `ip netns exec`, which execs it: same PID).
cap0=$(thread_ns "$PACKET_PATH") sink0=$(thread_ns alertmanager)
check "found the packet path and alertmanager threads" test -n "$cap0" -a -n "$sink0"

in_a timeout $((FLOOD_S + 30)) python3 "$LIVE_DIR/rfb_flood.py" flood $B4 5900 $PORTS 10.77.1 $SRCS "$FLOOD_S" 16 \
  >"$WORK/flood.log" 2>&1
n=$(tail -1 "$WORK/flood.log")
log "$n handshakes in $FLOOD_S s"
check "the flood made over 2000 handshakes ($n)" test "${n:-0}" -gt 2000 2>/dev/null

# Wait until the capture has counted the flood's alerts (the metric moves no more).
alerts_now() {
  scrape_metrics "$WORK/m.now" && awk '/^spanwatch_alerts_total\{.*category="remote-access"/ { s += $2 } END { print s + 0 }' "$WORK/m.now"
}
prev=-1
for _ in $(seq 1 30); do cur=$(alerts_now); [ "$cur" = "$prev" ] && break; prev=$cur; sleep 1; done
cap1=$(thread_ns "$PACKET_PATH") sink1=$(thread_ns alertmanager)
cap=$((cap1 - cap0)) sink=$((sink1 - sink0))
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
log "CPU during the flood: packet path $((cap / 1000000)) ms, alertmanager sink $((sink / 1000000)) ms ($(pct "$sink" "$cap")%)"
scrape_metrics "$WORK/m.end"
check "packet path did work ($((cap / 1000000)) ms)" test "$cap" -gt 200000000
# Issue 10: the sink's CPU stays under 5% of the capture's. With AF_PACKET the workers read
# their own rings, so "the capture" is the packet path (capture thread and workers). Measured
# with the changes that got it there (an Alertmanager silent for 1 s counts as failing, so no
# deep queue is serialised for a black hole; one drain a second while every Alertmanager
# fails): 3.2-4.1% on a loaded 2-core machine, 6.8% before.
check "alertmanager sink CPU ($((sink / 1000000)) ms) under 5% of the packet path's ($((cap / 1000000)) ms)" test $((sink * 20)) -lt "$cap"
drops=$(awk '/^spanwatch_capture_kernel_dropped_packets_total/ { s += $2 } END { print s + 0 }' "$WORK/m.end")
check "no kernel drops ($drops)" test "$drops" = 0
nf() { awk -v r="$1" '$1 ~ "^spanwatch_alertmanager_notifications_total\\{.*result=\"" r "\"" { s += $2 } END { print s + 0 }' "$WORK/m.end"; }
log "alertmanager notifications: sent $(nf sent) failed $(nf failed) dropped $(nf dropped)"
check "nothing reached an Alertmanager" test "$(nf sent)" = 0
check "what did not fit was dropped and counted" test "$(nf dropped)" -gt 0

SW_SETTLE=0 stop_spanwatch
assert_alert remote-access vnc
live_finish
