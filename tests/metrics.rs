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
        eprintln!(
            "SKIPPED: promtool not installed (Debian package `prometheus`; .ci/run installs it)"
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
                        "kind"
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

#[test]
fn http_endpoint_content_type_and_health() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tel = spanwatch::telemetry::Telemetry::new(1, "live");
    let health = std::sync::Arc::new(spanwatch::control::Health {
        capturing: std::sync::atomic::AtomicBool::new(true),
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(spanwatch::control::serve(listener, tel, health));
    let get = |path: &str| -> String {
        rt.block_on(async {
            let path = path.to_string();
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
    };
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
