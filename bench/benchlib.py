#!/usr/bin/env python3
"""Timing and memory measurement for the spanwatch benchmark scripts (bench/run.sh, bench/flow_memory.sh).

  benchlib.py once [--sample] -- CMD [ARGS...] ['|||' CMD2 [ARGS...]]
      Runs the command(s) at once (several = parallel processes), waits for all of them, prints one
      JSON object: wall seconds, peak RSS (summed over the processes: GNU `/usr/bin/time -v`'s
      "Maximum resident set size" when /usr/bin/time exists, else the VmHWM polled from
      /proc/PID/status every 2 ms), and with --sample the peaks of RssAnon and RssFile polled
      from /proc/PID/status every 2 ms (summed over processes).

  benchlib.py paired --runs K --packets N --bare CMD [--prog NAME CMD]... [--sample]
      K rounds; in each round every program runs right after its own run of the bare loop, and its
      time is divided by that bare-loop time. Prints a Markdown table of medians and the two target
      checks. CMD is one shell-quoted string; '|||' inside it separates processes run in parallel.
      Results of every run are also written as JSON lines to --raw FILE when given.

Standard output and error of the measured programs go to /dev/null (standard error to a temp file
shown if a program fails). Any non-zero exit stops the benchmark.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

SEP = "|||"


def split_cmds(argv):
    cmds, cur = [], []
    for a in argv:
        if a == SEP:
            if cur:
                cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    if cur:
        cmds.append(cur)
    if not cmds:
        raise SystemExit("benchlib: empty command")
    return cmds


GNU_TIME = "/usr/bin/time"


def rss_source():
    if os.access(GNU_TIME, os.X_OK):
        return "gnu-time"
    return "proc"


def proc_status(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "RssFile", "RssShmem", "VmHWM"):
                    vals[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return vals


def child_of(pid):
    """The first child of pid (the program GNU time started), or None yet."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def measure(cmds, sample=False):
    """Run cmds in parallel; return dict(wall_s, maxrss_kb[, anon_kb, file_kb]).

    Peak RSS: with GNU time, its "Maximum resident set size" (the wait4() rusage of a process
    forked from the small `time` binary: ru_maxrss of a process forked from Python would start at
    Python's own size, because the kernel keeps the high-water mark of the pre-exec image).
    Without GNU time: the last VmHWM polled from /proc/PID/status every 2 ms (may miss growth in
    the last 2 ms of a run).
    """
    src = rss_source()
    poll = sample or src == "proc"
    errs = [tempfile.TemporaryFile() for _ in cmds]
    touts = [tempfile.NamedTemporaryFile(prefix="benchtime", delete=False) for _ in cmds]
    procs = []
    t0 = time.perf_counter()
    for c, e, t in zip(cmds, errs, touts):
        argv = [GNU_TIME, "-v", "-o", t.name, *c] if src == "gnu-time" else c
        try:
            procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e))
        except OSError as ex:
            raise SystemExit(f"benchlib: cannot start {c[0]}: {ex}")
    pending = {p.pid: i for i, p in enumerate(procs)}
    target = [p.pid if src == "proc" else None for p in procs]
    rc = [None] * len(procs)
    cpu = [0.0] * len(procs)
    peak_anon = [0] * len(procs)
    peak_file = [0] * len(procs)
    hwm = [0] * len(procs)
    while pending:
        if poll:
            for pid, i in list(pending.items()):
                if target[i] is None:
                    target[i] = child_of(pid)
                if target[i] is None:
                    continue
                s = proc_status(target[i])
                peak_anon[i] = max(peak_anon[i], s.get("RssAnon", 0))
                peak_file[i] = max(peak_file[i], s.get("RssFile", 0) + s.get("RssShmem", 0))
                hwm[i] = max(hwm[i], s.get("VmHWM", 0))
            for pid, i in list(pending.items()):
                wpid, status, ru = os.wait4(pid, os.WNOHANG)
                if wpid:
                    rc[i] = os.waitstatus_to_exitcode(status)
                    cpu[i] = ru.ru_utime + ru.ru_stime
                    del pending[pid]
            if pending:
                time.sleep(0.002)
        else:
            pid, status, ru = os.wait4(-1, 0)
            if pid in pending:
                i = pending.pop(pid)
                rc[i] = os.waitstatus_to_exitcode(status)
                cpu[i] = ru.ru_utime + ru.ru_stime
    t_end = time.perf_counter()
    for p, r in zip(procs, rc):
        p.returncode = r  # reaped by wait4 above
    maxrss = []
    for c, e, t, r, h in zip(cmds, errs, touts, rc, hwm):
        with open(t.name, errors="replace") as f:
            tv = f.read()
        os.unlink(t.name)
        if r != 0:
            e.seek(0)
            msg = e.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"benchlib: `{shlex.join(c)}` exited with {r}:\n{msg}")
        if src == "gnu-time":
            m = [ln for ln in tv.splitlines() if "Maximum resident set size" in ln]
            if not m:
                raise SystemExit(f"benchlib: no peak RSS in the output of {GNU_TIME} -v:\n{tv}")
            maxrss.append(int(m[0].rsplit(":", 1)[1]))
        else:
            maxrss.append(h)
    # CPU time: user + system of the waited process and the children it waited for (GNU time's
    # rusage includes the program's), microsecond resolution
    res = {"wall_s": t_end - t0, "cpu_s": sum(cpu), "maxrss_kb": sum(maxrss), "rss_source": src}
    if sample:
        res["anon_kb"] = sum(peak_anon)
        res["file_kb"] = sum(peak_file)
    return res


def mib(kb):
    return kb / 1024.0


