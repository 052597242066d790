#!/usr/bin/env python3
"""Structural checks and helpers for tests/deploy/run.sh and prometheus_live.sh.

Each subcommand prints what it found and exits 0 (ok) or 1 (problem). Needs only
Python 3 and PyYAML (Debian: python3-yaml).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
RULES = os.path.join(DEPLOY, "prometheus", "spanwatch.rules.yml")
RULES_TEST = os.path.join(DEPLOY, "prometheus", "spanwatch.rules.test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "dashboards", "spanwatch.json")

SEVERITIES = {"critical", "warning", "info"}
CATEGORIES = ["remote-access", "tunnel", "vpn", "proxy", "beacon", "resolver-bypass",
              "exfiltration", "collection", "calls", "fan-in", "account", "egress"]
REQUIRED_ALERTS = ["SpanwatchDown", "SpanwatchCaptureDrops", "SpanwatchDecodeErrors", "SpanwatchNoPackets",
                   "SpanwatchQueueDrops", "SpanwatchRemoteAccessSession", "SpanwatchTunnel",
                   "SpanwatchExfiltration", "SpanwatchConcurrentCalls", "SpanwatchRulesReloadFailed"]
REQUIRED_ROWS = ["traffic", "flows", "remote", "tunnel", "exfiltration", "calls", "alerts", "health"]

problems = []


def bad(msg):
    problems.append(msg)
    print("  problem: " + msg)


def finish():
    return 1 if problems else 0


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def known_metrics():
    kinds = {}
    with open(os.path.join(HERE, "metrics.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                kind, name = line.split()
                kinds[name] = kind
    return kinds


def rules():
    doc = load_yaml(RULES)
    out = []
    for g in doc["groups"]:
        for r in g["rules"]:
            out.append(r)
    return out


def dashboard_targets(d):
    """(panel title, expr) for every target of every panel, rows' nested panels included."""
    out = []

    def walk(panels):
        for p in panels:
            if p.get("type") == "row":
                walk(p.get("panels", []))
                continue
            for t in p.get("targets", []):
                out.append((p.get("title", ""), t.get("expr", "")))
    walk(d.get("panels", []))
    return out


def grafana_to_promql(expr):
    """Replace Grafana's variables by values a plain Prometheus accepts."""
    for k, v in (("$__rate_interval", "1m"), ("${__rate_interval}", "1m"), ("$__interval", "15s"),
                 ("${__interval}", "15s"), ("$__range", "1h"), ("${__range}", "1h"),
                 ("${instance}", ".*"), ("$instance", ".*")):
        expr = expr.replace(k, v)
    if "$" in expr:
        raise ValueError("unknown Grafana variable left in: " + expr)
    return expr


PROMQL_WORDS = {"sum", "rate", "increase", "by", "without", "on", "ignoring", "group_left", "group_right", "and",
                "or", "unless", "bool", "time", "vector", "sort_desc", "sort", "topk", "bottomk", "count", "avg",
                "max", "min", "irate", "delta", "changes", "absent", "label_values", "offset", "histogram_quantile",
                "humanize", "instance", "job"}


def metric_names(expr):
    """Metric names in a PromQL expression (names followed by a selector, range or operator)."""
    # drop label matchers' contents and strings so label names are not taken for metrics
    e = re.sub(r"\{[^}]*\}", "{}", expr)
    e = re.sub(r"\[[^\]]*\]", "[]", e)
    e = re.sub(r"\"[^\"]*\"", "\"\"", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for tok in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        w = tok.group(0)
        end = tok.end()
        nxt = e[end:end + 1]
        if w in PROMQL_WORDS or nxt == "(":
            continue
        if re.fullmatch(r"\d+[smhdwy]", w):
            continue
        names.add(w)
    return names


def boolify(expr):
    """Add `bool` to every comparison outside selectors/strings, so an alert's condition
    returns its input series (0/1) instead of filtering them away."""
    out, i, depth_brace, n = [], 0, 0, len(expr)
    while i < n:
        c = expr[i]
        if c == '"':
            j = i + 1
            while j < n and expr[j] != '"':
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i:j + 1])
            i = j + 1
            continue
        if c == "{":
            depth_brace += 1
        elif c == "}":
            depth_brace -= 1
        if depth_brace == 0:
            m = re.match(r"(==|!=|>=|<=|>|<)", expr[i:])
            if m:
                op = m.group(1)
                rest = expr[i + len(op):]
                out.append(op)
                if not re.match(r"\s*bool\b", rest):
                    out.append(" bool")
                i += len(op)
                continue
        out.append(c)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------ subcommands

