#!/usr/bin/env bash
# An OpenConnect VPN (ocserv in swb, the openconnect client in swa): the TLS session to the
# gateway, then the DTLS data channel on UDP 443 carrying a ping flood and a download
# through the tunnel. The DTLS flow is labelled `dtls` but is no call leg: with
# `max_concurrent = 0` any call leg would raise a `calls` alert, and none may come.
. "$(dirname "$0")/lib.sh"
live_init openconnect ocserv openconnect openssl curl python3
live_netns

# --- server side (swb): a self-signed certificate, one user with a password file.
mkdir -p "$WORK/oc" "$WORK/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=vpn.spanwatch.test" -keyout "$WORK/oc/key.pem" -out "$WORK/oc/cert.pem" 2>/dev/null
printf 'secret\nsecret\n' | ocpasswd -c "$WORK/oc/passwd" alice
cat >"$WORK/oc/ocserv.conf" <<CFG
auth = "plain[passwd=$WORK/oc/passwd]"
tcp-port = 443
udp-port = 443
listen-host = $B4
run-as-user = root
run-as-group = root
socket-file = $WORK/oc/ocserv.sock
server-cert = $WORK/oc/cert.pem
server-key = $WORK/oc/key.pem
isolate-workers = false
max-clients = 4
keepalive = 300
dpd = 60
mobile-dpd = 300
try-mtu-discovery = false
tls-priorities = "NORMAL:%SERVER_PRECEDENCE"
auth-timeout = 60
pid-file = $WORK/oc/ocserv.pid
device = vpns
ipv4-network = 10.66.0.0/24
dns = 10.66.0.1
route = 10.66.0.0/24
cisco-client-compat = true
dtls-legacy = true
use-occtl = false
CFG
bg_b ocserv ocserv -f -d 1 -c "$WORK/oc/ocserv.conf"
wait_port "$NS_B" 443 tcp 10 || { fail "ocserv did not listen on 443"; sed 's/^/    ocserv: /' "$WORK/ocserv.log" | tail; }
head -c 300000 /dev/urandom >"$WORK/www/blob"

# the client configures its tun device itself (no resolver or routing changes beyond it)
cat >"$WORK/oc/script.sh" <<'SH'
#!/bin/sh
case $reason in
  connect) ip link set "$TUNDEV" up mtu "${INTERNAL_IP4_MTU:-1300}"
           ip addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
           ip route add 10.66.0.0/24 dev "$TUNDEV" ;;
esac
exit 0
SH
chmod +x "$WORK/oc/script.sh"
pin=$(openssl x509 -in "$WORK/oc/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)

record_start 1500 ${SPANWATCH_LIVE_SNAPLEN:-128}
cfg=$WORK/spanwatch.toml
printf '[host.calls]\nmax_concurrent = 0\n' >"$cfg"
start_spanwatch --config "$cfg"

setsid ip netns exec "$NS_A" sh -c "echo secret | exec openconnect --protocol=anyconnect --user=alice --passwd-on-stdin \
  --servercert pin-sha256:$pin --script '$WORK/oc/script.sh' --interface tun-oc https://$B4/" \
  >"$WORK/openconnect.log" 2>&1 </dev/null & BG_PIDS+=($!)
tunup() { in_a ip -4 addr show dev tun-oc | grep -q 'inet '; }
dtlsup() { grep -q "Established DTLS connection" "$WORK/openconnect.log"; }
wait_for 20 tunup || { fail "openconnect did not bring tun-oc up"; tail -20 "$WORK/openconnect.log"; }
wait_for 20 dtlsup || { fail "openconnect did not establish DTLS"; tail -20 "$WORK/openconnect.log"; }
gw=$(in_b ip -4 addr show | sed -n 's/.*inet \(10\.66\.0\.[0-9]*\).*/\1/p' | head -1)
[ -n "$gw" ] || fail "ocserv's tunnel address not found"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind $gw 8000"
wait_port "$NS_B" 8000 || fail "http.server did not listen on $gw:8000"
check "ping through the VPN" in_a ping -c 200 -i 0.01 -W 1 -q "$gw" >/dev/null
in_a timeout 20 curl -fsS -o "$WORK/got" "http://$gw:8000/blob"
check "download through the VPN, bytes identical" cmp -s "$WORK/www/blob" "$WORK/got"
kill -TERM -- "-${BG_PIDS[-2]}" 2>/dev/null
sleep 1

record_stop
stop_spanwatch
assert_flow dtls "r.get('dest_port')==443 and r['flow']['pkts_toserver']+r['flow']['pkts_toclient']>=100"
assert_flow tls "r.get('dest_port')==443"
# the DTLS ClientHello to UDP 443 offers no use_srtp: an SSL VPN data channel
assert_alert vpn '*' "r.get('app_proto')=='dtls' and 'SSL VPN' in get(r,'alert.signature')"
check "no calls alert on the VPN's DTLS channel (max_concurrent = 0)" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
calls = [r for r in recs if r.get("event_type") == "alert" and r["alert"]["category"] == "calls"]
print("    calls alerts:", [a["alert"]["signature"] for a in calls])
sys.exit(1 if calls else 0)
PY
live_finish
