#!/usr/bin/env bash
# DNS tunnel: iodined in swb authoritative for t.spanwatch.test, the iodine client in swa using
# swb's address as its resolver (-r: DNS only, never iodine's raw UDP mode), then ~1 MB over
# the tunnel (ping and an HTTP download across the tun interfaces).
. "$(dirname "$0")/lib.sh"
live_init dns_tunnel iodine iputils-ping curl python3
live_netns
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (no TUN devices here)"

DOM=t.spanwatch.test
bg_b iodined iodined -f -c -l $B4 -d dnsb -P spanwatch-live 10.53.0.1/24 $DOM
wait_port "$NS_B" 53 udp 10 || { fail "iodined did not listen on udp/53"; sed 's/^/    iodined: /' "$WORK/iodined.log" | tail; }
mkdir -p "$WORK/www"; head -c 1000000 /dev/urandom >"$WORK/www/file1m"

record_start 600
start_spanwatch
bg_a iodine iodine -f -r -d dnsa -P spanwatch-live $B4 $DOM
if wait_for 20 grep -q "Connection setup complete" "$WORK/iodine.log"; then
  pass "iodine tunnel set up over DNS"
  bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 10.53.0.1 8000"
  wait_port "$NS_B" 8000 tcp 5
  in_a timeout 10 ping -c 3 -i 0.3 -W 2 10.53.0.1 >/dev/null && pass "ping through the DNS tunnel" || fail "ping through the DNS tunnel"
  t0=$(date +%s)
  in_a timeout 45 curl -fsS -o "$WORK/got1m" http://10.53.0.1:8000/file1m
  if cmp -s "$WORK/www/file1m" "$WORK/got1m"; then pass "1 MB through the DNS tunnel in $(( $(date +%s) - t0 )) s, bytes identical"
  else fail "1 MB through the DNS tunnel (got $(stat -c %s "$WORK/got1m" 2>/dev/null || echo 0) bytes)"; fi
else
  fail "iodine tunnel setup"; sed 's/^/    iodine: /' "$WORK/iodine.log" | tail -10
fi
record_stop
stop_spanwatch

assert_flow dns "r.get('dest_port')==53"
assert_alert tunnel '*' "r.get('app_proto')=='dns' or r.get('dest_port')==53"
assert_alert tunnel '*' "has(r,'alert.metadata','$DOM')"
live_finish