def cmd_rules_meta(_):
    """Alerting rules: labels, annotations, runbook anchors, names; test coverage."""
    rs = rules()
    alerts = [r for r in rs if "alert" in r]
    records = [r for r in rs if "record" in r]
    names = [a["alert"] for a in alerts]
    for req in REQUIRED_ALERTS:
        if req not in names:
            bad(f"required alert {req} missing")
    if len(set(names)) != len(names):
        bad("duplicate alert names")
    readme = open(os.path.join(DEPLOY, "README.md"), encoding="utf-8").read().lower()
    known = known_metrics()
    recs = {r["record"] for r in records}
    for r in rs:
        for m in metric_names(r["expr"]):
            if m not in known and m not in recs:
                bad(f"{r.get('alert') or r.get('record')}: unknown metric {m} (typo? add it to tests/deploy/metrics.txt)")
    for a in alerts:
        n = a["alert"]
        sev = a.get("labels", {}).get("severity")
        if sev not in SEVERITIES:
            bad(f"{n}: severity label {sev!r} not in {sorted(SEVERITIES)}")
        ann = a.get("annotations", {})
        for k in ("summary", "description", "runbook"):
            if not ann.get(k):
                bad(f"{n}: annotation {k} missing")
        rb = ann.get("runbook", "")
        if "#" in rb:
            anchor = rb.split("#", 1)[1]
            if f"### {anchor}" not in readme and f"## {anchor}" not in readme:
                bad(f"{n}: runbook anchor #{anchor} has no heading in deploy/README.md")
        if "spanwatch_alerts_total" in a["expr"] and not re.search(r"sum by \((?![^)]*severity)[^)]*\)", a["expr"]):
            bad(f"{n}: must aggregate away spanwatch's severity label (it would clash with the alert's)")
    # every category of spanwatch_alerts_total reaches some alert
    covered = set()
    for a in alerts:
        m = re.search(r'category=~?"([^"]+)"', a["expr"])
        if m:
            covered |= set(m.group(1).split("|"))
    for c in CATEGORIES:
        if c not in covered:
            bad(f"category {c} is not covered by any alerting rule")
    # unit tests: every alert shown firing and not firing; every recording rule's value checked
    t = load_yaml(RULES_TEST)
    firing, quiet, recorded = set(), set(), set()
    for tc in t["tests"]:
        for at in tc.get("alert_rule_test", []) or []:
            (firing if at.get("exp_alerts") else quiet).add(at["alertname"])
        for pt in tc.get("promql_expr_test", []) or []:
            recorded.add(pt["expr"].strip())
    for n in names:
        if n not in firing:
            bad(f"{n}: no unit test shows it firing")
        if n not in quiet:
            bad(f"{n}: no unit test shows it not firing")
    for r in records:
        if r["record"] not in recorded:
            bad(f"recording rule {r['record']}: value not checked by a promql_expr_test")
    print(f"  {len(alerts)} alerting rules, {len(records)} recording rules, categories covered: {len(covered & set(CATEGORIES))}/{len(CATEGORIES)}")
    return finish()


def cmd_alert_names(_):
    for r in rules():
        if "alert" in r:
            print(r["alert"])
    return 0


def cmd_mutant(args):
    """Write a copy of the rules where one alert never fires (or always fires)."""
    doc = load_yaml(RULES)
    for g in doc["groups"]:
        for r in g["rules"]:
            if r.get("alert") == args.alert:
                if args.kind == "never":
                    r["expr"] = f"({r['expr']}) and on() vector(0) > 1"
                else:
                    # a series no real input has, so `or` always adds it
                    r["expr"] = f"({r['expr']}) or label_replace(vector(1), \"mutant\", \"1\", \"\", \"\")"
    with open(args.out, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return 0


def cmd_dashboard(_):
    with open(DASHBOARD, encoding="utf-8") as f:
        d = json.load(f)
    known = known_metrics()
    rec = {r["record"] for r in rules() if "record" in r}
    tl = d.get("templating", {}).get("list", [])
    dsv = [v for v in tl if v.get("type") == "datasource" and v.get("name") == "datasource"]
    if not dsv or dsv[0].get("query") != "prometheus":
        bad("no datasource variable named datasource of type prometheus")
    if not d.get("uid") or not d.get("title"):
        bad("dashboard needs uid and title")
    ids, rows, n_targets = set(), [], 0

    def check_ds(where, ds):
        if not isinstance(ds, dict) or ds.get("type") != "prometheus" or ds.get("uid") != "${datasource}":
            bad(f"{where}: datasource is {ds!r}, not the ${{datasource}} variable")

    for v in tl:
        if v.get("type") == "query":
            check_ds(f"variable {v.get('name')}", v.get("datasource"))

    def walk(panels):
        nonlocal n_targets
        for p in panels:
            pid = p.get("id")
            if pid in ids:
                bad(f"panel id {pid} used twice")
            ids.add(pid)
            gp = p.get("gridPos", {})
            if not all(k in gp for k in ("h", "w", "x", "y")) or gp.get("x", 0) + gp.get("w", 0) > 24:
                bad(f"panel {p.get('title')!r}: bad gridPos {gp}")
            if p.get("type") == "row":
                rows.append(p.get("title", "").lower())
                walk(p.get("panels", []))
                continue
            title = p.get("title")
            if not title:
                bad(f"panel {pid} has no title")
            check_ds(f"panel {title!r}", p.get("datasource"))
            tg = p.get("targets") or []
            if not tg:
                bad(f"panel {title!r} has no target")
            refs = set()
            for t in tg:
                n_targets += 1
                check_ds(f"panel {title!r} target {t.get('refId')}", t.get("datasource"))
                if t.get("refId") in refs:
                    bad(f"panel {title!r}: refId {t.get('refId')} twice")
                refs.add(t.get("refId"))
                expr = t.get("expr", "").strip()
                if not expr:
                    bad(f"panel {title!r}: empty expr")
                    continue
                for m in metric_names(expr):
                    if m not in known and m not in rec:
                        bad(f"panel {title!r}: unknown metric {m} (typo? add it to tests/deploy/metrics.txt)")
                if "job=\"spanwatch\"" not in expr and "ALERTS" not in expr:
                    bad(f"panel {title!r}: expr does not select job=\"spanwatch\": {expr}")
    walk(d.get("panels", []))
    for want in REQUIRED_ROWS:
        if not any(want in r for r in rows):
            bad(f"no row about {want!r} (rows: {rows})")
    print(f"  {len(ids)} panels in {len(rows)} rows, {n_targets} targets")
    return finish()


def cmd_provisioning(_):
    ds = load_yaml(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "prometheus.yml"))
    if ds.get("apiVersion") != 1 or not ds.get("datasources"):
        bad("datasources provisioning: apiVersion 1 and a datasources list needed")
    else:
        d0 = ds["datasources"][0]
        if d0.get("type") != "prometheus" or not str(d0.get("url", "")).startswith("http://127.0.0.1:9090"):
            bad(f"datasource should be prometheus at http://127.0.0.1:9090, is {d0}")
    db = load_yaml(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "spanwatch.yml"))
    provs = db.get("providers") or []
    if db.get("apiVersion") != 1 or not provs or provs[0].get("type") != "file" or not provs[0].get("options", {}).get("path"):
        bad("dashboards provisioning: one file provider with options.path needed")
    else:
        path = provs[0]["options"]["path"]
        # compose.yml must mount dashboards/ at that path
        comp = load_yaml(os.path.join(DEPLOY, "container", "compose.yml"))
        mounts = comp["services"]["grafana"].get("volumes", [])
        if not any(str(m).split(":")[1] == path for m in mounts):
            bad(f"compose.yml's grafana does not mount the dashboards at {path}")
    return finish()


