#!/usr/bin/env bash
# What users see must not change by accident: replay every capture of the shared corpus
# (../shared/corpus, 640 files), the recorded fixtures (tests/fixtures) and the built-in demo
# with two builds of spanwatch, and compare their EVE records capture by capture (lines sorted,
# so records that only moved are not a difference).
#
#   scripts/eve-diff.sh                      HEAD against the working tree
#   scripts/eve-diff.sh --base REV           REV against the working tree
#   scripts/eve-diff.sh --base-bin A --new-bin B   two binaries already built
#   options: --workers N (default 1), --only PATTERN (captures whose path matches),
#            --out DIR (default target/eve-diff), --jobs N (parallel replays, default 2),
#            --stats / --no-stats (compare `stats` records or leave them out; by default they
#            are compared with one worker, and left out with several, whose counters are
#            read while other workers are still busy, so their figures vary run to run)
#
# Exit status: 0 no difference; 1 some capture's records differ (summary on stdout, the whole
# diff in DIR/report.diff); 2 bad usage or a build failed. A refactor's commit runs this and
# lists and explains every difference it reports.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE=HEAD BASE_BIN= NEW_BIN= WORKERS=1 ONLY= OUT=target/eve-diff JOBS=2 STATS=
while (($#)); do
  case $1 in
    --base) BASE=$2; shift 2 ;;
    --base-bin) BASE_BIN=$2; shift 2 ;;
    --new-bin) NEW_BIN=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --stats) STATS=1; shift ;;
    --no-stats) STATS=0; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "eve-diff: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$STATS" ]; then if [ "$WORKERS" = 1 ]; then STATS=1; else STATS=0; fi; fi
CORPUS=${SPANWATCH_CORPUS:-$ROOT/../shared/corpus}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ -z "$NEW_BIN" ]; then
  echo "== building the working tree"
  cargo build --release --quiet --bin spanwatch || exit 2
  NEW_BIN=$TARGET/release/spanwatch
fi
if [ -z "$BASE_BIN" ]; then
  rev=$(git rev-parse --verify "$BASE^{commit}") || { echo "eve-diff: no such revision $BASE" >&2; exit 2; }
  wt=$OUT/base-src
  echo "== building $BASE (${rev:0:12}) in $wt"
  rm -rf "$wt"; git worktree prune
  git worktree add --detach --force "$wt" "$rev" >/dev/null
  # Its own target folder, kept between runs so the next comparison builds incrementally.
  (cd "$wt" && CARGO_TARGET_DIR=$OUT/base-target cargo build --release --quiet --bin spanwatch) || { git worktree remove --force "$wt"; exit 2; }
  git worktree remove --force "$wt"
  BASE_BIN=$OUT/base-target/release/spanwatch
fi
for b in "$BASE_BIN" "$NEW_BIN"; do [ -x "$b" ] || { echo "eve-diff: $b is not an executable" >&2; exit 2; }; done

list=$OUT/captures.txt
: > "$list"
if [ -f "$CORPUS/labels.tsv" ]; then
  tail -n +2 "$CORPUS/labels.tsv" | cut -f1 | sed "s|^|$CORPUS/|" >> "$list"
else
  echo "NOTE: no shared corpus at $CORPUS (set SPANWATCH_CORPUS): comparing fixtures and the demo only"
fi
ls "$ROOT"/tests/fixtures/*.pcap >> "$list" 2>/dev/null || true
if [ -n "$ONLY" ]; then grep -E -- "$ONLY" "$list" > "$list.tmp" || true; mv "$list.tmp" "$list"; fi

rm -rf "$OUT/a" "$OUT/b"; mkdir -p "$OUT/a" "$OUT/b"
export BASE_BIN NEW_BIN WORKERS OUT STATS
keep() {
  if [ "$STATS" = 1 ]; then LC_ALL=C sort "$1"; else grep -v '^{"event_type":"stats"' "$1" | LC_ALL=C sort; fi
}
export -f keep
one() {
  local f=$1 id
  id=$(printf '%s' "$f" | sed 's|.*/shared/corpus/||; s|.*/tests/fixtures/|fixtures/|; s|/|__|g')
  for side in a b; do
    local bin=$BASE_BIN; [ "$side" = b ] && bin=$NEW_BIN
    "$bin" replay --quiet --workers "$WORKERS" --eve "$OUT/$side/$id.raw" "$f" >/dev/null 2>"$OUT/$side/$id.err" || true
    touch "$OUT/$side/$id.raw"
    keep "$OUT/$side/$id.raw" > "$OUT/$side/$id.eve"; rm -f "$OUT/$side/$id.raw"
  done
}
export -f one
echo "== replaying $(wc -l < "$list") captures with both builds ($WORKERS worker(s))"
xargs -a "$list" -d '\n' -P "$JOBS" -I{} bash -c 'one "$1"' _ {}
# the demo capture built into each binary
for side in a b; do
  bin=$BASE_BIN; [ "$side" = b ] && bin=$NEW_BIN
  "$bin" demo --workers "$WORKERS" --eve "$OUT/$side/demo.raw" >/dev/null 2>&1 || true
  keep "$OUT/$side/demo.raw" > "$OUT/$side/demo.eve"; rm -f "$OUT/$side/demo.raw"
done

: > "$OUT/report.diff"
n=0 differ=0
for a in "$OUT"/a/*.eve; do
  id=$(basename "$a" .eve); b=$OUT/b/$id.eve
  n=$((n + 1))
  if ! cmp -s "$a" "$b"; then
    differ=$((differ + 1))
    echo "differs: $id ($(wc -l < "$a") → $(wc -l < "$b") records)"
    { echo "### $id"; diff "$a" "$b" || true; } >> "$OUT/report.diff"
  fi
done
echo "eve-diff: $differ of $n captures differ (base $BASE_BIN, new $NEW_BIN, workers $WORKERS)"
[ "$differ" = 0 ] || { echo "whole diff: $OUT/report.diff"; exit 1; }
