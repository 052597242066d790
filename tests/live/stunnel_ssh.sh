#!/usr/bin/env bash
# SSH wrapped in TLS: stunnel4 in swb accepts TLS on 443 and hands the stream to OpenSSH's
# sshd (127.0.0.1:2222); stunnel4 in swa offers 127.0.0.1:2022 and carries it to swb:443. An
# `ssh -tt` session typed key by key (type_slowly.py) and a short `ssh ... true` cross it; the
# capture sees TLS on 443 only. The same stunnel in swb also wraps an HTTP server on 8443, and
# curl downloads through it (HTTPS from the same TLS stack: the negative control): that
# session must raise nothing.
. "$(dirname "$0")/lib.sh"
live_init stunnel_ssh stunnel4 openssh-server openssh-client curl python3 openssl
live_netns

sshd_start 127.0.0.1
# the client reaches sshd through the local stunnel: the same options, port 2022
SSHT=()
for o in "${SSH[@]}"; do [ "$o" = 2222 ] && o=2022; SSHT+=("$o"); done
mkdir -p "$WORK/www" "$WORK/stunnel"
head -c 60000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 127.0.0.1 8000"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=swb-stunnel-test" -keyout "$WORK/stunnel/key.pem" -out "$WORK/stunnel/cert.pem" 2>/dev/null
cat >"$WORK/stunnel/server.conf" <<CFG
foreground = yes
pid =
debug = 4
[ssh]
accept = $B4:443
connect = 127.0.0.1:2222
cert = $WORK/stunnel/cert.pem
key = $WORK/stunnel/key.pem
[web]
accept = $B4:8443
connect = 127.0.0.1:8000
cert = $WORK/stunnel/cert.pem
key = $WORK/stunnel/key.pem
CFG
cat >"$WORK/stunnel/client.conf" <<CFG
foreground = yes
pid =
debug = 4
[ssh]
client = yes
accept = 127.0.0.1:2022
connect = $B4:443
CFG
bg_b stunnel-server stunnel4 "$WORK/stunnel/server.conf"
bg_a stunnel-client stunnel4 "$WORK/stunnel/client.conf"
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000"
wait_port "$NS_B" 443 || { fail "stunnel did not listen on 443"; tail "$WORK/stunnel-server.log"; }
wait_port "$NS_A" 2022 || { fail "stunnel client did not listen on 2022"; tail "$WORK/stunnel-client.log"; }

record_start 900 ${SPANWATCH_LIVE_SNAPLEN:-256}
start_spanwatch

# 1. a person typing through the wrapped SSH session
out=$(in_a timeout 60 python3 "$LIVE_DIR/type_slowly.py" --line 'uname -n' --line 'id -un' \
        --line 'echo typed through tls' --line exit -- "${SSHT[@]}" -tt root@127.0.0.1 2>&1)
case $out in *"typed through tls"*) pass "interactive ssh session through stunnel ran typed commands";;
  *) fail "interactive ssh session through stunnel: $out";; esac
# 2. a one-off command (handshake and login, no typing)
check "ssh command through stunnel" in_a timeout 20 "${SSHT[@]}" root@127.0.0.1 true
# 3. the negative control: HTTPS downloads from the same stunnel
for i in 1 2; do
  in_a timeout 20 curl -fsSk -o "$WORK/got-$i" https://$B4:8443/file
  check "HTTPS download $i through stunnel, bytes identical" cmp -s "$WORK/www/file" "$WORK/got-$i"
done

record_stop
stop_spanwatch

assert_flow tls "r.get('dest_port')==443"
assert_alert tunnel ssh "get(r,'alert.signature_id')==9400012 and r.get('dest_port')==443 and float(get(r,'alert.metadata.confidence')[0])>=60"
check "no alert on the HTTPS downloads (8443)" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = [r["alert"]["signature"] for r in recs if r.get("event_type") == "alert" and r.get("dest_port") == 8443]
print("    alerts on 8443:", bad)
sys.exit(1 if bad else 0)
PY
live_finish
