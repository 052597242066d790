#!/usr/bin/env python3
"""Generate rules/remote-access.toml (and rules/README.md) from the LOLRMM catalogue.

LOLRMM (https://github.com/magicsword-io/LOLRMM, Apache-2.0) describes remote
monitoring and management tools and RATs as YAML. This script reads its `yaml/`
folder, normalises `Artifacts.Network[].Domains` / `.Ports`, drops names too
generic to attribute to one tool (see DENY_* below), skips tools that a
hand-written file in rules/ already describes, and writes one `[[tool]]` per
tool. Output is deterministic: same input, same bytes.

Usage: python3 tools/lolrmm2rules.py [--src ../shared/lolrmm/yaml] [--rules rules]
Needs Python 3.11+ and PyYAML.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
import tomllib
import zlib
from collections import defaultdict
from pathlib import Path

import yaml

LOLRMM_COMMIT = "3c75cf09"
OUT_NAME = "remote-access.toml"
SID_BASE = 9_000_000  # generated sids live in 9000000..9099999
SID_SPAN = 100_000

# LOLRMM file stem -> id of the hand-written tool that replaces it. Tools whose
# slug already equals a hand-written id need no entry here.
ALIASES = {
    "anydesk": "anydesk",
    "teamviewer": "teamviewer",
    "rustdesk": "rustdesk",
    "chrome_remote_desktop": "chrome-remote-desktop",
    "splashtop_remote": "splashtop",
    "splashtopbeta": "splashtop",
    "screenconnect": "screenconnect",
    "connectwise_control": "screenconnect",
    "radmin": "radmin",
    "nomachine": "nomachine",
    "zohoassist": "zoho-assist",
    "logmein": "logmein",
    "atera": "atera",
    "ninjarmm": "ninjaone",
    "meshcentral": "meshcentral",
    "microsoft_quick_assist": "quick-assist",
    "quickassist": "quick-assist",
    "vnc": "vnc",
    "ngrok": "ngrok",
    "tailscale": "tailscale",
    "zerotier": "zerotier",
    "teleport_connect": "teleport",
}

# Web-conferencing products LOLRMM lists because a meeting can hand over control: their
# traffic is mostly meetings (nDPI classes Adobe Connect as video), so they are calls here,
# not remote-access sessions.
CONFERENCING = {"adobe-connect"}

# Names under these suffixes belong to one customer of a public cloud or CDN:
# an exact host name (a bucket, an API id, an app) is attributable, a wildcard
# or the bare suffix is not.
DENY_TENANT = {
    "amazonaws.com": "public cloud (AWS)",
    "cloudfront.net": "CDN (CloudFront)",
    "azurewebsites.net": "public cloud (Azure App Service)",
    "windows.net": "public cloud (Azure storage/service bus)",
    "azureedge.net": "CDN (Azure)",
    "cloudapp.net": "public cloud (Azure)",
    "cloudflare.net": "CDN (Cloudflare)",
    "cloudflarestorage.com": "public cloud (Cloudflare R2)",
    "pages.dev": "hosting platform (Cloudflare Pages)",
    "workers.dev": "hosting platform (Cloudflare Workers)",
    "firebaseapp.com": "hosting platform (Firebase)",
    "web.app": "hosting platform (Firebase)",
    "github.io": "hosting platform (GitHub Pages)",
    "herokuapp.com": "hosting platform (Heroku)",
    "appspot.com": "hosting platform (Google App Engine)",
    "netlify.app": "hosting platform (Netlify)",
    "vercel.app": "hosting platform (Vercel)",
    "pubnubapi.com": "messaging platform (PubNub)",
}

# Everything at or under these names is shared by many unrelated products or
# users; only the names in ALLOW survive.
DENY_PLATFORM = {
    "microsoft.com": "big platform (Microsoft)",
    "office.com": "big platform (Microsoft 365)",
    "office365.com": "big platform (Microsoft 365)",
    "microsoftonline.com": "big platform (Microsoft identity)",
    "live.com": "big platform (Microsoft)",
    "google.com": "big platform (Google)",
    "googleapis.com": "big platform (Google APIs)",
    "gstatic.com": "CDN (Google)",
    "googleusercontent.com": "big platform (Google)",
    "apple.com": "big platform (Apple)",
    "icloud.com": "big platform (Apple)",
    "github.com": "code hosting (covered by rules/code-hosting.toml)",
    "githubusercontent.com": "code hosting (covered by rules/code-hosting.toml)",
    "ghcr.io": "code hosting (container registry)",
    "gitlab.com": "code hosting (covered by rules/code-hosting.toml)",
    "cloudflare.com": "CDN (Cloudflare)",
    "akamai.net": "CDN (Akamai)",
    "akamaihd.net": "CDN (Akamai)",
    "akamaiedge.net": "CDN (Akamai)",
    "akamaized.net": "CDN (Akamai)",
    "edgekey.net": "CDN (Akamai)",
    "edgesuite.net": "CDN (Akamai)",
    "softonic.com": "download portal, not the tool",
    "informer.com": "download portal, not the tool",
    "stunprotocol.org": "public STUN server used by many programs",
    "zohocdn.com": "CDN (Zoho, all Zoho products)",
    "sophosupd.com": "anti-virus updates (all Sophos products)",
    "sophosupd.net": "anti-virus updates (all Sophos products)",
    "freshchat.com": "chat widget embedded on third-party sites",
    "freshworks.com": "SaaS platform (all Freshworks products)",
    "freshworksapi.com": "SaaS platform (all Freshworks products)",
    "myfreshworks.com": "SaaS platform (all Freshworks products)",
    "freshdev.io": "SaaS platform (all Freshworks products)",
    "in-freshbots.ai": "chat bot widget embedded on third-party sites",
}

# Only the bare name and `*.name` are too broad here; deeper names (a product's
# own sub-domain) stay.
DENY_BROAD = {
    "zoho.com": "SaaS platform (all Zoho products)",
    "zoho.eu": "SaaS platform (all Zoho products)",
    "zoho.in": "SaaS platform (all Zoho products)",
    "zoho.com.au": "SaaS platform (all Zoho products)",
    "zoho.com.cn": "SaaS platform (all Zoho products)",
    "qq.com": "big platform (Tencent)",
    "sophos.com": "security vendor (all Sophos products)",
    "ivanti.com": "vendor of many products (Ivanti)",
    "manageengine.com": "vendor of many products (ManageEngine)",
    "parallels.com": "vendor of many products (Parallels Desktop)",
    "acronis.com": "vendor of many products (Acronis backup)",
}

# Names that match none of the rules above but are still not attributable.
DENY_EXACT = {
    "downloads.io": "unrelated third-party domain",
    "checkip.zmazonaws.com": "typo of an AWS service name",
    "upload_data.qq.com": "generic Tencent service",
    "basecamp.com": "general SaaS (project management)",
}

ALLOW = {
    "remotedesktop.google.com",
    "remotedesktop-pa.googleapis.com",
    "remoteassistance.support.services.microsoft.com",
}

# Generated tools that can never fire on the wire (their LOLRMM entry names only
# placeholders, or a name another entry already owns) and for which no vendor source gives
# a pattern: dropped, with the reason listed in rules/README.md.
DROP = {
    "apple-remote-desktop": "speaks VNC (RFB) on tcp/5900: the VNC alert (9200002) names it; no vendor-run service",
    "aspia": "self-hosted (router and hosts run by the user); no vendor-run service, no documented wire trait",
    "basecamp": "project-management SaaS, not a remote-access tool",
    "crosstec-remote-control": "LAN product with no vendor-run service; no documented wire trait",
    "deskshare": "self-hosted; no vendor-run service, no documented wire trait",
    "ericom-connect": "self-hosted; its vendor domain (ericom.com) is ericom-accessnow's, which fires for it",
    "dev-tunnels-aka-visual-studio-dev-tunnel": "same product as visual-studio-dev-tunnel, which fires for it (*.devtunnels.ms)",
    "eset-remote-administrator": "self-hosted management server; ESET's cloud names serve all ESET products",
    "faronics-insight": "LAN classroom product; only a port (tcp/1313), no documented wire trait",
    "helpbeam": "discontinued; LOLRMM names only a download portal",
    "landesk": "Ivanti EPM: self-hosted core server; ivanti.com serves all Ivanti products",
    "laplink-gold": "discontinued; self-hosted, no vendor-run service",
    "manageengine-rmm-central": "self-hosted; manageengine.com serves all ManageEngine products",
    "manageengine-servicedesk-plus": "help-desk software, self-hosted; manageengine.com serves all ManageEngine products",
    "mouse-without-borders": "keyboard/mouse sharing between one user's own PCs on the LAN; only ports (tcp/15100-15101)",
    "mstsc-exe-microsoft-remote-desktop-connection": "the RDP client: the RDP alert (9200001) names its sessions",
    "myivo": "discontinued; LOLRMM names only a download portal",
    "n-able-remote-access-software": "its only LOLRMM name (n-able.com) belongs to n-able-advanced-monitoring-agent, which fires for it",
    "netop-remote-control-aka-impero-connect": "self-hosted LAN product; no vendor-run service, no documented wire trait",
    "netviewer": "discontinued (2011)",
    "parallels-access": "LOLRMM names only *.parallels.com (every Parallels product); no documented Parallels Access-only name",
    "pcanywhere": "discontinued (2014); self-hosted, no vendor-run service",
    "pcnow": "discontinued (WebEx PCNow)",
    "pocket-controller": "self-hosted (SOTI); no vendor-run service, no documented wire trait",
    "psexec": "runs over SMB (a service named PSEXESVC); the catalogue cannot express SMB pipe names",
    "psexec-clone": "runs over SMB like PsExec; the catalogue cannot express SMB pipe names",
    "rdp2tcp": "a tunnel inside an RDP virtual channel: the RDP alert (9200001) names the session",
    "rdpview": "an RDP client: the RDP alert (9200001) names its sessions",
    "rdpwrap": "a patch enabling more RDP sessions: the RDP alert (9200001) names them",
    "remobo": "discontinued; LOLRMM names only a download portal",
    "remote-utilities": "same product as remoteutilities and remote-manipulator-system, which fire for it",
    "remotely": "self-hosted; only a port (tcp/5000) that many programs use",
    "res-automation-manager": "Ivanti, self-hosted; ivanti.com serves all Ivanti products",
    "royal-apps": "connection manager opening RDP/VNC/SSH sessions (those alerts name them); royalapps.com is royal-server's",
    "royal-ts": "connection manager opening RDP/VNC/SSH sessions (those alerts name them); royalapps.com is royal-server's",
    "sophos-remote-management-system": "Sophos names serve every Sophos product",
    "tanium-deploy": "same product as tanium, which fires for it (cloud.tanium.com)",
    "tigervnc": "a VNC server/viewer: the VNC alert (9200002) names its sessions",
    "turbomeeting": "self-hosted (RHUB appliance); no vendor-run service",
    "webrdp": "self-hosted RDP web gateway: the RDP alert (9200001) names the sessions behind it",
}

# Patterns from vendors' own documentation for generated tools whose LOLRMM entry has none
# usable: tool id -> (source, extra TOML lines).
VENDOR = {
    "synergy": (
        "Symless (vendor) domain; the server's hello on tcp/24800 is a 4-byte length then "
        "\"Synergy\" and two 16-bit version numbers (protocol reference of Synergy's open-source "
        "core, kept by its fork Deskflow: doc/dev/protocol_reference.md, kMsgHello)",
        ['domains = ["symless.com", "*.symless.com"]',
         'ports = ["tcp/24800"]',
         'payload = [{ dir = "to_client", offset = 4, hex = "53 79 6e 65 72 67 79", min_len = 15 }]'],
    ),
}

# HTTP and certificate traits of generated tools that also have LOLRMM domains:
# tool id -> (source, extra TOML lines).
TRAITS = {
    "netsupport-manager": (
        "NetSupport Manager's HTTP gateway transport: the client POSTs with User-Agent "
        "\"NetSupport Manager/1.3\" and the gateway answers with Server \"NetSupport Gateway/<version>\" "
        "(public analyses of NetSupport RAT campaigns, e.g. Palo Alto Networks Unit 42, and the "
        "Emerging Threats open ruleset's NetSupport policy rules)",
        ['user_agent = ["NetSupport Manager/"]', 'http_server = ["NetSupport Gateway/"]'],
    ),
}

# Ports that every second program uses; LOLRMM lists them but they hint at nothing.
GENERIC_PORTS = {22, 53, 80, 135, 139, 161, 443, 445, 8080, 8443}

LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")
REGEX_CHARS = set("[](){}?+^$|\\")


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:64].rstrip("-")


def suffix_of(name: str, base: str) -> bool:
    return name == base or name.endswith("." + base)


def deny_reason(d: str) -> str | None:
    """Why a normalised domain is too generic, or None to keep it."""
    if d in ALLOW:
        return None
    if d in DENY_EXACT:
        return DENY_EXACT[d]
    wild = d.startswith("*.")
    body = d[2:] if wild else d
    for base, why in DENY_PLATFORM.items():
        if suffix_of(body, base):
            return why
    for base, why in DENY_TENANT.items():
        if body == base or (wild and suffix_of(body, base)):
            return why
        if suffix_of(body, base) and body.count(".") - base.count(".") < 1:
            return why
    for base, why in DENY_BROAD.items():
        if body == base:
            return why
    if "." not in body:
        return "bare top-level name"
    return None


def normalise(raw) -> tuple[str, str | None, str]:
    """Returns (kind, value, note): kind is domain, address or drop."""
    s = str(raw).strip().lower()
    if not s or s == "user_managed" or s.startswith("<"):
        return "drop", None, "placeholder"
    s = re.sub(r"^[a-z][a-z0-9+.-]*://", "", s)
    s = s.split("/", 1)[0]
    s = re.sub(r":\d+$", "", s)
    s = s.rstrip(".")
    try:
        ip = ipaddress.ip_address(s)
        return "address", str(ip), ""
    except ValueError:
        pass
    labels = s.split(".")
    # A label holding a regex or a partial wildcard stands for "some name here":
    # keep what follows it as a `*.` suffix.
    cut = None
    for i, l in enumerate(labels):
        if "*" in l or any(c in REGEX_CHARS for c in l):
            cut = i
    note = ""
    if cut is not None:
        rest = labels[cut + 1 :]
        # Drop labels that are fragments of a partial wildcard (`*.-dms.x`).
        while rest and not LABEL_RE.match(rest[0]):
            rest = rest[1:]
        if s != "*." + ".".join(rest):
            note = f"normalised from {raw!r}"
        labels = ["*"] + rest
    body = labels[1:] if labels[0] == "*" else labels
    if len(body) < 2 or not all(LABEL_RE.match(l) and len(l) <= 63 for l in body):
        return "drop", None, "not a host name"
    return "domain", ".".join(labels), note


def parse_ports(values) -> list[str]:
    out = []
    for p in values or []:
        p = str(p).strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", p)
        if not m:
            continue
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if not (1 <= lo <= hi <= 65535):
            continue
        if lo == hi and lo in GENERIC_PORTS:
            continue
        if hi - lo > 1000:  # "1000-65535" says nothing
            continue
        # LOLRMM does not say tcp or udp; assume TCP except for known UDP services
        # (3478 is STUN/TURN and 51820 WireGuard, both UDP.)
        proto = "udp" if lo in (3478, 51820) else "tcp"
        out.append(f"{proto}/{lo}" if lo == hi else f"{proto}/{lo}-{hi}")
    return out


def name_score(domain: str, tid: str) -> int:
    """1 if the domain's registrable-looking label names the tool."""
    labels = domain.removeprefix("*.").split(".")
    core = max(labels[:-1] or labels, key=len).replace("-", "")
    t = tid.replace("-", "")
    return int(core in t or t in core)


