#!/usr/bin/env bash
# A TLS server named from its certificate when the client names no server: `openssl s_server`
# in swb (TLS 1.2, so the Certificate message crosses in clear) holds a certificate whose
# subject CN is neutral (sni.cdn.test) and whose subjectAltName lists several names, one of
# them a catalogue domain of a VPN service (psiphon3.net, rules/vpn-services.toml) — a
# fronting service's shared certificate. `openssl s_client -noservername` reaches it with no
# SNI: the server answers with that certificate, and spanwatch names the flow psiphon from
# its subjectAltName (evidence tls.cert_dns) and raises the catalogue alert. The same server
# reached with an SNI of another name (-servername www.example.test) is what the client asked
# for: not named psiphon, no alert.
. "$(dirname "$0")/lib.sh"
live_init cert_names openssl
live_netns

mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=sni.cdn.test" \
  -addext "subjectAltName=DNS:sni.cdn.test,DNS:*.cdn.test,DNS:www.example.test,DNS:psiphon3.net,DNS:*.psiphon3.net" \
  -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>"$WORK/req.log" \
  || { fail "openssl req"; cat "$WORK/req.log"; }
# -www: answers a GET with a status page; -tls1_2: the certificate is not encrypted
bg_b s_server openssl s_server -accept $B4:443 -tls1_2 -www -cert "$WORK/tls/cert.pem" -key "$WORK/tls/key.pem"
wait_port "$NS_B" 443 || { fail "openssl s_server did not listen on 443"; tail "$WORK/s_server.log"; }

record_start ${SPANWATCH_LIVE_PACKETS:-120} ${SPANWATCH_LIVE_SNAPLEN:-1500}
start_spanwatch
# get URL SERVERNAME-OPTION...: one GET through s_client; its output names the certificate
get() {
  local out=$1; shift
  printf 'GET / HTTP/1.0\r\n\r\n' | in_a timeout 15 openssl s_client -connect $B4:443 -ign_eof "$@" >"$WORK/$out" 2>&1
}
get nosni.log -noservername
# served LOG: TLS 1.2, the certificate CN=sni.cdn.test, and s_server's status page
served() { grep -q "CN = sni.cdn.test" "$1" && grep -q "Protocol  *: TLSv1.2" "$1" && grep -q "s_server -accept" "$1"; }
check "s_client with no SNI: TLS 1.2, the certificate CN=sni.cdn.test, the status page" served "$WORK/nosni.log"
get sni.log -servername www.example.test
check "s_client with SNI www.example.test: the same" served "$WORK/sni.log"
record_stop
stop_spanwatch

NOSNI="r.get('dest_ip')=='$B4' and r.get('dest_port')==443 and get(r,'tls.sni') is None"
WITHSNI="r.get('dest_ip')=='$B4' and r.get('dest_port')==443 and get(r,'tls.sni')=='www.example.test'"
assert_eve "the no-SNI flow: app psiphon, evidence tls.cert_dns from the subjectAltName" \
  "r.get('event_type')=='flow' and $NOSNI and r.get('app')=='psiphon' and has(r,'evidence','tls.cert_dns=')"
assert_alert vpn psiphon "$NOSNI and get(r,'alert.signature_id')==9140012 and has(r,'alert.metadata.evidence','tls.cert_dns=psiphon3.net')"
assert_eve "the SNI flow: TLS read, its SNI www.example.test, the certificate seen" \
  "r.get('event_type')=='flow' and $WITHSNI and get(r,'tls.subject')=='CN=sni.cdn.test'"
check "the SNI flow is not named psiphon and raises nothing; exactly one alert" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sni = [r for r in recs if (r.get("tls") or {}).get("sni") == "www.example.test"]
al = [r for r in recs if r.get("event_type") == "alert"]
print("    SNI flow app:", [r.get("app") for r in sni], "alerts:", [(r["alert"]["signature_id"], r.get("app")) for r in al])
sys.exit(0 if sni and all(r.get("app") != "psiphon" for r in sni) and len(al) == 1 else 1)
PY
live_finish
