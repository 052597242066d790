#!/usr/bin/env bash
# The two halves of a network TAP on two interfaces: `run --interface tap1-s,tap2-s` with 2
# workers (AF_PACKET: one fanout group per interface, every worker in both at the same place)
# sees each direction of the sessions between the namespaces on its own interface (tc mirred
# copies what veth-b receives to one veth pair and what it sends to another), and writes one
# flow record per session with both directions' counters: the same records as a replay of
# tcpdump's recording of the link itself. Packets are counted per interface. Then the same
# with capture.method = "pcap" (one libpcap handle per interface into one dispatch).
. "$(dirname "$0")/lib.sh"
live_init tap python3 curl tcpdump iproute2
live_netns

in_a sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
mac_a=$(in_a cat /sys/class/net/veth-a/address)
mac_b=$(in_b cat /sys/class/net/veth-b/address)
in_a ip neigh replace $B4 lladdr "$mac_b" dev veth-a nud permanent
in_b ip neigh replace $A4 lladdr "$mac_a" dev veth-b nud permanent

# The TAP: what veth-b receives (A->B) is copied to the pair tap1-b (swb) / tap1-s (swa), what
# veth-a receives (B->A) to the pair tap2-m / tap2-s (both in swa). Copies are taken where the
# packets arrive, so they are wire-sized (a copy taken where they leave would be the TCP
# stack's large GSO segments). No addresses, no IPv6: nothing but the copies on them.
ip -n "$NS_B" link add tap1-b type veth peer name tap1-s netns "$NS_A" || skip "cannot create the TAP veth pairs"
ip -n "$NS_A" link add tap2-m type veth peer name tap2-s || skip "cannot create the TAP veth pairs"
for l in "$NS_B tap1-b" "$NS_A tap1-s" "$NS_A tap2-m" "$NS_A tap2-s"; do
  set -- $l
  ip netns exec "$1" sysctl -qw net.ipv6.conf.$2.disable_ipv6=1
  ip netns exec "$1" sh -c "command -v ethtool >/dev/null && ethtool -K $2 gro off >/dev/null 2>&1" || true
  ip -n "$1" link set "$2" up
done
in_b tc qdisc add dev veth-b clsact || skip "tc clsact qdisc not available"
in_b tc filter add dev veth-b ingress protocol all u32 match u32 0 0 action mirred egress mirror dev tap1-b ||
  skip "tc u32 filter with mirred not available"
in_a tc qdisc add dev veth-a clsact || skip "tc clsact qdisc not available"
in_a tc filter add dev veth-a ingress protocol all u32 match u32 0 0 action mirred egress mirror dev tap2-m ||
  skip "tc u32 filter with mirred not available"

mkdir -p "$WORK/www"
head -c 200000 /dev/urandom >"$WORK/www/blob.bin"
echo hello >"$WORK/www/index.html"
bg_b http bash -c "cd '$WORK/www' && exec python3 -m http.server --bind $B4 8080"
wait_port "$NS_B" 8080 tcp 10 || fail "python3 -m http.server did not listen on 8080"

# sessions: 12 TCP (6 one after another, 6 at once) and 6 UDP request/answer pairs
traffic() {
  local ok=0 i pids=()
  for i in $(seq 1 6); do
    in_a timeout 10 curl -fsS -o /dev/null "http://$B4:8080/blob.bin" && ok=$((ok + 1))
  done
  for i in $(seq 1 6); do
    in_a timeout 10 curl -fsS -o /dev/null "http://$B4:8080/index.html?$i" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
  check "12 HTTP sessions completed ($ok)" test "$ok" = 12
}

compare_with_replay() {
  local what=$1 live=$2
  if [ -s "${REC_FILE:-}" ]; then
    "$SPANWATCH_BIN" --config "$WORK/$what.toml" replay --workers 1 --eve "$WORK/replay-$what.json" -q "$REC_FILE" \
      >"$WORK/replay-$what.log" 2>&1 || fail "spanwatch replay of the recording failed"
    check "$what: one flow record per session with both directions' counters (= the replay of the link's recording)" \
      python3 "$LIVE_DIR/flows_equal.py" "$live" "$WORK/replay-$what.json" 12 $B4
    no_one_way() { ! python3 "$LIVE_DIR/eve.py" any "$1" "r.get('event_type')=='flow' and r.get('proto')=='TCP' and (r['flow']['pkts_toserver']==0 or r['flow']['pkts_toclient']==0)"; }
    check "$what: no TCP flow record with packets one way only" no_one_way "$live"
  else
    fail "tcpdump recorded nothing"
  fi
}

per_iface() {
  scrape_metrics "$WORK/m.prom" || return 1
  python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" 'spanwatch_capture_packets_per_interface_total{interface="tap1-s"}' 50 >/dev/null &&
    python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" 'spanwatch_capture_packets_per_interface_total{interface="tap2-s"}' 50 >/dev/null
}

for method in af_packet pcap; do
  cat >"$WORK/$method.toml" <<CFG
[capture]
method = "$method"
ring_blocks = 16
block_kib = 256
block_timeout_ms = 20
timeout_ms = 20
tick_ms = 100
CFG
  SW_IFACE=tap1-s,tap2-s start_spanwatch --config "$WORK/$method.toml" --workers 2
  record_start 100000 262144
  # tcpdump may say "listening" a moment before it records: ping until a packet is in its file
  rec_ready() { in_a ping -c1 -W1 -q $B4 >/dev/null 2>&1; [ "$(stat -c %s "$REC_FILE" 2>/dev/null || echo 0)" -gt 24 ]; }
  wait_for 10 rec_ready || log "tcpdump has recorded nothing after 10 s of pings"
  traffic
  record_stop
  check "$method: packets counted on each interface of the TAP" wait_for 10 per_iface
  if [ "$method" = af_packet ]; then
    both() {
      scrape_metrics "$WORK/m.prom" || return 1
      python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" 'spanwatch_worker_packets_total{worker="0"}' 1 >/dev/null &&
        python3 "$LIVE_DIR/eve.py" metric_ge "$WORK/m.prom" 'spanwatch_worker_packets_total{worker="1"}' 1 >/dev/null
    }
    check "$method: both workers read packets (the sessions were spread)" both
  fi
  live_eve=$EVE.$SW_RUNS
  stop_spanwatch
  compare_with_replay "$method" "$live_eve"
done
live_finish
