#!/usr/bin/env bash
# The Alertmanager sink against real Alertmanagers (Debian's prometheus-alertmanager).
#
# Two Alertmanagers on the loopback run deploy/alertmanager/alertmanager.yml (webhook
# receivers pointed at a small recording sink on a free port, group_wait cut to 1 s);
# `spanwatch demo` replays the built-in capture with an [alertmanager] section naming both.
# Then, through Alertmanager's own API (/api/v2/alerts):
#   - every EVE alert arrived in both, one Alertmanager alert per alert, with the labels
#     (alertname, category, severity, sensor, src_ip, dest_ip, signature_id, the static
#     site label) and the annotations (community_id, evidence) the README documents;
#   - Alertmanager routed them by category to the remote-access and tunnels webhooks;
#   - after the replay nothing re-sends them, so every one expires by itself at its endsAt
#     (at most 4 resend intervals);
#   - an Alertmanager that refuses connections is retried and counted as failed, and the
#     replay still ends within its bound.
# No root needed; nothing but 127.0.0.1 is contacted.
#
# Needs: prometheus-alertmanager, curl, python3; the binary from $SPANWATCH_BIN (default
# ${CARGO_TARGET_DIR:-target}/release/spanwatch). Under CI=true a missing prerequisite fails.
set -u
NAME=alertmanager_live
. "$(dirname "$0")/replay_lib.sh"
D="$ROOT/deploy"
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -z "$AM_BIN" ]; then
    skip "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
fi
for t in curl python3; do command -v "$t" >/dev/null || skip "$t not installed"; done
[ -x "$SPANWATCH_BIN" ] || { fail "no spanwatch binary at $SPANWATCH_BIN (cargo build --release)"; finish; }

work_dir spanwatch-am-live
HOOK_PORT=$(free_port); AM1=$(free_port); AM2=$(free_port); DEAD=$(free_port)

