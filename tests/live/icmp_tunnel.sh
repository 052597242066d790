#!/usr/bin/env bash
# ICMP tunnel: ptunnel-ng proxy in swb, ptunnel-ng client in swa forwarding a local TCP port over
# ICMP echo to an HTTP server on swb's 127.0.0.1; a 1.5 MB download goes through it
# (ptunnel-ng moves about 60 kB/s here whatever its window and ack options: 5 MB would take
# 80 s, so the scenario carries 1.5 MB to stay deterministic within its time budget).
. "$(dirname "$0")/lib.sh"
live_init icmp_tunnel ptunnel-ng curl python3
live_netns

mkdir -p "$WORK/www"; head -c $((1536 * 1024)) /dev/urandom >"$WORK/www/file1m5"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 127.0.0.1 8000"
# the kernel's own echo replies would race the proxy's (ptunnel-ng's advice)
in_b sysctl -qw net.ipv4.icmp_echo_ignore_all=1
bg_b ptunnel-server ptunnel-ng -r127.0.0.1 -R8000 -Pspanwatch-live -v1 -o"$WORK/ptunnel-server.out"
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000"
# ptunnel-ng listens on a raw ICMP socket
wait_for 10 sh -c "ip netns exec '$NS_B' ss -Hwan | grep -q ." || fail "ptunnel-ng proxy opened no raw ICMP socket"

record_start 400
start_spanwatch
bg_a ptunnel-client ptunnel-ng -p$B4 -l18000 -r127.0.0.1 -R8000 -Pspanwatch-live -v1 -o"$WORK/ptunnel-client.out"
wait_port "$NS_A" 18000 tcp 10 || fail "ptunnel-ng client did not listen on 18000"
t0=$(date +%s)
in_a timeout 45 curl -fsS -o "$WORK/got1m5" http://127.0.0.1:18000/file1m5
if cmp -s "$WORK/www/file1m5" "$WORK/got1m5"; then pass "1.5 MB through the ICMP tunnel in $(( $(date +%s) - t0 )) s, bytes identical"
else fail "1.5 MB through the ICMP tunnel"; tail -5 "$WORK/ptunnel-client.out" "$WORK/ptunnel-server.out" 2>/dev/null | sed 's/^/    /'; fi
record_stop
stop_spanwatch

assert_eve "flow ICMP between the hosts" "r.get('event_type')=='flow' and r.get('proto')=='ICMP' and r.get('dest_ip')=='$B4'"
assert_alert tunnel '*' "r.get('proto')=='ICMP'"
assert_alert tunnel '*' "r.get('proto')=='ICMP' and (has(r,'app','ptunnel') or has(r,'alert','ptunnel') or has(r,'alert','icmp'))"
live_finish
