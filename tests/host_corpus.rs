//! The host stage on the public corpus (../shared/corpus, not part of this repository):
//! ordinary browsing, streaming, bulk and call captures raise no egress, exfiltration,
//! collection, calls or fan-in alert with the default configuration; and the call captures
//! are not silently ignored: with `max_concurrent = 0` the captures whose media flows carry
//! enough packets do raise a `calls` alert, so the negative check above is not vacuous.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const HOST_CATEGORIES: [&str; 6] = [
    "egress",
    "exfiltration",
    "collection",
    "calls",
    "fan-in",
    "account",
];

fn labelled(dir: &Path, cats: &[&str]) -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string(dir.join("labels.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() > 3 && cats.contains(&f[3])).then(|| (dir.join(f[0]), f[3].to_string()))
        })
        .collect()
}

fn host_alerts(pcap: &Path, extra: &[&str]) -> Vec<String> {
    let (recs, out) = replay(pcap, extra);
    assert!(
        out.status.code() != Some(2) && out.status.code().is_some(),
        "{}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    alerts(&recs)
        .into_iter()
        .filter(|a| HOST_CATEGORIES.contains(&a["alert"]["category"].as_str().unwrap_or("")))
        .map(|a| format!("{}: {}", a["alert"]["category"], a["alert"]["signature"]))
        .collect()
}

#[test]
fn ordinary_captures_raise_no_host_alerts() {
    let Some(dir) = corpus() else {
        eprintln!("SKIPPED: ../shared/corpus is not present; the host-stage corpus check needs it");
        return;
    };
    let caps = labelled(&dir, &["other", "bulk-mixed", "stun-rtp-calls"]);
    assert!(caps.len() > 400, "labels.tsv lists {} captures", caps.len());
    let mut bad = Vec::new();
    for (p, cat) in &caps {
        for a in host_alerts(p, &[]) {
            bad.push(format!("{} ({cat}): {a}", p.display()));
        }
    }
    eprintln!(
        "host-stage alerts on {} ordinary captures: {}",
        caps.len(),
        bad.len()
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn call_captures_are_seen_as_calls() {
    let Some(dir) = corpus() else {
        eprintln!("SKIPPED: ../shared/corpus is not present; the host-stage corpus check needs it");
        return;
    };
    let t = tmpdir();
    let cfg = t.path().join("calls0.toml");
    std::fs::write(&cfg, "[host.calls]\nmax_concurrent = 0\n").unwrap();
    let caps = labelled(&dir, &["stun-rtp-calls"]);
    let seen: Vec<String> = caps
        .iter()
        .filter(|(p, _)| {
            host_alerts(p, &["--config", cfg.to_str().unwrap()])
                .iter()
                .any(|a| a.starts_with("\"calls\""))
        })
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "call captures with a call leg: {} of {}: {seen:?}",
        seen.len(),
        caps.len()
    );
    // Most captures of the category are a few seconds of signalling or fewer than 100
    // media packets per flow (a leg needs 100); these carry real calls.
    for want in [
        "zoom.pcap",
        "zoom2.pcap",
        "wa_video.pcap",
        "wa_voice.pcap",
        "telegram_videocall.pcapng",
        "skype-conference-call.pcap",
    ] {
        assert!(
            seen.iter().any(|s| s == want),
            "{want} not seen as a call: {seen:?}"
        );
    }
}