def covered(domain: str, names: list[str]) -> bool:
    """Whether `names` match `domain` (exactly or through a `*.` suffix)."""
    body = domain.removeprefix("*.")
    if domain in names:
        return True
    return any(n.startswith("*.") and body.endswith("." + n[2:]) for n in names)


def remote_desktop(doc: dict) -> bool:
    caps = " ".join(str(c) for c in (doc.get("Details") or {}).get("Capabilities") or []).lower()
    return any(k in caps for k in ("remote control", "remote desktop", "screen shar", "remote access"))


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items: list[str]) -> str:
    if not items:
        return "[]"
    one = "[" + ", ".join(toml_str(x) for x in items) + "]"
    if len(one) <= 90:
        return one
    return "[\n" + "".join(f"  {toml_str(x)},\n" for x in items) + "]"


def load_hand(rules: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    ids: dict[str, list[str]] = {}
    domains: dict[str, str] = {}
    for f in sorted(rules.glob("*.toml")):
        if f.name == OUT_NAME:
            continue
        doc = tomllib.loads(f.read_text())
        for t in doc.get("tool", []):
            ids[t["id"]] = list(t.get("domains", []))
            for d in t.get("domains", []):
                domains[d] = f"{t['id']} ({f.name})"
    return ids, domains


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=Path(__file__).resolve().parents[2] / "shared/lolrmm/yaml", type=Path)
    ap.add_argument("--rules", default=Path(__file__).resolve().parent.parent / "rules", type=Path)
    args = ap.parse_args()

    hand_ids, claimed = load_hand(args.rules)
    files = sorted(p for p in args.src.iterdir() if p.suffix in (".yaml", ".yml"))

    tools: dict[str, dict] = {}
    dropped: list[tuple[str, str, str]] = []  # (file, raw, reason)
    skipped_hand: dict[str, list[str]] = defaultdict(list)
    no_artifact: list[str] = []
    for f in files:
        doc = yaml.safe_load(f.read_text())
        stem = f.stem
        name = str(doc["Name"]).strip()
        net = (doc.get("Artifacts") or {}).get("Network") or []
        if not net:
            continue
        hand = ALIASES.get(stem) or (slug(name) if slug(name) in hand_ids else None)
        if hand and hand not in hand_ids:
            print(f"warning: alias {stem} -> {hand} names no hand-written tool", file=sys.stderr)
            hand = None
        tid = hand or slug(name)
        t = tools.setdefault(
            tid,
            {"name": name, "files": [], "domains": [], "addresses": [], "ports": [], "rat": False, "rd": False, "hand": bool(hand)},
        )
        t["files"].append(f.name)
        t["rat"] |= str(doc.get("Category", "")).upper() == "RAT"
        t["rd"] |= remote_desktop(doc)
        for n in net:
            for raw in n.get("Domains") or []:
                kind, val, note = normalise(raw)
                if kind == "drop":
                    if not hand:
                        dropped.append((f.name, str(raw), note))
                elif kind == "address":
                    if val not in t["addresses"]:
                        t["addresses"].append(val)
                else:
                    why = deny_reason(val)
                    if why:
                        if not hand:
                            dropped.append((f.name, str(raw), why))
                    elif val not in t["domains"]:
                        t["domains"].append(val)
            for p in parse_ports(n.get("Ports")):
                if p not in t["ports"]:
                    t["ports"].append(p)

    # Hand-written files own their domains. Among generated tools, a domain goes to the
    # tool whose id contains the domain's name (isl-online for *.islonline.net), else to
    # the first tool by id.
    owner: dict[str, str] = {}
    for tid in sorted(tools):
        if tools[tid]["hand"]:
            continue
        for d in tools[tid]["domains"]:
            if d in claimed:
                continue
            if d not in owner or (name_score(d, tid) > name_score(d, owner[d])):
                owner[d] = tid
    out_tools = []
    dropped_tools: list[tuple[str, str, str]] = []  # (id, LOLRMM file, reason)
    for tid in sorted(tools):
        t = tools[tid]
        if t["hand"]:
            missing = [d for d in t["domains"] if not covered(d, hand_ids[tid])]
            skipped_hand[tid] = [", ".join(t["files"]), missing]
            continue
        keep = []
        for d in t["domains"]:
            if d in claimed:
                dropped.append((t["files"][0], d, f"already attributed to {claimed[d]}"))
            elif owner[d] != tid:
                dropped.append((t["files"][0], d, f"already attributed to {owner[d]} ({OUT_NAME})"))
            else:
                keep.append(d)
        t["domains"] = keep
        if tid in DROP:
            dropped_tools.append((tid, t["files"][0], DROP[tid]))
            continue
        if tid in VENDOR:
            t["vendor"] = VENDOR[tid]
        if tid in TRAITS:
            t["vendor"] = TRAITS[tid]
        elif tid not in VENDOR and not (keep or t["addresses"] or t["ports"]):
            no_artifact.append(tid)
        out_tools.append((tid, t))

    used_sids: set[int] = set()
    lines = [
        "# Remote access and RMM tools, generated from LOLRMM -- do not edit by hand.",
        f"# Source: https://github.com/magicsword-io/LOLRMM (commit {LOLRMM_COMMIT}), Apache-2.0.",
        "# Regenerate: python3 tools/lolrmm2rules.py  (see rules/README.md for what was dropped and why)",
        "# Tools described in a hand-written file (e.g. remote-access-extra.toml) are skipped here.",
        "# Tools whose only LOLRMM network artifact is a placeholder (user_managed) get patterns from",
        "# the vendor's documentation (source named above the tool) or are dropped (rules/README.md).",
        'family = "remote-access"',
        "",
    ]
    for tid, t in out_tools:
        sid = SID_BASE + zlib.crc32(tid.encode()) % SID_SPAN
        while sid in used_sids:
            sid = SID_BASE + (sid - SID_BASE + 1) % SID_SPAN
        used_sids.add(sid)
        cat = "rmm" if (t["rat"] or not t["rd"]) else "remote-access"
        if tid in CONFERENCING:
            cat = "calls"
        lines += [
            "[[tool]]",
            f"id = {toml_str(tid)}",
            f"sid = {sid}",
            f"name = {toml_str(t['name'])}",
            f"category = {toml_str(cat)}",
            f"severity = {1 if t['rat'] else 2}",
            f"reference = {toml_str('https://github.com/magicsword-io/LOLRMM/blob/main/yaml/' + t['files'][0])}",
        ]
        if t["domains"]:
            lines.append(f"domains = {toml_list(t['domains'])}")
        if "vendor" in t:
            src, extra = t["vendor"]
            lines[-8 if t["domains"] else -7 : -8 if t["domains"] else -7] = [f"# Patterns: {src}."]
            lines += extra
        if t["addresses"]:
            lines.append(f"addresses = {toml_list(t['addresses'])}")
        if t["ports"]:
            lines.append(f"ports = {toml_list(t['ports'])}")
        lines.append("")
    (args.rules / OUT_NAME).write_text("\n".join(lines))

    write_readme(args.rules, out_tools, dropped, skipped_hand, no_artifact, dropped_tools)
    with_domains = sum(1 for _, t in out_tools if t["domains"])
    print(
        f"{OUT_NAME}: {len(out_tools)} tools ({with_domains} with domains, {len(dropped_tools)} dropped), "
        f"{len(skipped_hand)} left to hand-written files, {len(dropped)} entries dropped",
        file=sys.stderr,
    )
    return 0


