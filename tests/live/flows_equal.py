"""Flow records and alerts of two EVE files are the same (5-tuple, VLAN, packets and bytes each
way; alert signature ids): flows_equal.py LIVE REPLAY MIN_TCP_FLOWS."""
import json
import sys


def load(path):
    flows, alerts = [], []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
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
