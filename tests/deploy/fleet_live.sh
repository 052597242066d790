#!/usr/bin/env bash
# A fleet of two sensors on stock engines, with the files of deploy/fleet/ (root; network
# namespaces with a per-run suffix, nothing outside them contacted).
#
#   swt1 --veth--> swf1: sensor-1 (spanwatch run, capturing veth-a)  --mgmt--+
#   swt2 --veth--> swf2: sensor-2 (spanwatch run, capturing veth-a)  --mgmt--+-- swfh (hub):
#       redis-server (10.78.0.1:6379), site Prometheus (10.78.0.1:9090), global Prometheus
#       (10.78.0.2:9090), Alertmanager cluster members am-1 (10.78.0.3:9093, gossip :9094)
#       and am-2 (10.78.0.4), a webhook receiver (127.0.0.1:5001, alertmanager.yml's)
#
# Both sensors run deploy/fleet/spanwatch.toml (sensor.name sensor-1 / sensor-2): EVE to one
# Redis stream, alerts to both Alertmanagers. tcpreplay plays a recorded VNC session into swf1's
# link and an RDP session into swf2's (tests/fixtures), each raising a remote-access alert.
# The site Prometheus runs deploy/fleet/prometheus-site.yml with the deploy rules, the global
# one deploy/fleet/prometheus-global.yml (/federate), the Alertmanagers
# deploy/alertmanager/alertmanager.yml with the arguments of deploy/fleet/prometheus-alertmanager.default.
# (Host names are rewritten to the addresses above, intervals and group_wait cut to 1 s.)
# Asserted, each waited for with a timeout:
#   - XRANGE of the stream holds records of both sensors, each ending with its "sensor"
#     field, the alert of each among them; once both sensors have stopped, the stream holds
#     exactly each sensor's EVE file, in order;
#   - the site Prometheus has up == 1 for both sensors; the global one has spanwatch series
#     federated from both instances (and the site's external label);
#   - both Alertmanagers report a cluster of 2 peers, and each lists the alerts of both sensors;
#   - the webhook got exactly one firing notification per alert group although every alert
#     went to both members (the cluster's notification log deduplicated them): counted after
#     the second member's wait (peer timeout) has passed for every group.
#
# Needs (Debian): redis-server redis-tools prometheus prometheus-alertmanager tcpreplay tcpdump
# python3-yaml curl iproute2; the binary from $SPANWATCH_BIN. Not root: SKIPPED (a failure
# under CI=true).
set -uo pipefail
. "$(dirname "$0")/../live/lib.sh"
D="$REPO_ROOT/deploy"
: "${SPANWATCH_LIVE_TIMEOUT:=240}"
export SPANWATCH_LIVE_TIMEOUT
live_init fleet redis-server redis-tools prometheus prometheus-alertmanager tcpreplay tcpdump python3-yaml curl
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager) || skip "alertmanager binary not found"
python3 -c 'import yaml' 2>/dev/null || skip "python3 cannot import yaml (python3-yaml)"

S=$LIVE_SUFFIX
NH="swfh-$S"
NS1="swf1-$S" NT1="swt1-$S" NS2="swf2-$S" NT2="swt2-$S"
# lib.sh's cleanup ends what runs in NS_A/NS_B and deletes them; the other three here.
NS_A=$NS1 NS_B=$NS2
for ns in "$NH" "$NT1" "$NT2"; do
  on_exit "ip netns pids $ns 2>/dev/null | xargs -r kill -KILL 2>/dev/null; ip netns del $ns 2>/dev/null; true"
done
REDIS=10.78.0.1 PROM1=10.78.0.1 PROM2=10.78.0.2 AM1=10.78.0.3 AM2=10.78.0.4
SEN1=10.78.1.2 SEN2=10.78.2.2
PEER_TIMEOUT=3