def write_readme(rules: Path, out_tools, dropped, skipped_hand, no_artifact, dropped_tools) -> None:
    reasons: dict[str, int] = defaultdict(int)
    for _, _, why in dropped:
        reasons[why.split(" (")[0] if why.startswith("already") else why] += 1
    r = []
    r.append(README_HEAD.strip() + "\n")
    r.append("## Tools per file\n")
    r.append("| file | tools |\n|---|---|")
    total = 0
    for f in sorted(rules.glob("*.toml")):
        n = len(tomllib.loads(f.read_text()).get("tool", []))
        total += n
        r.append(f"| `{f.name}` | {n} |")
    r.append(f"| total | {total} |\n")
    with_domains = sum(1 for _, t in out_tools if t["domains"])
    with_vendor = sum(1 for _, t in out_tools if "vendor" in t)
    r.append("## remote-access.toml\n")
    r.append(
        f"{len(out_tools)} tools from LOLRMM: {with_domains} with LOLRMM's domains, {with_vendor} with "
        "patterns or traits from vendor documentation or public analyses (`VENDOR`, `TRAITS` in the generator, source named in a "
        f"comment above the tool); {len(dropped_tools)} dropped because nothing on the wire can name "
        f"them (below); {len(skipped_hand)} more are described by hand-written files. Every kept "
        "tool has a pattern that can fire, and `tests/catalogue_fires.rs` fires each one. LOLRMM "
        f"({LOLRMM_COMMIT}) has 319 files, of which only 214 name a real domain (several are "
        "duplicates of one tool).\n"
    )
    r.append("## Tools dropped\n")
    r.append(
        "LOLRMM tools whose entry names only placeholders (`user_managed`, operator-configured "
        "servers), only ports, or names another entry owns, and for which no vendor source gives "
        "a pattern (`DROP` in the generator):\n"
    )
    r.append("| tool id | LOLRMM file | reason |\n|---|---|---|")
    for tid, f, why in sorted(dropped_tools):
        r.append(f"| `{tid}` | {f} | {why} |")
    r.append("")
    r.append("## What the generator dropped\n")
    r.append(f"{len(dropped)} LOLRMM network entries were not kept. By reason:\n")
    r.append("| reason | entries |\n|---|---|")
    for why, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])):
        r.append(f"| {why} | {n} |")
    r.append("\nEvery dropped entry (LOLRMM file, entry as written, reason):\n")
    r.append("| file | entry | reason |\n|---|---|---|")
    for f, raw, why in sorted(dropped):
        r.append(f"| {f} | `{raw}` | {why} |")
    r.append("\n## Deny-list (in `tools/lolrmm2rules.py`)\n")
    r.append("Tenant suffixes (wildcards and the bare name dropped; exact customer host names kept):\n")
    r.append("| suffix | why |\n|---|---|")
    r += [f"| `{k}` | {v} |" for k, v in sorted(DENY_TENANT.items())]
    r.append("\nPlatforms (everything at or under the name dropped):\n")
    r.append("| suffix | why |\n|---|---|")
    r += [f"| `{k}` | {v} |" for k, v in sorted(DENY_PLATFORM.items())]
    r.append("\nBroad names (only the bare name and `*.name` dropped; product sub-domains kept):\n")
    r.append("| name | why |\n|---|---|")
    r += [f"| `{k}` | {v} |" for k, v in sorted(DENY_BROAD.items())]
    r.append("\nSingle names:\n")
    r.append("| name | why |\n|---|---|")
    r += [f"| `{k}` | {v} |" for k, v in sorted(DENY_EXACT.items())]
    r.append("\nAlways kept: " + ", ".join(f"`{a}`" for a in sorted(ALLOW)) + ".\n")
    r.append(f"Ports {', '.join(str(p) for p in sorted(GENERIC_PORTS))} and ranges wider than 1000 ports are never kept as hints.\n")
    r.append("## LOLRMM tools left to hand-written files\n")
    r.append("| tool id | LOLRMM files | LOLRMM domains the hand entry does not list |\n|---|---|---|")
    for tid in sorted(skipped_hand):
        files, missing = skipped_hand[tid]
        r.append(f"| {tid} | {files} | {', '.join(f'`{m}`' for m in missing) or '-'} |")
    if no_artifact:
        raise SystemExit(f"tools without any pattern: {no_artifact}: give them one (VENDOR) or drop them (DROP)")
    (rules / "README.md").write_text("\n".join(r))


