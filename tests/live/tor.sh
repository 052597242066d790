#!/usr/bin/env bash
# Tor without the directory in view: Debian's tor as a bridge in swb (BridgeRelay 1, ORPort
# 10.77.0.2:9001, AssumeReachable, PublishServerDescriptor 0, no route to any directory
# authority) and a tor client in swa with UseBridges 1 / Bridge 10.77.0.2:9001. The client does
# the link handshake (TLS 1.3 with Tor's random www.<random>.com SNI), learns the bridge's
# descriptor and asks it for a consensus (404: the bridge has none offline). spanwatch must name
# the OR connection Tor from the ClientHello's traits alone (sid 9400002).
. "$(dirname "$0")/lib.sh"
live_init tor tor
live_netns

mkdir -p "$WORK/tor-a/data" "$WORK/tor-b/data"
chmod 700 "$WORK/tor-a/data" "$WORK/tor-b/data"
cat >"$WORK/tor-b/torrc" <<CFG
DataDirectory $WORK/tor-b/data
SocksPort 0
ORPort $B4:9001
Address $B4
BridgeRelay 1
AssumeReachable 1
PublishServerDescriptor 0
ExitRelay 0
Log notice stdout
CFG
cat >"$WORK/tor-a/torrc" <<CFG
DataDirectory $WORK/tor-a/data
SocksPort 127.0.0.1:9050
UseBridges 1
Bridge $B4:9001
Log notice stdout
CFG
bg_b tor-bridge tor -f "$WORK/tor-b/torrc"
wait_port "$NS_B" 9001 tcp 30 || { fail "the tor bridge did not listen on 9001"; tail "$WORK/tor-bridge.log"; }

# snaplen 1500: the ClientHello whole (its supported groups come after the cipher list)
record_start ${SPANWATCH_LIVE_PACKETS:-120} 1500
start_spanwatch
bg_a tor-client tor -f "$WORK/tor-a/torrc"
if wait_for 40 grep -q "new bridge descriptor" "$WORK/tor-client.log"; then
  pass "the tor client finished the link handshake with the bridge and fetched its descriptor"
else
  fail "the tor client and the bridge"; sed 's/^/    tor-client: /' "$WORK/tor-client.log" | tail -8
fi
# one consensus request answered (404) is the end of what the recording keeps
wait_for 10 grep -q "while fetching consensus" "$WORK/tor-client.log" || log "no consensus request seen"
record_stop
stop_spanwatch

assert_flow tor "r.get('dest_port')==9001 and str(get(r,'tls.sni')).startswith('www.')"
assert_alert vpn tor "get(r,'alert.signature_id')==9400002 and r.get('dest_port')==9001"
live_finish
