#!/usr/bin/env bash
# Pseudonymized accounts reach a real Alertmanager: one Kerberos account (dave) authenticates
# from four networks, spanwatch runs live on veth-a with [privacy] pseudonymize_accounts = true
# and pushes to Alertmanager (the prometheus-alertmanager Debian package, in swa on loopback,
# started as tests/deploy/e2e.sh does). Alertmanager's API (/api/v2/alerts) must hold the
# account alert with the pseudonym in its `account` label — `anon-` and the first 16 hex
# digits of HMAC-SHA256(key, "dave@EXAMPLE.TEST") with the key file's bytes — and the clear
# name in no label or annotation. The sensor is then restarted (no state file: nothing is
# carried over but the key) and dave authenticates from four other networks: the second
# run's alert carries the same pseudonym.
#
# Root and network namespaces; Debian packages: krb5-kdc krb5-user prometheus-alertmanager
# curl python3.
. "$(dirname "$0")/lib.sh"
live_init account_pseudonym krb5-kdc krb5-user prometheus-alertmanager curl python3
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager) || skip "no alertmanager binary"
live_netns

kdc_start dave || live_finish
# run 1 from 10.79.{1,2,3,4}.9, run 2 from 10.79.{5,6,7,8}.9: eight networks
for n in 1 2 3 4 5 6 7 8; do in_a ip addr add 10.79.$n.9/32 dev veth-a; done
in_b ip route add 10.79.0.0/16 dev veth-b

# --- Alertmanager in swa (loopback), a receiver that drops notifications ---------------
AM=127.0.0.1:9093
cat >"$WORK/alertmanager.yml" <<CFG
route:
  receiver: drop
  group_wait: 1s
receivers:
  - name: drop
CFG
bg_a alertmanager "$AM_BIN" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am" \
  --web.listen-address=$AM --cluster.listen-address=
am_ready() { in_a curl -fs "http://$AM/-/ready" >/dev/null; }
if wait_for 30 am_ready; then pass "alertmanager ready in $NS_A"
else fail "alertmanager did not start"; tail -5 "$WORK/alertmanager.log"; live_finish; fi

# --- the key and spanwatch's configuration ---------------------------------------------
head -c 32 /dev/urandom | base64 >"$WORK/pseudonym.key"
chmod 600 "$WORK/pseudonym.key"
WANT=$(python3 -c "
import hmac, hashlib, sys
key = open(sys.argv[1], 'rb').read().rstrip(b'\r\n')
print('anon-' + hmac.new(key, b'dave@EXAMPLE.TEST', hashlib.sha256).hexdigest()[:16])
" "$WORK/pseudonym.key")
cat >"$WORK/spanwatch.toml" <<CFG
[flow]
udp_timeout_s = 2
[privacy]
pseudonymize_accounts = true
key_file = "$WORK/pseudonym.key"
[alertmanager]
urls = ["http://$AM"]
CFG

# am_alerts: the account alerts Alertmanager holds, one JSON object per line
am_alerts() {
  in_a curl -fsS "http://$AM/api/v2/alerts" 2>/dev/null | python3 -c "
import json, sys
for a in json.load(sys.stdin):
    if a['labels'].get('category') == 'account':
        print(json.dumps(a))
"
}
# am_account_alert RE: Alertmanager holds an account alert raised on a flow from a source
# matching RE (which of the four logins trips it depends on the order their flows end)
am_account_alert() { am_alerts | grep -Eq "\"src_ip\": \"$1\""; }

login_round() { # login_round FIRST-NETWORK: dave from four networks
  local n
  for n in $(seq "$1" $(($1 + 3))); do check "kinit dave from 10.79.$n.9" kinit_from 10.79.$n.9 dave; done
}

start_spanwatch --config "$WORK/spanwatch.toml"
login_round 1
if wait_for 30 am_account_alert "10\\.79\\.[1-4]\\.9"; then pass "run 1: Alertmanager holds the account alert"
else fail "run 1: no account alert in Alertmanager within 30 s"; am_alerts | sed 's/^/    am: /'; fi
stop_spanwatch

start_spanwatch --config "$WORK/spanwatch.toml"
login_round 5
if wait_for 30 am_account_alert "10\\.79\\.[5-8]\\.9"; then pass "run 2: Alertmanager holds the account alert"
else fail "run 2: no account alert in Alertmanager within 30 s"; am_alerts | sed 's/^/    am: /'; fi
stop_spanwatch
in_a ip route del $B4/32 2>/dev/null

am_alerts >"$WORK/am-alerts.jsonl"
check "both runs' alerts carry the pseudonym $WANT in their account label, and nothing names dave" \
  python3 - "$WORK/am-alerts.jsonl" "$WANT" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
want = sys.argv[2]
# one alert per run: run 1's logins came from 10.79.1-4.9, run 2's from 10.79.5-8.9
nets = sorted(int(a['labels']['src_ip'].split('.')[2]) > 4 for a in alerts)
ok = nets == [False, True]
for a in alerts:
    l = a['labels']
    ok &= l.get('account') == want and l.get('signature_id') == '9300080'
    ok &= 'dave' not in json.dumps(a).lower()
if not ok:
    print(json.dumps(alerts, indent=1), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
assert_alert account "*" "get(r,'alert.signature_id')==9300080 and get(r,'alert.metadata.account')==['$WANT'] and len(get(r,'alert.metadata.networks'))==4"
check "both runs' EVE name the account by the same pseudonym" python3 - "$EVE.1" "$EVE.2" "$WANT" <<'PY'
import json, sys
want = sys.argv[3]
for path in sys.argv[1:3]:
    recs = [json.loads(l) for l in open(path)]
    accts = {r.get('account') for r in recs if r.get('app_proto') == 'krb5' and r.get('event_type') == 'flow'}
    if accts != {want}:
        sys.exit(f"{path}: accounts {accts}")
PY
fails() { ! "$@"; }
check "no clear account name in EVE" fails grep -q -e 'dave@' -e '"cname":"dave"' "$EVE"
check "no clear account name in the metrics" fails grep -q dave "$METRICS"
live_finish
