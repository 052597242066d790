#!/usr/bin/env bash
# Proxies: Dante (SOCKS5) and tinyproxy (HTTP CONNECT) in swb; curl from swa through each to an
# HTTP server on a second address of swb (10.77.1.2, reachable only through the proxies), and an
# SSH session carried through the SOCKS proxy (ssh -o ProxyCommand='nc -X 5 -x ...').
. "$(dirname "$0")/lib.sh"
live_init proxy dante-server tinyproxy curl netcat-openbsd openssh-server openssh-client python3
live_netns

T4=10.77.1.2          # the target the clients ask the proxies for
ip -n "$NS_B" addr add $T4/32 dev lo
mkdir -p "$WORK/www"
head -c 300000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind $T4 8000"
sshd_start $T4

cat >"$WORK/danted.conf" <<CFG
logoutput: stderr
internal: $B4 port = 1080
external: $T4
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 10.77.0.0/24 to: 0.0.0.0/0 }
socks pass { from: 10.77.0.0/24 to: 0.0.0.0/0 command: connect }
CFG
bg_b danted danted -f "$WORK/danted.conf" -p "$WORK/danted.pid" -N 1
cat >"$WORK/tinyproxy.conf" <<CFG
User nobody
Group nogroup
Port 8888
Listen $B4
Timeout 30
MaxClients 10
Allow 10.77.0.0/24
ConnectPort 8000
ConnectPort 2222
LogLevel Info
PidFile "$WORK/tinyproxy.pid"
CFG
bg_b tinyproxy tinyproxy -d -c "$WORK/tinyproxy.conf"
wait_port "$NS_B" 8000 || fail "http.server did not listen on $T4:8000"
wait_port "$NS_B" 1080 || { fail "danted did not listen on 1080"; sed 's/^/    danted: /' "$WORK/danted.log" | tail; }
wait_port "$NS_B" 8888 || { fail "tinyproxy did not listen on 8888"; sed 's/^/    tinyproxy: /' "$WORK/tinyproxy.log" | tail; }

record_start 1200
start_spanwatch

# 1. SOCKS5 (target as an address: CONNECT 10.77.1.2:8000)
in_a timeout 20 curl -fsS --socks5 $B4:1080 -o "$WORK/got-socks" http://$T4:8000/file
check "curl through Dante SOCKS5, bytes identical" cmp -s "$WORK/www/file" "$WORK/got-socks"
# 2. SOCKS5 with the name resolved by the proxy (ATYP domain name)
in_a timeout 20 curl -fsS --socks5-hostname $B4:1080 -o "$WORK/got-socksh" http://localhost:2222/ 2>/dev/null
# (sshd answers with its banner, not HTTP: curl fails, the SOCKS request is what counts)
# 3. HTTP CONNECT through tinyproxy
in_a timeout 20 curl -fsS -p -x http://$B4:8888 -o "$WORK/got-connect" http://$T4:8000/file
check "curl through tinyproxy HTTP CONNECT, bytes identical" cmp -s "$WORK/www/file" "$WORK/got-connect"
# 4. SSH through the SOCKS proxy
out=$( in_a timeout 20 "${SSH[@]}" -o ProxyCommand="nc -X 5 -x $B4:1080 %h %p" root@$T4 'echo via-socks; id -un' 2>&1 )
case $out in *via-socks*root*) pass "ssh through the SOCKS5 proxy ran a command";; *) fail "ssh through SOCKS5: $out";; esac

record_stop
stop_spanwatch

assert_flow socks
assert_flow http-connect
assert_alert proxy '*' "r.get('app_proto')=='socks' and has(r,'alert.metadata','$T4')"
assert_alert proxy '*' "r.get('app_proto')=='socks' and has(r,'alert.metadata','localhost')"
assert_alert proxy '*' "r.get('app_proto')=='http-connect' and has(r,'alert.metadata','$T4:8000')"
# the SSH session inside the SOCKS connection: the target port 2222 is in the request
assert_alert proxy '*' "r.get('app_proto')=='socks' and has(r,'alert.metadata','2222')"
live_finish
