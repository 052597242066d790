#!/usr/bin/env bash
# SSH: an interactive session typed key by key on a terminal, an `ssh -L` forward carrying a
# 20 MB download and two small ones and an `ssh -D` SOCKS proxy used by curl three times, all
# from swa to a real OpenSSH server in swb. The typed session must not look like a tunnel;
# both forwards must (several requests each: one download alone is shaped like a copy, see
# ssh_transfer.sh).
. "$(dirname "$0")/lib.sh"
live_init ssh openssh-server openssh-client curl python3
live_netns

# --- server side (swb): sshd with its own config and keys, an HTTP server on 127.0.0.1 only.
mkdir -p "$WORK/www"
sshd_start
head -c $((20 * 1024 * 1024)) /dev/urandom >"$WORK/www/blob20m"
head -c 100000 /dev/urandom >"$WORK/www/small"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 127.0.0.1 8000"
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000"

record_start 1200
start_spanwatch

# 1. interactive: a person typing on a terminal, one key at a time, 80-240 ms apart.
out=$(in_a timeout 60 python3 "$LIVE_DIR/type_slowly.py" --line 'uname -n' --line 'ls / | head -3' \
        --line 'id -un' --line 'echo typed by hand' --line exit -- "${SSH[@]}" -tt root@$B4 2>&1)
case $out in *"typed by hand"*root*|*root*"typed by hand"*) pass "interactive ssh session ran typed commands";;
  *) fail "interactive ssh session: $out";; esac

# 2. ssh -L: a 20 MB download from the server's 127.0.0.1:8000 through the forward.
bg_a ssh-L timeout 60 "${SSH[@]}" -N -L 127.0.0.1:18000:127.0.0.1:8000 root@$B4
wait_port "$NS_A" 18000 tcp 10 || fail "ssh -L did not open 127.0.0.1:18000"
in_a timeout 40 curl -fsS -o "$WORK/got20m" http://127.0.0.1:18000/blob20m
check "20 MB downloaded through ssh -L, bytes identical" cmp -s "$WORK/www/blob20m" "$WORK/got20m"
for i in 1 2; do
  in_a timeout 20 curl -fsS -o "$WORK/gotL$i" http://127.0.0.1:18000/small
  check "small download $i through ssh -L, bytes identical" cmp -s "$WORK/www/small" "$WORK/gotL$i"
done

# 3. ssh -D: curl through the SOCKS proxy the client offers.
bg_a ssh-D timeout 60 "${SSH[@]}" -N -D 127.0.0.1:11080 root@$B4
wait_port "$NS_A" 11080 tcp 10 || fail "ssh -D did not open 127.0.0.1:11080"
for i in 1 2 3; do
  in_a timeout 20 curl -fsS --socks5-hostname 127.0.0.1:11080 -o "$WORK/gotsmall$i" http://127.0.0.1:8000/small
  check "download $i through ssh -D SOCKS proxy, bytes identical" cmp -s "$WORK/www/small" "$WORK/gotsmall$i"
done

# Close the tunnels so their flows end with the TCP close.
kill -TERM -- "-${BG_PIDS[-1]}" "-${BG_PIDS[-2]}" 2>/dev/null

record_stop
stop_spanwatch

assert_flow ssh
assert_flow ssh "has(r,'ssh.client','OpenSSH') and get(r,'ssh.client.software_version') is not None"
assert_flow ssh "get(r,'ssh.server.software_version') is not None"
# Shape of each session: the typed one is interactive and raises nothing; the -L forward
# that carried 20 MB (and two small downloads) is forwarding with bulk data, the -D forward
# that carried three 100 kB downloads is forwarding.
assert_flow ssh "get(r,'ssh.shape')=='interactive' and get(r,'ssh.timing.keystrokes',0)>=30"
assert_alert tunnel ssh "r.get('dest_port')==2222 and get(r,'alert.signature_id')==9300003 and get(r,'alert.metadata.shape')==['bulk'] and int(get(r,'alert.metadata.bytes_toclient')[0])>20000000"
assert_alert tunnel ssh "r.get('dest_port')==2222 and get(r,'alert.signature_id')==9300004 and get(r,'alert.metadata.shape')==['forwarding'] and int(get(r,'alert.metadata.bytes_toclient')[0])<5000000"
check "no tunnel alert on the interactive session" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
typed = {r["src_port"] for r in recs if r.get("event_type") == "flow" and r.get("ssh", {}).get("shape") == "interactive"}
bad = [r for r in recs if r.get("event_type") == "alert" and r["src_port"] in typed]
print("    interactive sessions from ports", sorted(typed), "alerts on them:", [a["alert"]["signature"] for a in bad])
sys.exit(0 if typed and not bad else 1)
PY
assert_metric_ge 'spanwatch_flows_identified_total{app_proto="ssh"}' 3
live_finish
