//! Packet evidence (`[evidence]`): replaying captures built here (testkit), each alert raised
//! on a flow gets a pcap file of that flow named by its Community ID and referenced from the
//! EVE alert; the file opens in tshark and holds the flow's handshake, the alert's packet and
//! the packets after it, with the capture's own time stamps; replays write the same bytes;
//! the disk budget holds under a flood of alerting flows, deletions counted; a directory that
//! cannot be used stops the start naming `evidence.directory`.

mod common;

use common::*;
use serde_json::Value;
use spanwatch_testkit::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const T0: u64 = 1_700_000_000;

fn config(dir: &Path, evidence: &Path, extra: &str) -> PathBuf {
    let p = dir.join("spanwatch.toml");
    std::fs::write(
        &p,
        format!(
            "[sensor]\nhome_net = [\"10.0.0.0/8\"]\n[output]\nmetrics_file = \"{}\"\n\
             [evidence]\nenabled = true\ndirectory = \"{}\"\n{extra}",
            dir.join("metrics.prom").display(),
            evidence.display()
        ),
    )
    .unwrap();
    p
}

/// The file name the README promises for a Community ID.
fn name_for(cid: &str) -> String {
    format!("{}.pcap", cid.replace([':', '/'], "_").replace('+', "-"))
}

/// An inbound RDP session from `client` (an alert on its connection request), with `extra`
/// client segments of `seg` bytes after it.
fn rdp_session(sc: &mut Scene, client: (&str, u16), server: &str, extra: usize, seg: usize) {
    let mut t = sc.tcp_session((v4(client.0), client.1), (v4(server), 3389));
    t.handshake(sc);
    t.client_sends(sc, &rdp_connection_request("alice", 3));
    t.server_sends(sc, &rdp_connection_confirm(2));
    for i in 0..extra {
        sc.advance_ms(20);
        t.client_sends(sc, &noise(seg, i as u64));
    }
    t.close(sc);
}

fn replay_into(pcap: &[u8], cfg: &Path) -> Vec<Value> {
    replay_checked(pcap, &["--config", cfg.to_str().unwrap()])
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// tshark's fields of every packet of a capture file, one Vec per packet.
fn tshark(file: &Path, filter: Option<&str>, fields: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.args(["-n", "-r"]).arg(file).args(["-T", "fields"]);
    if let Some(f) = filter {
        c.args(["-Y", f]);
    }
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn metric(dir: &Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join("metrics.prom")).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{l}")) as u64
        })
        .sum()
}

#[test]
fn an_alert_references_a_pcap_of_its_flow() {
    let dir = tmpdir();
    let ev = dir.path().join("evidence");
    let cfg = config(dir.path(), &ev, "max_packets_after = 6\n");
    let mut sc = Scene::new(T0);
    // an ordinary TLS session that raises nothing: no file for it
    let mut t = sc.tcp_session((v4("10.1.0.5"), 40_000), (v4("198.51.100.20"), 443));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &tls_client_hello(Some("www.example.com"), &["h2"]));
    t.server_sends(&mut sc, &tls_server_hello_cert(Some("h2"), None));
    t.close(&mut sc);
    sc.advance_ms(1000);
    rdp_session(&mut sc, ("203.0.113.5", 50_123), "10.3.0.10", 10, 200);
    let capture = dir.path().join("in.pcap");
    std::fs::write(&capture, sc.bytes()).unwrap();

    let recs = replay_into(sc.bytes(), &cfg);
    let al = alerts(&recs);
    assert!(!al.is_empty(), "the inbound RDP session raised no alert");
    let with: Vec<&&Value> = al.iter().filter(|a| a.get("evidence").is_some()).collect();
    assert_eq!(
        with.len(),
        al.len(),
        "every alert here is on a flow: {al:#?}"
    );
    let a = with[0];
    let cid = a["community_id"].as_str().unwrap();
    let pcap = a["evidence"]["pcap"].as_str().unwrap();
    let before = a["evidence"]["packets"].as_u64().unwrap() as usize;
    assert_eq!(pcap, name_for(cid), "the file is named by the community_id");
    let on_disk = files(&ev);
    assert_eq!(
        on_disk.keys().collect::<Vec<_>>(),
        vec![pcap],
        "one file, for the alerting flow only"
    );
    assert_eq!(metric(dir.path(), "spanwatch_evidence_files_total"), 1);

    // Evidence off: the same alerts, without the reference.
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, "[sensor]\nhome_net = [\"10.0.0.0/8\"]\n").unwrap();
    let off = replay_into(sc.bytes(), &plain);
    let mut off_alerts: Vec<Value> = alerts(&off).into_iter().cloned().collect();
    let mut on_alerts: Vec<Value> = al.iter().map(|a| (*a).clone()).collect();
    for a in &mut on_alerts {
        a.as_object_mut().unwrap().remove("evidence");
    }
    off_alerts
        .iter()
        .for_each(|a| assert!(a.get("evidence").is_none()));
    off_alerts.sort_by_key(|a| a.to_string());
    on_alerts.sort_by_key(|a| a.to_string());
    assert_eq!(off_alerts, on_alerts);

    // Replays write the same bytes: into a fresh directory and over the old one.
    let ev2 = dir.path().join("evidence2");
    let d2 = tmpdir();
    replay_into(
        sc.bytes(),
        &config(d2.path(), &ev2, "max_packets_after = 6\n"),
    );
    assert_eq!(files(&ev2), on_disk);
    replay_into(sc.bytes(), &cfg);
    assert_eq!(files(&ev), on_disk);
    // and with two workers (the flow's packets reach one worker, in order)
    let ev3 = dir.path().join("evidence3");
    let d3 = tmpdir();
    let cfg3 = config(d3.path(), &ev3, "max_packets_after = 6\n");
    let (_, out) = replay_bytes(
        sc.bytes(),
        &["--config", cfg3.to_str().unwrap(), "--workers", "2"],
    );
    assert!(out.status.success());
    assert_eq!(files(&ev3), on_disk);

    if which("tshark").is_none() {
        missing_prerequisite(
            "tshark is not installed: the evidence file's contents are not checked",
        );
        return;
    }
    let file = ev.join(pcap);
    let fields = [
        "frame.time_epoch",
        "tcp.flags",
        "tcp.srcport",
        "tcp.len",
        "tcp.seq_raw",
    ];
    let got = tshark(&file, None, &fields);
    // the flow's packets in the original capture: the file is its first `before` packets,
    // then the next 6, with the same time stamps and headers
    let flow = tshark(&capture, Some("tcp.port == 50123"), &fields);
    assert_eq!(got.len(), before + 6, "packets in {pcap}: {got:?}");
    assert_eq!(got[..], flow[..before + 6]);
    let flags: Vec<&str> = got.iter().take(3).map(|p| p[1].as_str()).collect();
    assert_eq!(
        flags,
        ["0x0002", "0x0012", "0x0010"],
        "the TCP handshake opens the file"
    );
    // the alert's packet: the client's connection request, the first with payload
    let first_data = got
        .iter()
        .position(|p| p[2] == "50123" && p[3] != "0")
        .expect("the connection request is in the file");
    assert!(
        first_data < before,
        "the alert's packet is within the first {before}"
    );
    assert!(
        !tshark(&file, Some("rdp || tpkt"), &["frame.number"]).is_empty(),
        "tshark sees the RDP connection request"
    );
}