# ------------------------------------------------------------------ namespaces
for ns in "$NH" "$NS1" "$NT1" "$NS2" "$NT2"; do
  ip netns add "$ns" || skip "ip netns add $ns failed"
  ip -n "$ns" link set lo up
done
for a in 1 2 3 4; do ip -n "$NH" addr add "10.78.0.$a/32" dev lo; done
for i in 1 2; do
  ns=NS$i nt=NT$i
  # the link the sensor watches (traffic namespace -> sensor namespace)
  ip link add veth-a netns "${!ns}" type veth peer name veth-b netns "${!nt}" || skip "cannot create a veth pair"
  ip -n "${!ns}" link set veth-a up
  ip -n "${!nt}" link set veth-b up
  # the management link to the hub
  ip link add mgmt netns "${!ns}" type veth peer name "m$i" netns "$NH"
  ip -n "$NH" addr add "10.78.$i.1/24" dev "m$i"
  ip -n "$NH" link set "m$i" up
  ip -n "${!ns}" addr add "10.78.$i.2/24" dev mgmt
  ip -n "${!ns}" link set mgmt up
  ip -n "${!ns}" route add 10.78.0.0/24 via "10.78.$i.1"
done
wait_for 10 ip netns exec "$NS1" ping -c1 -W1 $REDIS || skip "the management links pass no traffic"
wait_for 10 ip netns exec "$NS2" ping -c1 -W1 $AM2 || skip "the management links pass no traffic"

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# bg NS NAME CMD...: a background process in NS, output to $WORK/NAME.log (own session).
bg() { local ns=$1 n=$2; shift 2; setsid ip netns exec "$ns" "$@" >"$WORK/$n.log" 2>&1 </dev/null & BG_PIDS+=($!); disown $!; }
hub() { ip netns exec "$NH" "$@"; }
# the deploy files' host names -> this test's addresses
rewrite() {
  sed -e "s/redis-1:/$REDIS:/g" -e "s/prometheus-site:/$PROM1:/g" -e "s/am-1:/$AM1:/g" \
      -e "s/am-2:/$AM2:/g" -e "s/sensor-1:9617/$SEN1:9617/g" -e "s/sensor-2:9617/$SEN2:9617/g" \
      -e "s|/etc/spanwatch/redis.password|$WORK/redis.password|" "$@"
}
show() { sed 's/^/    | /' "$1" | tail -n "${2:-20}"; }

# ------------------------------------------------------------------ Redis
# with a password, as a Redis reachable from the sensors needs (deploy/fleet/spanwatch.toml)
REDIS_PW=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
printf '%s\n' "$REDIS_PW" >"$WORK/redis.password"
bg "$NH" redis redis-server --bind $REDIS --port 6379 --save "" --appendonly no --dir "$WORK" \
  --requirepass "$REDIS_PW"
RCLI=(hub env REDISCLI_AUTH="$REDIS_PW" redis-cli -h $REDIS -p 6379)
wait_for 10 "${RCLI[@]}" ping || { fail "redis-server did not start"; show "$WORK/redis.log"; live_finish; }

# ------------------------------------------------------------------ webhook receiver + Alertmanager cluster
cat >"$WORK/hook.py" <<'EOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0)); body = self.rfile.read(n)
        with open(sys.argv[1], "a") as f: f.write(json.dumps({"path": self.path, "body": json.loads(body)}) + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 5001), H).serve_forever()
EOF
touch "$WORK/webhooks.jsonl"
bg "$NH" hook python3 "$WORK/hook.py" "$WORK/webhooks.jsonl"
python3 - "$D/alertmanager/alertmanager.yml" "$WORK/alertmanager.yml" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["route"]["group_wait"] = "1s"
for r in c["route"].get("routes", []):
    r.pop("group_wait", None)
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
EOF
ARGS=$(sed -n 's/^ARGS="\(.*\)"$/\1/p' "$D/fleet/prometheus-alertmanager.default")
[ -n "$ARGS" ] || { fail "no ARGS in deploy/fleet/prometheus-alertmanager.default"; live_finish; }
for m in 1 2; do
  ip=AM$m
  # shellcheck disable=SC2046 # the file's arguments, split as the unit's $ARGS is
  bg "$NH" "am$m" "$AM_BIN" $(echo "$ARGS" | rewrite | sed -e "s/0\.0\.0\.0/${!ip}/g" \
      -e "s|--config.file=[^ ]*|--config.file=$WORK/alertmanager.yml|") \
    --storage.path="$WORK/am$m" --cluster.peer-timeout=${PEER_TIMEOUT}s
