# shellcheck shell=bash
# Helpers for the live scenarios. Source it first thing in each tests/live/<name>.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   live_init NAME pkg1 pkg2 ...        # skip unless root, ip netns works, packages present
#   live_netns                          # swa-<id> / swb-<id> joined by veth-a <-> veth-b
#   record_start 1200                   # tcpdump on veth-a (fixture when SPANWATCH_LIVE_RECORD=1)
#   start_spanwatch                     # in swa, capturing veth-a; waits for /healthz = ok
#   ... servers in swb (bg_b), clients in swa (in_a) ...
#   stop_spanwatch                      # SIGTERM, wait for exit, EVE and metrics written
#   assert_flow ssh; assert_alert tunnel ssh-tunnel; assert_metric 'regex'
#   live_finish                         # prints "live NAME: N passed, M failed", exit 0/1
#
# Topology: swa holds veth-a (10.77.0.1/24, fd77::1/64), swb holds veth-b (10.77.0.2/24,
# fd77::2/64). spanwatch runs inside swa and captures veth-a, so it sees every packet between the
# two "hosts". Nothing leaves the two namespaces this script creates.
#
# Environment:
#   SPANWATCH_BIN          the binary (default ${CARGO_TARGET_DIR:-target}/release/spanwatch,
#                          relative paths from the repo root)
#   CI                     true: a scenario that cannot run here (not root, a package or the
#                          binary missing) FAILS instead of printing SKIPPED
#   SPANWATCH_LIVE_RECORD  1: write the tcpdump recording to tests/fixtures/live-NAME.pcap
#   SPANWATCH_LIVE_KEEP    1: keep the work folder (EVE, metrics, logs) even when all passed
#   SPANWATCH_LIVE_TIMEOUT whole-script watchdog in seconds (default 150)

set -uo pipefail

