# Shared by the root-free deploy tests that replay against real servers on the loopback
# (alertmanager_live.sh, sinks_live.sh). Source it after setting NAME; it sets HERE, ROOT,
# SPANWATCH_BIN (absolute), the pass/fail/finish/skip reporting, and after `work_dir PREFIX`
# a scratch folder TMP whose background processes (PIDS) are stopped at exit; the folder is
# kept when a check failed.
HERE="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SPANWATCH_BIN="${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}"
case "$SPANWATCH_BIN" in /*) ;; *) SPANWATCH_BIN="$ROOT/$SPANWATCH_BIN" ;; esac

PASS=0; FAIL=0
pass() { PASS=$((PASS + 1)); echo "PASS  $1"; }
# fail DESC [LOG]: a failed check, with the tail of LOG when given
fail() { FAIL=$((FAIL + 1)); echo "FAIL  $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/      | /' "$2" | tail -n 30; return 0; }
finish() { echo "$NAME: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }
# skip REASON: this machine cannot run the test (SKIPPED, exit 0), except under CI=true where a
# missing prerequisite is a failure.
skip() {
    if [ "${CI:-}" = true ]; then fail "cannot run under CI=true: $1"; finish; fi
    echo "SKIPPED: $NAME: $1"; finish
}

work_dir() {
    TMP="$(mktemp -d "/tmp/$1.XXXXXX")"
    PIDS=()
    trap cleanup EXIT
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$FAIL" = 0 ]; then rm -rf "$TMP"; else echo "(kept $TMP)"; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() { local n=$(( $1 * 10 )); shift; while ! "$@" >/dev/null 2>&1; do n=$((n - 1)); [ "$n" -le 0 ] && return 1; sleep 0.1; done; }