# ------------------------------------------------------------------ webhook sink + Alertmanagers
cat >"$TMP/sink.py" <<'EOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0)); body = self.rfile.read(n)
        with open(sys.argv[2], "a") as f: f.write(json.dumps({"path": self.path, "body": json.loads(body)}) + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$TMP/sink.py" "$HOOK_PORT" "$TMP/webhooks.jsonl" >/dev/null 2>&1 &
PIDS+=("$!")
python3 - "$D/alertmanager/alertmanager.yml" "$TMP/alertmanager.yml" "$HOOK_PORT" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["route"]["group_wait"] = "1s"
for r in c["route"].get("routes", []):
    r.pop("group_wait", None)
for r in c["receivers"]:
    for w in r.get("webhook_configs", []):
        w["url"] = w["url"].replace("127.0.0.1:5001", "127.0.0.1:" + sys.argv[3])
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
EOF
for p in "$AM1" "$AM2"; do
    "$AM_BIN" --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am-$p" \
        --web.listen-address="127.0.0.1:$p" --cluster.listen-address= >"$TMP/alertmanager-$p.log" 2>&1 &
    PIDS+=("$!")
done
ok=0
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$AM1/-/ready" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$AM2/-/ready" >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.2
done
[ "$ok" = 1 ] && pass "two Alertmanagers ($("$AM_BIN" --version 2>&1 | head -1 | cut -d' ' -f1-3)) with deploy/alertmanager/alertmanager.yml ready on :$AM1 and :$AM2" \
    || { fail "alertmanager did not start" "$TMP/alertmanager-$AM1.log"; finish; }

# ------------------------------------------------------------------ spanwatch replay pushing to both
RESEND=3
cat >"$TMP/spanwatch.toml" <<EOF
[sensor]
name = "am-live"
[alertmanager]
urls = ["http://127.0.0.1:$AM1", "http://127.0.0.1:$AM2/"]
resend_interval_s = $RESEND
timeout_s = 5
labels = { site = "test-lab" }
EOF
t0=$(date +%s.%N)
if "$SPANWATCH_BIN" --config "$TMP/spanwatch.toml" --eve "$TMP/eve.json" --metrics-file "$TMP/metrics.prom" -q demo \
    >"$TMP/demo.log" 2>&1; then
    pass "spanwatch demo with [alertmanager] exits 0 in $(python3 -c "import time; print(round(time.time()-$t0, 2))") s"
else
    fail "spanwatch demo with [alertmanager] failed" "$TMP/demo.log"; finish
fi
n_eve=$(python3 -c "import json; print(sum(1 for l in open('$TMP/eve.json') if json.loads(l)['event_type']=='alert'))")
sent=$(sed -n 's/^spanwatch_alertmanager_notifications_total{result="sent"} //p' "$TMP/metrics.prom")
notsent=$(awk '/^spanwatch_alertmanager_notifications_total\{result="(failed|rejected|dropped)"\}/ {s += $2} END {print s + 0}' "$TMP/metrics.prom")
# Each alert goes to both Alertmanagers at least once (firing), some twice (then resolved).
[ "$n_eve" -ge 4 ] && [ "${sent:-0}" -ge "$((2 * n_eve))" ] && [ "${sent:-0}" -le "$((4 * n_eve))" ] && [ "$notsent" = 0 ] \
    && pass "metrics: $sent notifications sent for the $n_eve EVE alerts to 2 Alertmanagers, none failed, rejected or dropped" \
    || fail "metrics: sent=$sent (want 2..4 × $n_eve EVE alerts), failed+rejected+dropped=$notsent"

# ------------------------------------------------------------------ what each Alertmanager holds
for p in "$AM1" "$AM2"; do curl -fsS "http://127.0.0.1:$p/api/v2/alerts" >"$TMP/alerts-$p.json"; done
check_alerts() {
    python3 - "$TMP/eve.json" "$1" <<'EOF'
import json, sys
eve = [json.loads(l) for l in open(sys.argv[1])]
eve = [r for r in eve if r["event_type"] == "alert"]
am = json.load(open(sys.argv[2]))
am = [a for a in am if a["labels"].get("sensor") == "am-live"]
sev = {1: "critical", 2: "high", 3: "medium", 4: "low"}
bad = []
if len(am) != len(eve):
    bad.append(f"{len(am)} Alertmanager alerts for {len(eve)} EVE alerts")
for r in eve:
    m = [a for a in am if a["annotations"].get("community_id") == r["community_id"]
         and a["labels"].get("signature_id") == str(r["alert"]["signature_id"])]
    if len(m) != 1:
        bad.append(f"EVE alert {r['alert']['signature']} ({r['community_id']}): {len(m)} matches"); continue
    a = m[0]; l = a["labels"]
    cat = r["alert"]["category"]
    want = {"alertname": "Spanwatch" + "".join(p.capitalize() for p in cat.split("-")) + "Detected",
            "category": cat, "severity": sev[r["alert"]["severity"]], "sensor": "am-live",
            "src_ip": r["src_ip"], "dest_ip": r["dest_ip"], "direction": r["direction"],
            "site": "test-lab"}
    if r.get("app"): want["app"] = r["app"]
    if r["dest_port"]: want["dest_port"] = str(r["dest_port"])
    for k, v in want.items():
        if l.get(k) != v: bad.append(f"{r['alert']['signature']}: label {k}={l.get(k)!r}, want {v!r}")
    ann = a["annotations"]
    if ann.get("signature") != r["alert"]["signature"] or ann.get("sid") != str(r["alert"]["signature_id"]):
        bad.append(f"{r['alert']['signature']}: annotations {ann}")
    if r["alert"]["metadata"] and not ann.get("evidence"):
        bad.append(f"{r['alert']['signature']}: no evidence annotation")
    if a["startsAt"][:19] != r["timestamp"][:19]:
        bad.append(f"{r['alert']['signature']}: startsAt {a['startsAt']} is not the packet time {r['timestamp']}")
    if a["status"]["state"] != "active":
        bad.append(f"{r['alert']['signature']}: state {a['status']['state']}")
cats = sorted({a["labels"]["category"] for a in am})
print(f"{len(am)} alerts, categories {cats}")
for b in bad: print(b)
sys.exit(1 if bad or "remote-access" not in cats or "tunnel" not in cats else 0)
EOF
}
for p in "$AM1" "$AM2"; do
    if check_alerts "$TMP/alerts-$p.json" >"$TMP/check-$p.txt" 2>&1; then
        pass "Alertmanager :$p holds every EVE alert once, labels and annotations as documented ($(head -1 "$TMP/check-$p.txt"))"
    else
        fail "Alertmanager :$p alerts do not match the EVE alerts" "$TMP/check-$p.txt"
    fi
done

# ------------------------------------------------------------------ routing by category (real Alertmanager)
routed() {
    python3 - "$TMP/webhooks.jsonl" <<'EOF'
import json, sys
seen = {}
try:
    for l in open(sys.argv[1]):
        w = json.loads(l)
        for a in w["body"]["alerts"]:
            if a["labels"].get("sensor") == "am-live":
                seen.setdefault(w["path"], set()).add(a["labels"]["category"])
except FileNotFoundError:
    pass
print(seen)
ok = seen.get("/alerts/remote-access") == {"remote-access"} and seen.get("/alerts/tunnels") == {"tunnel"}
sys.exit(0 if ok else 1)
EOF
}
ok=0
for _ in $(seq 1 40); do routed >"$TMP/routed.txt" 2>&1 && { ok=1; break; }; sleep 0.25; done
[ "$ok" = 1 ] && pass "Alertmanager routed spanwatch's alerts by category: $(cat "$TMP/routed.txt")" \
    || fail "routing to the category webhooks" "$TMP/routed.txt"

# ------------------------------------------------------------------ lifecycle after the replay
# A replay ends with the sink: nothing re-sends the alerts, so each must leave Alertmanager's
# active list by itself at its endsAt (at most 4 resend intervals after it was sent). The
# resolve on a session's end is checked live by tests/deploy/e2e.sh.
active_count() {
    curl -fsS "http://127.0.0.1:$AM1/api/v2/alerts" | python3 -c '
import json, sys
print(sum(1 for a in json.load(sys.stdin) if a["labels"].get("sensor") == "am-live"))'
}
t0=$(date +%s)
n0=$(active_count)
ok=0
for _ in $(seq 1 $((RESEND * 8 + 10))); do
    [ "$(active_count)" = 0 ] && { ok=1; break; }
    sleep 0.5
done
el=$(( $(date +%s) - t0 ))
[ "$ok" = 1 ] && [ "$n0" -gt 0 ] && pass "after the replay the $n0 alerts expire from Alertmanager by themselves within ${el}s (≤ 4 × resend_interval_s = $((4 * RESEND))s)" \
    || fail "alerts still active ${el}s after the replay ($(active_count) of $n0)"

# ------------------------------------------------------------------ failures counted, bounded wait
cat >"$TMP/dead.toml" <<EOF
[alertmanager]
urls = ["http://127.0.0.1:$DEAD"]
timeout_s = 2
max_retries = 2
retry_backoff_max_s = 1
EOF
t0=$(date +%s.%N)
"$SPANWATCH_BIN" --config "$TMP/dead.toml" --metrics-file "$TMP/dead.prom" -q demo >"$TMP/dead.log" 2>&1
rc=$?
el=$(python3 -c "import time; print(round(time.time()-$t0, 1))")
failed=$(sed -n 's/^spanwatch_alertmanager_notifications_total{result="failed"} //p' "$TMP/dead.prom")
sent=$(sed -n 's/^spanwatch_alertmanager_notifications_total{result="sent"} //p' "$TMP/dead.prom")
if [ "$rc" = 0 ] && [ "${failed:-0}" -ge "$n_eve" ] && [ "$sent" = 0 ] && python3 -c "import sys; sys.exit(0 if $el < 10 else 1)" \
    && grep -q "giving up" "$TMP/dead.log"; then
    pass "an Alertmanager refusing connections: retried, $failed notifications for $n_eve alerts counted failed, replay still ends in ${el}s"
else
    fail "dead Alertmanager: rc=$rc failed=$failed sent=$sent after ${el}s" "$TMP/dead.log"
fi

finish
