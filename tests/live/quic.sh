#!/usr/bin/env bash
# QUIC from real programs: ngtcp2's HTTP/3 example server (gtlsserver, GnuTLS) on UDP 443 in swb
# and its client (gtlsclient) in swa fetching a 100 kB file twice, as QUIC v1 and as draft-29
# (ngtcp2 0.12, Debian 12's, does not speak RFC 9369's v2: its server answers 0x6b3343cf with a
# Version Negotiation; generated captures cover v2), each time to the name of an
# RMM vendor's relay (router1.teamviewer.com, resolved to swb by /etc/netns/<swa>/hosts): the
# client sends that name in the SNI of its ClientHello inside the Initial packets, which
# spanwatch decrypts (RFC 9001 initial secrets) to name the service over QUIC.
. "$(dirname "$0")/lib.sh"
live_init quic ngtcp2-client ngtcp2-server openssl
live_netns

NAME=router1.teamviewer.com
mkdir -p "/etc/netns/$NS_A" "$WORK/www"
on_exit "rm -rf /etc/netns/$NS_A"
echo "$B4 $NAME" >"/etc/netns/$NS_A/hosts"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$NAME" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
head -c 100000 /dev/urandom >"$WORK/www/file"
bg_b server gtlsserver -q -d "$WORK/www" $B4 443 "$WORK/key.pem" "$WORK/cert.pem"
wait_port "$NS_B" 443 udp 10 || { fail "gtlsserver did not listen on udp/443"; tail "$WORK/server.log"; }

record_start ${SPANWATCH_LIVE_PACKETS:-400} 1400
start_spanwatch

# QUIC v1, draft-29
for v in 0x1 0xff00001d; do
  rm -rf "$WORK/dl"; mkdir -p "$WORK/dl"
  in_a timeout 20 gtlsclient -q --exit-on-all-streams-close -v $v --download="$WORK/dl" $NAME 443 "https://$NAME/file" \
    >"$WORK/client-$v.log" 2>&1
  check "gtlsclient -v $v fetched the file over HTTP/3, bytes identical" cmp -s "$WORK/www/file" "$WORK/dl/file"
done

record_stop
stop_spanwatch

for v in 1 ff00001d; do
  assert_flow quic "get(r,'quic.version')=='$v' and get(r,'quic.sni')=='$NAME' and 'h3' in (get(r,'quic.alpn') or [])"
done
assert_eve "the QUIC ClientHello's JA4 starts with q" \
  "r.get('event_type')=='flow' and r.get('app_proto')=='quic' and str(get(r,'quic.ja4')).startswith('q')"
assert_eve "an alert names TeamViewer over QUIC" \
  "r.get('event_type')=='alert' and r.get('app_proto')=='quic' and 'teamviewer' in str(r.get('app')).lower()"
live_finish
