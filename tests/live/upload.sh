#!/usr/bin/env bash
# Upload: 200 MB sent by curl (PUT) from swa to a small Python receiver in swb, for the egress
# detector. spanwatch is restarted in the middle of the upload with the same --config, whose
# [host] state_file should carry the per-host state across the restart; when this binary does not
# accept that key yet, the restart step is SKIPPED and one spanwatch run sees the whole upload.
. "$(dirname "$0")/lib.sh"
live_init upload curl python3
live_netns

bg_b receiver python3 "$LIVE_DIR/upload_receiver.py" $B4 8080
wait_port "$NS_B" 8080 || fail "upload receiver did not listen on 8080"
head -c $((200 * 1024 * 1024)) /dev/urandom >"$WORK/upload.bin"
want="$(stat -c %s "$WORK/upload.bin") $(sha256sum "$WORK/upload.bin" | cut -d' ' -f1)"

# Does this binary accept the config with [host] state_file? (exit 2 = configuration refused)
# Only swa is inside the home network, so the upload to swb leaves it. Neither run alone
# sees 140 MiB (the upload is paused once the first run has seen 80 MB, the sensor restarted,
# then the upload resumed: each run sees about half): the alert needs the counters the first
# run saved. One-hour intervals keep the upload inside one interval.
cat >"$WORK/spanwatch.toml" <<CFG
[sensor]
home_net = ["$A4/32"]
[host]
state_file = "$WORK/host-state.json"
interval_s = 3600
[host.egress]
new_host_bytes = 146800640
CFG
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))" >"$WORK/empty.pcap"
"$SPANWATCH_BIN" --config "$WORK/spanwatch.toml" --quiet replay "$WORK/empty.pcap" >"$WORK/config-check.log" 2>&1
if [ $? = 0 ]; then RESTART=1; CFG_ARGS=(--config "$WORK/spanwatch.toml"); else RESTART=0; CFG_ARGS=(); fi

record_start 600
start_spanwatch "${CFG_ARGS[@]}"
# 40 MB/s: the upload lasts about 5 s, long enough to restart the sensor in its middle.
in_a timeout 50 curl -fsS --limit-rate 40M -T "$WORK/upload.bin" -o "$WORK/upload-answer" http://$B4:8080/upload.bin &
curl_pid=$!
if [ "$RESTART" = 1 ]; then
  # Restart in the middle: once the sensor has seen 80 MB, pause curl (SIGSTOP; its TCP
  # connection stays open), restart the sensor, resume curl. What is measured is the state
  # carried across the restart, not how many bytes fly past while the sensor is down.
  wait_for 20 sw_metric_ge spanwatch_bytes_total 80000000 || fail "spanwatch did not see 80 MB of the upload within 20 s"
  # curl is a child or grandchild of the background job (in_a's subshell, ip netns exec/timeout)
  kids=$(pgrep -P "$curl_pid" | paste -sd,)
  cpid=$(pgrep -x curl -P "$curl_pid${kids:+,$kids}")
  [ -n "$cpid" ] && kill -STOP "$cpid"
  log "restarting spanwatch in the middle of the upload (curl $cpid paused)"
  stop_spanwatch
  start_spanwatch "${CFG_ARGS[@]}"
  [ -n "$cpid" ] && kill -CONT "$cpid"
else
  skip_step "restart mid-upload: this spanwatch refuses [host] state_file in --config ($(head -c 200 "$WORK/config-check.log" | tr '\n' ' '))"
fi
wait $curl_pid
check "200 MB upload received whole (byte count and SHA-256 match)" test "$(cat "$WORK/upload-answer" 2>/dev/null)" = "$want"
rm -f "$WORK/upload.bin"
record_stop
stop_spanwatch

if [ "$RESTART" = 1 ]; then
  # the upload is split between the two runs (paused while the sensor was down)
  check "flows to the receiver over both runs carried >= 190 MB to the server" python3 -c "
import json,sys
t=sum(r['flow']['bytes_toserver'] for r in map(json.loads,open('$EVE')) if r.get('event_type')=='flow' and r.get('dest_port')==8080)
print(t); sys.exit(0 if t>=190*1000*1000 else 1)"
else
  assert_eve "flow to the receiver carried >= 200 MB to the server" \
    "r.get('event_type')=='flow' and r.get('dest_port')==8080 and get(r,'flow.bytes_toserver',0) >= 200*1024*1024"
fi
assert_eve "alert category egress or exfiltration for the upload" \
  "r.get('event_type')=='alert' and get(r,'alert.category') in ('egress','exfiltration') and r.get('src_ip')=='$A4'"
if [ "$RESTART" = 1 ]; then
  check "host state file written by the restarted sensor" test -s "$WORK/host-state.json"
  check "the second run loaded the first run's host state" grep -q "host state loaded" "$WORK/spanwatch.2.log"
  check "the first run alone did not reach the egress limit" python3 -c "
import json,sys
sys.exit(0 if not any(json.loads(l).get('event_type')=='alert' and json.loads(l)['alert']['category']=='egress' for l in open('$EVE.1')) else 1)"
fi
live_finish
