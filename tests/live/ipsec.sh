#!/usr/bin/env bash
# IPsec seen alone: manually keyed tunnels (no IKE at any time) between swa and swb, carrying a
# ping and a 100 kB download each: ESP over IPv4, ESP over IPv6, AH over IPv4, AH over IPv6 and
# ESP in UDP 4500. The ESP/AH processing is scapy's (tests/live/ipsec_tun.py on a TUN device):
# `ip xfrm state add … proto esp` needs a kernel with CONFIG_INET_ESP/CONFIG_INET_AH, which
# container and microVM kernels often lack. spanwatch must name every flow (esp/ah) and raise
# the IPsec VPN alert with no IKE exchange in view.
. "$(dirname "$0")/lib.sh"
live_init ipsec python3-scapy python3-cryptography curl iputils-ping python3
live_netns
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (no TUN devices here)"

mkdir -p "$WORK/www"; head -c 100000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 0.0.0.0 8000"
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000"

# n mode outer-a outer-b
TUNNELS=("1 esp $A4 $B4" "2 esp $A6 $B6" "3 ah $A4 $B4" "4 ah $A6 $B6" "5 esp-udp $A4 $B4")
for t in "${TUNNELS[@]}"; do
  read -r n mode oa ob <<<"$t"
  for side in a b; do
    ns=$NS_A me=1 peer=2 lo=$oa re=$ob out=0x100$n in=0x200$n
    [ $side = b ] && ns=$NS_B me=2 peer=1 lo=$ob re=$oa out=0x200$n in=0x100$n
    ip -n "$ns" tuntap add dev ipsec$n mode tun
    ip -n "$ns" addr add 10.90.$n.$me/32 peer 10.90.$n.$peer dev ipsec$n
    ip -n "$ns" link set ipsec$n mtu 1400 up
    setsid ip netns exec "$ns" /usr/bin/python3 "$LIVE_DIR/ipsec_tun.py" $mode ipsec$n $lo $re $out $in \
      >"$WORK/tun$n$side.log" 2>&1 </dev/null & BG_PIDS+=($!)
  done
done
for t in "${TUNNELS[@]}"; do
  read -r n mode _ <<<"$t"
  wait_for 20 grep -q " up" "$WORK/tun${n}a.log" && wait_for 20 grep -q " up" "$WORK/tun${n}b.log" \
    || { fail "tunnel $n ($mode) did not start"; tail -n 5 "$WORK/tun${n}a.log" "$WORK/tun${n}b.log"; }
done

# snaplen 160: through AH over IPv6 the inner TCP header ends at byte 150
record_start ${SPANWATCH_LIVE_PACKETS:-1500} 160
start_spanwatch
for t in "${TUNNELS[@]}"; do
  read -r n mode oa _ <<<"$t"
  in_a timeout 15 ping -c 3 -i 0.2 -W 3 10.90.$n.2 >/dev/null && pass "ping through tunnel $n ($mode over $oa)" \
    || fail "ping through tunnel $n ($mode over $oa)"
  rm -f "$WORK/got"
  in_a timeout 30 curl -fsS -o "$WORK/got" http://10.90.$n.2:8000/file
  check "100 kB through tunnel $n ($mode over $oa), bytes identical" cmp -s "$WORK/www/file" "$WORK/got"
done
record_stop
stop_spanwatch

assert_flow esp "r.get('proto')=='ESP' and r.get('dest_ip')=='$B4' and get(r,'flow.pkts_toclient')>50"
assert_flow esp "r.get('proto')=='ESP' and r.get('dest_ip')=='$B6' and get(r,'flow.pkts_toclient')>50"
assert_flow esp "r.get('proto')=='UDP' and r.get('dest_port')==4500"
# AH is not encrypted: spanwatch decodes through it, and the inner flows carry ipsec.ah
for n in 3 4; do
  assert_flow http "r.get('dest_ip')=='10.90.$n.2' and get(r,'ipsec.ah')=='tunnel'"
done
check "an IPsec alert for every tunnel, no other alert" python3 - "$EVE" "$B4" "$B6" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
al = [(r["proto"], r.get("dest_ip"), r.get("dest_port"), r["alert"]["signature_id"]) for r in recs if r.get("event_type") == "alert"]
print("    alerts:", al)
got = {(p, d, s) for p, d, _, s in al}
want = {("ESP", sys.argv[2], 9400001), ("ESP", sys.argv[3], 9400001), ("UDP", sys.argv[2], 9400001),
        ("TCP", "10.90.3.2", 9400005), ("TCP", "10.90.4.2", 9400005),
        ("ICMP", "10.90.3.2", 9400005), ("ICMP", "10.90.4.2", 9400005)}
# one alert per tunnel: the two directions of raw ESP (one SPI each, which the kernel's
# fanout hash reads as ports) meet in one flow on one worker
sys.exit(0 if want == got and len(al) == len(want) else 1)
PY
live_finish
