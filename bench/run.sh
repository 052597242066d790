#!/usr/bin/env bash
# spanwatch throughput benchmark against the bare libpcap read loop and ndpiReader.
#
# usage: bench/run.sh [--packets N] [--runs K] [--seed S] [--real] [--no-build] [--no-sample]
#                     [--bin PATH]
#
#   --packets N   packets in the synthetic capture (default 300000, about 270 MB; 1000000 is 0.9 GB)
#   --runs K      rounds (default 5); every timed run is paired with a bare-loop run right before it
#   --seed S      generator seed (default 1); the same N and S always give the same file
#   --real        also benchmark a real-traffic capture made by ../shared/bench/capture_real_traffic.sh
#                 (root, network namespaces, ~60 s, ~1 GB; made once into bench/out/real.pcap)
#   --no-build    use the release binary already built
#   --no-sample   skip the extra untimed run per program that splits peak RSS into anonymous and
#                 file-backed memory
#   --bin PATH    benchmark this spanwatch binary (no build), e.g. an older build to compare with
#
# Needs: cargo, python3, gcc, libpcap-dev (for pcap_count and pcap_split2), ndpiReader
# (Debian libndpi-bin; without it the ndpiReader rows are left out). Installs nothing: the two C
# programs from ../shared/bench are compiled into a temporary folder.
# Output: progress on stderr, the Markdown table on stdout, and bench/out/results-*.md and *.jsonl.
set -euo pipefail

PACKETS=300000
RUNS=5
SEED=1
REAL=0
BUILD=1
SAMPLE=1
BIN=
while [ $# -gt 0 ]; do
    case "$1" in
        --packets) PACKETS=${2:?--packets needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        --real) REAL=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --no-sample) SAMPLE=0; shift ;;
        --bin) BIN=${2:?--bin needs a path}; BUILD=0; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$PACKETS$RUNS$SEED" in *[!0-9]*) echo "bench/run.sh: --packets, --runs and --seed take whole numbers" >&2; exit 2 ;; esac
