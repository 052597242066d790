//! Device names in the public corpus (../shared/corpus, not part of this repository): each
//! flow for which nDPI's own results (ndpi/result/*.out) print an mDNS or NetBIOS host name
//! has a flow record (`app_proto` `mdns` or `netbios`) showing the same name. Skips, saying
//! so, when the corpus is absent; under CI=true its absence fails the test.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

type Ends = BTreeSet<(String, u16)>;

/// nDPI's flow lines: (the two endpoints, the line).
fn ndpi_flows(text: &str) -> Vec<(Ends, &str)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let at = w.iter().position(|x| matches!(*x, "<->" | "->" | "<-"))?;
            let a = ndpi_endpoint(w[at - 1])?;
            let b = ndpi_endpoint(w.get(at + 1)?)?;
            Some(([a, b].into_iter().collect(), l))
        })
        .collect()
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(&format!("[{key}: ")).nth(1)?.split(']').next()
}

/// Every name a flow's `mdns` or `netbios` record shows, lowercase, as nDPI writes them
/// (mDNS names with `.local`).
fn names_of(r: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default()
    };
    let m = &r["mdns"];
    out.extend(list(&m["queries"]));
    out.extend(list(&m["instances"]));
    for h in list(&m["hostnames"])
        .into_iter()
        .chain(list(&m["services"]))
    {
        out.insert(format!("{h}.local"));
        out.insert(h);
    }
    if let Some(n) = r["netbios"]["name"].as_str() {
        out.insert(n.to_lowercase());
    }
    out.extend(list(&r["netbios"]["hostnames"]));
    out
}

/// Captures whose names nDPI reports on flows spanwatch does not see as it does, and why.
const KNOWN: &[(&str, &str)] = &[(
    "fuzz-2006-06-26-2594.pcap.out:",
    "a capture fuzzed to crash dissectors: nDPI prints names from damaged NetBIOS \
     messages (letters outside A-P in the encoded name, addresses and ports rewritten) that \
     spanwatch counts as malformed",
)];

#[test]
fn corpus_device_names_match_ndpi() {
    let Some(dir) = corpus() else {
        missing_prerequisite(
            "../shared/corpus is not present: the comparison of mDNS/NetBIOS names with nDPI's results needs it",
        );
        return;
    };
    let mut checked = BTreeMap::<&str, usize>::new();
    let mut misses = Vec::new();
    for (name, pcap, text) in ndpi_results(&dir) {
        if !text.contains("/MDNS]") && !text.contains("/NetBIOS") {
            continue;
        }
        if !pcap.is_file() {
            continue;
        }
        let (recs, _) = replay(&pcap, &[]);
        for (ends, line) in ndpi_flows(&text) {
            let kind = if line.contains("/MDNS]") {
                "mdns"
            } else if line.contains("/NetBIOS") && line.contains("UDP ") {
                "netbios"
            } else {
                continue;
            };
            let Some(host) = field(line, "Hostname/SNI") else {
                continue;
            };
            let ours: Vec<&Value> = flows(&recs)
                .into_iter()
                .filter(|r| {
                    let e: Ends = [
                        (
                            r["src_ip"].as_str().unwrap_or("").to_string(),
                            r["src_port"].as_u64().unwrap_or(0) as u16,
                        ),
                        (
                            r["dest_ip"].as_str().unwrap_or("").to_string(),
                            r["dest_port"].as_u64().unwrap_or(0) as u16,
                        ),
                    ]
                    .into_iter()
                    .collect();
                    e == ends && r["app_proto"] == kind
                })
                .collect();
            let want = host.to_lowercase();
            if !ours.iter().any(|r| names_of(r).contains(&want)) {
                let got: Vec<_> = ours.iter().map(|r| names_of(r)).collect();
                misses.push(format!(
                    "{name}: nDPI shows {kind} name {host:?} on {ends:?}; ours: {got:?} ({} records)",
                    ours.len()
                ));
            }
            *checked.entry(kind).or_default() += 1;
        }
    }
    eprintln!("device names compared with nDPI: {checked:?}");
    misses.retain(|m| !KNOWN.iter().any(|(file, _)| m.starts_with(file)));
    assert!(misses.is_empty(), "{} misses: {misses:#?}", misses.len());
    assert!(
        checked.get("mdns").copied().unwrap_or(0) >= 10,
        "{checked:?}"
    );
    assert!(
        checked.get("netbios").copied().unwrap_or(0) >= 10,
        "{checked:?}"
    );
}
