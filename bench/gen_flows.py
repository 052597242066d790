#!/usr/bin/env python3
"""Deterministic capture of F distinct flows, one packet each (spanwatch flow-table benchmark).

usage: gen_flows.py OUT.pcap [--flows F] [--hosts H] [--proto tcp|udp] [--distinct D]

Every packet is an Ethernet/IPv4 TCP SYN (or a UDP datagram with a 16-byte payload) from an
internal host 10.x.y.z to an external server in 198.18.0.0/15 (RFC 2544 benchmarking range).

  --flows F     packets written (default 1,000,000)
  --hosts H     distinct internal source addresses 10.0.0.1, 10.0.0.2, ... (default 1);
                flow i comes from host i mod H, so every host has F/H flows (+-1)
  --distinct D  distinct tuples among the F packets (default F). With D < F the packets cycle
                over D tuples: a capture of the same size and packet count with only D flows,
                the baseline that cancels the memory-mapped capture file out of peak RSS.

No randomness: the same arguments always give the same bytes. Timestamps start at
1700000000 s and advance 1 us per packet.
"""
import argparse
import struct
import sys

SPORT_LO, SPORT_N = 1024, 64512          # source ports 1024..65535
DST_BASE = (198 << 24) | (18 << 16)      # 198.18.0.0/15: 131072 server addresses
DST_N = 1 << 17
SRC_BASE = 10 << 24                      # 10.0.0.0/8


def ip_csum(hdr: bytes) -> int:
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--hosts", type=int, default=1)
    ap.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
    ap.add_argument("--distinct", type=int, default=0, help="distinct tuples (default: = --flows)")
    ap.add_argument("--dport", type=int, default=0, help="server port (default 443 tcp, 40000 udp)")
    ap.add_argument("--gap-us", type=int, default=1, help="microseconds between packets (default 1)")
    a = ap.parse_args()
    if a.flows < 1:
        ap.error("--flows must be >= 1")
    if not 1 <= a.hosts <= (1 << 24) - 2:
        ap.error("--hosts must be between 1 and 16777214 (10.0.0.1 .. 10.255.255.254)")
    distinct = a.distinct or a.flows
    if distinct > a.flows:
        ap.error("--distinct must not exceed --flows")
    per_host_max = (distinct + a.hosts - 1) // a.hosts
    if per_host_max > SPORT_N * DST_N:
        ap.error("too many flows per host")
    dport = a.dport or (443 if a.proto == "tcp" else 40000)
    proto = 6 if a.proto == "tcp" else 17
    l4_len = 20 if a.proto == "tcp" else 8 + 16
    ip_total = 20 + l4_len
    frame_len = 14 + ip_total
    eth = bytes([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00])
    udp_payload = b"spanwatch-bench\n"
    t0 = 1_700_000_000

    out = open(a.out, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    buf = []
    for i in range(a.flows):
        k = i % distinct                    # tuple index
        host = k % a.hosts
        j = k // a.hosts                    # this host's flow number
        src = SRC_BASE + 1 + host
        sport = SPORT_LO + j % SPORT_N
        dst = DST_BASE + (j // SPORT_N) % DST_N
        iph = struct.pack("!BBHHHBBHII", 0x45, 0, ip_total, i & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
        iph = iph[:10] + struct.pack("!H", ip_csum(iph)) + iph[12:]
        if proto == 6:
            l4 = struct.pack("!HHIIBBHHH", sport, dport, (i * 2654435761) & 0xFFFFFFFF, 0, 0x50, 0x02, 64240, 0, 0)
        else:
            l4 = struct.pack("!HHHH", sport, dport, l4_len, 0) + udp_payload
        usec = i * a.gap_us
        buf.append(struct.pack("<IIII", t0 + usec // 1_000_000, usec % 1_000_000, frame_len, frame_len))
        buf.append(eth + iph + l4)
        if len(buf) >= 65536:
            out.write(b"".join(buf))
            buf.clear()
    out.write(b"".join(buf))
    out.close()
    print(f"gen_flows: {a.out}: {a.flows} packets, {distinct} distinct {a.proto} flows, {a.hosts} hosts",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
