#!/usr/bin/env python3
"""EVE and metrics queries for the live scenarios (lib.sh). Standard library only.

  eve.py valid EVE                 every line is a JSON object with event_type
  eve.py any EVE EXPR              exit 0 if some record r satisfies the Python expression
  eve.py summary EVE               one line per (event_type, app_proto, app, category) seen
  eve.py metric FILE REGEX         exit 0 if a line of the Prometheus text file matches
  eve.py metric_ge FILE SEL MIN    sum of series matching name{label="v",...} >= MIN
"""
import json
import re
import sys


def records(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def get(r, path, default=None):
    cur = r
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return default
    return cur


def has(r, path, text):
    """text (case-insensitive) anywhere in the JSON of r's subtree at path ("" = whole record)."""
    sub = get(r, path) if path else r
    return sub is not None and str(text).lower() in json.dumps(sub).lower()


def main():
    cmd = sys.argv[1]
    if cmd == "valid":
        n = 0
        with open(sys.argv[2], encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    print(f"    line {i}: not JSON: {e}")
                    return 1
                if not isinstance(r, dict) or "event_type" not in r:
                    print(f"    line {i}: no event_type")
                    return 1
                n += 1
        if n == 0:
            print("    the EVE file is empty")
            return 1
        return 0
    if cmd == "any":
        expr = compile(sys.argv[3], "<assertion>", "eval")
        for r in records(sys.argv[2]):
            try:
                if eval(expr, {"get": get, "has": has, "json": json, "re": re}, {"r": r}):
                    return 0
            except (KeyError, TypeError, AttributeError, ValueError):
                continue
        return 1
    if cmd == "summary":
        seen = {}
        for r in records(sys.argv[2]):
            et = r.get("event_type")
            if et == "stats":
                continue
            key = (et, r.get("proto"), r.get("dest_port") if r.get("proto") in ("TCP", "UDP", "tcp", "udp") else "",
                   r.get("app_proto"), r.get("app"), get(r, "alert.category"), get(r, "alert.signature"))
            seen[key] = seen.get(key, 0) + 1
        for k, n in sorted(seen.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
            et, proto, port, ap, app, cat, sig = k
            s = f"{n} x {et} {proto}/{port} app_proto={ap} app={app}"
            if et == "alert":
                s += f" category={cat} signature={sig!r}"
            print(s)
        return 0
    if cmd == "metric":
        rx = re.compile(sys.argv[3])
        try:
            with open(sys.argv[2], encoding="utf-8") as f:
                return 0 if any(rx.search(l) for l in f if not l.startswith("#")) else 1
        except FileNotFoundError:
            return 1
    if cmd == "metric_ge":
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?", sys.argv[3])
        name, want = m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        total, found = 0.0, False
        try:
            with open(sys.argv[2], encoding="utf-8") as f:
                for line in f:
                    lm = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)", line)
                    if not lm or lm.group(1) != name:
                        continue
                    labels = dict(re.findall(r'(\w+)="([^"]*)"', lm.group(2) or ""))
                    if all(labels.get(k) == v for k, v in want.items()):
                        found = True
                        total += float(lm.group(3))
        except FileNotFoundError:
            pass
        ok = found and total >= float(sys.argv[4])
        if not ok:
            print(f"    {sys.argv[3]}: {'sum ' + str(total) if found else 'no such series'}")
        return 0 if ok else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
