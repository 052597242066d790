#!/usr/bin/env bash
# The Redis and syslog sinks against a real redis-server and rsyslogd (Debian's redis-server,
# redis-tools and rsyslog), started here on free loopback ports with private configurations.
#
# `spanwatch demo` replays the built-in capture three times, each run with its EVE file and:
#   1. [output.redis] mode = "list" (RPUSH)   + [output.syslog] over UDP (imudp)
#   2. [output.redis] mode = "channel"        + [output.syslog] over TCP (imtcp, octet counting)
#   3. [output.redis] mode = "stream" (XADD)  + [output.syslog] over a private unix socket (imuxsock)
# and checks that every record of the file arrived, in order, in Redis (LRANGE; a SUBSCRIBE
# client started before the replay; XRANGE) and in rsyslog's output file (template: the
# message only), and that the sensor's counters say so (delivered = records, dropped = 0).
# Then a run with Redis unreachable: the replay still ends, the drop counter equals the records.
# (Redis stopped and restarted mid-run is tests/sinks.rs, which drives the sink directly.)
# No root needed; nothing but 127.0.0.1 is contacted.
#
# Needs: redis-server, redis-cli, rsyslogd, python3; the binary from $SPANWATCH_BIN (default
# ${CARGO_TARGET_DIR:-target}/release/spanwatch). Under CI=true a missing prerequisite fails.
set -u
NAME=sinks_live
. "$(dirname "$0")/replay_lib.sh"
for t in redis-server redis-cli rsyslogd python3; do
    command -v "$t" >/dev/null || skip "$t not installed (apt-get install redis-server redis-tools rsyslog)"
done
[ -x "$SPANWATCH_BIN" ] || { fail "no spanwatch binary at $SPANWATCH_BIN (cargo build --release)"; finish; }

work_dir spanwatch-sinks-live

RP=$(free_port); UP=$(free_udp); TP=$(free_port); DEAD=$(free_port)
RCLI=(redis-cli -h 127.0.0.1 -p "$RP")

# ------------------------------------------------------------------ servers
redis-server --bind 127.0.0.1 --port "$RP" --save "" --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
wait_for 10 "${RCLI[@]}" ping || { fail "redis-server did not start" "$TMP/redis.log"; finish; }

mkdir -p "$TMP/rs"
cat >"$TMP/rsyslog.conf" <<CONF
global(workDirectory="$TMP/rs" maxMessageSize="256k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
template(name="msgonly" type="string" string="%msg%\n")
template(name="header" type="string" string="%protocol-version% %syslogfacility-text% %syslogseverity-text% %app-name%\n")
ruleset(name="udp") {
    action(type="omfile" file="$TMP/syslog-udp.txt" template="msgonly")
    action(type="omfile" file="$TMP/syslog-udp.hdr" template="header")
}
ruleset(name="tcp") { action(type="omfile" file="$TMP/syslog-tcp.txt" template="msgonly") }
ruleset(name="unix") { action(type="omfile" file="$TMP/syslog-unix.txt" template="msgonly") }
input(type="imudp" address="127.0.0.1" port="$UP" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="$TP" ruleset="tcp")
input(type="imuxsock" socket="$TMP/log.sock" useSpecialParser="off" parseHostname="on" ruleset="unix")
CONF
rsyslogd -n -f "$TMP/rsyslog.conf" -i "$TMP/rsyslog.pid" >"$TMP/rsyslog.log" 2>&1 &
PIDS+=($!)
wait_for 10 test -S "$TMP/log.sock" || { fail "rsyslogd did not start" "$TMP/rsyslog.log"; finish; }
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $TP)).close()" \
    || { fail "rsyslogd's imtcp is not listening" "$TMP/rsyslog.log"; finish; }

# run NAME REDIS_MODE SYSLOG_TARGET [extra redis keys]: a demo replay with both sinks
run() {
    local name=$1 mode=$2 target=$3
    cat >"$TMP/$name.toml" <<CONF
[output.redis]
server = "127.0.0.1:$RP"
mode = "$mode"
key = "sw-$name"
[output.syslog]
target = "$target"
facility = "local5"
identity = "spanwatch-test"
CONF
    "$SPANWATCH_BIN" --config "$TMP/$name.toml" --eve "$TMP/$name.json" \
        --metrics-file "$TMP/$name.prom" -q demo >"$TMP/$name.log" 2>&1
}
metric() { sed -n "s/^$2{output=\"$3\"} //p" "$TMP/$1.prom"; }
# same FILE A B: the files hold the same lines, in the same order
same() { cmp -s "$2" "$3" && return 0; fail "$1" "$TMP/diff"; diff "$2" "$3" | head -5 >"$TMP/diff"; return 1; }
# lines FILE N: FILE has N lines (rsyslog writes asynchronously)
lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
check_counters() {
    local name=$1 n
    n=$(wc -l <"$TMP/$name.json")
    local rr rd sr sd
    rr=$(metric "$name" spanwatch_eve_output_records_total redis)
    rd=$(metric "$name" spanwatch_eve_output_dropped_records_total redis)
    sr=$(metric "$name" spanwatch_eve_output_records_total syslog)
    sd=$(metric "$name" spanwatch_eve_output_dropped_records_total syslog)
    if [ "$rr" = "$n" ] && [ "$rd" = 0 ] && [ "$sr" = "$n" ] && [ "$sd" = 0 ]; then
        pass "$name: counters: $n records delivered to redis and syslog, none dropped"
    else
        fail "$name: counters: file $n, redis delivered $rr dropped $rd, syslog delivered $sr dropped $sd"
    fi
}