def cmd_exprs(args):
    """Print JSON lines {source, name, expr, kind} for every dashboard and rule expression."""
    with open(DASHBOARD, encoding="utf-8") as f:
        d = json.load(f)
    for title, expr in dashboard_targets(d):
        print(json.dumps({"source": "dashboard", "name": title, "expr": grafana_to_promql(expr), "kind": "panel"}))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query")
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
            print(json.dumps({"source": "dashboard", "name": f"variable {v['name']}",
                              "expr": m.group(1) if m else q, "kind": "variable"}))
    for r in rules():
        if "record" in r:
            print(json.dumps({"source": "rules", "name": r["record"], "expr": r["expr"], "kind": "record"}))
            print(json.dumps({"source": "rules", "name": r["record"] + " (recorded series)", "expr": r["record"], "kind": "recorded"}))
        else:
            print(json.dumps({"source": "rules", "name": r["alert"], "expr": r["expr"], "kind": "alert"}))
            m = re.fullmatch(r"absent\((.*)\)", r["expr"].strip())
            inputs = m.group(1) if m else boolify(r["expr"])
            print(json.dumps({"source": "rules", "name": r["alert"] + " (inputs, bool)", "expr": inputs, "kind": "alert-inputs"}))
    return 0


def query(base, expr):
    url = base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except Exception:
            return {"status": "error", "error": f"HTTP {e.code}"}


def cmd_query(args):
    """Send every expression (JSON lines on stdin) to Prometheus; print one TSV line each:
    status, number of series, kind, source, name, error."""
    for line in sys.stdin:
        if not line.strip():
            continue
        e = json.loads(line)
        r = query(args.url, e["expr"])
        n = len(r.get("data", {}).get("result", [])) if r.get("status") == "success" else -1
        if r.get("data", {}).get("resultType") == "scalar":
            n = 1
        print("\t".join([r.get("status", "?"), str(n), e["kind"], e["source"], e["name"],
                         r.get("error", "").replace("\t", " "), e["expr"]]))
    return 0


def cmd_compose(_):
    path = os.path.join(DEPLOY, "container", "compose.yml")
    c = load_yaml(path)
    svcs = c.get("services", {})
    for s in ("spanwatch", "prometheus", "alertmanager", "grafana"):
        if s not in svcs:
            bad(f"service {s} missing")
    sw = svcs.get("spanwatch", {})
    if sw.get("network_mode") != "host":
        bad("spanwatch must use network_mode: host")
    if sorted(sw.get("cap_add", [])) != ["NET_ADMIN", "NET_RAW"]:
        bad(f"spanwatch cap_add must be exactly NET_RAW, NET_ADMIN: {sw.get('cap_add')}")
    if sw.get("cap_drop") != ["ALL"]:
        bad("spanwatch must cap_drop ALL")
    if sw.get("privileged"):
        bad("spanwatch must not be privileged")
    if str(sw.get("user", "0")).split(":")[0] in ("0", "root"):
        bad("spanwatch must not run as root")
    if "no-new-privileges:true" in [str(x).replace(" ", "") for x in sw.get("security_opt", [])]:
        bad("no-new-privileges would disable the binary's file capabilities")
    if "healthcheck" not in sw or "/healthz" not in " ".join(map(str, sw["healthcheck"].get("test", []))):
        bad("spanwatch healthcheck on /healthz missing")
    b = sw.get("build", {})
    df = os.path.normpath(os.path.join(os.path.dirname(path), b.get("context", "."), b.get("dockerfile", "Dockerfile")))
    if not os.path.exists(df):
        bad(f"build dockerfile {df} missing")
    # every bind-mounted file exists, and the config files are the ones in deploy/
    want = {"prometheus": ["prometheus.yml", "spanwatch.rules.yml"], "alertmanager": ["alertmanager.yml"],
            "grafana": ["datasources", "dashboards"], "spanwatch": ["spanwatch.toml"]}
    for name, svc in svcs.items():
        srcs = []
        for v in svc.get("volumes", []):
            src = str(v).split(":")[0] if isinstance(v, str) else v.get("source")
            if src.startswith(".") or src.startswith("/"):
                full = os.path.normpath(os.path.join(os.path.dirname(path), src))
                if not os.path.exists(full):
                    bad(f"{name}: mounted {src} does not exist")
                srcs.append(src)
            elif src not in c.get("volumes", {}):
                bad(f"{name}: named volume {src} not declared")
        for w in want.get(name, []):
            if not any(s.rstrip("/").endswith(w) for s in srcs):
                bad(f"{name}: does not mount {w}")
        if name != "spanwatch" and svc.get("network_mode") != "host":
            bad(f"{name}: not on the host network, so 127.0.0.1 in the configs would not reach the others")
    # the addresses the configs use are the ones the services listen on
    cmds = " ".join(map(str, svcs.get("prometheus", {}).get("command", [])))
    if "127.0.0.1:9090" not in cmds:
        bad("prometheus should listen on 127.0.0.1:9090 (the Grafana datasource URL)")
    cmds = " ".join(map(str, svcs.get("alertmanager", {}).get("command", [])))
    if "127.0.0.1:9093" not in cmds:
        bad("alertmanager should listen on 127.0.0.1:9093 (prometheus.yml's alerting target)")
    return finish()


