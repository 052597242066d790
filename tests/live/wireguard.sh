#!/usr/bin/env bash
# WireGuard between swa and swb (UDP 51820): the kernel module when there is one, else the
# userspace wireguard-go (Debian's package); a ping and an HTTP download go through the tunnel.
. "$(dirname "$0")/lib.sh"
live_init wireguard wireguard-tools iputils-ping curl python3
live_netns

WGA=wga$LIVE_SUFFIX WGB=wgb$LIVE_SUFFIX
IMPL=""
if ip -n "$NS_A" link add "$WGA" type wireguard 2>/dev/null && ip -n "$NS_B" link add "$WGB" type wireguard 2>/dev/null; then
  IMPL=kernel
elif command -v wireguard-go >/dev/null && [ -c /dev/net/tun ]; then
  ip -n "$NS_A" link del "$WGA" 2>/dev/null
  IMPL=wireguard-go
  export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
  bg_a wg-go-a env LOG_LEVEL=error wireguard-go -f "$WGA"
  bg_b wg-go-b env LOG_LEVEL=error wireguard-go -f "$WGB"
  wait_for 10 ip -n "$NS_A" link show "$WGA" && wait_for 10 ip -n "$NS_B" link show "$WGB" ||
    fail "wireguard-go did not create its interfaces"
  wait_for 10 test -S "/var/run/wireguard/$WGA.sock"
  wait_for 10 test -S "/var/run/wireguard/$WGB.sock"
else
  skip "no WireGuard kernel module here and wireguard-go (package wireguard-go) or /dev/net/tun missing"
fi
log "WireGuard implementation: $IMPL"

umask 077
wg genkey >"$WORK/a.key"; wg pubkey <"$WORK/a.key" >"$WORK/a.pub"
wg genkey >"$WORK/b.key"; wg pubkey <"$WORK/b.key" >"$WORK/b.pub"
umask 022
in_b wg set "$WGB" private-key "$WORK/b.key" listen-port 51820 peer "$(cat "$WORK/a.pub")" allowed-ips 10.9.77.1/32
in_a wg set "$WGA" private-key "$WORK/a.key" listen-port 51821 peer "$(cat "$WORK/b.pub")" allowed-ips 10.9.77.2/32 \
  endpoint $B4:51820 persistent-keepalive 25
ip -n "$NS_A" addr add 10.9.77.1/24 dev "$WGA"; ip -n "$NS_A" link set "$WGA" up
ip -n "$NS_B" addr add 10.9.77.2/24 dev "$WGB"; ip -n "$NS_B" link set "$WGB" up

mkdir -p "$WORK/www"; head -c 500000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 10.9.77.2 8000"
wait_for 10 in_b ss -ltn "sport = :8000" | grep -q 8000

record_start 600
start_spanwatch
if in_a timeout 10 ping -c 3 -i 0.3 -W 2 10.9.77.2 >/dev/null &&
   in_a timeout 15 curl -fsS -o "$WORK/got" http://10.9.77.2:8000/file && cmp -s "$WORK/www/file" "$WORK/got"; then
  pass "wireguard ($IMPL): handshake, ping and 500 kB download through the tunnel"
else
  fail "wireguard ($IMPL): traffic through the tunnel"; in_a wg show "$WGA" | sed 's/^/    wg: /'
fi
record_stop
stop_spanwatch

assert_flow wireguard "r.get('proto')=='UDP' and r.get('dest_port')==51820"
assert_alert vpn '*' "r.get('app_proto')=='wireguard'"
live_finish