# ------------------------------------------------------------------ 1. list + UDP
if run list list "udp:127.0.0.1:$UP"; then
    N=$(wc -l <"$TMP/list.json")
    [ "$N" -ge 20 ] || fail "list: the demo wrote only $N records"
    "${RCLI[@]}" --raw LRANGE sw-list 0 -1 >"$TMP/list.redis"
    same "list: LRANGE holds the file's $N records in order" "$TMP/list.json" "$TMP/list.redis" \
        && pass "list: LRANGE holds the file's $N records in order"
    wait_for 20 lines "$TMP/syslog-udp.txt" "$N"
    same "syslog UDP: rsyslog received the file's $N records in order" "$TMP/list.json" "$TMP/syslog-udp.txt" \
        && pass "syslog UDP: rsyslog received the file's $N records in order"
    hdr=$(sort -u "$TMP/syslog-udp.hdr")
    [ "$hdr" = "1 local5 info spanwatch-test" ] && pass "syslog: rsyslog parsed RFC 5424 (version 1, facility local5, severity info, APP-NAME spanwatch-test)" \
        || fail "syslog: rsyslog parsed the header as: $hdr"
    check_counters list
else
    fail "list: the replay failed" "$TMP/list.log"
fi

# ------------------------------------------------------------------ 2. channel + TCP
"${RCLI[@]}" --raw SUBSCRIBE sw-channel >"$TMP/channel.sub" 2>&1 &
SUB=$!; PIDS+=($SUB)
wait_for 10 sh -c "[ \"\$(${RCLI[*]} PUBSUB NUMSUB sw-channel | tail -1)\" = 1 ]" \
    || fail "channel: the subscriber did not subscribe" "$TMP/channel.sub"
if run channel channel "tcp:127.0.0.1:$TP"; then
    N=$(wc -l <"$TMP/channel.json")
    # the subscriber prints: subscribe, channel, 1, then message, channel, payload per record
    sub_payloads() { tail -n +4 "$TMP/channel.sub" | awk 'NR % 3 == 0' >"$TMP/channel.redis"; lines "$TMP/channel.redis" "$N"; }
    wait_for 20 sub_payloads
    same "channel: the subscriber got the file's $N records in order" "$TMP/channel.json" "$TMP/channel.redis" \
        && pass "channel: the subscriber got the file's $N records in order"
    wait_for 20 lines "$TMP/syslog-tcp.txt" "$N"
    same "syslog TCP (octet counting): rsyslog received the file's $N records in order" "$TMP/channel.json" "$TMP/syslog-tcp.txt" \
        && pass "syslog TCP (octet counting): rsyslog received the file's $N records in order"
    check_counters channel
else
    fail "channel: the replay failed" "$TMP/channel.log"
fi

# ------------------------------------------------------------------ 3. stream + unix socket
if run stream stream "unix:$TMP/log.sock"; then
    N=$(wc -l <"$TMP/stream.json")
    # XRANGE --raw prints: id, field, value per entry
    "${RCLI[@]}" --raw XRANGE sw-stream - + >"$TMP/stream.raw"
    awk 'NR % 3 == 0' "$TMP/stream.raw" >"$TMP/stream.redis"
    fields=$(awk 'NR % 3 == 2' "$TMP/stream.raw" | sort -u)
    same "stream: XRANGE holds the file's $N records in order" "$TMP/stream.json" "$TMP/stream.redis" \
        && pass "stream: XRANGE holds the file's $N records in order (field: $fields)"
    wait_for 20 lines "$TMP/syslog-unix.txt" "$N"
    same "syslog unix socket: rsyslog received the file's $N records in order" "$TMP/stream.json" "$TMP/syslog-unix.txt" \
        && pass "syslog unix socket: rsyslog received the file's $N records in order"
    check_counters stream
else
    fail "stream: the replay failed" "$TMP/stream.log"
fi

# ------------------------------------------------------------------ 4. Redis unreachable
cat >"$TMP/dead.toml" <<CONF
[output.redis]
server = "127.0.0.1:$DEAD"
queue_size = 8
CONF
start=$(date +%s)
if "$SPANWATCH_BIN" --config "$TMP/dead.toml" --eve "$TMP/dead.json" --metrics-file "$TMP/dead.prom" \
    -q demo >"$TMP/dead.log" 2>&1; then
    took=$(( $(date +%s) - start )); N=$(wc -l <"$TMP/dead.json")
    d=$(metric dead spanwatch_eve_output_dropped_records_total redis)
    e=$(metric dead spanwatch_eve_output_errors_total redis)
    r=$(metric dead spanwatch_eve_output_records_total redis)
    if [ "$d" = "$N" ] && [ "$r" = 0 ] && [ "${e:-0}" -ge 1 ] && [ "$took" -le 20 ]; then
        pass "Redis unreachable: the replay ends (${took}s), all $N records counted dropped, $e failed connections counted"
    else
        fail "Redis unreachable: took ${took}s, file $N, dropped $d, delivered $r, errors $e" "$TMP/dead.log"
    fi
    grep -q "retrying with back-off" "$TMP/dead.log" && pass "Redis unreachable: the failure is logged" \
        || fail "Redis unreachable: no log line about the failure" "$TMP/dead.log"
else
    fail "Redis unreachable: the replay failed to start or run" "$TMP/dead.log"
fi

# ------------------------------------------------------------------ bad configuration
printf '[output.redis]\nserver = "127.0.0.1:6379"\nmode = "queue"\n' >"$TMP/bad.toml"
"$SPANWATCH_BIN" --config "$TMP/bad.toml" --eve /dev/null -q demo >"$TMP/bad.log" 2>&1; rc=$?
if [ "$rc" = 2 ] && grep -q "output.redis.mode" "$TMP/bad.log"; then
    pass "unknown Redis mode: exit 2, the key named"
else
    fail "unknown Redis mode: exit $rc" "$TMP/bad.log"
fi
finish
