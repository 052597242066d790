//! Conformance over the public corpus in ../shared/corpus (not part of this repository).
//!
//! 1. `spanwatch replay` reads every capture with no panic, and no error except for files
//!    that truly are not readable captures (listed with the reason).
//! 2. TCP and UDP flow counts agree with `tshark -q -z conv,tcp -z conv,udp` within 2% per
//!    capture, or the difference is listed with its cause.
//!
//! tshark has no idle timeouts, so this test replays with timeouts longer than any capture
//! (a config written here); the default timeouts are exercised by the golden tests.
//! The report is written to target/conformance-report.md. Skips, saying so, when the
//! corpus or tshark is absent.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub fn corpus_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    d.join("labels.tsv").is_file().then_some(d)
}

pub struct Label {
    pub file: String,
    pub category: String,
    pub linktype: String,
}

pub fn labels(dir: &Path) -> Vec<Label> {
    let text = std::fs::read_to_string(dir.join("labels.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() >= 5).then(|| Label {
                file: c[0].to_string(),
                category: c[3].to_string(),
                linktype: c[4].to_string(),
            })
        })
        .collect()
}

/// (proto, lower endpoint, higher endpoint): one conversation as both tools name it.
type Conv = (String, String, String);

#[derive(Default, Debug)]
struct Ours {
    tcp: usize,
    udp: usize,
    convs: Vec<Conv>,
    ok: bool,
    stderr: String,
    metrics: String,
}

fn ours(path: &Path, cfg: &Path) -> Ours {
    let dir = tmpdir();
    let eve = dir.path().join("eve.json");
    let m = dir.path().join("m.prom");
    let out = run(&[
        "replay",
        "-q",
        "--config",
        cfg.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "--metrics-file",
        m.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&eve).unwrap_or_default();
    let mut tcp = HashSet::new();
    let mut udp = HashSet::new();
    let mut convs = Vec::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["event_type"] != "flow" {
            continue;
        }
        let id = v["flow_id"].as_u64().unwrap();
        let fresh = match v["proto"].as_str() {
            Some("TCP") => tcp.insert(id),
            Some("UDP") => udp.insert(id),
            _ => false,
        };
        if fresh {
            let a = format!("{}:{}", v["src_ip"].as_str().unwrap(), v["src_port"]);
            let b = format!("{}:{}", v["dest_ip"].as_str().unwrap(), v["dest_port"]);
            convs.push(conv(v["proto"].as_str().unwrap(), a, b));
        }
    }
    Ours {
        tcp: tcp.len(),
        udp: udp.len(),
        convs,
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        metrics: std::fs::read_to_string(&m).unwrap_or_default(),
    }
}

fn conv(proto: &str, a: String, b: String) -> Conv {
    if a <= b {
        (proto.to_string(), a, b)
    } else {
        (proto.to_string(), b, a)
    }
}

