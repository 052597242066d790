#!/usr/bin/env bash
# Live check of the deploy files against a real sensor, Prometheus and Alertmanager.
#
# Two network namespaces joined by a veth pair (10.99.0.1/24 <-> 10.99.0.2/24). In the
# first: spanwatch capturing its veth end as uid 65534 with only CAP_NET_RAW and
# CAP_NET_ADMIN (what the systemd unit, the image and the DaemonSet grant), Prometheus
# with deploy/prometheus/prometheus.yml (scrape and rule intervals cut to 1s) and the
# rules, Alertmanager with deploy/alertmanager/alertmanager.yml, a webhook sink on
# 127.0.0.1:5001 and an HTTP server on 10.99.0.1:8080. From the second: ping and curl.
# After ~15s every dashboard query and every rule expression goes through
# /api/v1/query and must succeed with data, except the ones listed in EXPECT_EMPTY.
#
# Needs root, `ip netns`, and (Debian): prometheus prometheus-alertmanager python3-yaml
# curl iputils-ping util-linux (setpriv) perl; the binary from $SPANWATCH_BIN (default
# ${CARGO_TARGET_DIR:-target}/release/spanwatch). Nothing outside the two namespaces is
# contacted. Not root, or no network namespaces: SKIP, except under CI=true (a failure).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
D="$ROOT/deploy"
LINT="python3 $HERE/lint.py"
SPANWATCH_BIN="${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}"
case "$SPANWATCH_BIN" in /*) ;; *) SPANWATCH_BIN="$ROOT/$SPANWATCH_BIN" ;; esac
WAIT_S="${LIVE_WAIT_S:-15}"

PASS=0; FAIL=0; SKIP=0
pass() { PASS=$((PASS + 1)); echo "PASS  $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL  $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/      | /' "$2" | tail -n 30; return 0; }
skip() { if [ "${CI:-}" = true ]; then fail "cannot run under CI=true: $1"; else SKIP=$((SKIP + 1)); echo "SKIP  $1"; fi; }
# cannot_run REASON: the whole test cannot run on this machine: SKIP, or FAIL under CI=true.
cannot_run() {
    if [ "${CI:-}" = true ]; then fail "live test cannot run under CI=true: $1"; else echo "SKIP  live test: $1"; fi
    finish
}
finish() { [ "$SKIP" -gt 0 ] && echo "($SKIP skipped)"; echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

# Queries that cannot return data on this traffic, with the reason. A query is matched
# when its expression names the metric (or contains the text) in the first column.
EXPECT_EMPTY=$(cat <<'EOF'
spanwatch_remote_access_sessions_total	appears once a remote-access session is seen; ping and HTTP make none
ALERTS{	lists firing Prometheus alerts; none fires on healthy traffic
sort_desc(sum by (category, severity) (increase(spanwatch_alerts_total	keeps categories with alerts (> 0); ping and HTTP raise no spanwatch alert
EOF
)

if [ "$(id -u)" != 0 ]; then
    cannot_run "needs root (network namespaces, capture)"
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    cannot_run "'ip netns' is not available"
fi
PROBE="swprobe-$$"
if ! ip netns add "$PROBE" 2>/dev/null; then
    cannot_run "cannot create a network namespace here (container without CAP_SYS_ADMIN?)"
fi
ip netns del "$PROBE"
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
for t in prometheus amtool curl python3 ping setpriv; do
    command -v "$t" >/dev/null || { fail "missing $t (see the top of $0)"; finish; }
done
[ -n "$AM_BIN" ] || { fail "missing alertmanager (apt-get install prometheus-alertmanager)"; finish; }
[ -x "$SPANWATCH_BIN" ] || { fail "no spanwatch binary at $SPANWATCH_BIN (cargo build --release, or set SPANWATCH_BIN)"; finish; }

TMP="$(mktemp -d /tmp/spanwatch-live.XXXXXX)"
chmod 755 "$TMP"
NA="swlive-a-$$"; NB="swlive-b-$$"; VA="swa$$"; VB="swb$$"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$NA" 2>/dev/null; ip netns del "$NB" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
# Foreground helpers. Background jobs call `ip netns exec` directly, so that $! is the
# process itself (ip and setpriv exec, they do not fork) and cleanup can end it by pid.
A() { ip netns exec "$NA" "$@"; }
B() { ip netns exec "$NB" "$@"; }

# ------------------------------------------------------------------ network
ip netns add "$NA" && ip netns add "$NB" \
 && ip link add "$VA" netns "$NA" type veth peer name "$VB" netns "$NB" \
 && ip -n "$NA" addr add 10.99.0.1/24 dev "$VA" && ip -n "$NB" addr add 10.99.0.2/24 dev "$VB" \
 && ip -n "$NA" link set lo up && ip -n "$NB" link set lo up \
 && ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up \
 || { fail "could not set up the namespaces and veth pair"; finish; }
for _ in $(seq 1 50); do B ping -c1 -W1 10.99.0.1 >/dev/null 2>&1 && break; sleep 0.2; done
pass "namespaces $NA (10.99.0.1) and $NB (10.99.0.2) joined by veth $VA/$VB"

# ------------------------------------------------------------------ spanwatch, unprivileged
install -d -m 755 "$TMP/bin" && install -m 755 "$SPANWATCH_BIN" "$TMP/bin/spanwatch"
install -m 644 "$D/spanwatch.toml" "$TMP/spanwatch.toml"
install -d -o 65534 -g 65534 -m 755 "$TMP/eve"
ip netns exec "$NA" setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all,+net_raw,+net_admin --ambient-caps=-all,+net_raw,+net_admin \
    --bounding-set=-all,+net_raw,+net_admin --no-new-privs \
    "$TMP/bin/spanwatch" --config "$TMP/spanwatch.toml" --eve "$TMP/eve/eve.json" \
    run --interface "$VA" --listen 127.0.0.1:9617 >"$TMP/spanwatch.log" 2>&1 &
SW_PID=$!
PIDS+=("$SW_PID")
ok=0
for _ in $(seq 1 75); do
    [ "$(A curl -s http://127.0.0.1:9617/healthz 2>/dev/null)" = "ok" ] && { ok=1; break; }
    kill -0 "$SW_PID" 2>/dev/null || break
    sleep 0.2
done
if [ "$ok" = 1 ]; then
    pass "spanwatch run --interface $VA with deploy/spanwatch.toml: /healthz says ok"
else
    fail "spanwatch did not start capturing" "$TMP/spanwatch.log"; finish
fi
st=$(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' "/proc/$SW_PID/status" | tr -s '\t ' ' ')
echo "$st" >"$TMP/status.txt"
if echo "$st" | grep -q '^Uid: 65534 ' && echo "$st" | grep -q '^CapEff: 0000000000003000' \
    && echo "$st" | grep -q '^CapBnd: 0000000000003000' && echo "$st" | grep -q '^NoNewPrivs: 1'; then
    pass "the sensor runs as uid 65534 with only CAP_NET_RAW+CAP_NET_ADMIN and no_new_privs (as the unit/image/DaemonSet grant)"
else
    fail "unexpected credentials of the sensor process" "$TMP/status.txt"
fi
ct=$(A curl -s -o /dev/null -w '%{content_type}' http://127.0.0.1:9617/metrics)
case "$ct" in "text/plain; version=0.0.4"*) pass "/metrics content type: $ct" ;; *) fail "/metrics content type is '$ct'" ;; esac
if command -v perl >/dev/null; then
    hc=$($LINT healthcheck-cmd)
    if A sh -c "$hc"; then pass "compose.yml's healthcheck command succeeds against the live sensor"
    else fail "compose.yml's healthcheck command fails against a healthy sensor"; fi
    if A sh -c "$(echo "$hc" | sed 's/127.0.0.1:9617/127.0.0.1:9618/')" 2>/dev/null; then
        fail "the healthcheck succeeds against a closed port: it proves nothing"
    else pass "the healthcheck fails against a port with no sensor (negative control)"; fi
else
    skip "perl not installed: compose healthcheck command not run"
fi

# ------------------------------------------------------------------ Alertmanager + webhook sink
cat >"$TMP/sink.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0)); self.rfile.read(n)
        with open(sys.argv[1], "a") as f: f.write(self.path + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 5001), H).serve_forever()
EOF
ip netns exec "$NA" python3 "$TMP/sink.py" "$TMP/webhooks.txt" >/dev/null 2>&1 &
PIDS+=("$!")
ip netns exec "$NA" "$AM_BIN" --config.file="$D/alertmanager/alertmanager.yml" --storage.path="$TMP/am" \
    --web.listen-address=127.0.0.1:9093 --cluster.listen-address= >"$TMP/alertmanager.log" 2>&1 &
PIDS+=("$!")

# ------------------------------------------------------------------ Prometheus with the deploy config
python3 - "$D/prometheus/prometheus.yml" "$TMP/prometheus.yml" "$D/prometheus" <<'EOF'
import sys, os, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["global"].update({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
c["rule_files"] = [os.path.join(sys.argv[3], f) for f in c["rule_files"]]
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
EOF
ip netns exec "$NA" prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address=127.0.0.1:9090 >"$TMP/prometheus.log" 2>&1 &
PIDS+=("$!")
ok=0
for _ in $(seq 1 100); do
    A curl -fs http://127.0.0.1:9090/-/ready >/dev/null 2>&1 && A curl -fs http://127.0.0.1:9093/-/ready >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.2
done
[ "$ok" = 1 ] && pass "prometheus (deploy config, 1s intervals, rules loaded) and alertmanager (deploy config) ready" \
    || { fail "prometheus or alertmanager did not start" "$TMP/prometheus.log"; cat "$TMP/alertmanager.log"; finish; }

# Synthetic alerts straight into Alertmanager: do the routes reach the webhooks?
A amtool alert add --alertmanager.url=http://127.0.0.1:9093 alertname=SpanwatchExfiltration \
    category=exfiltration instance=live severity=critical >/dev/null 2>&1
A amtool alert add --alertmanager.url=http://127.0.0.1:9093 alertname=SpanwatchRemoteAccessSession \
    category=remote-access instance=live severity=warning >/dev/null 2>&1
AM_SENT=$(date +%s)

# ------------------------------------------------------------------ traffic across the veth
mkdir -p "$TMP/www" && head -c 200000 /dev/urandom >"$TMP/www/blob.bin" && echo hello >"$TMP/www/index.html"
ip netns exec "$NA" python3 -m http.server 8080 --bind 10.99.0.1 --directory "$TMP/www" >/dev/null 2>&1 &
PIDS+=("$!")
ip netns exec "$NB" ping -q -c $((WAIT_S * 5)) -i 0.2 10.99.0.1 >"$TMP/ping.txt" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 50); do A ss -Hltn 'sport = :8080' 2>/dev/null | grep -q . && break; sleep 0.1; done
curl_ok=0
end=$(( $(date +%s) + WAIT_S ))
while [ "$(date +%s)" -lt "$end" ]; do
    B curl -s -o /dev/null -m 2 http://10.99.0.1:8080/index.html && curl_ok=$((curl_ok + 1))
    B curl -s -o /dev/null -m 2 http://10.99.0.1:8080/blob.bin && curl_ok=$((curl_ok + 1))
    sleep 0.5
done
[ "$curl_ok" -gt 10 ] && pass "traffic: ping and $curl_ok HTTP requests from 10.99.0.2 to 10.99.0.1 over ${WAIT_S}s" \
    || fail "HTTP across the veth did not work ($curl_ok requests)"

# ------------------------------------------------------------------ scrape health
q() { A curl -s --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query; }
# Wait for a scrape of every target and an evaluation of every rule group that started after
# the last request, so the queries below see all of the traffic.
T_END=$(date +%s.%N)
after_end() {
    A curl -s http://127.0.0.1:9090/api/v1/targets >"$TMP/targets.json" && A curl -s http://127.0.0.1:9090/api/v1/rules >"$TMP/rules-eval.json" &&
    python3 - "$TMP/targets.json" "$TMP/rules-eval.json" "$T_END" <<'PY'
import json, sys
from datetime import datetime
def t(s):  # RFC 3339 with nanoseconds
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac = "".join(c for c in rest if c.isdigit())
        s = head + "." + frac[:6] + rest[len(frac):]
    return datetime.fromisoformat(s).timestamp()
end = float(sys.argv[3])
tg = json.load(open(sys.argv[1]))["data"]["activeTargets"]
gr = json.load(open(sys.argv[2]))["data"]["groups"]
ok = tg and gr and all(x["health"] == "up" and t(x["lastScrape"]) > end for x in tg) and all(t(g["lastEvaluation"]) > end for g in gr)
sys.exit(0 if ok else 1)
PY
}
ok=0
for _ in $(seq 1 50); do after_end && { ok=1; break; }; sleep 0.2; done
[ "$ok" = 1 ] || fail "prometheus did not scrape every target and evaluate every rule group within 10 s of the last request"
r=$(q 'count(up == 1) == bool count(up)')
case "$r" in *'"1"]'*) pass "all targets of deploy/prometheus/prometheus.yml are up (spanwatch, prometheus, alertmanager)" ;;
    *) fail "not every target is up: $(q up)" ;; esac
r=$(A curl -s http://127.0.0.1:9090/api/v1/alertmanagers)
case "$r" in *'127.0.0.1:9093'*) pass "prometheus sends alerts to the alertmanager of its config" ;; *) fail "alertmanager not discovered: $r" ;; esac
r=$(q 'sum(spanwatch_packets_total{job="spanwatch"})')
pk=$(echo "$r" | python3 -c 'import sys,json; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)')
[ "$pk" -ge 50 ] && pass "spanwatch counted $pk packets of the test traffic" || fail "spanwatch counted only $pk packets"

# ------------------------------------------------------------------ every query and expression
$LINT exprs >"$TMP/exprs.jsonl"
A $LINT query http://127.0.0.1:9090 <"$TMP/exprs.jsonl" >"$TMP/results.tsv"
printf '%s\n' "$EXPECT_EMPTY" >"$TMP/expect_empty.tsv"
python3 - "$TMP/results.tsv" "$TMP/expect_empty.tsv" >"$TMP/verdicts.txt" <<'EOF'
import sys
exc = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2]) if l.strip()]
for line in open(sys.argv[1]):
    status, n, kind, source, name, err, expr = line.rstrip("\n").split("\t", 6)
    n = int(n)
    why = next((w for k, w in exc if k in expr), None)
    label = f"{source}: {name}"
    if status != "success":
        print(f"FAIL\t{label}: status {status}: {err}")
    elif kind == "alert":
        # the raw alert condition: healthy sensor, healthy traffic, nothing fires
        print(("PASS" if n == 0 else "FAIL") + f"\t{label}: condition {'false' if n == 0 else 'TRUE on healthy traffic'}")
    elif why:
        print(("EMPTY" if n == 0 else "NOTE") + f"\t{label}: {'no data as expected' if n == 0 else 'now returns data, remove it from EXPECT_EMPTY'} ({why})")
    else:
        print(("PASS" if n > 0 else "FAIL") + f"\t{label}: {n} series")
EOF
np=$(grep -c '^PASS' "$TMP/verdicts.txt"); nf=$(grep -c '^FAIL' "$TMP/verdicts.txt"); ne=$(grep -c '^EMPTY' "$TMP/verdicts.txt")
grep -v '^PASS' "$TMP/verdicts.txt" | sed 's/^/      /'
if [ "$nf" -eq 0 ] && [ "$np" -gt 0 ]; then
    pass "$np dashboard/rule queries return data (alert conditions: inputs present, condition false); $ne empty as listed"
else
    grep '^FAIL' "$TMP/verdicts.txt" >"$TMP/fails.txt"
    fail "$nf of $((np + nf + ne)) queries failed" "$TMP/fails.txt"
fi
n_rec=$(awk -F'\t' '$3 == "recorded" && $1 == "success" && $2 > 0' "$TMP/results.tsv" | wc -l)
n_rec_all=$(awk -F'\t' '$3 == "recorded"' "$TMP/results.tsv" | wc -l)
[ "$n_rec" -eq "$n_rec_all" ] && pass "prometheus evaluated all $n_rec_all recording rules into series" \
    || fail "only $n_rec of $n_rec_all recording rules produced series"
r=$(A curl -s http://127.0.0.1:9090/api/v1/rules)
echo "$r" | python3 -c '
import sys, json
g = json.load(sys.stdin)["data"]["groups"]
bad = [r["name"] for x in g for r in x["rules"] if r.get("health") != "ok"]
print(len(g), "groups;", "unhealthy:", bad); sys.exit(1 if bad or not g else 0)' >"$TMP/rules.txt" 2>&1 \
    && pass "every rule evaluates healthy in prometheus ($(cat "$TMP/rules.txt"))" || fail "rule evaluation errors" "$TMP/rules.txt"

# ------------------------------------------------------------------ Alertmanager routing, end to end
for _ in $(seq 1 45); do
    grep -q '^/alerts/exfiltration$' "$TMP/webhooks.txt" 2>/dev/null && grep -q '^/alerts/remote-access$' "$TMP/webhooks.txt" 2>/dev/null && break
    sleep 1
done
if grep -q '^/alerts/exfiltration$' "$TMP/webhooks.txt" 2>/dev/null && grep -q '^/alerts/remote-access$' "$TMP/webhooks.txt" 2>/dev/null; then
    pass "alertmanager delivered category=exfiltration and category=remote-access to their webhooks ($(( $(date +%s) - AM_SENT ))s)"
else
    echo "webhooks received: $(tr '\n' ' ' <"$TMP/webhooks.txt" 2>/dev/null)" >"$TMP/wh.txt"
    fail "alertmanager did not deliver to the category webhooks" "$TMP/wh.txt"
fi

# ------------------------------------------------------------------ reload (SIGHUP, as ExecReload sends)
exec 3>&2 2>/dev/null       # bash would print its own "Hangup" job notice
kill -HUP "$SW_PID"
# the reload is done when spanwatch counts it
reloaded() { A curl -s http://127.0.0.1:9617/metrics | grep -qx 'spanwatch_config_reloads_total{result="success"} 1'; }
ok=0
for _ in $(seq 1 50); do reloaded && { ok=1; break; }; kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.2; done
exec 2>&3 3>&-
if [ "$ok" = 1 ] && kill -0 "$SW_PID" 2>/dev/null && [ "$(A curl -s http://127.0.0.1:9617/healthz)" = "ok" ]; then
    pass "SIGHUP (systemctl reload) reloads the rules (spanwatch_config_reloads_total{result=\"success\"} 1) and spanwatch keeps capturing"
else
    wait "$SW_PID" 2>/dev/null; rc=$?
    fail "SIGHUP: reload not counted within 10 s, or spanwatch stopped (status $rc)" "$TMP/spanwatch.log"
fi

finish