def cmd_healthcheck_cmd(_):
    """Print the compose healthcheck of spanwatch as a shell-quoted argv (compose's $$ unescaped)."""
    import shlex
    c = load_yaml(os.path.join(DEPLOY, "container", "compose.yml"))
    t = c["services"]["spanwatch"]["healthcheck"]["test"]
    assert t[0] == "CMD"
    print(" ".join(shlex.quote(a.replace("$$", "$")) for a in t[1:]))
    return 0


DOCKERFILE = os.path.join(DEPLOY, "container", "Dockerfile")


def dockerfile_stages(path):
    """The stages of a Dockerfile: dicts with base, name, workdir and copies, each copy a
    (sources, destination, from-stage or None) tuple. Line continuations joined, comments
    dropped; COPY in its shell form (no JSON array form is used here)."""
    stages = []
    for raw in open(path, encoding="utf-8").read().replace("\\\n", " ").splitlines():
        l = raw.strip()
        if not l or l.startswith("#"):
            continue
        word = l.split()[0].upper()
        if word == "FROM":
            parts = l.split()
            stages.append({"base": parts[1], "name": parts[3] if len(parts) > 3 and parts[2].upper() == "AS" else None,
                           "workdir": "/", "copies": []})
        elif word == "WORKDIR" and stages:
            w = l.split(None, 1)[1]
            stages[-1]["workdir"] = w if w.startswith("/") else os.path.join(stages[-1]["workdir"], w)
        elif word in ("COPY", "ADD") and stages:
            args = l.split()[1:]
            frm = None
            while args and args[0].startswith("--"):
                if args[0].startswith("--from="):
                    frm = args[0].split("=", 1)[1]
                args = args[1:]
            stages[-1]["copies"].append((args[:-1], args[-1], frm))
    return stages


def dockerignore_patterns(path):
    ign = path + ".dockerignore"
    if not os.path.exists(ign):
        ign = os.path.join(ROOT, ".dockerignore")
    if not os.path.exists(ign):
        return []
    return [l.strip().rstrip("/") for l in open(ign, encoding="utf-8") if l.strip() and not l.startswith("#")]


def dockerignored(rel, patterns):
    """Whether the context path rel (or a folder above it) matches a .dockerignore pattern."""
    import fnmatch
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        p = "/".join(parts[:i])
        for pat in patterns:
            if fnmatch.fnmatchcase(p, pat) or (pat.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pat[3:])):
                return True
    return False


def build_inputs():
    """What `cargo build` of the binary reads from the repository: the manifest and lockfile,
    build.rs and the folders it reads (root.join("...")), and the top folder of each target's
    source path, and the folder of each path dependency (dev-dependencies too: cargo loads
    their manifests to resolve the lockfile) and workspace member."""
    need = {"Cargo.toml", "Cargo.lock"}
    br = os.path.join(ROOT, "build.rs")
    if os.path.exists(br):
        need.add("build.rs")
        need.update(re.findall(r'root\.join\("([^"/]+)[^"]*"\)', open(br, encoding="utf-8").read()))
    manifest = open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8").read()
    # `path = "..."` of a target, or inside a dependency's inline table
    for m in re.finditer(r'^(?:path|[A-Za-z0-9_-]+\s*=\s*\{[^}\n]*\bpath)\s*=\s*"([^"]+)"', manifest, re.M):
        need.add(m.group(1).split("/")[0])
    for m in re.finditer(r'^members\s*=\s*\[([^\]]*)\]', manifest, re.M):
        need.update(p.split("/")[0] for p in re.findall(r'"([^"]+)"', m.group(1)) if p != ".")
    return sorted(need)


def build_stage(stages):
    for st in stages:
        if st["name"] and any(frm == st["name"] for s in stages for (_, _, frm) in s["copies"]):
            return st
    return stages[0]