/// tshark's TCP and UDP conversation rows.
fn tshark(path: &Path) -> Option<Vec<Conv>> {
    let out = std::process::Command::new("tshark")
        .args([
            "-n",
            "-r",
            path.to_str()?,
            "-q",
            "-z",
            "conv,tcp",
            "-z",
            "conv,udp",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut rows, mut section) = (Vec::new(), "");
    for l in text.lines() {
        if l.starts_with("TCP Conversations") {
            section = "TCP";
        } else if l.starts_with("UDP Conversations") {
            section = "UDP";
        } else if l.contains("<->") && !section.is_empty() {
            let mut it = l.split_whitespace();
            let (Some(a), Some(_), Some(b)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            rows.push(conv(section, norm_endpoint(a), norm_endpoint(b)));
        }
    }
    Some(rows)
}

/// tshark prints `addr:port`, IPv6 without brackets; print it the way EVE does.
fn norm_endpoint(e: &str) -> String {
    match e.rsplit_once(':') {
        Some((a, p)) => match a.parse::<std::net::IpAddr>() {
            Ok(ip) => format!("{ip}:{p}"),
            Err(_) => e.to_string(),
        },
        None => e.to_string(),
    }
}

/// Differences that were checked by hand in the capture and are explained by what the
/// capture holds, not by a flow-table fault. Anything else fails the test.
const KNOWN: &[(&str, &str)] = &[
    ("ndpi/pcap/capwap.pcap", "CAPWAP data channel (udp/5247) carries 802.11 frames; tshark dissects the inner UDP, spanwatch does not decapsulate CAPWAP"),
    ("ndpi/pcap/capwap_data.pcapng", "CAPWAP data channel (udp/5247) carries 802.11 frames; tshark dissects the inner TCP, spanwatch does not decapsulate CAPWAP"),
    ("ndpi/pcap/quic-fuzz-overflow.pcapng", "a fuzzed packet: tshark rejects the IP header, spanwatch's lax IPv4 parse keeps the UDP header"),
    ("ndpi/pcap/fuzz-2006-09-29-28586.pcap", "fuzzed packets: truncated and fragmented TCP; tshark and spanwatch disagree on which damaged headers still name a conversation"),
    ("tcpdump/bigtcp-*", "BIG TCP packets (IPv4 total length 0 / IPv6 jumbo payload length 0): tshark marks the IP header malformed and dissects no TCP; spanwatch takes the length from the capture"),
    ("ndpi/pcap/ip_fragmented_garbage.pcap", "garbage fragments: tshark reassembles and finds TCP headers, spanwatch does not reassemble fragments yet"),
];

/// Well-known ports of UDP encapsulations spanwatch decapsulates (its flows are the inner ones).
const TUNNEL_PORTS: &[&str] = &[":2152", ":4789", ":8472", ":6081", ":3544", ":4790"];

fn count(v: &[Conv], proto: &str) -> usize {
    v.iter().filter(|c| c.0 == proto).count()
}

/// Explain the difference between our conversations and tshark's, from the tuples.
fn explain(file: &str, o: &Ours, t: &[Conv]) -> Result<String, String> {
    let ours: HashSet<&Conv> = o.convs.iter().collect();
    let theirs: HashSet<&Conv> = t.iter().collect();
    let mut why = Vec::new();
    let only_t: Vec<&&Conv> = theirs.difference(&ours).collect();
    let only_o: Vec<&&Conv> = ours.difference(&theirs).collect();
    let (mut unexplained_t, mut unexplained_o) = (Vec::new(), Vec::new());
    let tunnel: Vec<_> = only_t
        .iter()
        .filter(|c| {
            TUNNEL_PORTS
                .iter()
                .any(|p| c.1.ends_with(p) || c.2.ends_with(p))
        })
        .collect();
    if !tunnel.is_empty() {
        why.push(format!(
            "{} outer tunnel conversation(s) (GTP-U/VXLAN/Geneve/Teredo ports) that tshark lists; spanwatch keys flows on the inner tuple",
            tunnel.len()
        ));
    }
    for c in &only_t {
        if !tunnel.contains(&c) {
            unexplained_t.push(format!("{} {} {}", c.0, c.1, c.2));
        }
    }
    for c in &only_o {
        unexplained_o.push(format!("{} {} {}", c.0, c.1, c.2));
    }
    let dup_t = t.len() - theirs.len();
    let dup_o = o.convs.len() - ours.len();
    if dup_t > 0 {
        why.push(format!(
            "tshark lists {dup_t} tuple(s) as more than one conversation (dissector-made conversations such as SNMP/SIP/RTP replies, or its stream heuristics); spanwatch keeps one flow per tuple"
        ));
    }
    if dup_o > 0 {
        why.push(format!("spanwatch starts {dup_o} new flow(s) on a tuple reused by a fresh SYN after close; tshark keeps one conversation"));
    }
    let known = KNOWN.iter().find(|(f, _)| {
        *f == file || (f.ends_with('*') && file.starts_with(f.trim_end_matches('*')))
    });
    if let Some((_, k)) = known {
        why.push((*k).to_string());
        unexplained_t.clear();
        unexplained_o.clear();
    }
    if !unexplained_o.is_empty() && o.metrics.contains("spanwatch_encapsulated_packets_total") {
        // Inner flows of tunnels tshark does not dissect on this port.
        let enc = metric(&o.metrics, "spanwatch_encapsulated_packets_total");
        if enc > 0 && unexplained_t.is_empty() {
            why.push(format!(
                "{} inner flow(s) inside tunnels that tshark does not dissect here",
                unexplained_o.len()
            ));
            unexplained_o.clear();
        }
    }
    if unexplained_t.is_empty() && unexplained_o.is_empty() && !why.is_empty() {
        Ok(why.join("; "))
    } else {
        Err(format!(
            "only tshark: {unexplained_t:?}; only spanwatch: {unexplained_o:?}"
        ))
    }
}

fn metric(m: &str, prefix: &str) -> u64 {
    m.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn within(a: usize, b: usize) -> bool {
    a == b || (a as f64 - b as f64).abs() <= 0.02 * (a.max(b) as f64)
}

#[test]
fn corpus_flow_counts_match_tshark() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED: ../shared/corpus is not present; the conformance test needs it");
        return;
    };
    if which("tshark").is_none() {
        eprintln!(
            "SKIPPED: tshark is not installed (Debian package `tshark`; .ci/run installs it)"
        );
        return;
    }
    let tmp = tmpdir();
    let cfg = tmp.path().join("conformance.toml");
    std::fs::write(
        &cfg,
        "[flow]\ntcp_new_timeout_s = 4000000000\ntcp_established_timeout_s = 4000000000\ntcp_closed_timeout_s = 4000000000\nudp_timeout_s = 4000000000\nother_timeout_s = 4000000000\nactive_timeout_s = 4000000000\n",
    )
    .unwrap();
    let labels = labels(&dir);
    let results = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(l) = labels.get(i) else { break };
                let p = dir.join(&l.file);
                let o = ours(&p, &cfg);
                let t = tshark(&p);
                results.lock().unwrap().push((i, o, t));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);

    let mut report = String::from("# Conformance: flow counts against tshark\n\n");
    report.push_str(
        "Replayed with idle and active timeouts longer than any capture (tshark has none).\n\n",
    );
    let mut unreadable = Vec::new();
    let mut bad_errors = Vec::new();
    let mut diffs = Vec::new();
    let mut unexplained = Vec::new();
    let (mut agree, mut total) = (0, 0);
    let mut by_cat: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, o, t) in &results {
        let l = &labels[*i];
        if o.stderr.contains("panicked") {
            bad_errors.push(format!("{}: PANIC {}", l.file, o.stderr));
            continue;
        }
        if !o.ok {
            // Only genuinely unreadable captures may fail: the reader names them and why.
            let truly = o.stderr.contains("not a pcap or pcapng")
                || o.stderr.contains("cut short")
                || o.stderr.contains("corrupt");
            if truly {
                unreadable.push(format!("{}: {}", l.file, o.stderr));
            } else {
                bad_errors.push(format!("{}: {}", l.file, o.stderr));
            }
        }
        let Some(t) = t else { continue };
        let (tt, tu) = (count(t, "TCP"), count(t, "UDP"));
        total += 1;
        let e = by_cat.entry(l.category.as_str()).or_default();
        e.1 += 1;
        if within(o.tcp, tt) && within(o.udp, tu) {
            agree += 1;
            e.0 += 1;
            continue;
        }
        let (cause, bad) = match explain(&l.file, o, t) {
            Ok(c) => (c, false),
            Err(e) => (format!("UNEXPLAINED: {e}"), true),
        };
        let line = format!(
            "| {} | {} | {} / {} | {} / {} | {} |",
            l.file, l.linktype, o.tcp, tt, o.udp, tu, cause
        );
        if bad {
            unexplained.push(line.clone());
        }
        diffs.push(line);
    }
    report.push_str(&format!(
        "{agree} of {total} captures agree within 2% on both TCP and UDP conversation counts.\n\n"
    ));
    report.push_str("| category | agree | captures |\n|---|---|---|\n");
    for (c, (a, n)) in &by_cat {
        report.push_str(&format!("| {c} | {a} | {n} |\n"));
    }
    report.push_str("\n## Differences\n\n| capture | link | TCP ours / tshark | UDP ours / tshark | cause |\n|---|---|---|---|---|\n");
    for d in &diffs {
        report.push_str(d);
        report.push('\n');
    }
    report.push_str("\n## Unreadable captures\n\n");
    for u in &unreadable {
        report.push_str(&format!("- {u}\n"));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance-report.md");
    let _ = std::fs::write(&out, &report);
    println!("{report}");
    println!("report written to {}", out.display());
    assert!(
        bad_errors.is_empty(),
        "replay failed on readable captures:\n{}",
        bad_errors.join("\n")
    );
    assert!(
        unexplained.is_empty(),
        "differences without a cause:\n{}",
        unexplained.join("\n")
    );
    assert!(
        agree * 100 >= total * 90,
        "only {agree} of {total} captures agree with tshark"
    );
}

