#!/usr/bin/env bash
# A live beacon: one TCP connection a second from swa to a server in swb, the same few bytes
# each time; the beacon alert must reach the EVE file while the sensor runs and the beacon goes
# on (not at the periodic 300 s check, not at shutdown).
. "$(dirname "$0")/lib.sh"
live_init beacon python3 curl
live_netns
# Only the beacon on the link (the data set of the scoring starts at the first flow seen).
in_a sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1

# Both hosts are in 10.0.0.0/8 (home_net): score internal pairs too. Closed flows are written
# 1 s after their end, so the stage hears of each connection at once.
cat >"$WORK/spanwatch.toml" <<'CFG'
[flow]
tcp_closed_timeout_s = 1
[detect.beacon]
outbound_only = false
min_connections = 10
# the data set is this test's few seconds (default: 60 s before the histogram and duration count)
min_span_s = 5
min_score = 0.7
# (with 0.8, the default, the alert comes at 20 connections: 10 in 24 histogram bins score 0)
CFG

cat >"$WORK/server.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8443)); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(100); c.sendall(b"ok\n"); c.close()
PY
cat >"$WORK/implant.py" <<'PY'
import socket, sys, time
t0 = time.monotonic()
for i in range(int(sys.argv[2])):
    time.sleep(max(0.0, t0 + i - time.monotonic()))
    try:
        c = socket.create_connection((sys.argv[1], 8443), timeout=2)
        c.sendall(b"GET /tasks HTTP/1.0\r\n\r\n"); c.recv(100); c.close()
    except OSError as e:
        print("connection", i, e, flush=True)
    print(i, flush=True)
PY
bg_b server python3 "$WORK/server.py" $B4
wait_port "$NS_B" 8443 tcp 10 || fail "the test server did not listen on 8443"

start_spanwatch --config "$WORK/spanwatch.toml"
EVE1=$EVE.$SW_RUNS
bg_a implant python3 "$WORK/implant.py" $B4 70

beacon_alert() {
  python3 "$LIVE_DIR/eve.py" any "$EVE1" \
    "r.get('event_type')=='alert' and get(r,'alert.signature_id')==9300060 and r.get('dest_port')==8443"
}
if wait_for 60 beacon_alert; then
  n=$(tail -1 "$WORK/implant.log")
  pass "the beacon alert is in the EVE file while the beacon runs (after connection ${n:-?})"
  check "the beacon was still running when the alert came" kill -0 "${BG_PIDS[-1]}"
else
  fail "no beacon alert in the EVE file within 60 s of a connection every second"
  sed 's/^/    implant: /' "$WORK/implant.log" | tail -5
fi
stop_spanwatch
assert_alert beacon "*" "r.get('dest_port')==8443 and has(r,'alert.signature','every ~1 s')"
live_finish
