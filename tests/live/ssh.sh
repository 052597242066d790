#!/usr/bin/env bash
# SSH: an interactive-like session, an `ssh -L` forward carrying a 20 MB download and an
# `ssh -D` SOCKS proxy used by curl, all from swa to a real OpenSSH server in swb.
. "$(dirname "$0")/lib.sh"
live_init ssh openssh-server openssh-client curl python3
live_netns

# --- server side (swb): sshd with its own config and keys, an HTTP server on 127.0.0.1 only.
mkdir -p "$WORK/www"
sshd_start
head -c $((20 * 1024 * 1024)) /dev/urandom >"$WORK/www/blob20m"
head -c 100000 /dev/urandom >"$WORK/www/small"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 127.0.0.1 8000"
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000"

record_start 1200
start_spanwatch

# 1. interactive-like: a pty, a few short commands typed with pauses.
out=$( { echo 'uname -n'; sleep 0.5; echo 'ls / | head -3'; sleep 0.5; echo 'id -un'; sleep 0.5; echo exit; } |
       in_a timeout 20 "${SSH[@]}" -tt root@$B4 2>&1 )
case $out in *root*) pass "interactive ssh session ran commands";; *) fail "interactive ssh session: $out";; esac

# 2. ssh -L: a 20 MB download from the server's 127.0.0.1:8000 through the forward.
bg_a ssh-L timeout 60 "${SSH[@]}" -N -L 127.0.0.1:18000:127.0.0.1:8000 root@$B4
wait_port "$NS_A" 18000 tcp 10 || fail "ssh -L did not open 127.0.0.1:18000"
in_a timeout 40 curl -fsS -o "$WORK/got20m" http://127.0.0.1:18000/blob20m
check "20 MB downloaded through ssh -L, bytes identical" cmp -s "$WORK/www/blob20m" "$WORK/got20m"

# 3. ssh -D: curl through the SOCKS proxy the client offers.
bg_a ssh-D timeout 60 "${SSH[@]}" -N -D 127.0.0.1:11080 root@$B4
wait_port "$NS_A" 11080 tcp 10 || fail "ssh -D did not open 127.0.0.1:11080"
in_a timeout 20 curl -fsS --socks5-hostname 127.0.0.1:11080 -o "$WORK/gotsmall" http://127.0.0.1:8000/small
check "download through ssh -D SOCKS proxy, bytes identical" cmp -s "$WORK/www/small" "$WORK/gotsmall"

# Close the tunnels so their flows end with the TCP close.
kill -TERM -- "-${BG_PIDS[-1]}" "-${BG_PIDS[-2]}" 2>/dev/null
sleep 0.5

record_stop
stop_spanwatch

assert_flow ssh
assert_flow ssh "has(r,'ssh.client','OpenSSH') and get(r,'ssh.client.software_version') is not None"
assert_flow ssh "get(r,'ssh.server.software_version') is not None"
# The forward session carried 20 MB to the client: SSH tunnelling detection (coming).
assert_alert tunnel '*' "r.get('app_proto')=='ssh' and r.get('dest_port')==2222"
assert_metric_ge 'spanwatch_flows_identified_total{app_proto="ssh"}' 3
live_finish