/// nDPI protocol names and how spanwatch names the same thing (app or app_proto).
const RA_NAMES: &[(&str, &str)] = &[
    ("RDP", "rdp"),
    ("VNC", "vnc"),
    ("AnyDesk", "anydesk"),
    ("TeamViewer", "teamviewer"),
    ("Radmin", "radmin"),
    ("NoMachine", "nomachine"),
    ("Citrix", "citrix-ica"),
    ("XDMCP", "xdmcp"),
    ("SSH", "ssh"),
];

/// Flows nDPI names with a remote-access protocol, counted per spanwatch name.
fn ndpi_counts(dir: &Path, file: &str) -> BTreeMap<&'static str, usize> {
    // nDPI's results exist only for its own traces (tcpdump's ssh.pcap is another file).
    if !file.starts_with("ndpi/") {
        return BTreeMap::new();
    }
    let base = Path::new(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let text = std::fs::read_to_string(dir.join("ndpi/result").join(format!("{base}.out")))
        .unwrap_or_default();
    let mut m = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| l.starts_with('\t') && l.contains("[proto: "))
    {
        let p = l
            .split("[proto: ")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or("");
        let names = p.split_once('/').map(|(_, n)| n).unwrap_or("");
        for (nd, ours) in RA_NAMES {
            if names.split('.').any(|n| n == *nd) {
                *m.entry(*ours).or_default() += 1;
            }
        }
    }
    m
}