def cmd_docker_context(a):
    """Materialise what each stage of the Dockerfile COPYs from the build context (the
    repository root, .dockerignore applied): the build stage's files under OUT/build at the
    paths they get below WORKDIR, the final stage's under OUT/final (absolute destinations)."""
    import shutil
    path = a.dockerfile or DOCKERFILE
    stages = dockerfile_stages(path)
    pats = dockerignore_patterns(path)
    bs = build_stage(stages)
    for tag, st in (("build", bs), ("final", stages[-1])):
        root = os.path.join(a.out, tag)
        os.makedirs(root, exist_ok=True)
        for srcs, dest, frm in st["copies"]:
            if frm:
                continue
            d = dest if dest.startswith("/") else os.path.join(st["workdir"], dest)
            d = os.path.join(root, d.lstrip("/"))
            for src in srcs:
                sp = os.path.join(ROOT, src)
                if not os.path.exists(sp):
                    bad(f"COPY source {src} missing")
                    continue
                if os.path.isdir(sp):
                    # COPY dir dest: the contents of dir into dest
                    for dp, dns, fns in os.walk(sp):
                        dns[:] = [x for x in dns if not dockerignored(os.path.relpath(os.path.join(dp, x), ROOT), pats)]
                        for fn in fns:
                            rel = os.path.relpath(os.path.join(dp, fn), ROOT)
                            if dockerignored(rel, pats):
                                continue
                            t = os.path.join(d, os.path.relpath(os.path.join(dp, fn), sp))
                            os.makedirs(os.path.dirname(t), exist_ok=True)
                            shutil.copy2(os.path.join(dp, fn), t)
                elif not dockerignored(src, pats):
                    t = os.path.join(d, os.path.basename(src)) if (dest.endswith("/") or len(srcs) > 1) else d
                    os.makedirs(os.path.dirname(t), exist_ok=True)
                    shutil.copy2(sp, t)
                print(f"{tag}: {src} -> {dest}")
    print(f"build stage workdir {bs['workdir']}")
    return finish()


def cmd_dockerfile(a):
    path = a.dockerfile or DOCKERFILE
    # Every input of the build is copied into the build stage and not excluded by the
    # .dockerignore (a missing build.rs or rules/ made the image fail to build: OUT_DIR not defined).
    stages = dockerfile_stages(path)
    bs = build_stage(stages)
    pats = dockerignore_patterns(path)
    copied = set()
    for srcs, _, frm in bs["copies"]:
        if not frm:
            copied.update(s.rstrip("/") for s in srcs)
    for need in build_inputs():
        if need not in copied:
            bad(f"the build stage does not COPY {need} (cargo build reads it)")
        elif dockerignored(need, pats):
            bad(f"{need} is excluded by the .dockerignore but the build needs it")
    lines = []
    for raw in open(path, encoding="utf-8").read().replace("\\\n", " ").splitlines():
        s = raw.strip()
        if s and not s.startswith("#"):
            lines.append(s)
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    if len(froms) < 2:
        bad("not multi-stage")
    else:
        if not re.match(r"FROM rust:\S*bookworm\S* AS \w+", froms[0], re.I):
            bad(f"build stage should be rust:*bookworm: {froms[0]}")
        if not froms[-1].split()[1].startswith("debian:bookworm-slim"):
            bad(f"final stage should be debian:bookworm-slim: {froms[-1]}")
    text = "\n".join(lines)
    stages = re.split(r"(?im)^FROM ", text)
    build, final = stages[1], stages[-1]
    if "libpcap-dev" not in build:
        bad("build stage does not install libpcap-dev")
    if "libpcap0.8" not in final:
        bad("final stage does not install libpcap0.8")
    if "libpcap-dev" in final or "cargo" in final.split("COPY --from")[0]:
        bad("final stage carries build tools")
    users = [l for l in final.splitlines() if l.upper().startswith("USER ")]
    if not users or users[-1].split()[1].split(":")[0] in ("root", "0"):
        bad("final stage must end with a non-root USER")
    if "setcap cap_net_raw,cap_net_admin+ep" not in final:
        bad("binary does not get cap_net_raw,cap_net_admin file capabilities")
    for l in lines:
        m = re.match(r"COPY\s+(?!--from)(.+)\s+(\S+)$", l)
        if m:
            for src in m.group(1).split():
                if not os.path.exists(os.path.join(ROOT, src)):
                    bad(f"COPY source {src} missing from the repository")
    if not re.search(r'ENTRYPOINT \["/usr/bin/spanwatch"\]', text):
        bad("ENTRYPOINT should be the binary (exec form)")
    return finish()


def cmd_logrotate(_):
    """deploy/logrotate/spanwatch rotates the EVE file of deploy/spanwatch.toml as the unit's
    user, by renaming and SIGHUP (the sensor reopens), never copytruncate."""
    import shlex
    path = os.path.join(DEPLOY, "logrotate", "spanwatch")
    text = open(path, encoding="utf-8").read()
    body = "\n".join(l.split("#", 1)[0] for l in text.splitlines())
    words = [l.split() for l in body.splitlines() if l.strip()]
    with open(os.path.join(DEPLOY, "spanwatch.toml"), "rb") as f:
        import tomllib
        eve = tomllib.load(f)["output"]["eve"]
    globs = [w[0] for w in words if w[-1] == "{"]
    if not globs or not any(os.path.dirname(g) == os.path.dirname(eve) and
                            __import__("fnmatch").fnmatch(eve, g) for g in globs):
        bad(f"no rotated path matches deploy/spanwatch.toml's eve = {eve!r}: {globs}")
    if any(w[0] == "copytruncate" for w in words):
        bad("copytruncate: spanwatch reopens its EVE file on SIGHUP, rename and signal instead")
    unit = open(os.path.join(DEPLOY, "systemd", "spanwatch.service"), encoding="utf-8").read()
    user = re.search(r"^User=(\S+)", unit, re.M).group(1)
    su = [w for w in words if w[0] == "su"]
    if not su or su[0][1] != user:
        bad(f"'su {user} {user}' needed: /var/log/spanwatch belongs to the unit's user")
    m = re.search(r"postrotate\n(.*?)\n\s*endscript", body, re.S)
    post = m.group(1).strip() if m else ""
    if not re.search(r"systemctl (reload|kill -s (HUP|SIGHUP)) spanwatch|kill -HUP", post):
        bad(f"postrotate does not send SIGHUP to spanwatch: {post!r}")
    if "systemctl reload" in post and "ExecReload=/bin/kill -HUP $MAINPID" not in unit:
        bad("postrotate uses systemctl reload but the unit's ExecReload does not send SIGHUP")
    print(f"rotates {globs} as {user}; postrotate: {post}")
    return finish()


