#!/usr/bin/env bash
# /metrics over TLS with basic auth, scraped by a real Prometheus with a node_exporter-style
# scrape config, and the listener's limits against a real sensor.
#
# In one network namespace (only its loopback is used): `spanwatch run --interface lo` with
# the web config of deploy/kubernetes/web-config.example.yaml (exporter-toolkit's format;
# self-signed certificate made here with the
# openssl CLI, a bcrypt hash made with htpasswd, as node_exporter's docs do); Prometheus
# with two jobs for the same target, one with the right password and one with a wrong one
# (`scheme: https`, `tls_config`, `basic_auth`). Checks, each waited for, never slept for:
#   - Prometheus's query API says up == 1 for the right password and up == 0 for the wrong
#     one; curl gets 401 with WWW-Authenticate without credentials, /healthz without them;
#   - 1,000 idle connections open (python), /healthz over TLS answers within 1 s, 3 times;
#   - a second sensor with only 64 file descriptors (prlimit) and 300 client connections:
#     /healthz still answers and the sensor does not spin on accept errors (under 30% of a
#     core over 3 s; before the back-off it sat at 84% with /healthz timing out).
#
# Needs root (a network namespace, capture on its loopback) and (Debian): prometheus curl
# openssl apache2-utils (htpasswd) python3 util-linux (prlimit); the binary from
# $SPANWATCH_BIN (default target/release/spanwatch). Not root: SKIP, except under CI=true,
# where a missing prerequisite is a failure.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SPANWATCH_BIN="${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}"
case "$SPANWATCH_BIN" in /*) ;; *) SPANWATCH_BIN="$ROOT/$SPANWATCH_BIN" ;; esac

PASS=0; FAIL=0; SKIP=0
pass() { PASS=$((PASS + 1)); echo "PASS  $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL  $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/      | /' "$2" | tail -n 30; return 0; }
skip() {
    if [ "${CI:-}" = true ]; then fail "$1 (a missing prerequisite fails under CI=true)"; else SKIP=$((SKIP + 1)); echo "SKIP  $1"; fi
}
finish() { [ "$SKIP" -gt 0 ] && echo "($SKIP skipped)"; echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ "$(id -u)" != 0 ]; then skip "web TLS live test: needs root (network namespace, capture)"; finish; fi
for t in ip prometheus curl openssl htpasswd python3 prlimit; do
    command -v "$t" >/dev/null || { skip "web TLS live test: $t is not installed (see the top of $0)"; finish; }
done
[ -x "$SPANWATCH_BIN" ] || { fail "no spanwatch binary at $SPANWATCH_BIN (cargo build --release, or set SPANWATCH_BIN)"; finish; }
SUFFIX="$$$RANDOM"; SUFFIX=${SUFFIX:0:8}
NS="swweb-$SUFFIX"
if ! ip netns add "$NS" 2>/dev/null; then skip "cannot create a network namespace here"; finish; fi

TMP="$(mktemp -d /tmp/spanwatch-web.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
N() { ip netns exec "$NS" "$@"; }
ip -n "$NS" link set lo up

# ------------------------------------------------------------------ certificate, password, web config
PW="scrape-$RANDOM$RANDOM"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=spanwatch \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TMP/server.key" -out "$TMP/server.crt" >"$TMP/openssl.log" 2>&1 \
    || { fail "openssl could not make a certificate" "$TMP/openssl.log"; finish; }
HASH=$(htpasswd -nbBC 10 prometheus "$PW" | cut -d: -f2-)
# The web.yml of the DaemonSet's example Secret, with this run's hash; the certificate and
# key sit beside it under the Secret's key names, as the Secret's volume lays them out.
cp "$TMP/server.crt" "$TMP/tls.crt" && cp "$TMP/server.key" "$TMP/tls.key"
python3 - "$ROOT/deploy/kubernetes/web-config.example.yaml" "$HASH" >"$TMP/web.yml" <<'PY' \
    || { fail "deploy/kubernetes/web-config.example.yaml has no usable web.yml"; finish; }
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
web = yaml.safe_load(doc["stringData"]["web.yml"])
assert doc["kind"] == "Secret" and set(web["basic_auth_users"]) == {"prometheus"}, web
web["basic_auth_users"]["prometheus"] = sys.argv[2]
print(yaml.safe_dump(web, sort_keys=False))
PY
pass "self-signed certificate (openssl), bcrypt hash (htpasswd), web.yml of deploy/kubernetes/web-config.example.yaml"

# ------------------------------------------------------------------ the sensor
start_sensor() { # PORT LOG [prlimit args...]
    local port=$1 log=$2; shift 2
    ip netns exec "$NS" "$@" "$SPANWATCH_BIN" --quiet run --interface lo --listen "127.0.0.1:$port" \
        --web.config.file "$TMP/web.yml" >"$log" 2>&1 &
    SW_PID=$!
    PIDS+=("$SW_PID")
}
hz() { # PORT [curl args] -> body of /healthz over TLS
    local port=$1; shift
    N curl -s --cacert "$TMP/server.crt" "$@" "https://localhost:$port/healthz" --resolve "localhost:$port:127.0.0.1"
}
wait_healthy() { # PORT PID
    local i
    for i in $(seq 1 100); do
        [ "$(hz "$1" -m 1)" = ok ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
start_sensor 9617 "$TMP/spanwatch.log"
MAIN_PID=$SW_PID
if wait_healthy 9617 "$MAIN_PID"; then pass "spanwatch run --web.config.file: /healthz over TLS says ok (no credentials needed)"
else fail "spanwatch with the web config did not come up" "$TMP/spanwatch.log"; finish; fi

URL="https://localhost:9617/metrics"
RES=(--resolve "localhost:9617:127.0.0.1" --cacert "$TMP/server.crt")
code=$(N curl -s -o /dev/null -w '%{http_code}' "${RES[@]}" "$URL")
hdr=$(N curl -s -D - -o /dev/null "${RES[@]}" "$URL" | tr -d '\r' | grep -i '^www-authenticate:')
[ "$code" = 401 ] && [ -n "$hdr" ] && pass "/metrics without credentials: 401 with ${hdr}" \
    || fail "/metrics without credentials: $code, header '$hdr'"
code=$(N curl -s -o /dev/null -w '%{http_code}' "${RES[@]}" -u "prometheus:wrong" "$URL")
[ "$code" = 401 ] && pass "/metrics with a wrong password: 401" || fail "/metrics with a wrong password: $code"
code=$(N curl -s -o "$TMP/metrics.txt" -w '%{http_code}' "${RES[@]}" -u "prometheus:$PW" "$URL")
[ "$code" = 200 ] && grep -q '^spanwatch_packets_total' "$TMP/metrics.txt" \
    && pass "/metrics with the right password over TLS: 200 with metrics" || fail "/metrics with the right password: $code"
code=$(N curl -s -o /dev/null -w '%{http_code}' -m 3 "http://127.0.0.1:9617/metrics")
[ "$code" != 200 ] && pass "plain HTTP to the TLS port gets no metrics ($code)" || fail "plain HTTP answered 200 on the TLS port"

# ------------------------------------------------------------------ a real Prometheus, node_exporter-style scrape configs
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: spanwatch
    scheme: https
    tls_config:
      ca_file: $TMP/server.crt
      server_name: localhost
    basic_auth:
      username: prometheus
      password: '$PW'
    static_configs:
      - targets: ["127.0.0.1:9617"]
  - job_name: spanwatch-wrong-password
    scheme: https
    tls_config:
      ca_file: $TMP/server.crt
      server_name: localhost
    basic_auth:
      username: prometheus
      password: 'not-the-password'
    static_configs:
      - targets: ["127.0.0.1:9617"]
EOF
ip netns exec "$NS" prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address=127.0.0.1:9090 >"$TMP/prometheus.log" 2>&1 &
PIDS+=("$!")
q() { N curl -s --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query; }
val() { python3 -c 'import sys,json; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")' 2>/dev/null; }
good=none; bad=none
for _ in $(seq 1 150); do
    good=$(q 'up{job="spanwatch"}' | val); bad=$(q 'up{job="spanwatch-wrong-password"}' | val)
    [ "$good" = 1 ] && [ "$bad" = 0 ] && break
    sleep 0.2
done
[ "$good" = 1 ] && pass "Prometheus scrapes spanwatch over TLS with basic auth: up == 1" \
    || fail "up{job=\"spanwatch\"} is $good" "$TMP/prometheus.log"
[ "$bad" = 0 ] && pass "with a wrong password Prometheus fails to scrape: up == 0" \
    || fail "up{job=\"spanwatch-wrong-password\"} is $bad"
r=$(q 'spanwatch_packets_total{job="spanwatch"}' | val)
[ "$r" != none ] && pass "spanwatch_packets_total scraped over TLS ($r)" || fail "no spanwatch_packets_total in Prometheus"
r=$(N curl -s http://127.0.0.1:9090/api/v1/targets | python3 -c '
import sys, json
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    if t["labels"]["job"] == "spanwatch-wrong-password": print(t["lastError"])')
case "$r" in *401*) pass "the wrong password's scrape error is the 401: $r" ;; *) fail "unexpected scrape error for the wrong password: '$r'" ;; esac

# ------------------------------------------------------------------ 1,000 idle connections
cat >"$TMP/idle.py" <<'EOF'
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    s = socket.socket(); s.connect(("127.0.0.1", port))
    if i % 2: s.send(b"\x16\x03\x01")   # half start a TLS handshake and stall
    socks.append(s)
open(ready, "w").write(str(len(socks)))
time.sleep(120)
EOF
ip netns exec "$NS" python3 "$TMP/idle.py" 9617 1000 "$TMP/idle.ready" >"$TMP/idle.log" 2>&1 &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
for _ in $(seq 1 150); do [ -s "$TMP/idle.ready" ] && break; kill -0 "$IDLE_PID" 2>/dev/null || break; sleep 0.2; done
if [ "$(cat "$TMP/idle.ready" 2>/dev/null)" = 1000 ]; then
    ok=0
    for i in 1 2 3; do
        t=$(hz 9617 -m 1 -o /dev/null -w '%{http_code} %{time_total}')
        echo "healthz $i: $t" >>"$TMP/hz.txt"
        case "$t" in "200 "*) ok=$((ok + 1)) ;; esac
    done
    [ "$ok" = 3 ] && pass "1,000 idle connections open: /healthz over TLS answers within 1 s ($(tr '\n' ';' <"$TMP/hz.txt"))" \
        || fail "/healthz did not answer within 1 s with 1,000 idle connections" "$TMP/hz.txt"
    r=$(q 'up{job="spanwatch"}' | val)
    [ "$r" = 1 ] && pass "Prometheus still scrapes (up == 1) with 1,000 idle connections" || fail "up is $r with idle connections"
else
    fail "could not open 1,000 connections" "$TMP/idle.log"
fi
kill "$IDLE_PID" 2>/dev/null

# ------------------------------------------------------------------ out of file descriptors
start_sensor 9618 "$TMP/spanwatch-fd.log" prlimit --nofile=64:64
FD_PID=$SW_PID
if wait_healthy 9618 "$FD_PID"; then
    ip netns exec "$NS" python3 "$TMP/idle.py" 9618 300 "$TMP/fd.ready" >"$TMP/fd.log" 2>&1 &
    FDC=$!
    PIDS+=("$FDC")
    for _ in $(seq 1 150); do [ -s "$TMP/fd.ready" ] && break; kill -0 "$FDC" 2>/dev/null || break; sleep 0.2; done
    ticks() { awk '{print $14 + $15}' "/proc/$FD_PID/stat"; }
    hz_ok=0
    t0=$(ticks)
    for i in 1 2 3; do
        [ "$(hz 9618 -m 1)" = ok ] && hz_ok=$((hz_ok + 1))
        sleep 1
    done
    t1=$(ticks)
    used=$(( (t1 - t0) * 100 / $(getconf CLK_TCK) ))   # hundredths of a CPU-second over ~3 s
    [ "$hz_ok" = 3 ] && pass "out of file descriptors (64, 300 client connections): /healthz answers" \
        || fail "/healthz failed $((3 - hz_ok)) of 3 times with 64 file descriptors" "$TMP/spanwatch-fd.log"
    # The scenario must really have run out: the rate-limited accept warning says so.
    grep -q 'accept failed (out of file descriptors' "$TMP/spanwatch-fd.log" \
        && pass "descriptors really ran out (the sensor logged one rate-limited accept warning: $(grep -c 'accept failed' "$TMP/spanwatch-fd.log") line(s))" \
        || fail "the sensor never ran out of descriptors: the scenario proves nothing" "$TMP/spanwatch-fd.log"
    [ "$used" -lt 90 ] && pass "no accept spin when out of descriptors: ${used}0 ms of CPU in ~3 s" \
        || fail "the sensor used ${used}0 ms of CPU in ~3 s with descriptors exhausted (accept spin?)" "$TMP/spanwatch-fd.log"
    kill "$FDC" 2>/dev/null
else
    fail "the sensor with 64 file descriptors did not come up" "$TMP/spanwatch-fd.log"
fi

# ------------------------------------------------------------------ a bad web config is a start-up error
printf 'tls_server_config:\n  cert_file: server.crt\n  key_fil: server.key\n' >"$TMP/bad.yml"
N "$SPANWATCH_BIN" run --interface lo --listen 127.0.0.1:9619 --web.config.file "$TMP/bad.yml" >"$TMP/bad.log" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q 'bad.yml' "$TMP/bad.log" && grep -q 'key_fil' "$TMP/bad.log" \
    && pass "a web config with an unknown key: exit 2, file and key named" || fail "bad web config: exit $rc" "$TMP/bad.log"

finish