README_HEAD = """
# Detection catalogue

One TOML file per family; `spanwatch rules check rules/` validates them and
`spanwatch rules list` lists them. The files are embedded into the binary at build
time (`build.rs`), so the sensor needs no rules folder at run time.

| file | family | source |
|---|---|---|
| `remote-access.toml` | remote-access, rmm | generated from LOLRMM by `tools/lolrmm2rules.py` |
| `remote-access-extra.toml` | remote-access, rmm | hand-written; sources named per tool |
| `vdi.toml` | vdi | hand-written; vendor port/name documentation |
| `ikvm.toml` | ikvm | hand-written; vendor documentation |
| `tunnel-services.toml` | tunnel-service | hand-written; vendor documentation |
| `vpn-services.toml` | vpn-service | hand-written; vendor documentation |
| `resolvers.toml` | resolver | hand-written; resolver operators' documentation |
| `code-hosting.toml`, `cloud-storage.toml`, `paste.toml` | code-hosting, cloud-storage, file-transfer, paste | hand-written |
| `calls.toml` | calls | hand-written; vendor firewall documentation |

## Schema

```toml
family = "remote-access"
[[tool]]
id = "anydesk"          # unique across files, [a-z0-9][a-z0-9-]*
sid = 9100001           # unique across files
name = "AnyDesk"
category = "remote-access"  # remote-access rmm vdi ikvm tunnel-service vpn-service resolver
                            # code-hosting cloud-storage file-transfer paste calls
vendor = "..."          # optional
severity = 2            # 1 high .. 4 info
reference = "https://..."
domains = ["a.b", "*.c.d"]  # exact name; `*.` = any sub-domain (not the name itself)
alpn = ["anydesk/"]         # prefix of an ALPN id
cert = ["philandro"]        # case-insensitive substring of cert subject or issuer
user_agent = []             # case-insensitive substring of HTTP User-Agent
http_server = []            # case-insensitive substring of HTTP Server
ports = ["tcp/7070", "udp/21115-21119"]  # hints only
addresses = ["8.8.8.8", "2001:db8::/32"]
payload = [{ dir = "to_server", offset = 0, hex = "17 24", min_len = 4 }]
```

A domain may be named by one tool only (the loader rejects duplicates). Sid ranges:
generated 9000000-9099999; remote-access-extra 9100000-; vdi 9110000-; ikvm 9120000-;
tunnel-services 9130000-; vpn-services 9140000-; resolvers 9150000-; code-hosting
9160000-; cloud-storage 9170000-; paste 9180000-; calls 9190000-.

## Regenerating

    pip install pyyaml
    python3 tools/lolrmm2rules.py --src /path/to/LOLRMM/yaml

The generator reads the ids and domains of the hand-written files first and skips LOLRMM
tools they describe (see `ALIASES`), and skips domains they already name. Three tables of
the generator complete LOLRMM: `VENDOR` gives a tool whose LOLRMM entry has no usable
pattern one from the vendor's own documentation, `TRAITS` adds HTTP (`user_agent`,
`http_server`) and certificate (`cert`) traits to a tool, each with its source written as a
`# Patterns:` comment above the tool, and `DROP` removes a tool nothing on the wire can name,
with the reason listed below. It fails when a kept tool has no pattern.

`tests/catalogue_fires.rs` reads every rules file and replays, for each tool, a generated
flow built from its first pattern (TLS SNI, HTTP User-Agent or `Server`, certificate, ALPN,
payload on the tool's port), and one flow per HTTP and certificate trait: each must raise the
tool's own alert (remote-access, rmm, vdi, ikvm, tunnel-service, vpn-service) or name the
tool as the flow's `app` (the other families).
"""


if __name__ == "__main__":
    sys.exit(main())
