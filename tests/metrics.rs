//! /metrics: the exposition passes `promtool check metrics`, label values come from fixed
//! sets, and the HTTP endpoint answers with exactly Prometheus's content type.

mod common;
use common::*;
use std::io::{Read, Write};

fn demo_metrics() -> String {
    let dir = tmpdir();
    let m = dir.path().join("m.prom");
    let out = run(&["demo", "-q", "--metrics-file", m.to_str().unwrap()]);
    assert!(out.status.success());
    std::fs::read_to_string(&m).unwrap()
}

#[test]
fn promtool_check_metrics_is_clean() {
    let Some(promtool) = which("promtool") else {
        missing_prerequisite(
            "promtool not installed (Debian package `prometheus`; scripts/test.sh installs it)",
        );
        return;
    };
    let text = demo_metrics();
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && msg.trim().is_empty(),
        "promtool check metrics: {msg}"
    );
}

#[test]
fn labels_are_bounded_and_never_addresses() {
    let text = demo_metrics();
    let mut series = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        series += 1;
        assert!(line.starts_with("spanwatch_"), "{line}");
        if let Some(labels) = line
            .split_once('{')
            .map(|(_, r)| r.split_once('}').unwrap().0)
        {
            for kv in labels.split(',') {
                let (k, v) = kv.split_once('=').unwrap();
                let v = v.trim_matches('"');
                assert!(
                    [
                        "layer",
                        "encap",
                        "worker",
                        "reason",
                        "app_proto",
                        "category",
                        "severity",
                        "event_type",
                        "result",
                        "version",
                        "mode",
                        "tool",
                        "direction",
                        "kind",
                        "output",
                        "protocol"
                    ]
                    .contains(&k),
                    "unexpected label {k} in {line}"
                );
                assert!(
                    v.parse::<std::net::IpAddr>().is_err(),
                    "address as label value: {line}"
                );
            }
        }
    }
    assert!(series > 50, "only {series} series");
}

/// The control plane serving fresh telemetry on a loopback port, capture running.
struct Served {
    rt: tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
}

impl Served {
    fn start(tel: std::sync::Arc<spanwatch::telemetry::Telemetry>) -> Served {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let health = std::sync::Arc::new(spanwatch::control::Health {
            capturing: std::sync::atomic::AtomicBool::new(true),
        });
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(spanwatch::control::serve(listener, tel, health));
        Served { rt, addr }
    }

    /// One GET over a fresh connection: the whole response, head and body.
    fn get(&self, path: &str) -> String {
        let (addr, path) = (self.addr, path.to_string());
        self.rt.block_on(async move {
            tokio::task::spawn_blocking(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                write!(
                    s,
                    "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut r = String::new();
                s.read_to_string(&mut r).unwrap();
                r
            })
            .await
            .unwrap()
        })
    }
}

#[test]
fn http_endpoint_content_type_and_health() {
    let tel = spanwatch::telemetry::Telemetry::new(1, "live");
    let server = Served::start(tel);
    let get = |path: &str| server.get(path);
    let m = get("/metrics");
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(
        m.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4\r\n"),
        "{m}"
    );
    assert!(m.contains("spanwatch_packets_total 0"), "{m}");
    let h = get("/healthz");
    assert!(h.starts_with("HTTP/1.1 200") && h.ends_with("ok\n"), "{h}");
    assert!(get("/nope").starts_with("HTTP/1.1 404"));
}

/// `name{k="v",...} value` lines of an exposition: family name → (sorted label pairs → value).
type Series = std::collections::BTreeMap<Vec<(String, String)>, f64>;
fn parse_exposition(text: &str) -> std::collections::BTreeMap<String, Series> {
    let mut out: std::collections::BTreeMap<String, Series> = Default::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (head, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').unwrap()),
            None => (head, ""),
        };
        let mut ls: Vec<(String, String)> = labels
            .split(',')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        ls.sort();
        out.entry(name.to_string())
            .or_default()
            .insert(ls, value.parse().unwrap());
    }
    out
}

