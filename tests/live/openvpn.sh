#!/usr/bin/env bash
# OpenVPN in TLS mode with a small PKI made here (openssl): UDP, TCP and UDP with tls-auth
# (HMAC-signed control channel). Server in swb, client in swa, point-to-point tun; a ping and an
# HTTP download go through each tunnel.
. "$(dirname "$0")/lib.sh"
live_init openvpn openvpn openssl iputils-ping curl python3
live_netns
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (no TUN devices here)"

P=$WORK/pki; mkdir -p "$P"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=spanwatch-live-ca" \
  -keyout "$P/ca.key" -out "$P/ca.crt"
for n in server client; do
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$n" -keyout "$P/$n.key" -out "$P/$n.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=%s\n' "$([ $n = server ] && echo serverAuth || echo clientAuth)" >"$P/$n.ext"
  ossl x509 -req -in "$P/$n.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 -extfile "$P/$n.ext" -out "$P/$n.crt"
done
openvpn --genkey secret "$P/ta.key" >/dev/null 2>&1
[ -s "$P/client.crt" ] && [ -s "$P/ta.key" ] || fail "PKI generation with openssl/openvpn --genkey"

mkdir -p "$WORK/www"; head -c 200000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 0.0.0.0 8000"

COMMON=(--dev-type tun --disable-dco --verb 3 --ping 1 --ping-exit 30 --data-ciphers AES-256-GCM --cipher AES-256-GCM)
record_start 1200
start_spanwatch

# variant NAME PROTO PORT NET [extra...]: one tunnel up, traffic through it, tunnel down.
variant() {
  local name=$1 proto=$2 port=$3 net=$4; shift 4
  local sproto=$proto cproto=$proto
  [ "$proto" = tcp ] && { sproto=tcp-server; cproto=tcp-client; }
  local extra_s=() extra_c=()
  if [ "${1:-}" = tls-auth ]; then extra_s=(--tls-auth "$P/ta.key" 0); extra_c=(--tls-auth "$P/ta.key" 1); fi
  bg_b "ovpn-server-$name" openvpn "${COMMON[@]}" --dev "tun-s$name" --proto $sproto --local $B4 --lport $port \
    --ifconfig $net.1 $net.2 --tls-server --dh none --ca "$P/ca.crt" --cert "$P/server.crt" --key "$P/server.key" "${extra_s[@]}"
  local spid=${BG_PIDS[-1]}
  [ "$proto" = tcp ] && wait_port "$NS_B" $port tcp 10
  [ "$proto" = udp ] && wait_port "$NS_B" $port udp 10
  bg_a "ovpn-client-$name" openvpn "${COMMON[@]}" --dev "tun-c$name" --proto $cproto --remote $B4 $port --nobind \
    --ifconfig $net.2 $net.1 --tls-client --remote-cert-tls server --ca "$P/ca.crt" --cert "$P/client.crt" --key "$P/client.key" "${extra_c[@]}"
  local cpid=${BG_PIDS[-1]}
  if wait_for 20 grep -q "Initialization Sequence Completed" "$WORK/ovpn-client-$name.log"; then
    if in_a timeout 10 ping -c 3 -i 0.2 -W 2 $net.1 >/dev/null && \
       in_a timeout 15 curl -fsS -o "$WORK/got-$name" http://$net.1:8000/file && cmp -s "$WORK/www/file" "$WORK/got-$name"; then
      pass "openvpn $name: tunnel up, ping and 200 kB download through it"
    else fail "openvpn $name: traffic through the tunnel"; fi
  else
    fail "openvpn $name: tunnel did not come up"; sed 's/^/    client: /' "$WORK/ovpn-client-$name.log" | tail -8
  fi
  kill -TERM -- "-$cpid" "-$spid" 2>/dev/null
  # both ends gone (their tun devices removed) before the next variant
  wait_for 10 sh -c "! ip -n '$NS_A' link show 'tun-c$name' && ! ip -n '$NS_B' link show 'tun-s$name'" \
    || log "openvpn $name: tun devices still present 10 s after SIGTERM"
}
variant udp udp 1194 10.8.77
variant tcp tcp 1195 10.8.78
variant udp-tlsauth udp 1196 10.8.79 tls-auth

record_stop
stop_spanwatch

assert_flow openvpn "r.get('proto')=='UDP' and r.get('dest_port')==1194"
assert_flow openvpn "r.get('proto')=='TCP' and r.get('dest_port')==1195"
assert_flow openvpn "r.get('proto')=='UDP' and r.get('dest_port')==1196"
assert_alert vpn '*' "r.get('app_proto')=='openvpn' and r.get('dest_port')==1194"
assert_alert vpn '*' "r.get('app_proto')=='openvpn' and r.get('dest_port')==1195"
assert_alert vpn '*' "r.get('app_proto')=='openvpn' and r.get('dest_port')==1196"
live_finish