def cmd_once(a, rest):
    print(json.dumps(measure(split_cmds(rest), sample=a.sample)))


def cmd_paired(a):
    bare = split_cmds(shlex.split(a.bare))
    progs = [(name, split_cmds(shlex.split(c))) for name, c in a.prog]
    bare_runs, runs = [], {name: [] for name, _ in progs}
    raw = open(a.raw, "a") if a.raw else None
    for k in range(a.runs):
        for name, cmds in progs:
            b = measure(bare)
            r = measure(cmds)
            r["ratio"] = r["wall_s"] / b["wall_s"]
            r["cpu_ratio"] = r["cpu_s"] / b["cpu_s"]
            bare_runs.append(b)
            runs[name].append(r)
            if raw:
                raw.write(json.dumps({"run": k + 1, "program": name, "bare": b, "result": r}) + "\n")
            print(f"  run {k + 1}/{a.runs}  {name:<34} {r['wall_s']:7.3f} s  bare {b['wall_s']:6.3f} s"
                  f"  ratio {r['ratio']:5.2f}", file=sys.stderr)
    sampled = {}
    if a.sample:
        # one extra, untimed run of each program that polls /proc for anonymous vs file-backed RSS
        sampled["__bare__"] = measure(bare, sample=True)
        for name, cmds in progs:
            sampled[name] = measure(cmds, sample=True)

    med = statistics.median
    rows = []
    bt = [b["wall_s"] for b in bare_runs]
    rows.append((a.bare_name, 1.0, med([a.packets / t for t in bt]), med([b["maxrss_kb"] for b in bare_runs]),
                 sampled.get("__bare__"), 1.0))
    for name, _ in progs:
        rs = runs[name]
        rows.append((name, med([r["ratio"] for r in rs]), med([a.packets / r["wall_s"] for r in rs]),
                     med([r["maxrss_kb"] for r in rs]), sampled.get(name), med([r["cpu_ratio"] for r in rs])))
    head = "| program | time ÷ bare loop | packets/s | peak RSS (MiB) |"
    line = "|---|---:|---:|---:|"
    if a.sample:
        head += " anon / file-backed at peak (MiB) |"
        line += "---:|"
    head += " CPU time ÷ bare loop's |"
    line += "---:|"
    print(head)
    print(line)
    for name, ratio, pps, rss, s, cr in rows:
        cells = f"| {name} | {ratio:.2f} | {pps / 1e6:.2f} M | {mib(rss):.0f} |"
        if a.sample:
            cells += f" {mib(s['anon_kb']):.0f} / {mib(s['file_kb']):.0f} |" if s else " |"
        cells += f" {cr:.2f} |"
        print(cells)
    print()
    if rss_source() == "gnu-time":
        print("Peak RSS: `/usr/bin/time -v` \"Maximum resident set size\", median of the runs"
              " (summed over the processes of a two-process row).")
    else:
        print("Peak RSS: VmHWM polled from /proc/PID/status every 2 ms (no /usr/bin/time; Debian: time),"
              " median of the runs (summed over the processes of a two-process row).")
    if a.sample:
        print("anon / file-backed: highest RssAnon and RssFile (+RssShmem) polled from /proc/PID/status"
              " every 2 ms in one extra untimed run.")
    print()
    print("CPU time: user + system seconds of the process(es), median over the runs of (program ÷ the"
          " bare-loop run before it); less sensitive to other load than wall time.")
    print()
    ratio_of = {name: ratio for name, ratio, _, _, _, _ in rows}
    cpu_of = {name: cr for name, _, _, _, _, cr in rows}
    if a.one in ratio_of:
        x = ratio_of[a.one]
        ok = "meets" if x <= 2.0 else "MISSES"
        print(f"1 worker vs bare loop: {x:.2f} (target ≥ 0.5 of its speed, i.e. time ratio ≤ 2.0): "
              f"{1 / x:.2f} of its speed, {ok} the target")
    if a.one in ratio_of and a.two in ratio_of:
        y = ratio_of[a.one] / ratio_of[a.two]
        ok = "meets" if y >= 1.7 else "MISSES"
        print(f"2 workers vs 1 worker: {y:.2f}× (target ≥ 1.7×): {ok} the target")
        print(f"(for reference: 2 workers used {cpu_of[a.two] / cpu_of[a.one]:.2f}× the CPU time of 1 worker;"
              f" load average {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} cores at the end)")


def main():
    argv = sys.argv[1:]
    if argv and argv[0] == "once":
        ap = argparse.ArgumentParser(prog="benchlib.py once")
        ap.add_argument("--sample", action="store_true")
        if "--" not in argv:
            ap.error("usage: benchlib.py once [--sample] -- CMD ...")
        i = argv.index("--")
        a = ap.parse_args(argv[1:i])
        return cmd_once(a, argv[i + 1:])
    if argv and argv[0] == "paired":
        ap = argparse.ArgumentParser(prog="benchlib.py paired")
        ap.add_argument("--runs", type=int, default=5)
        ap.add_argument("--packets", type=int, required=True)
        ap.add_argument("--bare", required=True)
        ap.add_argument("--bare-name", default="bare libpcap loop (`pcap_count`)")
        ap.add_argument("--prog", nargs=2, action="append", default=[], metavar=("NAME", "CMD"))
        ap.add_argument("--one", default="", help="name of the 1-worker row for the target check")
        ap.add_argument("--two", default="", help="name of the 2-worker row for the target check")
        ap.add_argument("--sample", action="store_true")
        ap.add_argument("--raw")
        return cmd_paired(ap.parse_args(argv[1:]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