/// Every family whose label values come from a fixed set, with that set: (family, label
/// sets). A counter of this kind must be exported at 0 with every value from the start, so
/// that Prometheus's first scrape already holds the 0 and `increase()` sees the first event.
type LabelSets = Vec<Vec<(String, String)>>;
fn fixed_label_families(workers: usize) -> Vec<(&'static str, LabelSets)> {
    use spanwatch::telemetry::{EndReason, ALERTMANAGER_RESULTS, ALERT_CATEGORIES};
    fn one(k: &str, vals: impl IntoIterator<Item = String>) -> LabelSets {
        vals.into_iter().map(|v| vec![(k.to_string(), v)]).collect()
    }
    let s = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut alerts = Vec::new();
    for c in ALERT_CATEGORIES {
        for sev in 1..=4 {
            alerts.push(vec![
                ("category".to_string(), c.to_string()),
                ("severity".to_string(), sev.to_string()),
            ]);
        }
    }
    vec![
        (
            "spanwatch_decode_errors_total",
            one(
                "layer",
                spanwatch::decode::ErrorLayer::ALL
                    .iter()
                    .map(|l| l.as_str().to_string()),
            ),
        ),
        (
            "spanwatch_encapsulated_packets_total",
            one(
                "encap",
                spanwatch::decode::Encap::NAMES
                    .iter()
                    .map(|(_, n)| n.to_string()),
            ),
        ),
        (
            "spanwatch_worker_packets_total",
            one("worker", (0..workers).map(|i| i.to_string())),
        ),
        (
            "spanwatch_capture_ring_fill_ratio",
            one("worker", (0..workers).map(|i| i.to_string())),
        ),
        (
            "spanwatch_flows_ended_total",
            one(
                "reason",
                EndReason::ALL.iter().map(|r| r.as_str().to_string()),
            ),
        ),
        (
            "spanwatch_flows_identified_total",
            one(
                "app_proto",
                spanwatch::proto::registry::AppProto::ALL
                    .iter()
                    .map(|a| a.as_str().to_string()),
            ),
        ),
        ("spanwatch_alerts_total", alerts),
        (
            "spanwatch_eve_records_total",
            one("event_type", s(&["flow", "alert", "stats"])),
        ),
        (
            "spanwatch_alertmanager_notifications_total",
            one("result", s(&ALERTMANAGER_RESULTS)),
        ),
        (
            "spanwatch_eve_output_records_total",
            one("output", s(&spanwatch::output::sink::OUTPUTS)),
        ),
        (
            "spanwatch_eve_output_dropped_records_total",
            one("output", s(&spanwatch::output::sink::OUTPUTS)),
        ),
        (
            "spanwatch_eve_output_errors_total",
            one("output", s(&spanwatch::output::sink::OUTPUTS)),
        ),
        (
            "spanwatch_egress_bytes_total",
            one("direction", s(&spanwatch::model::net::DIRECTION_CLASSES)),
        ),
        (
            "spanwatch_host_anomalies_total",
            one("kind", s(&spanwatch::model::sid::ANOMALY_KINDS)),
        ),
        (
            "spanwatch_account_anomalies_total",
            one("kind", s(&spanwatch::model::sid::ACCOUNT_ANOMALY_KINDS)),
        ),
        (
            "spanwatch_evidence_dropped_packets_total",
            one("reason", s(&spanwatch::telemetry::EVIDENCE_DROP_REASONS)),
        ),
        (
            "spanwatch_malformed_flows_total",
            one(
                "protocol",
                s(&spanwatch::proto::session::MALFORMED_PROTOCOLS),
            ),
        ),
        (
            "spanwatch_host_state_writes_total",
            one("result", s(&["success", "failure"])),
        ),
        (
            "spanwatch_host_state_loads_total",
            one("result", s(&["success", "failure"])),
        ),
        (
            "spanwatch_resolver_bypass_flows_total",
            one("kind", s(&spanwatch::model::meta::RESOLVER_KINDS)),
        ),
        (
            "spanwatch_config_reloads_total",
            one("result", s(&["success", "partial", "failure"])),
        ),
    ]
}

/// Labelled families deliberately exported only once a value is seen, with the reason.
const LAZY_FAMILIES: [(&str, &str); 4] = [
    (
        "spanwatch_build_info",
        "one series, value 1: the labels describe the build",
    ),
    (
        "spanwatch_capture_packets_per_interface_total",
        "interface comes from the configuration (1 to 8): one series per configured interface from start, none on a replay",
    ),
    (
        "spanwatch_capture_kernel_dropped_packets_per_interface_total",
        "as spanwatch_capture_packets_per_interface_total",
    ),
    (
        "spanwatch_remote_access_sessions_total",
        "tool comes from the rules catalogue (hundreds of tools, changed by a reload): one series per tool and direction actually seen (deploy/README.md)",
    ),
];