done
am_ready() { hub curl -fsS --max-time 1 "http://$1:9093/-/ready"; }
wait_for 30 am_ready $AM1 && wait_for 10 am_ready $AM2 \
  || { fail "the Alertmanagers did not start"; show "$WORK/am1.log"; show "$WORK/am2.log"; live_finish; }
# peers NNN: the member's /api/v2/status says the cluster is ready with 2 peers
cluster_of_2() {
  hub curl -fsS --max-time 1 "http://$1:9093/api/v2/status" | python3 -c '
import json, sys
c = json.load(sys.stdin)["cluster"]
sys.exit(0 if c["status"] == "ready" and len(c.get("peers") or []) == 2 else 1)'
}
for m in $AM1 $AM2; do
  if wait_for 30 cluster_of_2 $m; then pass "Alertmanager $m: cluster ready with 2 peers (/api/v2/status)"
  else fail "Alertmanager $m: no cluster of 2 peers"; hub curl -fsS "http://$m:9093/api/v2/status" | head -c 600; echo; fi
done

# ------------------------------------------------------------------ site and global Prometheus
# intervals 1 s (the files say 15 s / 30 s)
cut_intervals() {
  python3 - "$1" "$2" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
g = c.setdefault("global", {})
g["scrape_interval"] = g["evaluation_interval"] = "1s"
g["scrape_timeout"] = "1s"
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
EOF
}
mkdir -p "$WORK/p1" "$WORK/p2"
rewrite "$D/fleet/prometheus-site.yml" >"$WORK/p1/site.yml.in" && cut_intervals "$WORK/p1/site.yml.in" "$WORK/p1/prometheus.yml"
cp "$D/prometheus/spanwatch.rules.yml" "$WORK/p1/"
rewrite "$D/fleet/prometheus-global.yml" >"$WORK/p2/global.yml.in" && cut_intervals "$WORK/p2/global.yml.in" "$WORK/p2/prometheus.yml"
bg "$NH" prom1 prometheus --config.file="$WORK/p1/prometheus.yml" --storage.tsdb.path="$WORK/p1/data" \
  --web.listen-address=$PROM1:9090
bg "$NH" prom2 prometheus --config.file="$WORK/p2/prometheus.yml" --storage.tsdb.path="$WORK/p2/data" \
  --web.listen-address=$PROM2:9090
prom_ready() { hub curl -fsS --max-time 1 "http://$1:9090/-/ready"; }
wait_for 30 prom_ready $PROM1 && wait_for 30 prom_ready $PROM2 \
  || { fail "Prometheus did not start"; show "$WORK/prom1.log"; show "$WORK/prom2.log"; live_finish; }
pass "site and global Prometheus ready with deploy/fleet/prometheus-site.yml and prometheus-global.yml"

# ------------------------------------------------------------------ the two sensors
for i in 1 2; do
  rewrite "$D/fleet/spanwatch.toml" | sed "s/^name = \"sensor-1\"/name = \"sensor-$i\"/" >"$WORK/sensor-$i.toml"
  grep -q "^name = \"sensor-$i\"" "$WORK/sensor-$i.toml" || fail "sensor-$i.toml: the name was not set"
  ns=NS$i
  bg "${!ns}" "sensor-$i" "$SPANWATCH_BIN" --config "$WORK/sensor-$i.toml" run --interface veth-a \
    --eve "$WORK/eve-$i.json" --metrics-file "$WORK/metrics-$i.prom"
