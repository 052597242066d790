#!/usr/bin/env python3
"""Deterministic rules folder for the rule-loading benchmark (bench/rules_load.sh).

usage: gen_rules.py OUTDIR --domains N [--tools T]

Writes OUTDIR/bench.toml: T tools (default 1) sharing N distinct domains (round robin; every
tenth one a "*." wildcard), plus a port, an ALPN and a payload pattern per tool. No randomness.
"""
import argparse
import os


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--domains", type=int, required=True)
    ap.add_argument("--tools", type=int, default=1)
    a = ap.parse_args()
    if a.domains < 0 or a.tools < 1 or a.tools > 60000:
        ap.error("--domains >= 0, 1 <= --tools <= 60000")
    os.makedirs(a.out, exist_ok=True)
    per = [[] for _ in range(a.tools)]
    for i in range(a.domains):
        d = f"h{i}.bench-{i % 997}.example"
        per[i % a.tools].append(("*." if i % 10 == 9 else "") + d)
    with open(os.path.join(a.out, "bench.toml"), "w") as f:
        f.write('family = "bench"\n')
        for t, doms in enumerate(per):
            f.write(f'\n[[tool]]\nid = "bench-{t}"\nsid = {9_800_000 + t}\nname = "Bench tool {t}"\n')
            f.write('category = "remote-access"\nseverity = 3\n')
            f.write(f'ports = ["tcp/{10000 + t % 50000}"]\nalpn = ["bench{t}"]\n')
            f.write(f'payload = [{{ dir = "to_server", hex = "{t & 0xff:02x} be {(t >> 8) & 0xff:02x}" }}]\n')
            f.write("domains = [\n")
            for d in doms:
                f.write(f'  "{d}",\n')
            f.write("]\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
