#!/usr/bin/env bash
# DNS tunnels other than iodine's default: dns2tcp (dns2tcpd in swb authoritative for
# d.spanwatch.test on a second address, 10.77.0.3; `ssh -o ProxyCommand='dns2tcpc … -l -'` in
# swa: an SSH session carried in TXT queries and answers), then iodine WITHOUT -r: after its DNS
# handshake the client finds the server reachable and switches to raw UDP on port 53 (iodine's
# own framing, no DNS format at all), carrying a ping and a 200 kB download.
. "$(dirname "$0")/lib.sh"
live_init dns_tunnel_variants dns2tcp iodine openssh-server openssh-client iputils-ping curl python3
live_netns
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (no TUN devices here)"

C4=10.77.0.3
ip -n "$NS_B" addr add $C4/24 dev veth-b
sshd_start 127.0.0.1
cat >"$WORK/dns2tcpd.conf" <<CFG
listen = $C4
port = 53
user = nobody
chroot = /tmp
domain = d.spanwatch.test
key = spanwatch-live
resources = ssh:127.0.0.1:2222
CFG
bg_b dns2tcpd dns2tcpd -F -f "$WORK/dns2tcpd.conf" -d 1
wait_port "$NS_B" 53 udp 10 || { fail "dns2tcpd did not listen on udp/53"; tail "$WORK/dns2tcpd.log"; }
DOM=t.spanwatch.test
bg_b iodined iodined -f -c -l $B4 -d dnsb -P spanwatch-live 10.53.0.1/24 $DOM
wait_for 10 sh -c "ip netns exec $NS_B ss -H -lun 'sport = :53' | grep -q '$B4'" || { fail "iodined did not listen on $B4:53"; tail "$WORK/iodined.log"; }
mkdir -p "$WORK/www"; head -c 200000 /dev/urandom >"$WORK/www/file"

record_start ${SPANWATCH_LIVE_PACKETS:-900}
start_spanwatch

# 1. dns2tcp: an SSH session through TXT queries to 10.77.0.3
out=$(in_a timeout 60 "${SSH[@]}" -o ProxyCommand="dns2tcpc -z d.spanwatch.test -k spanwatch-live -r ssh -l - $C4" \
  root@127.0.0.1 'echo through-dns2tcp; head -c 3000 /dev/zero | od | head -3' 2>&1)
case $out in *through-dns2tcp*) pass "ssh session through dns2tcp";; *) fail "ssh through dns2tcp: $out";; esac

# 2. iodine in raw UDP mode (no -r)
bg_a iodine iodine -f -d dnsa -P spanwatch-live $B4 $DOM
if wait_for 30 grep -q "Connection setup complete" "$WORK/iodine.log"; then
  if grep -q "Sending raw traffic directly to" "$WORK/iodine.log"; then pass "iodine switched to raw UDP mode"
  else fail "iodine did not switch to raw UDP mode"; sed 's/^/    iodine: /' "$WORK/iodine.log" | tail -10; fi
  bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 10.53.0.1 8000"
  wait_port "$NS_B" 8000 tcp 5
  in_a timeout 10 ping -c 3 -i 0.3 -W 2 10.53.0.1 >/dev/null && pass "ping through iodine's raw mode" || fail "ping through iodine's raw mode"
  in_a timeout 30 curl -fsS -o "$WORK/got" http://10.53.0.1:8000/file
  check "200 kB through iodine's raw mode, bytes identical" cmp -s "$WORK/www/file" "$WORK/got"
else
  fail "iodine tunnel setup"; sed 's/^/    iodine: /' "$WORK/iodine.log" | tail -10
fi
record_stop
stop_spanwatch

assert_alert tunnel '*' "r.get('dest_ip')=='$C4' and get(r,'alert.signature_id')==9300002"
assert_alert tunnel '*' "r.get('dest_ip')=='$B4' and get(r,'alert.signature_id')==9300100"
live_finish
