#!/usr/bin/env bash
# End to end: real traffic across a veth pair, `spanwatch run` capturing it, a real
# Prometheus scraping spanwatch (deploy/prometheus, rules loaded, 1 s intervals) and a real
# Alertmanager (deploy/alertmanager) receiving both Prometheus's alerts and the ones
# spanwatch pushes itself ([alertmanager]). Then the test asks each of them what it saw.
#
#   swa (10.77.0.1, the monitored "internal" host)      swb (10.77.0.2, "outside")
#   spanwatch run on veth-a, Prometheus :9090,          Xtigervnc :5901, iodined (udp/53),
#   Alertmanager :9093, webhook sink :5001 (loopback)   upload receiver :8080
#   vncviewer, iodine, curl  ───────── veth ─────────►
#
# Traffic: a VNC session (TigerVNC viewer → Xtigervnc, VncAuth), a DNS tunnel (iodine →
# iodined, data through it), a 200 MB upload (curl PUT). home_net is 10.77.0.1/32 so the
# upload leaves the "network".
#
# Asserts: Prometheus saw the flow, alert and byte counters move (vnc flows, remote-access
# and tunnel alerts, the upload's bytes, notifications sent to Alertmanager, none failed) and
# fired its own SpanwatchRemoteAccessSession and SpanwatchTunnel; Alertmanager holds those
# and spanwatch's own alerts — remote-access for the VNC session with the hosts as labels,
# tunnel for the DNS tunnel domain, egress for the upload — routed to the category webhooks;
# the VNC alert resolves once its session is over (before the endsAt of its last re-send),
# while the DNS tunnel alert stays firing.
#
# Root and network namespaces; Debian packages: prometheus prometheus-alertmanager
# tigervnc-standalone-server tigervnc-viewer tigervnc-tools xvfb xauth iodine curl python3
# python3-yaml. Runs in about a minute and a half.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
D="$(cd "$HERE/../.." && pwd)/deploy"
export SPANWATCH_LIVE_TIMEOUT=${SPANWATCH_LIVE_TIMEOUT:-300}
. "$HERE/../live/lib.sh"
live_init e2e prometheus prometheus-alertmanager tigervnc-standalone-server tigervnc-viewer tigervnc-tools \
  xvfb xauth iodine curl python3 python3-yaml
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager) || skip "no alertmanager binary"
[ -c /dev/net/tun ] || skip "/dev/net/tun missing (the DNS tunnel needs TUN devices)"
live_netns

# ------------------------------------------------------------------ Prometheus, Alertmanager, webhooks (in swa, loopback)
cat >"$WORK/sink.py" <<'EOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0)); body = self.rfile.read(n)
        with open(sys.argv[1], "a") as f: f.write(json.dumps({"path": self.path, "body": json.loads(body)}) + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 5001), H).serve_forever()