def cmd_k8s(_):
    kd = os.path.join(DEPLOY, "kubernetes")
    docs = {}
    for fn in ("daemonset.yaml", "service.yaml", "podmonitor.yaml", "configmap.yaml", "namespace.yaml"):
        for d in load_yaml_all(os.path.join(kd, fn)):
            docs[d["kind"]] = d
            if not d.get("apiVersion") or not d.get("metadata", {}).get("name"):
                bad(f"{fn}: apiVersion and metadata.name needed")
    ds, svc, pm, cm = (docs.get(k) for k in ("DaemonSet", "Service", "PodMonitor", "ConfigMap"))
    if not all((ds, svc, pm, cm)):
        bad("need DaemonSet, Service, PodMonitor and ConfigMap")
        return finish()
    if ds["apiVersion"] != "apps/v1":
        bad("DaemonSet apiVersion must be apps/v1")
    tpl = ds["spec"]["template"]
    labels = tpl["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in ds["spec"]["selector"]["matchLabels"].items()):
        bad("DaemonSet selector does not match its pod labels")
    spec = tpl["spec"]
    if spec.get("hostNetwork") is not True:
        bad("hostNetwork: true needed")
    cs = spec["containers"]
    if len(cs) != 1:
        bad("one container expected")
    c = cs[0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        bad("capabilities.drop must be [ALL]")
    if sorted(caps.get("add", [])) != ["NET_ADMIN", "NET_RAW"]:
        bad(f"capabilities.add must be exactly NET_RAW, NET_ADMIN: {caps.get('add')}")
    if sc.get("readOnlyRootFilesystem") is not True:
        bad("readOnlyRootFilesystem: true needed")
    if sc.get("privileged"):
        bad("must not be privileged")
    if (spec.get("securityContext", {}).get("runAsUser", 0) or sc.get("runAsUser", 0)) == 0:
        bad("must not run as uid 0")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports.get("metrics") != 9617:
        bad("container port named metrics = 9617 needed")
    for probe in ("livenessProbe", "readinessProbe"):
        hg = c.get(probe, {}).get("httpGet", {})
        if hg.get("path") != "/healthz" or hg.get("port") not in ("metrics", 9617):
            bad(f"{probe} must GET /healthz on the metrics port")
    res = c.get("resources", {})
    if not res.get("requests", {}).get("cpu") or not res.get("requests", {}).get("memory") or not res.get("limits", {}).get("memory"):
        bad("resources: cpu/memory requests and a memory limit needed")
    args = " ".join(c.get("args", []))
    if "--listen" not in args or "run" not in args:
        bad("container must run `spanwatch run --listen <pod IP>:9617` (probes cannot reach 127.0.0.1)")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for n in mounts:
        if n not in vols:
            bad(f"volumeMount {n} has no volume")
    if mounts.get("config") != "/etc/spanwatch" or vols.get("config", {}).get("configMap", {}).get("name") != cm["metadata"]["name"]:
        bad("the ConfigMap must be mounted at /etc/spanwatch")
    if "/etc/spanwatch/spanwatch.toml" not in args:
        bad("args must point --config at the mounted spanwatch.toml")
    if "spanwatch.toml" not in cm.get("data", {}):
        bad("ConfigMap must hold spanwatch.toml")
    # eve path in the config is a writable mount (read-only root)
    m = re.search(r'eve\s*=\s*"([^"]+)"', cm["data"].get("spanwatch.toml", ""))
    if m and not any(m.group(1).startswith(p + "/") for p in mounts.values()):
        bad(f"EVE path {m.group(1)} is not on a writable volume")
    # Service: headless, metrics 9617, selects the pods
    if svc["spec"].get("clusterIP") != "None":
        bad("Service must be headless (clusterIP: None)")
    sp = {p.get("name"): p.get("port") for p in svc["spec"].get("ports", [])}
    if sp.get("metrics") != 9617:
        bad("Service port named metrics = 9617 needed")
    if any(labels.get(k) != v for k, v in svc["spec"]["selector"].items()):
        bad("Service selector does not match the pods")
    # PodMonitor
    if pm["apiVersion"] != "monitoring.coreos.com/v1":
        bad("PodMonitor apiVersion must be monitoring.coreos.com/v1")
    if any(labels.get(k) != v for k, v in pm["spec"]["selector"]["matchLabels"].items()):
        bad("PodMonitor selector does not match the pods")
    eps = pm["spec"].get("podMetricsEndpoints", [])
    if not eps or eps[0].get("port") != "metrics":
        bad("PodMonitor must scrape the port named metrics")
    jl = pm["spec"].get("jobLabel")
    if labels.get(jl) != "spanwatch":
        bad("PodMonitor jobLabel must give job=\"spanwatch\" (the rules match on it)")
    allowed = {"jobLabel", "podTargetLabels", "podMetricsEndpoints", "selector", "namespaceSelector", "sampleLimit",
               "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "attachMetadata",
               "scrapeProtocols", "scrapeClass", "fallbackScrapeProtocol", "keepDroppedTargets", "selectorMechanism",
               "scrapeClassicHistograms", "bodySizeLimit", "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor",
               "convertClassicHistogramsToNHCB"}
    for k in pm["spec"]:
        if k not in allowed:
            bad(f"PodMonitor spec has unknown field {k}")
    ep_allowed = {"port", "portNumber", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout",
                  "honorLabels", "honorTimestamps", "trackTimestampsStaleness", "relabelings", "metricRelabelings",
                  "basicAuth", "bearerTokenSecret", "authorization", "oauth2", "tlsConfig", "followRedirects",
                  "enableHttp2", "filterRunning", "proxyUrl", "noProxy", "proxyFromEnvironment", "proxyConnectHeader"}
    for ep in eps:
        for k in ep:
            if k not in ep_allowed:
                bad(f"PodMonitor endpoint has unknown field {k}")
        for rl in ep.get("relabelings", []):
            for k in rl:
                if k not in {"sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"}:
                    bad(f"relabeling has unknown field {k}")
    ns = {d["metadata"].get("namespace") for d in (ds, svc, pm, cm)}
    if len(ns) != 1:
        bad(f"resources are in different namespaces: {ns}")
    # The web config example (TLS, basic auth) and the commented lines that use it.
    wpath = os.path.join(kd, "web-config.example.yaml")
    if os.path.exists(wpath):
        sec = load_yaml(wpath)
        ds_text = open(os.path.join(kd, "daemonset.yaml"), encoding="utf-8").read()
        pm_text = open(os.path.join(kd, "podmonitor.yaml"), encoding="utf-8").read()
        if sec.get("kind") != "Secret" or sec["metadata"].get("namespace") not in ns:
            bad("web-config.example.yaml must be a Secret in the sensor's namespace")
        try:
            web = yaml.safe_load(sec["stringData"]["web.yml"])
            tls = web["tls_server_config"]
            if not web.get("basic_auth_users"):
                bad("web-config.example.yaml: web.yml should show basic_auth_users")
            for k in ("cert_file", "key_file"):
                if "/" in tls[k]:
                    bad(f"web-config.example.yaml: {k} should name a key of the Secret (relative path)")
        except (KeyError, TypeError, yaml.YAMLError) as e:
            bad(f"web-config.example.yaml: no usable web.yml with tls_server_config: {e}")
        name = sec["metadata"]["name"]
        for needle, what in ((f"secretName: {name}", "the Secret volume"),
                             ("--web.config.file=/etc/spanwatch/web/web.yml", "the --web.config.file argument"),
                             ("mountPath: /etc/spanwatch/web", "the Secret's mount"),
                             ("scheme: HTTPS", "the probes' HTTPS scheme")):
            if needle not in ds_text:
                bad(f"daemonset.yaml does not show {what} ({needle!r}) for the web config")
        for needle in ("scheme: https", "tlsConfig:", "basicAuth:"):
            if needle not in pm_text:
                bad(f"podmonitor.yaml does not show {needle!r} for the web config")
    return finish()


def cmd_config_mutant(args):
    """Copy a k8s file with an unknown field, to prove the schema validator is strict."""
    d = load_yaml(args.src)
    d["spec"]["template"]["spec"]["hostNetwrok"] = True
    with open(args.out, "w", encoding="utf-8") as f:
        yaml.safe_dump(d, f)
    return 0


def series_per_sensor():
    """Series one sensor exports today, by family, from the label sets in the brief."""
    # label values that are fixed by the sensor's code (see /metrics)
    layers, encaps, reasons = 12, 12, 6
    app_protos, categories, severities = 46, 12, 4
    event_types, results = 3, 2
    counts = {
        "spanwatch_packets_total": 1, "spanwatch_bytes_total": 1,
        "spanwatch_capture_kernel_dropped_packets_total": 1, "spanwatch_capture_interface_dropped_packets_total": 1,
        "spanwatch_queue_dropped_packets_total": 1, "spanwatch_output_dropped_events_total": 1,
        "spanwatch_capture_ring_freezes_total": 1, "spanwatch_capture_handoff_packets_total": 1,
        "spanwatch_non_ip_packets_total": 1, "spanwatch_ip_fragments_total": 1,
        "spanwatch_decode_errors_total": layers, "spanwatch_encapsulated_packets_total": encaps,
        "spanwatch_flows_created_total": 1, "spanwatch_flows_ended_total": reasons,
        "spanwatch_flows_identified_total": app_protos, "spanwatch_alerts_total": categories * severities,
        "spanwatch_alerts_suppressed_total": 1, "spanwatch_eve_records_total": event_types,
        "spanwatch_eve_write_errors_total": 1, "spanwatch_config_reloads_total": 3,
        "spanwatch_build_info": 1, "spanwatch_start_time_seconds": 1, "spanwatch_flows_active": 1,
        "spanwatch_remote_access_sessions_active": 1, "spanwatch_rules_loaded": 1,
        "spanwatch_config_last_reload_successful": 1, "spanwatch_last_packet_timestamp_seconds": 1,
        "spanwatch_hosts_tracked": 1, "spanwatch_hosts_evicted_total": 1,
        "spanwatch_accounts_tracked": 1, "spanwatch_account_anomalies_total": 4,
        "spanwatch_malformed_flows_total": 7,
        "spanwatch_egress_bytes_total": 3, "spanwatch_host_anomalies_total": 11,
        "spanwatch_calls_active": 1, "spanwatch_host_state_writes_total": results,
        "spanwatch_host_state_loads_total": results,
        "spanwatch_alertmanager_notifications_total": 4, "spanwatch_alertmanager_active_alerts": 1,
        "spanwatch_resolver_bypass_flows_total": 3, "spanwatch_beacon_pairs_tracked": 1,
        "spanwatch_beacon_pairs_evicted_total": 1,
        # output: 3 (file, redis, syslog)
        "spanwatch_eve_output_records_total": 3, "spanwatch_eve_output_dropped_records_total": 3,
        "spanwatch_eve_output_errors_total": 3,
        # packet evidence: 4 plain families, dropped by reason: 4
        "spanwatch_evidence_files_total": 1, "spanwatch_evidence_packets_total": 1,
        "spanwatch_evidence_files_deleted_total": 1, "spanwatch_evidence_disk_bytes": 1,
        "spanwatch_evidence_dropped_packets_total": 4,
    }
    return counts


def cmd_cardinality(args):
    """Check the README's series-per-sensor numbers against the label sets (and the binary's output)."""
    counts = series_per_sensor()
    fixed = sum(counts.values())
    readme = open(os.path.join(DEPLOY, "README.md"), encoding="utf-8").read()
    m = re.search(r"<!-- series-fixed: (\d+) -->", readme)
    if not m or int(m.group(1)) != fixed:
        bad(f"README must state {fixed} fixed series per sensor (marker <!-- series-fixed: {fixed} -->), has {m.group(1) if m else 'none'}")
    if args.metrics_file:
        n = {}
        for line in open(args.metrics_file, encoding="utf-8"):
            if line.startswith("#") or not line.strip():
                continue
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            n[name] = n.get(name, 0) + 1
        for k, v in counts.items():
            if k in ("spanwatch_worker_packets_total", "spanwatch_capture_ring_fill_ratio"):
                continue
            if n.get(k, 0) != v:
                bad(f"{k}: README/lint count {v}, the binary exports {n.get(k, 0)}")
        print(f"  binary exports {sum(n.values())} series with 1 worker and no remote-access session")
    print(f"  fixed series per sensor: {fixed} (+ workers, + tool x direction sessions, + 1 up per target)")
    return finish()


def cmd_metrics_drift(args):
    """The binary's metric families vs tests/deploy/metrics.txt."""
    known = known_metrics()
    seen = set()
    for line in open(args.metrics_file, encoding="utf-8"):
        if line.startswith("# TYPE "):
            seen.add(line.split()[2])
    for m in sorted(seen):
        if m not in known:
            bad(f"the binary exports {m}, which no deploy file knows: add it to metrics.txt and the dashboard")
        elif known[m] == "soon":
            print(f"  note: {m} is exported now; move it from soon to today in metrics.txt")
    for m, kind in sorted(known.items()):
        # Families whose series exist only once a label value does: sessions per tool seen,
        # and the per-interface capture counters (a replay, like the demo run here, has no
        # interface).
        if m in ("spanwatch_remote_access_sessions_total",
                 "spanwatch_capture_packets_per_interface_total",
                 "spanwatch_capture_kernel_dropped_packets_per_interface_total"):
            continue
        if kind == "today" and m not in seen:
            bad(f"metrics.txt says the binary exports {m}, but it does not")
    print(f"  {len(seen)} families exported")
    return finish()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("rules-meta")
    sub.add_parser("alert-names")
    p = sub.add_parser("mutant"); p.add_argument("alert"); p.add_argument("kind", choices=["never", "always"]); p.add_argument("out")
    sub.add_parser("dashboard")
    sub.add_parser("provisioning")
    sub.add_parser("exprs")
    p = sub.add_parser("query"); p.add_argument("url")
    sub.add_parser("compose")
    sub.add_parser("healthcheck-cmd")
    p = sub.add_parser("dockerfile"); p.add_argument("dockerfile", nargs="?")
    p = sub.add_parser("docker-context"); p.add_argument("out"); p.add_argument("--dockerfile")
    sub.add_parser("k8s")
    sub.add_parser("logrotate")
    p = sub.add_parser("k8s-mutant"); p.add_argument("src"); p.add_argument("out")
    p = sub.add_parser("cardinality"); p.add_argument("--metrics-file")
    p = sub.add_parser("metrics-drift"); p.add_argument("metrics_file")
    p = sub.add_parser("boolify"); p.add_argument("expr")
    a = ap.parse_args()
    fn = {
        "rules-meta": cmd_rules_meta, "alert-names": cmd_alert_names, "mutant": cmd_mutant,
        "dashboard": cmd_dashboard, "provisioning": cmd_provisioning, "exprs": cmd_exprs, "query": cmd_query,
        "compose": cmd_compose, "healthcheck-cmd": cmd_healthcheck_cmd, "dockerfile": cmd_dockerfile,
        "docker-context": cmd_docker_context,
        "k8s": cmd_k8s, "logrotate": cmd_logrotate, "k8s-mutant": cmd_config_mutant, "cardinality": cmd_cardinality,
        "metrics-drift": cmd_metrics_drift,
        "boolify": lambda a: print(boolify(a.expr)) or 0,
    }[a.cmd]
    return fn(a)


if __name__ == "__main__":
    sys.exit(main())
