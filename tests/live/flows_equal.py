"""Flow records and alerts of two EVE files are the same (5-tuple, VLAN, packets and bytes each
way; alert signature ids): flows_equal.py LIVE REPLAY MIN_TCP_FLOWS [PROBE_ADDR]. With PROBE_ADDR,
ICMP flow records of that address are left out (the pings that waited for tcpdump to record:
the sensor may have seen more of them than tcpdump)."""
import json
import sys


PROBE = sys.argv[4] if len(sys.argv) > 4 else None


def load(path):
    flows, alerts = [], []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        if PROBE and r.get("proto") in ("ICMP", "IPv6-ICMP") and PROBE in (r.get("src_ip"), r.get("dest_ip")):
            continue
        t = (r.get("src_ip"), r.get("dest_ip"), r.get("src_port"), r.get("dest_port"), r.get("proto"), str(r.get("vlan")))
        if r.get("event_type") == "flow":
            f = r["flow"]
            flows.append(t + (f["pkts_toserver"], f["pkts_toclient"], f["bytes_toserver"], f["bytes_toclient"]))
        elif r.get("event_type") == "alert":
            alerts.append(t + (r["alert"]["signature_id"],))
    return sorted(flows), sorted(alerts)


lf, la = load(sys.argv[1])
rf, ra = load(sys.argv[2])
tcp = sum(1 for f in lf if f[4] == "TCP")
print(f"    live: {len(lf)} flows ({tcp} TCP), {len(la)} alerts; replay: {len(rf)} flows, {len(ra)} alerts")
for x in sorted(set(lf) ^ set(rf)):
    print(f"    only in {'live' if x in lf else 'replay'}: {x}")
sys.exit(0 if lf == rf and la == ra and tcp >= int(sys.argv[3]) else 1)
