#!/usr/bin/env bash
# A DNS tunnel inside DNS over HTTPS, from real programs: iodine (lazy mode, its default) in swa
# asks dnss (a DNS-to-DoH proxy) on swa's loopback, which carries every query over one HTTP/2
# connection to https://cloudflare-dns.com/dns-query (resolved to swb by /etc/netns/<swa>/hosts,
# so the ClientHello's SNI names a catalogue resolver); in swb dnsdist's DoH frontend (a
# certificate for cloudflare-dns.com from a CA made here) forwards them to iodined,
# authoritative for t.spanwatch.test on swb's loopback. iodined holds each query until it has
# data (iodined 0.7 has no timer of its own: an idle query waits for the client's next one).
# Data pushed from the tunnel server's side (here a ping from swb, every 1.5 s, as a command
# channel would push) goes out in the held answer, and iodine asks again the moment it has it:
# answers held 1.5 s, each followed within milliseconds by a query, through the encryption.
# iodine's idle polls and its own requests are answered within milliseconds on the wire (the
# next query releases the held one), and do not look like that.
#
# Before the tunnel, an ordinary DoH session through another dnss: six lookups at a human pace
# (dnsdist answers them at once, like a resolver's cache), which must raise no alert.
# dnss's HTTP client gives up on a request after 4 s, so iodine polls every 3 s (-I 3) and
# dnsdist waits up to 10 s for iodined (its default, 2 s, would cut the holds short).
. "$(dirname "$0")/lib.sh"
live_init doh_tunnel iodine dnsdist dnss bind9-dnsutils openssl iputils-ping curl python3
live_netns
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (no TUN devices here)"

DOM=t.spanwatch.test
NAME=cloudflare-dns.com
mkdir -p "/etc/netns/$NS_A" "$WORK/pki" "$WORK/www"
on_exit "rm -rf /etc/netns/$NS_A"
echo "$B4 $NAME" >"/etc/netns/$NS_A/hosts"