#[test]
fn the_disk_budget_holds_under_an_alert_flood() {
    let dir = tmpdir();
    let ev = dir.path().join("evidence");
    let cfg = config(
        dir.path(),
        &ev,
        "disk_budget_mb = 1\nmax_packets_after = 40\n",
    );
    let mut sc = Scene::new(T0);
    let flows = 200;
    for i in 0..flows {
        let src = format!("203.0.{}.{}", 113 + i / 200, 1 + i % 200);
        rdp_session(&mut sc, (&src, 40_000 + i as u16), "10.3.0.10", 20, 1000);
        sc.advance_ms(500);
    }
    let recs = replay_into(sc.bytes(), &cfg);
    let refs: std::collections::BTreeSet<&str> = alerts(&recs)
        .iter()
        .filter_map(|a| a["evidence"]["pcap"].as_str())
        .collect();
    assert_eq!(refs.len(), flows, "one file per alerting flow");
    let on_disk = files(&ev);
    let total: usize = on_disk.values().map(Vec::len).sum();
    assert!(
        total <= 1 << 20,
        "{total} bytes on disk, over the 1 MiB budget"
    );
    let written = metric(dir.path(), "spanwatch_evidence_files_total");
    let deleted = metric(dir.path(), "spanwatch_evidence_files_deleted_total");
    assert_eq!(written, flows as u64);
    assert!(
        deleted > 0,
        "nothing deleted: the test does not pass the budget"
    );
    assert_eq!(written - deleted, on_disk.len() as u64);
    assert_eq!(
        metric(dir.path(), "spanwatch_evidence_disk_bytes"),
        total as u64
    );
    // the newest files are the ones kept
    for name in on_disk.keys() {
        assert!(
            refs.contains(name.as_str()),
            "{name} is not an alert's file"
        );
    }
    let last = alerts(&recs)
        .last()
        .and_then(|a| a["evidence"]["pcap"].as_str())
        .unwrap()
        .to_string();
    assert!(
        on_disk.contains_key(&last),
        "the newest alert's file was deleted"
    );
}

#[test]
fn a_directory_that_cannot_be_used_stops_the_start() {
    let dir = tmpdir();
    let plain = dir.path().join("a-file");
    std::fs::write(&plain, b"x").unwrap();
    let mut sc = Scene::new(T0);
    rdp_session(&mut sc, ("203.0.113.5", 50_123), "10.3.0.10", 0, 0);
    for (evdir, why) in [
        (plain.clone(), "is not a directory"),
        (plain.join("sub"), "cannot make it"),
    ] {
        let cfg = config(dir.path(), &evdir, "");
        let (_, out) = replay_bytes(sc.bytes(), &["--config", cfg.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {}", evdir.display());
        assert!(
            err.contains("evidence.directory") && err.contains(why),
            "{}: {err}",
            evdir.display()
        );
    }
}