LIVE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIVE_DIR/../.." && pwd)
SPANWATCH_BIN=${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}
[[ $SPANWATCH_BIN = /* ]] || SPANWATCH_BIN=$REPO_ROOT/$SPANWATCH_BIN

LIVE_NAME=unnamed
PASSED=0
FAILED=0
SKIPPED_STEPS=0
NS_A="" NS_B=""
SW_PID="" REC_PID="" WATCHDOG_PID=""
BG_PIDS=()
EXIT_CMDS=()   # on_exit: commands run at cleanup (after every process is gone)
WORK=""
LIVE_SUFFIX="$$$RANDOM"
LIVE_SUFFIX=${LIVE_SUFFIX:0:8}
A4=10.77.0.1 B4=10.77.0.2 A6=fd77::1 B6=fd77::2
SW_LISTEN=127.0.0.1:9617
EVE="" METRICS=""

# The scenario's own stdout and stderr, kept as fds 3 and 4: a trap can fire while a function
# runs with its output redirected to a log (in_a ... >file), and what the traps print must still
# reach the terminal.
exec 3>&1 4>&2
log() { printf '[%s %s] %s\n' "$LIVE_NAME" "$(date +%H:%M:%S)" "$*" >&4; }

# skip REASON: the whole scenario cannot run here. Exit 0 (a machine without root stays
# green), except under CI=true, where a missing prerequisite is a failure.
skip() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL - live $LIVE_NAME cannot run under CI=true: $*" >&3
    echo "live $LIVE_NAME: 0 passed, 1 failed" >&3
    RESULT_PRINTED=1
    trap - EXIT
    live_cleanup
    exit 1
  fi
  echo "SKIPPED: live $LIVE_NAME: $*" >&3
  echo "live $LIVE_NAME: 0 passed, 0 failed" >&3
  RESULT_PRINTED=1
  trap - EXIT
  live_cleanup
  exit 0
}

# skip_step REASON: one step cannot run; the rest of the scenario goes on (a failure under CI=true).
skip_step() {
  if [ "${CI:-}" = true ]; then fail "cannot run under CI=true: $*"; return 0; fi
  echo "SKIPPED: $*"; SKIPPED_STEPS=$((SKIPPED_STEPS + 1))
}

pass() { echo "ok - $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL - $*"; FAILED=$((FAILED + 1)); }

# check DESC CMD...: pass if CMD succeeds.
check() {
  local desc=$1; shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# live_init NAME [package...]
live_init() {
  LIVE_NAME=$1; shift
  [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, live capture)"
  command -v ip >/dev/null || skip "iproute2 (ip) not installed"
  command -v python3 >/dev/null || skip "python3 not installed"
  local p missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]} == 0)) || skip "Debian package(s) not installed: ${missing[*]} (tests/live/packages.txt)"
  [ -x "$SPANWATCH_BIN" ] || skip "spanwatch binary not found at $SPANWATCH_BIN (cargo build --release, or set SPANWATCH_BIN)"
  local probe="swprobe-$LIVE_SUFFIX"
  ip netns add "$probe" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN or no network namespaces here)"
  ip netns del "$probe" 2>/dev/null
  WORK=$(mktemp -d "/tmp/spanwatch-live-$LIVE_NAME.XXXXXX")
  chmod 755 "$WORK"
  EVE=$WORK/eve.json
  METRICS=$WORK/metrics.prom
  trap live_exit EXIT
  trap 'log "interrupted"; exit 130' INT TERM
  local limit=${SPANWATCH_LIVE_TIMEOUT:-150}
  ( sleep "$limit" </dev/null >/dev/null 2>&1 3>&- 4>&-; echo "FAIL - watchdog: scenario $LIVE_NAME still running after ${limit}s" >&3; kill -TERM $$ ) 2>/dev/null &
  WATCHDOG_PID=$!
  log "work folder $WORK"
}

# live_netns: the two hosts and the veth pair between them.
live_netns() {
  NS_A="swa-$LIVE_SUFFIX" NS_B="swb-$LIVE_SUFFIX"
  ip netns add "$NS_A" || skip "ip netns add $NS_A failed"
  ip netns add "$NS_B" || skip "ip netns add $NS_B failed"
  # Created straight inside the namespaces: no name is ever taken in the root namespace.
  ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B" || skip "cannot create a veth pair"
  ip -n "$NS_A" link set lo up
  ip -n "$NS_B" link set lo up
  ip -n "$NS_A" addr add $A4/24 dev veth-a
  ip -n "$NS_B" addr add $B4/24 dev veth-b
  ip -n "$NS_A" -6 addr add $A6/64 dev veth-a nodad
  ip -n "$NS_B" -6 addr add $B6/64 dev veth-b nodad
  # No offloads: the capture then sees wire-sized segments, as a SPAN port would.
  ip netns exec "$NS_A" sh -c 'command -v ethtool >/dev/null && ethtool -K veth-a tso off gso off gro off >/dev/null 2>&1' || true
  ip netns exec "$NS_B" sh -c 'command -v ethtool >/dev/null && ethtool -K veth-b tso off gso off gro off >/dev/null 2>&1' || true
  ip -n "$NS_A" link set veth-a up
  ip -n "$NS_B" link set veth-b up
  local i
  for i in $(seq 1 50); do
    ip netns exec "$NS_A" ping -c1 -W1 $B4 >/dev/null 2>&1 && break
    sleep 0.1
  done
  ip netns exec "$NS_A" ping -c1 -W1 $B4 >/dev/null 2>&1 || skip "veth pair between $NS_A and $NS_B does not pass traffic"
}

# in_a CMD... / in_b CMD...: run in host A / host B (foreground; wrap in timeout yourself).
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# bg_a NAME CMD... / bg_b NAME CMD...: a background process in A / B, output to $WORK/NAME.log.
# Each gets its own session (setsid) so cleanup can end its whole process group.
bg_a() { local n=$1; shift; setsid ip netns exec "$NS_A" "$@" >"$WORK/$n.log" 2>&1 </dev/null & BG_PIDS+=($!); }
bg_b() { local n=$1; shift; setsid ip netns exec "$NS_B" "$@" >"$WORK/$n.log" 2>&1 </dev/null & BG_PIDS+=($!); }

# wait_port NS PORT [tcp|udp] [seconds]: wait until something listens on PORT inside NS.
wait_port() {
  local ns=$1 port=$2 proto=${3:-tcp} secs=${4:-10} i flag=-ltn
  [ "$proto" = udp ] && flag=-lun
  for i in $(seq 1 $((secs * 10))); do
    ip netns exec "$ns" ss -H $flag "sport = :$port" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
  local secs=$1 i; shift
  for i in $(seq 1 $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# record_start [MAXPACKETS] [SNAPLEN] [BPF...]: tcpdump on veth-a from inside swa.
record_start() {
  local count=${1:-1200} snap=${2:-200}; shift 2 2>/dev/null || shift $#
  command -v tcpdump >/dev/null || { skip_step "recording: tcpdump not installed"; return 0; }
  REC_FILE=$WORK/live-$LIVE_NAME.pcap
  # -Z root: tcpdump otherwise drops to user tcpdump, which may not write the work folder.
  setsid ip netns exec "$NS_A" timeout 300 tcpdump -Z root -n -U --immediate-mode -i veth-a -s "$snap" -c "$count" -w "$REC_FILE" "$@" \
    >"$WORK/tcpdump.log" 2>&1 </dev/null &
  REC_PID=$!
  wait_for 5 grep -q "listening on" "$WORK/tcpdump.log" || log "tcpdump did not report listening"
}

record_stop() {
  [ -n "$REC_PID" ] || return 0
  settle_capture
  kill -INT "$REC_PID" 2>/dev/null
  local i
  for i in $(seq 1 50); do kill -0 "$REC_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$REC_PID" 2>/dev/null
  wait "$REC_PID" 2>/dev/null
  REC_PID=""
  if [ -s "$REC_FILE" ]; then
    if [ "${SPANWATCH_LIVE_RECORD:-0}" = 1 ]; then
      mkdir -p "$REPO_ROOT/tests/fixtures"
      cp "$REC_FILE" "$REPO_ROOT/tests/fixtures/live-$LIVE_NAME.pcap"
      log "fixture written: tests/fixtures/live-$LIVE_NAME.pcap ($(stat -c %s "$REC_FILE") bytes)"
    fi
  fi
}

healthz_ok() { [ "$(ip netns exec "$NS_A" curl -fsS --max-time 1 "http://$SW_LISTEN/healthz" 2>/dev/null)" = ok ]; }

# start_spanwatch [extra args...]: spanwatch run in swa on veth-a (or on $SW_IFACE, e.g. a
# comma-separated list); waits for /healthz = ok.
SW_RUNS=0
start_spanwatch() {
  SW_RUNS=$((SW_RUNS + 1))
  ip netns exec "$NS_A" "$SPANWATCH_BIN" run --interface "${SW_IFACE:-veth-a}" --eve "$EVE.$SW_RUNS" \
    --metrics-file "$METRICS.$SW_RUNS" --listen "$SW_LISTEN" "$@" >"$WORK/spanwatch.$SW_RUNS.log" 2>&1 </dev/null &
  SW_PID=$!
  SW_T0=$(date +%s.%N)
  if wait_for 15 healthz_ok; then
    pass "spanwatch run #$SW_RUNS: /healthz says ok"
    sw_base_mark
  else
    fail "spanwatch run #$SW_RUNS: /healthz did not say ok within 15 s"
    sed 's/^/    spanwatch: /' "$WORK/spanwatch.$SW_RUNS.log" | tail -20
  fi
}

# scrape_metrics FILE: the live /metrics of the running spanwatch.
scrape_metrics() { ip netns exec "$NS_A" curl -fsS --max-time 3 "http://$SW_LISTEN/metrics" >"$1"; }

# sw_metric NAME: the value of an unlabelled series of the running spanwatch ("" if none).
sw_metric() {
  ip netns exec "$NS_A" curl -fsS --max-time 1 "http://$SW_LISTEN/metrics" 2>/dev/null | sed -n "s/^$1 //p"
}
# sw_metric_ge NAME MIN: that value is >= MIN.
sw_metric_ge() { local v; v=$(sw_metric "$1"); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if $v >= $2 else 1)"; }

# if_packets: packets veth-a has sent and received (what the capture on it sees).
if_packets() { ip netns exec "$NS_A" sh -c 'echo $(( $(cat /sys/class/net/veth-a/statistics/rx_packets) + $(cat /sys/class/net/veth-a/statistics/tx_packets) ))'; }
# sw_base_mark: remember both counters (spanwatch's first, then the interface's), so that
# settle_capture knows how many packets spanwatch must have read by a later point.
SW_BASE_SW=0 SW_BASE_IF=0
sw_base_mark() { SW_BASE_SW=$(sw_metric spanwatch_packets_total); SW_BASE_SW=${SW_BASE_SW:-0}; SW_BASE_IF=$(if_packets); }
# settle_capture: wait until the running spanwatch has read every packet that crossed veth-a
# so far (its packet counter plus the kernel's drops has caught up with the interface's
# counters since start_spanwatch), at most 15 s.
settle_capture() {
  [ -n "$SW_PID" ] || return 0
  local want cur drops i
  want=$(( SW_BASE_SW + $(if_packets) - SW_BASE_IF ))
  for i in $(seq 1 75); do
    cur=$(sw_metric spanwatch_packets_total)
    drops=$(sw_metric spanwatch_capture_kernel_dropped_packets_total)
    [ -n "$cur" ] && [ $(( ${cur%.*} + ${drops:-0} )) -ge "$want" ] && return 0
    sleep 0.2
  done
  log "spanwatch read ${cur:-?} packets (+${drops:-?} dropped) of the $want that crossed veth-a, after 15 s"
}

# stop_spanwatch: SIGTERM, wait (20 s) for exit 0; EVE and metrics of all runs so far are joined
# into $EVE and $METRICS (metrics: the last run's).
stop_spanwatch() {
  [ -n "$SW_PID" ] || return 0
  # Let the last packets of the clients reach the capture (SW_SETTLE=0: stop at once).
  [ "${SW_SETTLE:-1}" = 0 ] || settle_capture
  kill -TERM "$SW_PID" 2>/dev/null
  local i rc
  for i in $(seq 1 200); do kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SW_PID" 2>/dev/null; then
    fail "spanwatch run #$SW_RUNS did not exit within 20 s of SIGTERM"
    kill -KILL "$SW_PID" 2>/dev/null
  fi
  wait "$SW_PID"; rc=$?
  SW_PID=""
  # the summary's "in N s" is the wall time the sensor ran (within 2 s)
  local ran said
  ran=$(python3 -c "import time; print(round(time.time() - $SW_T0, 2))")
  said=$(sed -n 's/^packets .* in \([0-9.]*\)s, .*/\1/p' "$WORK/spanwatch.$SW_RUNS.log" | tail -1)
  if [ -n "$said" ]; then
    check "spanwatch run #$SW_RUNS: the summary says it ran ${said}s (wall time ${ran}s)" \
      python3 -c "import sys; sys.exit(0 if abs($said - $ran) <= 2 else 1)"
  fi
  if [ "$rc" = 0 ]; then pass "spanwatch run #$SW_RUNS exited 0 on SIGTERM"; else
    fail "spanwatch run #$SW_RUNS exit status $rc"; sed 's/^/    spanwatch: /' "$WORK/spanwatch.$SW_RUNS.log" | tail -20; fi
  cat "$EVE".[0-9]* >"$EVE" 2>/dev/null
  cp "$METRICS.$SW_RUNS" "$METRICS" 2>/dev/null
  check "spanwatch run #$SW_RUNS wrote EVE JSON lines that all parse" \
    python3 "$LIVE_DIR/eve.py" valid "$EVE.$SW_RUNS"
  check "spanwatch run #$SW_RUNS wrote the metrics file" test -s "$METRICS.$SW_RUNS"
}

# assert_eve DESC PYTHON-EXPR: some EVE record r satisfies the expression. Helpers in the
# expression: get(r, "a.b.c"), has(r, "a.b", "text") (text anywhere in that subtree's JSON).
assert_eve() {
  local desc=$1 expr=$2
  if python3 "$LIVE_DIR/eve.py" any "$EVE" "$expr"; then pass "$desc"; else fail "$desc"; fi
}

# assert_flow APP_PROTO [PYTHON-EXPR]: a flow record with that app_proto (and the expression).
assert_flow() {
  local proto=$1 extra=${2:-True}
  assert_eve "flow with app_proto $proto${2:+ and $2}" \
    "r.get('event_type')=='flow' and r.get('app_proto')=='$proto' and ($extra)"
}

# assert_alert CATEGORY APP [PYTHON-EXPR]: an alert of that category whose app is APP
# (APP may be "*" for any).
assert_alert() {
  local cat=$1 app=$2 extra=${3:-True} appexpr="True"
  [ "$app" = "*" ] || appexpr="r.get('app')=='$app'"
  assert_eve "alert category $cat, app $app${3:+ and $3}" \
    "r.get('event_type')=='alert' and get(r,'alert.category')=='$cat' and $appexpr and ($extra)"
}

# assert_metric REGEX [FILE]: a line of the final metrics file matches the (Python) regex.
assert_metric() {
  local re=$1 file=${2:-$METRICS}
  if python3 "$LIVE_DIR/eve.py" metric "$file" "$re"; then pass "metric matches /$re/"; else fail "metric matches /$re/"; fi
}

# assert_metric_ge 'name{label="v",...}' MIN [FILE]: the sum over series with those labels >= MIN.
assert_metric_ge() {
  local sel=$1 min=$2 file=${3:-$METRICS}
  if python3 "$LIVE_DIR/eve.py" metric_ge "$file" "$sel" "$min"; then pass "metric $sel >= $min"; else fail "metric $sel >= $min"; fi
}

# eve_summary: what spanwatch did see, printed after the assertions to explain a failure.
eve_summary() { [ -s "$EVE" ] && python3 "$LIVE_DIR/eve.py" summary "$EVE" | sed 's/^/    seen: /'; }

# on_exit CMD...: run CMD (one string, through bash) at cleanup, e.g. to remove a user created here.
on_exit() { EXIT_CMDS+=("$*"); }

live_cleanup() {
  local p ns
  [ -n "$REC_PID" ] && kill -INT "$REC_PID" 2>/dev/null
  [ -n "$SW_PID" ] && kill -TERM "$SW_PID" 2>/dev/null
  for p in "${BG_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
  # Everything still running inside our own namespaces is ours: end it by pid.
  for ns in "$NS_A" "$NS_B"; do
    [ -n "$ns" ] && ip netns pids "$ns" 2>/dev/null | xargs -r kill -TERM 2>/dev/null
  done
  sleep 0.3
  for ns in "$NS_A" "$NS_B"; do
    [ -n "$ns" ] && ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  for p in "${BG_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
  [ -n "$SW_PID" ] && { kill -KILL "$SW_PID" 2>/dev/null; wait "$SW_PID" 2>/dev/null; }
  for ns in "$NS_A" "$NS_B"; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done
  local c
  for c in "${EXIT_CMDS[@]}"; do bash -c "$c" || log "cleanup step failed: $c"; done
  EXIT_CMDS=()
  [ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
  WATCHDOG_PID=""
  return 0
}

RESULT_PRINTED=0
live_exit() {
  local rc=$?
  live_cleanup
  if [ "$RESULT_PRINTED" = 0 ]; then
    [ "$rc" = 0 ] || { FAILED=$((FAILED + 1)); echo "FAIL - scenario ended early (exit $rc)" >&3; }
    echo "live $LIVE_NAME: $PASSED passed, $FAILED failed" >&3
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$FAILED" = 0 ] && [ "$rc" = 0 ] && [ "${SPANWATCH_LIVE_KEEP:-0}" != 1 ]; then rm -rf "$WORK"
    else log "kept $WORK (EVE, metrics, server and client logs)"; fi
  fi
}

# live_finish: the one result line; exit 1 if anything failed.
live_finish() {
  record_stop
  [ -n "$SW_PID" ] && stop_spanwatch
  eve_summary
  echo "live $LIVE_NAME: $PASSED passed, $FAILED failed"
  RESULT_PRINTED=1
  [ "$FAILED" = 0 ]
  exit $?
}

# sshd_start [LISTEN-ADDR...]: OpenSSH's sshd in swb on port 2222 with its own config, host key
# and a client key made here (key auth as root only). Sets SSH=(ssh ... options) for clients.
sshd_start() {
  local a
  mkdir -p "$WORK/ssh" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/id_ed25519"
  cp "$WORK/ssh/id_ed25519.pub" "$WORK/ssh/authorized_keys"
  {
    echo "Port 2222"
    for a in "${@:-$B4}"; do echo "ListenAddress $a"; done
    cat <<CFG
HostKey $WORK/ssh/host_ed25519
PidFile $WORK/ssh/sshd.pid
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
PrintMotd no
CFG
  } >"$WORK/ssh/sshd_config"
  bg_b sshd /usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config"
  wait_port "$NS_B" 2222 tcp 10 || { fail "sshd did not listen on 2222"; sed 's/^/    sshd: /' "$WORK/sshd.log" | tail; }
  SSH=(ssh -F none -i "$WORK/ssh/id_ed25519" -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no
       -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o ExitOnForwardFailure=yes)
}

# kdc_start PRINCIPAL...: an MIT Kerberos KDC (krb5kdc) in swb on 88 (UDP and TCP) for the
# realm $KRB_REALM, each principal NAME with the password NAME-pw (written NAME+: one that
# requires pre-authentication). Exports KRB5_KDC_PROFILE, KRB5_CONFIG and KRB5CCNAME for the
# clients. Debian packages: krb5-kdc krb5-user.
KRB_REALM=EXAMPLE.TEST
kdc_start() {
  local u
  export KRB5_KDC_PROFILE=$WORK/kdc.conf KRB5_CONFIG=$WORK/krb5.conf KRB5CCNAME=FILE:$WORK/cc
  cat >"$KRB5_KDC_PROFILE" <<CFG
[kdcdefaults]
  kdc_ports = 88
  kdc_tcp_ports = 88
[realms]
  $KRB_REALM = {
    database_name = $WORK/principal
    key_stash_file = $WORK/stash
    acl_file = $WORK/kadm5.acl
    supported_enctypes = aes256-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:$WORK/kdc-file.log
CFG
  cat >"$KRB5_CONFIG" <<CFG
[libdefaults]
  default_realm = $KRB_REALM
  dns_lookup_kdc = false
  dns_lookup_realm = false
  udp_preference_limit = 1465
[realms]
  $KRB_REALM = {
    kdc = $B4
  }
CFG
  : >"$WORK/kadm5.acl"
  kdb5_util create -s -r $KRB_REALM -P master-pw >"$WORK/kdb5.log" 2>&1 || { fail "kdb5_util create"; return 1; }
  for u in "$@"; do
    case $u in
      *+) kadmin.local -r $KRB_REALM -q "addprinc +requires_preauth -pw ${u%+}-pw ${u%+}" ;;
      *) kadmin.local -r $KRB_REALM -q "addprinc -pw $u-pw $u" ;;
    esac >>"$WORK/kdb5.log" 2>&1 || { fail "addprinc $u"; return 1; }
  done
  bg_b kdc env KRB5_KDC_PROFILE="$KRB5_KDC_PROFILE" KRB5_CONFIG="$KRB5_CONFIG" krb5kdc -n
  wait_port "$NS_B" 88 udp || { fail "krb5kdc did not listen on 88/udp"; return 1; }
}

# kinit_from SOURCE PRINCIPAL [PASSWORD]: kinit in swa from the client address SOURCE (already
# on veth-a; the route to the KDC names it); the password is PRINCIPAL-pw unless given.
kinit_from() {
  in_a ip route replace $B4/32 dev veth-a src "$1" || return 1
  echo "${3:-$2-pw}" | in_a env KRB5_CONFIG="$KRB5_CONFIG" KRB5CCNAME="$KRB5CCNAME" kinit "$2" >>"$WORK/kinit.log" 2>&1
}