# A test CA and the DoH server's certificate (subjectAltName cloudflare-dns.com).
(
  cd "$WORK/pki" || exit 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=spanwatch live test CA" -keyout ca.key -out ca.pem
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout doh.key -out doh.csr
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$NAME" >ext.cnf
  openssl x509 -req -in doh.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out doh.pem
  chmod 644 ./*
) >"$WORK/pki.log" 2>&1 || { fail "test PKI (openssl)"; cat "$WORK/pki.log"; live_finish; }

# iodined: authoritative for the tunnel domain, on swb's loopback (-c: the queries come from
# dnsdist's ports, not from the client's).
bg_b iodined iodined -f -c -l 127.0.0.1 -p 5300 -P spanwatch-live 10.53.0.1/24 $DOM
wait_port "$NS_B" 5300 udp 10 || { fail "iodined did not listen on 127.0.0.1:5300"; tail "$WORK/iodined.log"; live_finish; }

# dnsdist: DoH on 443 for cloudflare-dns.com; the tunnel domain goes to iodined, a few ordinary
# names are answered from dnsdist itself.
cat >"$WORK/dnsdist.conf" <<CFG
setSecurityPollSuffix("")
setLocal("127.0.0.1:5301")
addDOHLocal("$B4:443", "$WORK/pki/doh.pem", "$WORK/pki/doh.key", "/dns-query")
newServer({address="127.0.0.1:5300", name="iodined", checkName="$DOM", checkType="NS", pool="tunnel"})
setUDPTimeout(${DOH_UDP_TIMEOUT:-10})
addAction({"$DOM."}, PoolAction("tunnel"))
addAction(AllRule(), SpoofAction({"192.0.2.10", "2001:db8::10"}, {ttl=60}))
CFG
bg_b dnsdist dnsdist --supervised --disable-syslog -C "$WORK/dnsdist.conf"
wait_port "$NS_B" 443 tcp 10 || { fail "dnsdist did not listen on 443"; tail "$WORK/dnsdist.log"; live_finish; }

# dnss: a DNS-to-DoH proxy on swa's loopback, port 53 (iodine and dig ask it). No cache: every
# query crosses the link.
dnss_start() {
  bg_a "dnss-$1" dnss -enable_dns_to_https -enable_cache=false -dns_listen_addr 127.0.0.1:53 \
    -https_upstream "https://$NAME/dns-query" -https_client_cafile "$WORK/pki/ca.pem" \
    -fallback_upstream 127.0.0.1:9 -logtime
  DNSS_PID=${BG_PIDS[-1]}
  wait_port "$NS_A" 53 udp 10 || { fail "dnss ($1) did not listen on 127.0.0.1:53"; tail "$WORK/dnss-$1.log"; }
}

record_start "${SPANWATCH_LIVE_PACKETS:-1500}" "${SPANWATCH_LIVE_SNAPLEN:-400}"
start_spanwatch

# 1. An ordinary DoH session: six lookups 1.3 s apart, then the proxy stops (the connection
# closes).
dnss_start ordinary
ok=0 ORD_PORT=""
for n in www.example.org mail.example.org www.example.net api.example.com www.example.org cdn.example.com; do
  in_a timeout 10 dig +short +tries=1 +time=5 @127.0.0.1 "$n" A | grep -qx 192.0.2.10 && ok=$((ok + 1))
  [ -n "$ORD_PORT" ] || ORD_PORT=$(in_a ss -Htn state established "dport = :443" | awk '{split($3, a, ":"); print a[2]; exit}')
  sleep 1.3
done
check "ordinary DoH lookups answered through dnss and dnsdist ($ok of 6)" test "$ok" = 6
kill -TERM "$DNSS_PID" 2>/dev/null
wait_for 10 sh -c "! ip netns exec $NS_A ss -H -lun 'sport = :53' | grep -q ." || fail "dnss (ordinary) did not stop"

# 2. The tunnel through a second dnss: iodine's handshake, a ping and 20 kB from the client's
# side, then pings from the server's side until spanwatch has raised the alert.
dnss_start tunnel
bg_a iodine iodine -f -r -I 3 -d dnsa -P spanwatch-live 127.0.0.1 $DOM
if wait_for 60 grep -q "Connection setup complete" "$WORK/iodine.log"; then
  pass "iodine tunnel set up through DoH"
  head -c 20000 /dev/urandom >"$WORK/www/file"
  bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 10.53.0.1 8000"
  wait_port "$NS_B" 8000 tcp 5 || fail "http server on the tunnel address did not listen"
  if in_a timeout 20 ping -c 3 -i 0.5 -W 5 10.53.0.1 >"$WORK/ping.log" 2>&1; then pass "ping through the tunnel"
  else fail "ping through the tunnel"; sed 's/^/    ping: /' "$WORK/ping.log"; fi
  in_a timeout 40 curl -fsS -o "$WORK/got" http://10.53.0.1:8000/file
  check "20 kB through the tunnel, bytes identical" cmp -s "$WORK/www/file" "$WORK/got"
  bg_b serverping ping -c 30 -i 1.5 -W 5 10.53.0.2
  if wait_for 45 grep -q '"signature_id":9300101' "$EVE.1"; then
    pass "spanwatch raised 9300101 while the server pushed data"
  else
    fail "no 9300101 alert within 45 s of the server's pings"
  fi
  check "pings from the tunnel server answered" grep -q " bytes from 10.53.0.2" "$WORK/serverping.log"
else
  fail "iodine tunnel setup"; sed 's/^/    iodine: /' "$WORK/iodine.log" | tail -10
fi
record_stop
stop_spanwatch

assert_alert tunnel '*' "r.get('dest_ip')=='$B4' and r.get('dest_port')==443 and get(r,'alert.signature_id')==9300101 and get(r,'alert.metadata.carrier')==['doh']"
check "the alert is on the tunnel's DoH flow (resolver_bypass doh, cloudflare-dns); the ordinary DoH flow (port ${ORD_PORT:-?}) has none" \
  python3 - "$EVE" "${ORD_PORT:-0}" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ordinary = int(sys.argv[2])
alerts = [r for r in recs if r.get("event_type") == "alert" and r["alert"]["signature_id"] == 9300101]
flows = {r["flow_id"]: r for r in recs if r.get("event_type") == "flow"}
doh = [r for r in flows.values() if (r.get("resolver_bypass") or {}).get("kind") == "doh"]
print("    DoH flows:", [(r["src_port"], r.get("app"), bool(r.get("wrapped"))) for r in doh])
print("    9300101 alerts on ports:", [a["src_port"] for a in alerts])
ok = len(alerts) == 1
f = flows.get(alerts[0]["flow_id"]) if ok else None
ok = ok and f is not None and f["resolver_bypass"]["kind"] == "doh" and f.get("app") == "cloudflare-dns"
ok = ok and f["src_port"] != ordinary and f["flow"]["alerted"]
ords = [r for r in doh if r["src_port"] == ordinary]
ok = ok and len(ords) == 1 and not ords[0].get("wrapped") and not ords[0]["flow"]["alerted"]
ok = ok and not any(a["src_port"] == ordinary for a in recs if a.get("event_type") == "alert")
sys.exit(0 if ok else 1)
PY
live_finish