fn assert_all_fixed_sets_at_zero(what: &str, text: &str, workers: usize) {
    let got = parse_exposition(text);
    let fixed = fixed_label_families(workers);
    for (fam, sets) in &fixed {
        let series = got
            .get(*fam)
            .unwrap_or_else(|| panic!("{what}: {fam} is not exported before any packet"));
        assert!(!sets.is_empty(), "{fam}: empty label set");
        for ls in sets {
            let mut ls = ls.clone();
            ls.sort();
            match series.get(&ls) {
                Some(v) => assert_eq!(*v, 0.0, "{what}: {fam}{ls:?} = {v} before any packet"),
                None => panic!("{what}: {fam}{ls:?} not exported at 0 from start"),
            }
        }
        assert_eq!(
            series.len(),
            sets.len(),
            "{what}: {fam} has series beyond its fixed label set: {:?}",
            series.keys().collect::<Vec<_>>()
        );
    }
    // Every labelled family in the exposition is either checked above or listed as lazy:
    // a new family with a fixed label set must be added to fixed_label_families.
    for (fam, series) in &got {
        if series.keys().any(|ls| !ls.is_empty()) {
            assert!(
                fixed.iter().any(|(f, _)| f == fam) || LAZY_FAMILIES.iter().any(|(f, _)| f == fam),
                "{what}: labelled family {fam} is neither checked for its fixed label set nor listed in LAZY_FAMILIES"
            );
        }
    }
    // Every unlabelled counter is there at 0 too.
    for (fam, series) in &got {
        if fam.ends_with("_total") && series.keys().all(|ls| ls.is_empty()) {
            assert_eq!(
                series.values().next(),
                Some(&0.0),
                "{what}: {fam} before any packet"
            );
        }
    }
}

/// Families the deploy files rely on ("today" in tests/deploy/metrics.txt) are all in the
/// exposition before any packet, except the lazy ones.
fn assert_deploy_families_present(what: &str, text: &str) {
    let got = parse_exposition(text);
    let list = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deploy/metrics.txt"),
    )
    .unwrap();
    let mut n = 0;
    for line in list.lines().map(str::trim) {
        let Some(("today", fam)) = line.split_once(' ') else {
            continue;
        };
        n += 1;
        if LAZY_FAMILIES.iter().any(|(f, _)| *f == fam) && fam != "spanwatch_build_info" {
            continue;
        }
        assert!(
            got.contains_key(fam),
            "{what}: {fam} (tests/deploy/metrics.txt) is not exported before any packet"
        );
    }
    assert!(n > 30, "only {n} families in tests/deploy/metrics.txt");
    for (f, why) in LAZY_FAMILIES {
        assert!(!why.is_empty() && f.starts_with("spanwatch_"));
    }
}

#[test]
fn fixed_label_families_exported_at_zero_from_start() {
    // 1. What a live sensor serves on /metrics before its first packet (the control plane
    //    with fresh telemetry, over HTTP, as Prometheus's first scrape reads it).
    let workers = 3;
    let tel = spanwatch::telemetry::Telemetry::new(workers, "live");
    let resp = Served::start(tel).get("/metrics");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_all_fixed_sets_at_zero("live /metrics before any packet", body, workers);
    assert_deploy_families_present("live /metrics before any packet", body);

    // 2. The binary itself: a replay of a capture with no packet, 2 workers.
    let dir = tmpdir();
    let pcap = dir.path().join("empty.pcap");
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    std::fs::write(&pcap, &hdr).unwrap();
    let m = dir.path().join("m.prom");
    let out = run(&[
        "replay",
        "-q",
        "--workers",
        "2",
        "--eve",
        dir.path().join("eve.json").to_str().unwrap(),
        "--metrics-file",
        m.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&m).unwrap();
    assert_all_fixed_sets_at_zero("spanwatch replay of an empty capture", &text, 2);
    assert_deploy_families_present("spanwatch replay of an empty capture", &text);
}