/// Differences from nDPI that were checked in the capture.
const RA_KNOWN_MISSES: &[(&str, &str)] = &[(
    "ndpi/pcap/rdp2.pcap",
    "one RDP-over-UDP flow starts mid-session (no SYN datagram; the rest is encrypted RDPEUDP with no fixed bytes); nDPI names it from port 3389 and packet sizes",
)];

/// Remote-access alerts in captures labelled other/bulk-mixed/stun-rtp-calls that were
/// checked and truly hold remote access.
const RA_TRUE_ELSEWHERE: &[(&str, &str)] = &[(
    "ndpi/pcap/ossfuzz_seed_fake_traces_2.pcapng",
    "nDPI's fuzzing seed holds a TeamViewer flow (nDPI's own result names it TeamViewer too)",
)];

#[test]
fn corpus_remote_access_detection_matches_or_beats_ndpi() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "SKIPPED: ../shared/corpus is not present; the detection conformance test needs it"
        );
        return;
    };
    let mut report = String::from("# Remote-access detection against nDPI's results\n\n| capture | category | nDPI flows | spanwatch flows | RA alerts | verdict |\n|---|---|---|---|---|---|\n");
    let mut failures = Vec::new();
    for l in labels(&dir) {
        let ra_cat = ["rdp", "vnc", "anydesk", "teamviewer", "other-rmm", "ssh"]
            .contains(&l.category.as_str());
        let quiet_cat = ["other", "bulk-mixed", "stun-rtp-calls"].contains(&l.category.as_str());
        let scan = l.file.contains("tcp_scan") || l.file.contains("synscan");
        if !ra_cat && !quiet_cat && !scan {
            continue;
        }
        let (recs, out) = replay(&dir.join(&l.file), &[]);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{}",
            l.file
        );
        let flows = flows(&recs);
        let ra_alerts: Vec<&Value> = alerts(&recs)
            .into_iter()
            .filter(|a| a["alert"]["category"] == "remote-access")
            .collect();
        if ra_cat {
            let nd = ndpi_counts(&dir, &l.file);
            let mut ours: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, name) in RA_NAMES {
                let n = flows
                    .iter()
                    .filter(|f| f["app"] == *name || f["app_proto"] == *name)
                    .count();
                if n > 0 {
                    ours.insert(name, n);
                }
            }
            let mut verdict = "match".to_string();
            for (name, n) in &nd {
                let o = ours.get(name).copied().unwrap_or(0);
                if o < *n {
                    match RA_KNOWN_MISSES.iter().find(|(f, _)| *f == l.file) {
                        Some((_, why)) => verdict = format!("miss ({o} of {n} {name}): {why}"),
                        None => {
                            verdict = format!("UNEXPLAINED miss: {o} of {n} {name} flows");
                            failures.push(format!("{}: {verdict}", l.file));
                        }
                    }
                } else if o > *n {
                    verdict = format!("beats nDPI ({o} vs {n} {name})");
                }
            }
            if ours.is_empty() {
                failures.push(format!(
                    "{}: nothing identified in a {} capture",
                    l.file, l.category
                ));
                verdict = "NOT IDENTIFIED".into();
            }
            report.push_str(&format!(
                "| {} | {} | {:?} | {:?} | {} | {} |\n",
                l.file,
                l.category,
                nd,
                ours,
                ra_alerts.len(),
                verdict
            ));
        } else if !ra_alerts.is_empty() {
            match RA_TRUE_ELSEWHERE.iter().find(|(f, _)| *f == l.file) {
                Some((_, why)) => report.push_str(&format!(
                    "| {} | {} | | | {} | remote access present: {why} |\n",
                    l.file,
                    l.category,
                    ra_alerts.len()
                )),
                None => {
                    let sigs: Vec<String> = ra_alerts
                        .iter()
                        .map(|a| a["alert"]["signature"].to_string())
                        .collect();
                    failures.push(format!(
                        "{}: unexpected remote-access alert(s) {sigs:?}",
                        l.file
                    ));
                }
            }
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/detection-report.md");
    let _ = std::fs::write(&out, &report);
    println!("{report}\nreport written to {}", out.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
