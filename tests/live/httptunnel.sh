#!/usr/bin/env bash
# A byte stream carried in HTTP requests: httptunnel's `hts` in swb on 8888 forwards to
# OpenSSH's sshd (127.0.0.1:2222); `htc` in swa offers 127.0.0.1:2022 and carries it to swb:8888
# as a POST with a large Content-Length (client to server) and a GET whose answer never ends
# (server to client). An `ssh -tt` session typed key by key and a short `ssh ... true` cross it.
# A plain HTTP server on 8000 in swb is fetched and posted to by curl (the negative control):
# those requests must raise nothing.
. "$(dirname "$0")/lib.sh"
live_init httptunnel httptunnel openssh-server openssh-client curl python3
live_netns

sshd_start 127.0.0.1
SSHT=()
for o in "${SSH[@]}"; do [ "$o" = 2222 ] && o=2022; SSHT+=("$o"); done
mkdir -p "$WORK/www"
head -c 60000 /dev/urandom >"$WORK/www/file"
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind $B4 8000"
bg_b hts hts --no-daemon -F 127.0.0.1:2222 8888
bg_a htc htc --no-daemon -F 2022 $B4:8888
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000"
wait_port "$NS_B" 8888 || { fail "hts did not listen on 8888"; tail "$WORK/hts.log"; }
wait_port "$NS_A" 2022 || { fail "htc did not listen on 2022"; tail "$WORK/htc.log"; }

record_start 900 ${SPANWATCH_LIVE_SNAPLEN:-256}
start_spanwatch

out=$(in_a timeout 60 python3 "$LIVE_DIR/type_slowly.py" --line 'uname -n' --line 'id -un' \
        --line 'echo typed through http' --line exit -- "${SSHT[@]}" -tt root@127.0.0.1 2>&1)
case $out in *"typed through http"*) pass "interactive ssh session through httptunnel ran typed commands";;
  *) fail "interactive ssh session through httptunnel: $out";; esac
# the negative control: ordinary downloads and an upload with a body that is all sent
for i in 1 2; do
  in_a timeout 20 curl -fsS -o "$WORK/got-$i" http://$B4:8000/file
  check "HTTP download $i, bytes identical" cmp -s "$WORK/www/file" "$WORK/got-$i"
done
in_a timeout 20 curl -sS -o /dev/null --data-binary @"$WORK/www/file" http://$B4:8000/upload || true

record_stop
stop_spanwatch

assert_alert tunnel '*' "get(r,'alert.signature_id')==9400013 and r.get('dest_port')==8888 and float(get(r,'alert.metadata.confidence')[0])>=60"
check "no alert on the ordinary HTTP requests (8000)" python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = [r["alert"]["signature"] for r in recs if r.get("event_type") == "alert" and r.get("dest_port") == 8000]
print("    alerts on 8000:", bad)
sys.exit(1 if bad else 0)
PY
live_finish