done
sensor_ok() { ip netns exec "$1" curl -fsS --max-time 1 "http://$2:9617/healthz" | grep -qx ok; }
for i in 1 2; do
  ns=NS$i sen=SEN$i
  if wait_for 20 sensor_ok "${!ns}" "${!sen}"; then pass "sensor-$i: /healthz ok on ${!sen}:9617"
  else fail "sensor-$i did not start"; show "$WORK/sensor-$i.log"; live_finish; fi
done

# promq ADDR QUERY: the result vector of an instant query, as JSON lines
promq() {
  hub curl -fsS --max-time 2 "http://$1:9090/api/v1/query" --data-urlencode "query=$2" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print(json.dumps({"labels": r["metric"], "value": r["value"][1]}, sort_keys=True))'
}
# both_up: up == 1 for both targets of job spanwatch, labelled sensor-1 and sensor-2
both_up() {
  promq $PROM1 'up{job="spanwatch"} == 1' >"$WORK/up.txt" || return 1
  python3 - "$WORK/up.txt" $SEN1 $SEN2 <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
got = {(r["labels"]["instance"], r["labels"].get("sensor")) for r in rs}
sys.exit(0 if got == {(sys.argv[2] + ":9617", "sensor-1"), (sys.argv[3] + ":9617", "sensor-2")} else 1)
EOF
}
if wait_for 30 both_up; then pass "site Prometheus: up == 1 for both sensors (instance $SEN1:9617 sensor-1, $SEN2:9617 sensor-2)"
else fail "site Prometheus: not both targets up"; show "$WORK/up.txt"; fi

# ------------------------------------------------------------------ traffic: one session per sensor
# The recorded sessions without their FIN and RST packets: each stays open in its sensor's
# flow table, so its alert stays firing (re-sent) until the sensor stops.
play() {
  local ns=$1 name=$2
  tcpdump -r "$REPO_ROOT/tests/fixtures/live-$name.pcap" -w "$WORK/$name-open.pcap" \
    'not (tcp[tcpflags] & (tcp-fin|tcp-rst) != 0)' >"$WORK/tcpdump-$name.log" 2>&1 \
    && in_ns "$ns" timeout 60 tcpreplay -q -t -i veth-b "$WORK/$name-open.pcap" >"$WORK/tcpreplay-$name.log" 2>&1
}
check "sensor-1's link: tcpreplay plays a VNC session (tests/fixtures/live-vnc.pcap)" play "$NT1" vnc
check "sensor-2's link: tcpreplay plays an RDP session (tests/fixtures/live-rdp.pcap)" play "$NT2" rdp

# ------------------------------------------------------------------ Redis: one stream, both sensors
stream_has_both() {
  "${RCLI[@]}" --raw XRANGE spanwatch - + >"$WORK/stream.raw" || return 1
  python3 - "$WORK/stream.raw" >"$WORK/stream.txt" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
recs = [json.loads(lines[i + 2]) for i in range(0, len(lines) - 2, 3) if lines[i + 1] == "eve"]
by = {}
for r in recs:
    by.setdefault(r.get("sensor"), []).append(r)
want = {"sensor-1": "vnc", "sensor-2": "rdp"}
ok = set(by) == set(want)
for s, app in want.items():
    rs = by.get(s, [])
    alerts = [r for r in rs if r["event_type"] == "alert" and r.get("app") == app]
    print(f"{s}: {len(rs)} records, {len(alerts)} {app} alerts")
    ok = ok and alerts and all(list(r)[-1] == "sensor" for r in rs)
print(f"records without the expected sensor: {sum(len(v) for k, v in by.items() if k not in want)}")
sys.exit(0 if ok else 1)
EOF
}
if wait_for 30 stream_has_both; then
  pass "Redis: XRANGE spanwatch holds both sensors' records and alerts, each record ending with its sensor field ($(head -2 "$WORK/stream.txt" | tr '\n' ';'))"
