#!/usr/bin/env bash
# Shadowsocks (shadowsocks-libev): ss-server in swb on 8388, ss-local in swa offering SOCKS5 on
# its loopback; curl in swa fetches a file from an HTTP server on a second address of swb
# (10.77.1.2, reached only through the proxy). Between the hosts the capture sees only the
# fully encrypted Shadowsocks stream (AEAD chacha20-ietf-poly1305): no protocol in clear from
# the first byte, which spanwatch raises as a `proxy` alert with a confidence.
. "$(dirname "$0")/lib.sh"
live_init shadowsocks shadowsocks-libev curl python3
live_netns

T4=10.77.1.2
ip -n "$NS_B" addr add $T4/32 dev lo
mkdir -p "$WORK/www"
head -c 200000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind $T4 8000"
bg_b ss-server ss-server -s $B4 -p 8388 -k live-secret -m chacha20-ietf-poly1305 -u -v
bg_a ss-local ss-local -s $B4 -p 8388 -l 1080 -b 127.0.0.1 -k live-secret -m chacha20-ietf-poly1305 -v
wait_port "$NS_B" 8000 || fail "http.server did not listen on $T4:8000"
wait_port "$NS_B" 8388 || { fail "ss-server did not listen on 8388"; tail "$WORK/ss-server.log"; }
wait_port "$NS_A" 1080 || { fail "ss-local did not listen on 1080"; tail "$WORK/ss-local.log"; }

record_start 1200 ${SPANWATCH_LIVE_SNAPLEN:-256}
start_spanwatch

for i in 1 2 3; do
  in_a timeout 20 curl -fsS --socks5-hostname 127.0.0.1:1080 -o "$WORK/got-$i" http://$T4:8000/file
  check "download $i through Shadowsocks, bytes identical" cmp -s "$WORK/www/file" "$WORK/got-$i"
done

record_stop
stop_spanwatch

assert_alert proxy '*' "get(r,'alert.signature_id')==9400010 and r.get('dest_port')==8388 and int(get(r,'alert.metadata.confidence')[0])>=60"
check "no other alert than the fully-encrypted one" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
other = [r["alert"]["signature"] for r in recs if r.get("event_type") == "alert" and r["alert"]["signature_id"] != 9400010]
print("    other alerts:", other)
sys.exit(1 if other else 0)
PY
live_finish