EOF
bg_a webhooks python3 "$WORK/sink.py" "$WORK/webhooks.jsonl"
python3 - "$D" "$WORK" <<'EOF'
import os, sys, yaml
d, w = sys.argv[1], sys.argv[2]
c = yaml.safe_load(open(os.path.join(d, "prometheus/prometheus.yml")))
c["global"].update({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
c["rule_files"] = [os.path.join(d, "prometheus", f) for f in c["rule_files"]]
yaml.safe_dump(c, open(os.path.join(w, "prometheus.yml"), "w"), sort_keys=False)
a = yaml.safe_load(open(os.path.join(d, "alertmanager/alertmanager.yml")))
a["route"]["group_wait"] = "1s"
for r in a["route"].get("routes", []):
    r.pop("group_wait", None)
yaml.safe_dump(a, open(os.path.join(w, "alertmanager.yml"), "w"), sort_keys=False)
EOF
bg_a alertmanager "$AM_BIN" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am" \
  --web.listen-address=127.0.0.1:9093 --cluster.listen-address=
bg_a prometheus prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address=127.0.0.1:9090
ready() { in_a curl -fs http://127.0.0.1:9090/-/ready && in_a curl -fs http://127.0.0.1:9093/-/ready; }
if wait_for 30 ready; then pass "prometheus (deploy config and rules, 1 s intervals) and alertmanager (deploy config) ready in $NS_A"
else fail "prometheus or alertmanager did not start"; tail -5 "$WORK/prometheus.log" "$WORK/alertmanager.log"; live_finish; fi

# ------------------------------------------------------------------ spanwatch
RESEND=5
cat >"$WORK/e2e.toml" <<EOF
[sensor]
name = "e2e"
home_net = ["10.77.0.1/32", "fd77::1/128"]
[flow]
tcp_closed_timeout_s = 2
[host.egress]
# the uploader is a new host: 100 MiB in one interval is above its limit (default 1 GiB)
new_host_bytes = 104857600
[alertmanager]
urls = ["http://127.0.0.1:9093"]
resend_interval_s = $RESEND
resolve_timeout_s = 600
timeout_s = 5
EOF
start_spanwatch --config "$WORK/e2e.toml"
T_START=$(date +%s)

# ------------------------------------------------------------------ query helpers
promq() { in_a curl -fsS --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query; }
# prom_n EXPR: how many series EXPR returns (0 when the query fails)
prom_n() { promq "$1" 2>/dev/null | python3 -c 'import sys,json; print(len(json.load(sys.stdin)["data"]["result"]))' 2>/dev/null || echo 0; }

# Prometheus must hold a first sample of the alert counters (at 0) before any traffic: an
# alert raised before the first scrape would make that first sample 1, and increase() (the
# SpanwatchTunnel and SpanwatchRemoteAccessSession rules) would see no rise.
scraped() {
  [ "$(prom_n 'up{job="spanwatch"} == 1')" = 1 ] &&
  [ "$(prom_n 'spanwatch_alerts_total{job="spanwatch",category=~"tunnel|remote-access|egress"} == 0')" -ge 12 ]
}
if wait_for 30 scraped; then pass "prometheus scraped spanwatch (up == 1) and holds the alert counters at 0 before any traffic"
else fail "prometheus did not scrape spanwatch within 30 s (up: $(promq 'up{job="spanwatch"}' 2>&1 | head -c 300))"; fi

# ------------------------------------------------------------------ servers in swb
mkdir -p "$WORK/vnc"
echo 'sw4tchVNC' | vncpasswd -f >"$WORK/vnc/passwd"
chmod 600 "$WORK/vnc/passwd"
disp=""
for d in $(seq 77 99); do [ -e "/tmp/.X$d-lock" ] || [ -e "/tmp/.X11-unix/X$d" ] || { disp=$d; break; }; done
[ -n "$disp" ] || skip "no free X display number between :77 and :99"
bg_b xtigervnc Xtigervnc ":$disp" -rfbport 5901 -interface $B4 -localhost=0 -SecurityTypes VncAuth \
  -rfbauth "$WORK/vnc/passwd" -geometry 800x600 -depth 24 -nolisten tcp -AlwaysShared
DOM=t.spanwatch.test
bg_b iodined iodined -f -c -l $B4 -d dnsb -P spanwatch-e2e 10.53.0.1/24 $DOM
bg_b receiver python3 "$LIVE_DIR/upload_receiver.py" $B4 8080
wait_port "$NS_B" 5901 tcp 10 || fail "Xtigervnc did not listen on 5901"
wait_port "$NS_B" 53 udp 10 || fail "iodined did not listen on udp/53"
wait_port "$NS_B" 8080 tcp 10 || fail "upload receiver did not listen on 8080"

# prom_ge DESC EXPR MIN: the (summed) value of EXPR is >= MIN, polled for up to 15 s (the
# next scrape and rule evaluation)
prom_ge() {
  local v i
  for i in $(seq 1 30); do
    v=$(promq "$2" | python3 -c 'import sys,json; r=json.load(sys.stdin)["data"]["result"]; print(sum(float(x["value"][1]) for x in r) if r else "none")')
    if [ "$v" != none ] && python3 -c "import sys; sys.exit(0 if $v >= $3 else 1)"; then pass "prometheus: $1 ($v)"; return 0; fi
    sleep 0.5
  done
  fail "prometheus: $1: $2 = $v, want >= $3"
}
amq() { in_a curl -fsS http://127.0.0.1:9093/api/v2/alerts >"$WORK/am.json"; }
# am_has DESC PYTHON-EXPR: some active alert a (labels l) satisfies the expression
am_has() {
  local desc=$1 expr=$2 i
  for i in $(seq 1 ${3:-20}); do
    amq
    python3 -c "
import json, sys
al = json.load(open('$WORK/am.json'))
sys.exit(0 if any((lambda a, l: $expr)(a, a['labels']) for a in al) else 1)" && { pass "alertmanager: $desc"; return 0; }
    sleep 0.5
  done
  fail "alertmanager: $desc"
  python3 -c "
import json
for a in json.load(open('$WORK/am.json')): print('    held:', a['labels'])" | head -20
}
# ------------------------------------------------------------------ traffic from swa
# DNS tunnel: set up, then data through it.
bg_a iodine iodine -f -r -d dnsa -P spanwatch-e2e $B4 $DOM
if wait_for 20 grep -q "Connection setup complete" "$WORK/iodine.log"; then
  mkdir -p "$WORK/www"; head -c 300000 /dev/urandom >"$WORK/www/blob"
  bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 10.53.0.1 8000"
  wait_port "$NS_B" 8000 tcp 5
  in_a timeout 30 curl -fsS -o "$WORK/got" http://10.53.0.1:8000/blob
  cmp -s "$WORK/www/blob" "$WORK/got" && pass "DNS tunnel: iodine set up, 300 kB through it intact" \
    || fail "DNS tunnel transfer (got $(stat -c %s "$WORK/got" 2>/dev/null || echo 0) bytes)"
else
  fail "iodine tunnel setup"; tail -5 "$WORK/iodine.log"
fi

# Upload: 200 MB PUT to the receiver outside home_net.
head -c $((200 * 1024 * 1024)) /dev/urandom >"$WORK/upload.bin"
want="$(stat -c %s "$WORK/upload.bin") $(sha256sum "$WORK/upload.bin" | cut -d' ' -f1)"
in_a timeout 60 curl -fsS -T "$WORK/upload.bin" -o "$WORK/upload-answer" http://$B4:8080/upload.bin
check "upload: 200 MB received whole (byte count and SHA-256 match)" test "$(cat "$WORK/upload-answer" 2>/dev/null)" = "$want"
rm -f "$WORK/upload.bin"

# ------------------------------------------------------------------ VNC, last: its alert fires, then resolves
# The viewer stays connected until its timeout ends it (the TCP session then closes). While
# it runs, spanwatch's alert must be firing in Alertmanager; once the session is over (flow
# record after tcp_closed_timeout_s, then the sink's hold of one resend interval) it must be
# resolved. Each (re-)send sets endsAt 4 intervals ahead: leaving the active list before the
# last endsAt seen is a resolve, not an expiry.
vnc_state() {
  python3 - "$WORK/am.json" <<'EOF'
import json, sys
al = [a for a in json.load(open(sys.argv[1])) if a["labels"].get("sensor") == "e2e" and a["labels"].get("app") == "vnc"]
print(al[0]["endsAt"] if al else "gone")
EOF
}
( in_a env HOME="$WORK" timeout 40 xvfb-run -a -s "-screen 0 1024x768x24" \
  timeout 10 vncviewer -passwd "$WORK/vnc/passwd" -Log '*:stderr:100' -FullScreen=0 $B4::5901 \
  >"$WORK/vncviewer.log" 2>&1 ) &
VNC_PID=$!
am_has "spanwatch's remote-access alert for the VNC session, hosts and tool as labels" \
  "l.get('sensor')=='e2e' and l.get('alertname')=='SpanwatchRemoteAccessDetected' and l.get('category')=='remote-access' and l.get('app')=='vnc' and l.get('src_ip')=='$A4' and l.get('dest_ip')=='$B4' and l.get('dest_port')=='5901' and l.get('direction')=='outbound' and l.get('severity') in ('critical','high','medium','low') and a['annotations'].get('community_id','').startswith('1:')" 30
amq; last_ends=$(vnc_state); [ "$last_ends" = gone ] && last_ends=""
wait $VNC_PID
T_VNC_END=$(date +%s)
grep -q "Authentication success" "$WORK/vncviewer.log" && pass "VNC: vncviewer completed the RFB handshake and VncAuth" \
  || { fail "VNC session"; tail -5 "$WORK/vncviewer.log"; }
gone_at=""
for i in $(seq 1 $((RESEND * 8))); do
  amq; st=$(vnc_state)
  if [ "$st" = gone ]; then gone_at=$(date -u +%Y-%m-%dT%H:%M:%S); break; fi
  last_ends=$st; sleep 0.5
done
if [ -n "$gone_at" ] && [ -n "$last_ends" ] && [[ "$gone_at" < "${last_ends:0:19}" ]]; then
  pass "alertmanager: the VNC alert resolved at $gone_at, $(( $(date +%s) - T_VNC_END ))s after the session closed, before its last firing endsAt ${last_ends:0:19}"
else
  fail "alertmanager: the VNC alert did not resolve (gone at '${gone_at}', last firing endsAt '${last_ends}')"
fi
# ------------------------------------------------------------------ what Prometheus saw
W=$(( $(date +%s) - T_START + 30 ))
prom_ge "vnc flows identified rose" "increase(spanwatch_flows_identified_total{job=\"spanwatch\",app_proto=\"vnc\"}[${W}s])" 0.9
prom_ge "remote-access alerts rose" "sum(increase(spanwatch_alerts_total{job=\"spanwatch\",category=\"remote-access\"}[${W}s]))" 0.9
prom_ge "tunnel alerts rose" "sum(increase(spanwatch_alerts_total{job=\"spanwatch\",category=\"tunnel\"}[${W}s]))" 0.9
prom_ge "captured bytes rose by the upload (>= 200 MB)" "increase(spanwatch_bytes_total{job=\"spanwatch\"}[${W}s])" 200000000
prom_ge "spanwatch's notifications to Alertmanager sent" "spanwatch_alertmanager_notifications_total{job=\"spanwatch\",result=\"sent\"}" 2
v=$(promq 'sum(spanwatch_alertmanager_notifications_total{job="spanwatch",result=~"failed|rejected|dropped"})' | python3 -c 'import sys,json; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
[ "$v" = 0 ] && pass "prometheus: no notification failed, was rejected or dropped" || fail "prometheus: failed/rejected/dropped notifications = $v"
firing() { [ "$(prom_n "ALERTS{alertname=\"$1\",alertstate=\"firing\"}")" -ge 1 ]; }
for a in SpanwatchRemoteAccessSession SpanwatchTunnel; do
  wait_for 15 firing "$a" && pass "prometheus: rule $a firing" || fail "prometheus: rule $a not firing"
done

# ------------------------------------------------------------------ what Alertmanager holds
am_has "spanwatch's tunnel alert for the DNS tunnel to $DOM, its registered domain as a label" \
  "l.get('sensor')=='e2e' and l.get('category')=='tunnel' and l.get('src_ip')=='$A4' and '$DOM'.endswith(l.get('domain') or '@') and a['status']['state']=='active'"
am_has "spanwatch's egress alert for the upload from $A4" \
  "l.get('sensor')=='e2e' and l.get('category')=='egress' and l.get('src_ip')=='$A4'" 10
am_has "Prometheus's SpanwatchRemoteAccessSession alert" "l.get('alertname')=='SpanwatchRemoteAccessSession' and l.get('job')=='spanwatch'"
am_has "Prometheus's SpanwatchTunnel alert" "l.get('alertname')=='SpanwatchTunnel' and l.get('category')=='tunnel'"

# routed by category to the webhooks (group_wait 1 s)
routed() {
  python3 - "$WORK/webhooks.jsonl" <<'EOF'
import json, sys
seen = set()
try:
    for line in open(sys.argv[1]):
        w = json.loads(line)
        for a in w["body"]["alerts"]:
            if a["labels"].get("sensor") == "e2e":
                seen.add((w["path"], a["labels"]["category"]))
except FileNotFoundError:
    pass
sys.exit(0 if {("/alerts/remote-access", "remote-access"), ("/alerts/tunnels", "tunnel")} <= seen else 1)
EOF
}
wait_for 15 routed && pass "alertmanager: spanwatch's alerts reached the remote-access and tunnels webhooks" \
  || fail "alertmanager: routing of spanwatch's alerts to the category webhooks"

am_has "the DNS tunnel alert (not bound to one flow) stays firing meanwhile" \
  "l.get('sensor')=='e2e' and l.get('category')=='tunnel' and '$DOM'.endswith(l.get('domain') or '@')" 1

stop_spanwatch
assert_alert remote-access vnc
assert_alert tunnel '*' "has(r,'alert.metadata','$DOM')"
live_finish
