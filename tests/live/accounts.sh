#!/usr/bin/env bash
# Accounts: one Kerberos account from four networks reaches Alertmanager with the account in
# its labels; another from four addresses of one network raises nothing; a third that
# requires pre-authentication, given a wrong password 12 times from three addresses
# (KDC_ERR_PREAUTH_FAILED), raises the failed-logins alert. An MIT Kerberos KDC
# in swb; kinit in swa from client addresses 10.78.N.M (the route to the KDC names the source
# address); spanwatch runs live on veth-a with [host.accounts] defaults and an Alertmanager
# stand-in (a Python listener in swa that keeps what it is sent).
. "$(dirname "$0")/lib.sh"
live_init accounts krb5-kdc krb5-user curl python3
live_netns

# --- KDC in swb, principals alice and bob, carol with pre-authentication ----------------
kdc_start alice bob carol+ || live_finish

# --- client addresses: 10.78.1.1-4 (one network) and 10.78.{1,2,3,4}.9 (four) --------
for a in 10.78.1.1 10.78.1.2 10.78.1.3 10.78.1.4 10.78.1.9 10.78.2.9 10.78.3.9 10.78.4.9 \
         10.78.5.1 10.78.5.2 10.78.5.3; do
  in_a ip addr add $a/32 dev veth-a
done
in_b ip route add 10.78.0.0/16 dev veth-b

# --- Alertmanager stand-in in swa: every POST body, one per line -----------------------
AM_PORT=9095
bg_a am python3 -c "
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open('$WORK/am.jsonl', 'ab') as f:
            f.write(body.replace(b'\n', b' ') + b'\n')
        self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', $AM_PORT), H).serve_forever()
"
wait_port "$NS_A" $AM_PORT tcp 10 || fail "Alertmanager stand-in did not listen"
cat >"$WORK/spanwatch.toml" <<CFG
[flow]
udp_timeout_s = 2
[alertmanager]
urls = ["http://127.0.0.1:$AM_PORT"]
CFG
start_spanwatch --config "$WORK/spanwatch.toml"

# the Kerberos exchanges, kept as tests/fixtures/live-accounts.pcap with SPANWATCH_LIVE_RECORD=1
record_start 400 2000 port 88
for a in 10.78.1.1 10.78.1.2 10.78.1.3 10.78.1.4; do check "kinit bob from $a" kinit_from $a bob; done
for a in 10.78.1.9 10.78.2.9 10.78.3.9 10.78.4.9; do check "kinit alice from $a" kinit_from $a alice; done
wrong_pw() { ! kinit_from "$1" carol not-carol-pw; } # kinit must refuse
for i in 1 2 3 4; do
  for a in 10.78.5.1 10.78.5.2 10.78.5.3; do check "kinit carol from $a, wrong password ($i)" wrong_pw $a; done
done
in_a ip route del $B4/32 2>/dev/null

am_has() { [ -s "$WORK/am.jsonl" ] && grep -q '"account":"alice@EXAMPLE.TEST"' "$WORK/am.jsonl"; }
if wait_for 30 am_has; then pass "Alertmanager received the account alert"; else fail "Alertmanager received the account alert"; fi
am_failed() { [ -s "$WORK/am.jsonl" ] && grep -q '"account":"carol@EXAMPLE.TEST"' "$WORK/am.jsonl"; }
if wait_for 30 am_failed; then pass "Alertmanager received the failed-logins alert"; else fail "Alertmanager received the failed-logins alert"; fi
check "its labels name the account and the category" python3 -c "
import json, sys
ok = False
for line in open('$WORK/am.jsonl'):
    for a in json.loads(line):
        l = a.get('labels', {})
        if l.get('category') == 'account' and l.get('account') == 'alice@EXAMPLE.TEST':
            ok = True
        if l.get('account') == 'bob@EXAMPLE.TEST':
            sys.exit('an alert for bob, who used one network')
sys.exit(0 if ok else 1)
"
stop_spanwatch
assert_flow krb5 "get(r,'account')=='bob@EXAMPLE.TEST' and get(r,'krb5.cname')=='bob'"
assert_alert account "*" "get(r,'alert.metadata.account')==['alice@EXAMPLE.TEST'] and len(get(r,'alert.metadata.networks'))==4"
fails() { ! "$@"; }
check "no account alert for bob (one network)" fails python3 "$LIVE_DIR/eve.py" any "$EVE" \
  "r.get('event_type')=='alert' and 'bob@' in str(get(r,'alert.metadata'))"
assert_metric '^spanwatch_account_anomalies_total\{kind="networks"\} 1$'
assert_metric '^spanwatch_account_anomalies_total\{kind="failed-logins"\} 1$'
assert_metric '^spanwatch_accounts_tracked 3$'
assert_flow krb5 "get(r,'account')=='carol@EXAMPLE.TEST' and get(r,'krb5.error_code')==24 and get(r,'krb5.failed_request')==True"
assert_alert account "*" "get(r,'alert.signature_id')==9300083 and get(r,'alert.metadata.account')==['carol@EXAMPLE.TEST'] and len(get(r,'alert.metadata.sources'))==3"
check "no password in EVE" fails grep -q -e alice-pw -e bob-pw -e carol-pw "$EVE"
live_finish
