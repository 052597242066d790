#!/usr/bin/env bash
# Live EVE is timely: alerts raised by real SSH sessions (OpenSSH in swb, `ssh` from swa; every
# SSH session alerts with detect.ssh_alert = "all", none suppressed) are all in the EVE file
# 2 s after /metrics counted them, even though the sensor is then killed with SIGKILL (no
# chance to flush at exit). A second run has its EVE file rotated (moved away, SIGHUP: opened
# again by name) and, ended by SIGTERM, writes a flow record for every flow it created over the
# two files, the SSH session still open at that moment included.
. "$(dirname "$0")/lib.sh"
live_init timely openssh-server openssh-client python3 curl
live_netns
sshd_start

cat >"$WORK/spanwatch.toml" <<'CFG'
[detect]
ssh_alert = "all"
[output]
alert_suppress_s = 0
CFG

# metric NAME: the sum of its series on the live /metrics.
metric() {
  scrape_metrics "$WORK/m.prom" || return 1
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2; f = 1 } END { if (f) printf "%d\n", s }' "$WORK/m.prom"
}
count() { python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r.get("event_type") == sys.argv[2] and (sys.argv[2] != "flow" or r["flow"]["reason"] != "active_timeout"):
        n += 1
print(n)' "$@"; }

# --- run 1: five SSH sessions, 2 s, then SIGKILL.
start_spanwatch --config "$WORK/spanwatch.toml"
EVE1=$EVE.$SW_RUNS
ok=0
for i in 1 2 3 4 5; do
  in_a timeout 20 "${SSH[@]}" root@$B4 true >>"$WORK/ssh.log" 2>&1 && ok=$((ok + 1))
done
check "five SSH sessions ran ($ok)" test "$ok" = 5
five_alerts() { local n; n=$(metric spanwatch_alerts_total) && [ "${n:-0}" -ge 5 ]; }
if wait_for 20 five_alerts; then pass "/metrics counted the five SSH alerts"
else fail "/metrics did not count five alerts within 20 s (saw $(metric spanwatch_alerts_total))"; fi
sleep 2
counted=$(metric spanwatch_alerts_total)
kill -KILL "$SW_PID"; wait "$SW_PID" 2>/dev/null; SW_PID=""
check "the EVE file of the killed sensor parses line by line" python3 "$LIVE_DIR/eve.py" valid "$EVE1"
written=$(count "$EVE1" alert)
log "alerts: $counted counted in /metrics, $written in the EVE file after SIGKILL"
check "every alert counted ($counted) is in the EVE file after SIGKILL ($written)" \
  test -n "$counted" -a "$written" -ge "$counted" -a "$counted" -ge 5

# --- run 2: three sessions and one left open, then SIGTERM: a record for every flow.
start_spanwatch --config "$WORK/spanwatch.toml"
EVE2=$EVE.$SW_RUNS
for i in 1 2 3; do in_a timeout 20 "${SSH[@]}" root@$B4 true >>"$WORK/ssh.log" 2>&1; done
three_alerts() { [ "$(count "$EVE2" alert)" -ge 3 ]; }
wait_for 10 three_alerts || fail "the three SSH alerts of run 2 did not reach the EVE file"
# logrotate's way: move the file away, SIGHUP; the sensor opens the name again.
mv "$EVE2" "$WORK/rotated.json"
kill -HUP "$SW_PID"
if wait_for 5 test -e "$EVE2"; then pass "SIGHUP: the EVE file is opened again by its name"
else fail "SIGHUP: no new EVE file 5 s after moving the old one away"; fi
bg_a ssh_open "${SSH[@]}" root@$B4 sleep 60
open_seen() { in_b ss -Htn state established "( sport = :2222 )" | grep -q .; }
wait_for 10 open_seen || fail "the long SSH session did not connect"
in_alert() { [ "$(count "$EVE2" alert)" -ge 1 ]; }
if wait_for 10 in_alert; then pass "the alert raised after the rotation is in the new EVE file"
else fail "no alert in the new EVE file after the rotation"; fi
stop_spanwatch
check "the rotated file still holds the three alerts of before, whole lines only" \
  python3 "$LIVE_DIR/eve.py" valid "$WORK/rotated.json"
check "the rotated file holds the three alerts" test "$(count "$WORK/rotated.json" alert)" = 3
created=$(awk '$1 == "spanwatch_flows_created_total" { print $2 }' "$METRICS")
records=$(( $(count "$EVE2" flow) + $(count "$WORK/rotated.json" flow) ))
log "flows: $created created, $records flow records after SIGTERM"
check "a flow record for every flow created ($created) after SIGTERM ($records)" \
  test -n "$created" -a "$created" = "$records"
assert_eve "the SSH session open at SIGTERM has its flow record (reason shutdown)" \
  "r.get('event_type')=='flow' and r.get('dest_port')==2222 and get(r,'flow.reason')=='shutdown'"
live_finish
