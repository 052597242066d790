#!/usr/bin/env bash
# Protocols named by one side: a real OpenSSH server on 2222 sent an HTTP request (`curl
# http://…:2222/`: the client speaks HTTP, the server's banner alone says SSH) and `nc` sending
# one line of text to sshd; a real xrdp on 3389 sent an X.224 Connection Request whose TPKT
# length (47) is not the packet's (43), then the 4 bytes it announced in a second segment: xrdp
# answers in TPKT (an X.224 Data TPDU with an MCS Disconnect Provider Ultimatum), and the flow
# must come out `rdp` either way.
. "$(dirname "$0")/lib.sh"
live_init one_side openssh-server openssh-client curl netcat-openbsd xrdp python3
live_netns

sshd_start
mkdir -p "$WORK/xrdp" /run/xrdp /run/xrdp/sockdir
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=swb-rdp-test" \
  -keyout "$WORK/xrdp/key.pem" -out "$WORK/xrdp/cert.pem" >/dev/null 2>&1
chmod 644 "$WORK/xrdp/key.pem"
sed -e "s|^certificate=.*|certificate=$WORK/xrdp/cert.pem|" -e "s|^key_file=.*|key_file=$WORK/xrdp/key.pem|" \
    -e "s|^port=3389|port=tcp://$B4:3389|" /etc/xrdp/xrdp.ini >"$WORK/xrdp/xrdp.ini"
bg_b xrdp xrdp -n -c "$WORK/xrdp/xrdp.ini"
wait_port "$NS_B" 3389 tcp 10 || { fail "xrdp did not listen on 3389"; sed 's/^/    xrdp: /' "$WORK/xrdp.log" | tail; }

record_start 200
start_spanwatch

# 1. curl speaks HTTP to sshd: sshd sends its banner, then "Invalid SSH identification string".
out=$(in_a timeout 10 curl -sS --http0.9 --max-time 5 http://$B4:2222/ 2>&1)
case $out in *SSH-2.0-OpenSSH*) pass "curl got sshd's banner back";; *) fail "curl to sshd: $out";; esac
# 2. one line of text to sshd with nc
out=$(printf 'hello there\r\n' | in_a timeout 10 nc -w 3 $B4 2222 2>&1)
case $out in *SSH-2.0-OpenSSH*) pass "nc got sshd's banner back";; *) fail "nc to sshd: $out";; esac
# 3. an X.224 Connection Request with a TPKT length of 47 in a 43-byte packet, to xrdp
out=$(in_a timeout 10 python3 - $B4 <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 3389), timeout=5)
cr = bytes([3, 0, 0, 47, 38, 0xE0, 0, 0, 0, 0, 0]) + b"Cookie: mstshash=alice\r\n" + bytes([1, 0, 8, 0, 3, 0, 0, 0])
assert len(cr) == 43
s.sendall(cr)
s.settimeout(1)
try:
    got = s.recv(100)
except TimeoutError:
    # xrdp waits for the 4 bytes the TPKT header announced: send them as a second segment
    s.settimeout(5)
    s.sendall(bytes(4))
    got = s.recv(100)
print(got.hex())
PY
)
case $out in 030000*) pass "xrdp answered the inconsistent request in TPKT ($out)";;
  *) fail "xrdp's answer to the inconsistent request: $out"; sed 's/^/    xrdp: /' "$WORK/xrdp.log" | tail -5;; esac

record_stop
stop_spanwatch

assert_flow ssh "r.get('dest_port')==2222 and has(r,'ssh.server','OpenSSH')"
check "both flows to sshd are ssh, none http" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
f = [r.get("app_proto") for r in recs if r.get("event_type") == "flow" and r.get("dest_port") == 2222]
print("    flows to 2222:", f)
sys.exit(0 if f == ["ssh", "ssh"] else 1)
PY
assert_flow rdp "r.get('dest_port')==3389"
live_finish
