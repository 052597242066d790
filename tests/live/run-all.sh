#!/usr/bin/env bash
# Runs every live scenario (tests/live/<name>.sh), prints each one's result line, then one line
# "N passed, M failed" summing them. Exit 1 if any assertion failed (or a scenario printed no
# result line). Scenarios that cannot run here print SKIPPED and count 0/0.
#   tests/live/run-all.sh [name...]     (default: all)
#   SPANWATCH_LIVE_VERBOSE=1            also show every ok/FAIL line (always kept in the log folder)
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
names=("$@")
if ((${#names[@]} == 0)); then
  for f in "$dir"/*.sh; do
    n=$(basename "$f" .sh)
    case $n in lib|run-all) continue;; esac
    names+=("$n")
  done
fi
logdir=${SPANWATCH_LIVE_LOGS:-$(mktemp -d /tmp/spanwatch-live-logs.XXXXXX)}
mkdir -p "$logdir"
tp=0 tf=0
for n in "${names[@]}"; do
  log="$logdir/$n.log"
  # a scenario has its own watchdog (150 s); this one is the last resort
  timeout -k 10 300 bash "$dir/$n.sh" >"$log" 2>&1
  rc=$?
  if [ "${SPANWATCH_LIVE_VERBOSE:-0}" = 1 ]; then cat "$log"; else grep -E '^(FAIL|SKIPPED)' "$log"; fi
  line=$(grep -E "^live $n: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)
  if [ -z "$line" ]; then
    line="live $n: 0 passed, 1 failed"
    echo "FAIL - $n printed no result line (exit $rc); see $log"
  fi
  echo "$line"
  p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/' <<<"$line")
  f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/' <<<"$line")
  # a scenario that exited non-zero with no failure counted is still a failure
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  tp=$((tp + p)); tf=$((tf + f))
done
echo "(logs: $logdir)" >&2
echo "$tp passed, $tf failed"
[ "$tf" = 0 ]
