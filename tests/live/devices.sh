#!/usr/bin/env bash
# Devices naming themselves on the LAN, recorded from real programs for the mDNS and NetBIOS
# parsers (proto::{mdns, netbios}) and the IP-KVM device view (host/ikvm.rs): Samba's nmbd in
# swb with the NetBIOS name of an IP-KVM's default ("PIKVM": it registers its names by
# broadcast and answers a node status query), avahi-daemon in swb with the host name
# "pikvm" (it announces pikvm.local and its workstation service, and answers a query), and
# from swa nmblookup (a name query by broadcast, a node status query) and an mDNS query
# (python3, one datagram to 224.0.0.251:5353). spanwatch, capturing veth-a, must write the
# netbios and mdns records and announce 10.77.0.2 as an IP-KVM. With SPANWATCH_LIVE_RECORD=1
# it writes tests/fixtures/live-devices.pcap, which tests/devices_generated.rs replays.
. "$(dirname "$0")/lib.sh"
live_init devices samba samba-common-bin avahi-daemon python3
live_netns

record_start 200 1500 udp
start_spanwatch

# --- nmbd in swb: NetBIOS name service and datagram service -----------------------------
mkdir -p "$WORK/smb/private" "$WORK/smb/state" "$WORK/smb/cache" "$WORK/smb/lock"
smb_conf() { # smb_conf FILE NETBIOS_NAME INTERFACE
  cat >"$1" <<CFG
[global]
  workgroup = LAB
  netbios name = $2
  server string = IP-KVM
  interfaces = $3
  bind interfaces only = yes
  name resolve order = bcast
  local master = no
  domain master = no
  preferred master = no
  wins support = no
  private dir = $WORK/smb/private
  lock directory = $WORK/smb/lock
  state directory = $WORK/smb/state
  cache directory = $WORK/smb/cache
  pid directory = $WORK/smb
  log file = $WORK/smb/log.%m
CFG
}
smb_conf "$WORK/smb.conf" PIKVM veth-b
smb_conf "$WORK/smb-client.conf" LAPTOP-A veth-a
bg_b nmbd nmbd --foreground --no-process-group --debug-stdout -s "$WORK/smb.conf"
wait_port "$NS_B" 137 udp 20 || fail "nmbd did not listen on 137"
nb_query() { in_a nmblookup -s "$WORK/smb-client.conf" -B 10.77.0.255 PIKVM 2>&1 | grep -q "^10.77.0.2 PIKVM<00>"; }
check "nmblookup finds PIKVM by broadcast (nmbd registered it)" wait_for 30 nb_query
nb_status() { in_a nmblookup -s "$WORK/smb-client.conf" -A $B4 >"$WORK/nbstat.log" 2>&1 && grep -q "PIKVM" "$WORK/nbstat.log"; }
check "nmblookup node status lists PIKVM" nb_status

# --- avahi-daemon in swb: mDNS announcements and answers ------------------------------
cat >"$WORK/avahi.conf" <<CFG
[server]
host-name=pikvm
use-ipv4=yes
use-ipv6=no
allow-interfaces=veth-b
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=yes
publish-workstation=yes
publish-hinfo=no
[reflector]
enable-reflector=no
CFG
mkdir -p /run/avahi-daemon
bg_b avahi avahi-daemon --no-drop-root --no-chroot --no-rlimits --no-proc-title -f "$WORK/avahi.conf"
on_exit rm -f /run/avahi-daemon/pid
wait_port "$NS_B" 5353 udp 20 || fail "avahi-daemon did not listen on 5353"
mdns_query() {
  in_a python3 - "$A4" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.bind((sys.argv[1], 0))
s.settimeout(2)
q = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + b"\x05pikvm\x05local\x00" + struct.pack(">HH", 1, 0x8001)
s.sendto(q, ("224.0.0.251", 5353))
data, _ = s.recvfrom(1500)
sys.exit(0 if b"pikvm" in data.lower() else 1)
PY
}
check "an mDNS query for pikvm.local is answered by avahi-daemon" wait_for 20 mdns_query
# the workstation service's announcement names "pikvm [mac]._workstation._tcp"
check "avahi-daemon announced itself" grep -q "Server startup complete" "$WORK/avahi.log"

stop_spanwatch
assert_flow netbios "get(r,'netbios.op')=='registration' and 'pikvm' in (get(r,'netbios.hostnames') or [])"
assert_flow mdns "'pikvm' in (get(r,'mdns.hostnames') or [])"
assert_alert remote-access pikvm "get(r,'alert.signature_id')==9200010 and get(r,'alert.metadata.device')==['$B4']"
eve_summary
live_finish