else fail "Redis: the stream lacks a sensor's records"; show "$WORK/stream.txt"; fi

# ------------------------------------------------------------------ global Prometheus: federated series
federated() {
  promq $PROM2 'count by (instance, sensor, job, site) ({__name__=~"spanwatch_.*"})' >"$WORK/fed.txt" || return 1
  python3 - "$WORK/fed.txt" $SEN1 $SEN2 <<'EOF'
import json, sys
rs = [json.loads(l)["labels"] for l in open(sys.argv[1])]
got = {(r.get("instance"), r.get("sensor"), r.get("job"), r.get("site")) for r in rs}
want = {(sys.argv[2] + ":9617", "sensor-1", "spanwatch", "site-1"), (sys.argv[3] + ":9617", "sensor-2", "spanwatch", "site-1")}
sys.exit(0 if want <= got else 1)
EOF
}
alerts_federated() { promq $PROM2 'sum by (sensor) (spanwatch_alerts_total{category="remote-access"}) >= 1' | grep -c sensor- | grep -qx 2; }
if wait_for 30 federated && wait_for 20 alerts_federated; then
  pass "global Prometheus: spanwatch series federated from both instances (job spanwatch, site site-1), remote-access alerts counted for both sensors"
else fail "global Prometheus: federated series missing"; show "$WORK/fed.txt"; show "$WORK/prom2.log" 5; fi

# ------------------------------------------------------------------ Alertmanager: both sensors on each member
am_alerts() {
  hub curl -fsS --max-time 2 "http://$1:9093/api/v2/alerts?filter=category%3D%22remote-access%22" | python3 -c '
import json, sys
got = {(a["labels"].get("sensor"), a["labels"].get("app")) for a in json.load(sys.stdin) if "sensor" in a["labels"] and a["labels"].get("src_ip")}
print(sorted(got))
sys.exit(0 if {("sensor-1", "vnc"), ("sensor-2", "rdp")} <= got else 1)'
}
for m in $AM1 $AM2; do
  if wait_for 30 am_alerts $m; then pass "Alertmanager $m lists the alerts of both sensors: $(am_alerts $m)"
  else fail "Alertmanager $m lacks a sensor's alerts: $(am_alerts $m)"; fi
done

