#!/usr/bin/env bash
# spanwatch's whole test suite: the command the README gives and CI runs.
#
# On a fresh Debian machine as root it first installs the packages the tests use
# (libpcap for the build; tshark, promtool, Alertmanager, iproute2 and the real servers
# and clients for the conformance, metrics, deploy and live tests). Not root: nothing is
# installed, and each test that needs a missing tool prints SKIPPED with the reason — except
# under CI=true (.ci/run sets it), where a missing prerequisite (root, a package, the binary)
# is a failure.
#
#   scripts/test.sh              everything
#   CARGO_TARGET_DIR=DIR         honoured: the tests use DIR/release/spanwatch
#   SPANWATCH_FUZZ_SECONDS=0     skip the fuzz smoke run (default 15 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libpcap-dev pkg-config tshark prometheus prometheus-alertmanager iproute2 iputils-ping
      python3 python3-yaml curl systemd procps openssl apache2-utils util-linux binutils logrotate
      redis-server redis-tools rsyslog tcpreplay)
# The binary cargo builds, wherever CARGO_TARGET_DIR puts it.
export SPANWATCH_BIN="${SPANWATCH_BIN:-${CARGO_TARGET_DIR:-target}/release/spanwatch}"

# Each test area may list the Debian packages it uses in a packages.txt beside it.
for f in tests/*/packages.txt; do
  [ -f "$f" ] && while read -r p _; do [[ -n "$p" && "$p" != \#* ]] && PKGS+=("$p"); done < "$f"
done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    apt-get update -qq
    # Servers the live tests start themselves (xrdp, sshd, tinyproxy …) must not be
    # started by the package scripts: a policy-rc.d saying "no" for the install only.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  fi
else
  echo "== not root (or no apt-get): packages are not installed; tests needing them will say SKIPPED"
fi

echo "== cargo clippy"
cargo clippy --release --all-targets --quiet -- -D warnings

echo "== cargo test (unit, golden, metrics, conformance, live)"
cargo test --release
[ -x "$SPANWATCH_BIN" ] || { echo "cargo test built no binary at $SPANWATCH_BIN" >&2; exit 1; }


# Live tests: real servers and clients in network namespaces (root only; they say
# SKIPPED otherwise).
echo "== live tests"
tests/live/run-all.sh rdp vnc ssh ssh_transfer proxy shadowsocks openvpn openconnect wireguard dns_tunnel icmp_tunnel upload am_down quiet afpacket timely beacon tunnel_spread tap identity accounts account_pseudonym devices stunnel_ssh httptunnel one_side dns_tunnel_variants quic websocket tor ipsec cert_names doh_tunnel

if [ -x tests/deploy/run.sh ]; then
  echo "== deploy checks"
  tests/deploy/run.sh
  # A real Prometheus scraping a running spanwatch in network namespaces; every dashboard
  # query and rule expression through its query API; SIGHUP reload (root; skips otherwise).
  tests/deploy/prometheus_live.sh
  # /metrics over TLS with basic auth scraped by a real Prometheus (node_exporter-style
  # scrape config), 1,000 idle connections, descriptors exhausted (root; skips otherwise).
  tests/deploy/web_tls_live.sh
  # The Alertmanager sink against two real Alertmanagers (replay; no root needed).
  tests/deploy/alertmanager_live.sh
  # EVE to a real redis-server (list, channel, stream) and rsyslogd (UDP, TCP, unix socket),
  # in order and counted; Redis unreachable (replay; no root needed).
  tests/deploy/sinks_live.sh
  # A fleet (root; skips otherwise): two sensors in their own namespaces feeding one Redis
  # stream, a site Prometheus, a global one federating it and a two-member Alertmanager
  # cluster (deploy/fleet/); each must have seen both sensors, each alert notified once.
  tests/deploy/fleet_live.sh
  # End to end (root; skips otherwise): VNC, a DNS tunnel and an upload across a veth pair,
  # spanwatch run, a real Prometheus and Alertmanager asked what they saw. Its egress check
  # waits for the egress detector (issue 5).
  echo "== end-to-end test"
  tests/deploy/e2e.sh
  # The container image: built with buildah when it is installed and the base images can be
  # pulled; otherwise built from exactly the files the Dockerfile copies (a missing COPY fails).
  echo "== container image"
  tests/deploy/container_build.sh
fi
if [ -x fuzz/run-all.sh ] && [ "${SPANWATCH_FUZZ_SECONDS:-10}" != 0 ]; then
  echo "== fuzz smoke run (slowest stage, last)"
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
  fuzz/run-all.sh "${SPANWATCH_FUZZ_SECONDS:-10}"
fi
echo "== all test stages passed"
