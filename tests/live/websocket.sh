#!/usr/bin/env bash
# A WebSocket tunnel (wstunnel-style) made with the python3-websockets library: tests/live/ws_tunnel.py
# in swb serves ws://10.77.0.2:80/ and pipes each connection to sshd on swb's 127.0.0.1:2222;
# in swa `ssh -o ProxyCommand='ws_tunnel.py client ws://10.77.0.2/ssh'` runs a command and copies
# 100 kB back. Between the hosts the capture sees an HTTP Upgrade, then binary frames whose
# payloads begin with SSH banners: spanwatch must name the inner protocol (9400011).
. "$(dirname "$0")/lib.sh"
live_init websocket python3-websockets openssh-server openssh-client python3
live_netns

# /usr/bin/python3: the Debian interpreter that python3-websockets installs for
sshd_start 127.0.0.1
bg_b ws /usr/bin/python3 "$LIVE_DIR/ws_tunnel.py" server $B4 80 127.0.0.1 2222
wait_port "$NS_B" 80 tcp 10 || { fail "ws_tunnel.py did not listen on 80"; tail "$WORK/ws.log"; }

# snaplen 512: the Upgrade request and the 101 answer (with Date and Server) are whole
record_start ${SPANWATCH_LIVE_PACKETS:-300} 512
start_spanwatch

out=$(in_a timeout 30 "${SSH[@]}" -o ProxyCommand="/usr/bin/python3 $LIVE_DIR/ws_tunnel.py client ws://$B4/ssh" \
  root@127.0.0.1 'echo through-websocket; head -c 100000 /dev/zero | wc -c' 2>&1)
case $out in *through-websocket*100000*) pass "ssh session through the WebSocket tunnel";;
  *) fail "ssh through the WebSocket tunnel: $out"; tail "$WORK/ws.log";; esac

record_stop
stop_spanwatch

assert_flow websocket "r.get('dest_port')==80 and get(r,'proxy.inner_app_proto')=='ssh'"
assert_alert tunnel '*' "get(r,'alert.signature_id')==9400011 and r.get('dest_port')==80"
live_finish