# ------------------------------------------------------------------ dedup across the cluster
# Each sensor pushed its alert to both members. Each member flushes each group after
# group_wait; the member second in the cluster's order first waits the peer timeout, then
# queries the notification log (gossiped by the first, which notified) and sends nothing.
# So: wait for one notification of each sensor's group, then until every member has queried
# its notification log at least once per group it holds (its decision for each group is
# made), and count the notifications per group.
sensor_groups() {
  python3 - "$WORK/webhooks.jsonl" <<'EOF2'
import json, sys, collections
n = collections.Counter()
for l in open(sys.argv[1]):
    b = json.loads(l)["body"]
    if b["status"] == "firing" and b["commonLabels"].get("sensor") in ("sensor-1", "sensor-2") \
            and b["commonLabels"].get("category") == "remote-access" and "src_ip" in str(b["alerts"]):
        n[b["commonLabels"]["sensor"]] += 1
print(dict(n))
sys.exit(0 if set(n) == {"sensor-1", "sensor-2"} else 1)
EOF2
}
am_metric() { hub curl -fsS --max-time 1 "http://$1:9093/metrics" | sed -n "s/^$2 //p"; }
# decided ADDR: the member's notification-log queries >= the alert groups it holds
decided() {
  local q g
  q=$(am_metric "$1" alertmanager_nflog_queries_total)
  g=$(hub curl -fsS --max-time 1 "http://$1:9093/api/v2/alerts/groups" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  echo "$1: $g groups, ${q:-?} notification-log queries" >>"$WORK/decided.txt"
  [ -n "$q" ] && [ -n "$g" ] && [ "$g" -ge 2 ] && [ "${q%.*}" -ge "$g" ]
}
if wait_for 40 sensor_groups; then
  wait_for 30 decided $AM1 && wait_for 30 decided $AM2 \
    || { fail "the Alertmanagers did not query their notification log for every group"; show "$WORK/decided.txt" 4; }
  python3 - "$WORK/webhooks.jsonl" >"$WORK/dedup.txt" <<'EOF'
import json, sys, collections
n = collections.Counter(); sensors = collections.defaultdict(set)
for l in open(sys.argv[1]):
    b = json.loads(l)["body"]
    if b["status"] == "firing":
        n[b["groupKey"]] += 1
        sensors[b["groupKey"]].add(b["commonLabels"].get("sensor") or b["commonLabels"].get("alertname"))
for k, c in sorted(n.items()):
    print(c, sorted(sensors[k]), k)
sys.exit(0 if n and all(c == 1 for c in n.values()) else 1)
EOF
  rc=$?
  groups=$(wc -l <"$WORK/dedup.txt")
  sent=0
  for m in $AM1 $AM2; do
    v=$(am_metric $m 'alertmanager_notifications_total{integration="webhook"}')
    sent=$((sent + ${v:-0}))
  done
  posts=$(wc -l <"$WORK/webhooks.jsonl")
  if [ "$rc" = 0 ] && [ "$sent" = "$posts" ]; then
    pass "cluster dedup: $groups alert groups (both sensors' among them), one firing notification each, $posts webhook posts in all = the members' notifications_total"
  else fail "cluster dedup: a group notified more than once (members sent $sent, webhook got $posts)"; show "$WORK/dedup.txt"; fi
else
  fail "the webhook got no notification for one of the sensors: $(sensor_groups)"
fi

# ------------------------------------------------------------------ the sensors stop cleanly
for i in 1 2; do
  pid=$(ip netns pids "$(eval echo \$NS$i)" | head -1)
  [ -n "$pid" ] && kill -TERM "$pid"
done
for i in 1 2; do
  ns=NS$i
  wait_for 20 sh -c "[ -z \"\$(ip netns pids ${!ns})\" ]" || fail "sensor-$i still runs 20 s after SIGTERM"
  check "sensor-$i: its EVE file's records all carry sensor = sensor-$i" \
    python3 -c "import json,sys; r=[json.loads(l) for l in open('$WORK/eve-$i.json')]; sys.exit(0 if r and all(x.get('sensor')=='sensor-$i' for x in r) else 1)"
done
# Stopped, each sensor has written its last flows and handed them to Redis (5 s to deliver):
# the stream holds exactly each sensor's EVE file, in order, interleaved with the other's.
same_as_files() {
  "${RCLI[@]}" --raw XRANGE spanwatch - + >"$WORK/stream.raw" || return 1
  python3 - "$WORK/stream.raw" "$WORK/eve-1.json" "$WORK/eve-2.json" >"$WORK/same.txt" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
recs = [lines[i + 2] for i in range(0, len(lines) - 2, 3) if lines[i + 1] == "eve"]
ok = True
n = 0
for i, f in ((1, sys.argv[2]), (2, sys.argv[3])):
    mine = [l for l in recs if json.loads(l).get("sensor") == f"sensor-{i}"]
    file = open(f).read().splitlines()
    n += len(file)
    print(f"sensor-{i}: file {len(file)} records, stream {len(mine)}")
    ok = ok and mine == file and len(file) > 0
print(f"stream: {len(recs)} entries")
sys.exit(0 if ok and len(recs) == n else 1)
EOF
}
if wait_for 15 same_as_files; then pass "Redis: after the stop the stream holds each sensor's EVE file exactly, in order ($(tr '\n' ';' <"$WORK/same.txt"))"
else fail "Redis: the stream differs from the sensors' EVE files"; show "$WORK/same.txt"; fi
live_finish