[ "$RUNS" -ge 1 ] && [ "$PACKETS" -ge 1 ] || { echo "bench/run.sh: --packets and --runs must be at least 1" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SHARED="$(cd "$ROOT/.." && pwd)/shared/bench"
OUT="$ROOT/bench/out"
say() { echo "bench: $*" >&2; }

# ---- what is needed, and what is missing ----
missing=()
for f in gen_bench_pcap.py pcap_count.c pcap_split2.c; do
    [ -f "$SHARED/$f" ] || missing+=("$SHARED/$f (the shared benchmark inputs; expected at ../shared/bench beside the repository)")
done
command -v cargo >/dev/null || missing+=("cargo (Rust toolchain)")
command -v python3 >/dev/null || missing+=("python3 (Debian: python3)")
command -v gcc >/dev/null || missing+=("gcc (Debian: gcc)")
if command -v gcc >/dev/null && ! echo '#include <pcap/pcap.h>' | gcc -E -x c - >/dev/null 2>&1; then
    missing+=("libpcap headers (Debian: libpcap-dev)")
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "cannot run, missing:"
    for m in "${missing[@]}"; do echo "  - $m" >&2; done
    exit 1
fi
NDPI=$(command -v ndpiReader || true)
[ -n "$NDPI" ] || say "ndpiReader not found (Debian: libndpi-bin): its rows are left out"
if [ "$REAL" = 1 ]; then
    rmiss=()
    [ -f "$SHARED/capture_real_traffic.sh" ] || rmiss+=("$SHARED/capture_real_traffic.sh")
    [ "$(id -u)" = 0 ] || rmiss+=("root (network namespaces)")
    for t in ip ethtool nginx /usr/sbin/sshd ssh dnsmasq ab dig curl ping tcpdump openssl; do
        command -v "$t" >/dev/null || rmiss+=("$t")
    done
    if [ ${#rmiss[@]} -gt 0 ] && [ ! -s "$OUT/real.pcap" ]; then
        say "--real: cannot make the real-traffic capture, missing: ${rmiss[*]}"
        say "  (Debian: iproute2 ethtool nginx-light openssh-server openssh-client dnsmasq apache2-utils bind9-dnsutils curl iputils-ping tcpdump openssl)"
        exit 1
    fi
fi

# ---- build ----
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ "$BUILD" = 1 ]; then
    say "cargo build --release"
    nice -n 10 cargo build --release --quiet
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
SW="$TARGET_DIR/release/spanwatch"
if [ -n "$BIN" ]; then
    case "$BIN" in /*) SW=$BIN ;; *) SW="$PWD/$BIN" ;; esac
fi
[ -x "$SW" ] || { say "no release binary at $SW (run without --no-build, or give --bin)"; exit 1; }
gcc -O2 -o "$TMP/pcap_count" "$SHARED/pcap_count.c" -lpcap
gcc -O2 -o "$TMP/pcap_split2" "$SHARED/pcap_split2.c" -lpcap

# ---- inputs ----
mkdir -p "$OUT"
SYN="$OUT/synthetic-p$PACKETS-s$SEED.pcap"
if [ ! -s "$SYN" ]; then
    say "generating $SYN ($PACKETS packets, seed $SEED)"
    python3 "$SHARED/gen_bench_pcap.py" "$SYN.tmp" --packets "$PACKETS" --seed "$SEED" >&2
    mv "$SYN.tmp" "$SYN"
else
    say "using $SYN (deterministic: same --packets and --seed, same bytes)"
fi
CAPTURES=("$SYN")
if [ "$REAL" = 1 ]; then
    if [ ! -s "$OUT/real.pcap" ]; then
        say "capturing real traffic into $OUT/real.pcap (about 60 s)"
        bash "$SHARED/capture_real_traffic.sh" "$OUT/real.pcap.tmp" >&2
        mv "$OUT/real.pcap.tmp" "$OUT/real.pcap"
    fi
    CAPTURES+=("$OUT/real.pcap")
fi

NDPI_VERSION="no ndpiReader"
if [ -n "$NDPI" ]; then
    NDPI_VERSION=$( ("$NDPI" -h 2>&1 || true) | sed -n '/nDPI [0-9]/{s/.*\(nDPI [0-9][0-9.]*\).*/\1/p;q;}')
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT="$OUT/results-$STAMP.md"
{
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(uname -m)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "Command: bench/run.sh --packets $PACKETS --runs $RUNS --seed $SEED$([ "$REAL" = 1 ] && echo ' --real')$([ -n "$BIN" ] && echo " --bin $SW")"
    echo "Versions: $("$SW" --version 2>/dev/null || echo spanwatch) $(if [ -n "$BIN" ]; then echo "(the binary given)"; else echo "at commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"; fi); $NDPI_VERSION; $(gcc --version | head -1); libpcap $(dpkg-query -W -f '${Version}' libpcap0.8 2>/dev/null || echo '?')"
} | tee "$REPORT"

for CAP in "${CAPTURES[@]}"; do
    echo | tee -a "$REPORT"
    # sanity: every program reads the whole capture without error, and the packet counts agree
    N=$("$TMP/pcap_count" "$CAP" | sed -n 's/^packets=\([0-9]*\) .*/\1/p')
    [ -n "$N" ] && [ "$N" -gt 0 ] || { say "pcap_count read no packets from $CAP"; exit 1; }
    "$SW" replay -q --workers 1 --metrics-file "$TMP/m.prom" "$CAP"
    SWN=$(awk '$1=="spanwatch_packets_total"{print $2}' "$TMP/m.prom")
    [ "$SWN" = "$N" ] || { say "spanwatch counted ${SWN:-nothing} packets, pcap_count $N: not comparable"; exit 1; }
    SIZE=$(stat -c %s "$CAP")
    echo "### $(basename "$CAP"): $N packets, $((SIZE / 1000000)) MB" | tee -a "$REPORT"
    echo | tee -a "$REPORT"

    # warm the page cache (the file is read from memory in every timed run)
    cat "$CAP" > /dev/null; cat "$CAP" > /dev/null

    ARGS=(paired --runs "$RUNS" --packets "$N" --raw "$OUT/results-$STAMP.jsonl"
          --bare "$(printf '%q ' "$TMP/pcap_count" "$CAP")"
          --one "spanwatch replay -q --workers 1" --two "spanwatch replay -q --workers 2"
          --prog '`cat FILE > /dev/null`' "$(printf '%q ' cat "$CAP")"
          --prog "spanwatch replay -q --workers 1" "$(printf '%q ' "$SW" replay -q --workers 1 "$CAP")"
          --prog "spanwatch replay -q --workers 2" "$(printf '%q ' "$SW" replay -q --workers 2 "$CAP")")
    if [ -n "$NDPI" ]; then
        B=$(basename "$CAP" .pcap)
        SPLIT="$OUT/split-$B-"
        if [ ! -s "${SPLIT}1.pcap" ] || [ "${SPLIT}1.pcap" -ot "$CAP" ]; then
            say "splitting $CAP in two by flow hash (pcap_split2; not timed)"
            "$TMP/pcap_split2" "$CAP" 2 "$SPLIT" 2>&1 | sed 's/^/  /' >&2
        fi
        cat "${SPLIT}0.pcap" "${SPLIT}1.pcap" > /dev/null
        ARGS+=(--prog '`ndpiReader -i FILE -q`' "$(printf '%q ' "$NDPI" -i "$CAP" -q)"
               --prog '`ndpiReader` × 2 processes (split file)' \
               "$(printf '%q ' "$NDPI" -i "${SPLIT}0.pcap" -q) ||| $(printf '%q ' "$NDPI" -i "${SPLIT}1.pcap" -q)")
    fi
    [ "$SAMPLE" = 1 ] && ARGS+=(--sample)
    python3 "$ROOT/bench/benchlib.py" "${ARGS[@]}" | tee -a "$REPORT"
done
echo | tee -a "$REPORT"
say "report: $REPORT; every run: $OUT/results-$STAMP.jsonl"
