//! The host stage on captures built here: a host uploading far above its baseline, a new
//! host above the absolute limit, uploads to code hosting (HTTPS and git over SSH),
//! collection from an internal file share, concurrent calls on one address, a remote-access
//! server reached from many places, and the state file carrying baselines across runs.
//! Each test asserts exactly the alerts expected, and none on the ordinary traffic beside.

mod common;

use common::*;
use serde_json::Value;
use spanwatch_testkit::*;
use std::net::IpAddr;

const S: u64 = 1_000_000_000;
const MB: u64 = 1 << 20;

fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let p = dir.join("spanwatch.toml");
    std::fs::write(
        &p,
        format!(
            "[sensor]\nhome_net = [\"10.0.0.0/8\"]\n[host]\ninterval_s = 60\nwarmup_intervals = 5\nbaseline_intervals = 20\n{extra}"
        ),
    )
    .unwrap();
    p
}

fn host_alerts<'a>(recs: &'a [Value], cat: &str) -> Vec<&'a Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["category"] == cat)
        .collect()
}

/// (source address, a metadata value) of each alert, in order.
fn src_and<'a>(alerts: &[&'a Value], key: &str) -> Vec<(&'a str, &'a str)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["src_ip"].as_str().unwrap(),
                a["alert"]["metadata"][key][0].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn replay_cfg(bytes: &[u8], cfg: &std::path::Path) -> Vec<Value> {
    let (recs, out) = replay_bytes(bytes, &["--config", cfg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = schema();
    for r in &recs {
        assert!(v.is_valid(r), "schema: {r}");
    }
    recs
}

/// One TLS session from `c` to `s` that uploads `up` and downloads `down` wire bytes.
fn tls_transfer(sc: &mut Scene, c: IpAddr, cport: u16, s: IpAddr, sni: &str, up: u64, down: u64) {
    let mut t = sc.tcp_session((c, cport), (s, 443));
    t.handshake(sc);
    t.client_sends(sc, &tls_client_hello(Some(sni), &["h2"]));
    t.server_sends(sc, &tls_server_hello_cert(Some("h2"), None));
    if up > 0 {
        t.client_bulk(sc, up, 60_000);
    }
    if down > 0 {
        t.server_bulk(sc, down, 60_000);
    }
    t.close(sc);
}

const EGRESS_CFG: &str = "[host.egress]\nfloor_bytes = 20971520\nnew_host_bytes = 524288000\n";

/// Twelve hosts each send 2–4 MB per minute for 25 minutes; in minute 22 one of them
/// sends 150 MB (far above its own history and its peers, yet under the new-host limit);
/// in minute 23 two new hosts appear, one sending 100 MB (under the limit) and one 600 MB.
fn egress_capture(spike: bool, minutes: std::ops::Range<u64>) -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000 - 1_700_000_000 % 60 + minutes.start * 60);
    for m in minutes {
        let start = (1_700_000_000 - 1_700_000_000 % 60 + m * 60) * S + S;
        // irregular start times within the minute (regular ones would be beacons)
        let mut order: Vec<(u64, u8)> = (1..=12u8)
            .map(|h| {
                (
                    ((m * 7919 + h as u64 * 104_729) * 2_654_435_761) % 40_000,
                    h,
                )
            })
            .collect();
        order.sort();
        for (off_ms, h) in order {
            sc.now_ns = sc.now_ns.max(start + off_ms * 1_000_000);
            let c = v4(&format!("10.1.0.{h}"));
            // a different server most minutes (browsing, not one regular pair: a beacon)
            let s = v4(&format!(
                "198.51.100.{}",
                1 + (h as u64 * 31 + m * 17) % 200
            ));
            let up = (2 + (m + h as u64) % 3) * MB;
            let (up, s) = if spike && m == 22 && h == 7 {
                (150 * MB, v4("198.51.100.250"))
            } else {
                (up, s)
            };
            tls_transfer(&mut sc, c, 40_000 + m as u16, s, "example.net", up, MB);
        }
        if spike && m == 23 {
            tls_transfer(
                &mut sc,
                v4("10.1.0.98"),
                41_000,
                v4("203.0.113.98"),
                "example.org",
                100 * MB,
                0,
            );
            tls_transfer(
                &mut sc,
                v4("10.1.0.99"),
                41_001,
                v4("203.0.113.99"),
                "example.org",
                600 * MB,
                0,
            );
        }
    }
    sc.bytes().to_vec()
}

#[test]
fn egress_above_baseline_and_new_host_limit() {
    let dir = tmpdir();
    let cfg = config(dir.path(), EGRESS_CFG);
    let recs = replay_cfg(&egress_capture(true, 0..25), &cfg);
    let eg = host_alerts(&recs, "egress");
    let who = src_and(&eg, "basis");
    assert_eq!(
        who,
        vec![("10.1.0.7", "baseline"), ("10.1.0.99", "new-host")],
        "{eg:#?}"
    );
    let a = eg[0];
    assert_eq!(a["direction"], "outbound");
    let md = &a["alert"]["metadata"];
    let out: u64 = md["bytes_out"][0].as_str().unwrap().parse().unwrap();
    let thr: u64 = md["threshold_bytes"][0].as_str().unwrap().parse().unwrap();
    // raised by a progress report of the open flow (one per second of packet time; this
    // fixture moves 60 MB/s), not when the 150 MB flow ends
    assert!(
        out > thr && out < 100 * MB,
        "alert while the upload runs: {md}"
    );
    assert!(
        md["intervals_learned"][0]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 20
    );
    let top = md["top_destinations"][0].as_str().unwrap();
    assert!(top.starts_with("198.51.100.250:443"), "{top}");
    // no other host-stage alert on this traffic
    assert_eq!(alerts(&recs).len(), 2, "{:#?}", alerts(&recs));
    // the same traffic without the spike: nothing
    let quiet = replay_cfg(&egress_capture(false, 0..25), &cfg);
    assert!(alerts(&quiet).is_empty(), "{:#?}", alerts(&quiet));
}

#[test]
fn state_file_keeps_baselines_across_a_restart() {
    let dir = tmpdir();
    let state = dir.path().join("host-state.json");
    let cfg = config(
        dir.path(),
        &format!("state_file = {:?}\n{EGRESS_CFG}", state.to_str().unwrap()),
    );
    // first run: the quiet minutes only; the state is saved at exit
    let first = replay_cfg(&egress_capture(true, 0..20), &cfg);
    assert!(alerts(&first).is_empty());
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["hosts"].as_array().unwrap().len(), 12);
    // second run: the rest, with the spike; the restored baseline catches 10.1.0.7
    let second = replay_cfg(&egress_capture(true, 20..25), &cfg);
    let eg: Vec<&str> = host_alerts(&second, "egress")
        .iter()
        .map(|a| a["src_ip"].as_str().unwrap())
        .collect();
    assert_eq!(eg, vec!["10.1.0.7", "10.1.0.99"]);
    // without the state file the second part alone sees only new hosts: 150 MB is under
    // the new-host limit, so 10.1.0.7 goes unnoticed
    let dir2 = tmpdir();
    let cold = replay_cfg(
        &egress_capture(true, 20..25),
        &config(dir2.path(), EGRESS_CFG),
    );
    let eg: Vec<&str> = host_alerts(&cold, "egress")
        .iter()
        .map(|a| a["src_ip"].as_str().unwrap())
        .collect();
    assert_eq!(eg, vec!["10.1.0.99"]);
    // a damaged state file is reported and the sensor starts afresh
    std::fs::write(&state, b"{not json").unwrap();
    let (recs, out) = replay_bytes(
        &egress_capture(true, 20..25),
        &["--config", cfg.to_str().unwrap()],
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("host state file is not valid"), "{err}");
    assert_eq!(host_alerts(&recs, "egress").len(), 1);
}

/// The `NAME.bad-*` files beside the state file.
fn kept_aside(state: &std::path::Path) -> Vec<std::path::PathBuf> {
    let name = state.file_name().unwrap().to_str().unwrap().to_string();
    let mut v: Vec<_> = std::fs::read_dir(state.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{name}.bad-")))
        })
        .collect();
    v.sort();
    v
}

/// Every number in a JSON document is finite and nothing is `null`.
fn all_finite(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::Array(a) => a.iter().all(all_finite),
        Value::Object(o) => o.values().all(all_finite),
        _ => true,
    }
}

#[test]
fn state_file_entries_are_rejected_one_by_one_and_a_damaged_file_is_kept() {
    let dir = tmpdir();
    let state = dir.path().join("hosts.json");
    let cfg = config(
        dir.path(),
        &format!("state_file = {:?}\n{EGRESS_CFG}", state.to_str().unwrap()),
    );
    replay_cfg(&egress_capture(true, 0..20), &cfg);
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(all_finite(&saved));
    // Damage two hosts other than 10.1.0.7: a mean beyond f32 (it loaded as infinity and
    // was saved as null) and a null; the peers' level null too.
    let hosts = saved["hosts"].as_array_mut().unwrap();
    let mut damaged = 0;
    for h in hosts.iter_mut() {
        if h[0] != "10.1.0.7" && damaged < 2 {
            h[1][0] = if damaged == 0 {
                serde_json::from_str("1e39").unwrap()
            } else {
                Value::Null
            };
            damaged += 1;
        }
    }
    saved["peer"][0] = Value::Null;
    let text = serde_json::to_string(&saved).unwrap();
    assert!(text.contains("1e+39") && text.contains("null"), "{text}");
    std::fs::write(&state, &text).unwrap();
    let (recs, out) = replay_bytes(
        &egress_capture(true, 20..25),
        &["--config", cfg.to_str().unwrap()],
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without 3 unusable entries"), "{err}");
    // the rest of the baselines were kept: 10.1.0.7 is still caught against its history
    let eg: Vec<&str> = host_alerts(&recs, "egress")
        .iter()
        .map(|a| a["src_ip"].as_str().unwrap())
        .collect();
    assert_eq!(eg, vec!["10.1.0.7", "10.1.0.99"]);
    // the damaged file is kept beside the new one, which holds only finite numbers
    let kept = kept_aside(&state);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), text);
    let new: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(all_finite(&new), "{new}");
    // a file that is not JSON at all: kept aside, a new one written at exit
    std::fs::write(&state, b"{not json").unwrap();
    let (_, out) = replay_bytes(
        &egress_capture(true, 20..25),
        &["--config", cfg.to_str().unwrap()],
    );
    assert!(out.status.success());
    let kept = kept_aside(&state);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept
        .iter()
        .any(|k| std::fs::read(k).unwrap() == b"{not json"));
    let new: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(all_finite(&new) && new["hosts"].as_array().is_some_and(|h| !h.is_empty()));
}

#[test]
fn uploads_to_code_hosting_are_exfiltration() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let mut sc = Scene::new(1_700_000_000);
    // 30 MB pushed over HTTPS to github.com: alert (limit 20 MB)
    tls_transfer(
        &mut sc,
        v4("10.5.0.1"),
        50_001,
        v4("140.82.112.4"),
        "github.com",
        30 * MB,
        MB,
    );
    // a 30 MB clone (download) and a 5 MB push: no alert
    tls_transfer(
        &mut sc,
        v4("10.5.0.2"),
        50_002,
        v4("140.82.112.4"),
        "github.com",
        MB,
        30 * MB,
    );
    tls_transfer(
        &mut sc,
        v4("10.5.0.3"),
        50_003,
        v4("140.82.112.4"),
        "github.com",
        5 * MB,
        0,
    );
    // 30 MB to an ordinary web site: no alert
    tls_transfer(
        &mut sc,
        v4("10.5.0.4"),
        50_004,
        v4("198.51.100.80"),
        "www.example.com",
        30 * MB,
        0,
    );
    // git push over SSH: the name comes from the DNS answer just before
    let (c, r) = (v4("10.5.0.5"), v4("8.8.8.8"));
    sc.udp((c, 53001), (r, 53), &dns_query(7, "github.com", 1));
    sc.udp(
        (r, 53),
        (c, 53001),
        &dns_response_a(7, "github.com", &[[140, 82, 112, 3]]),
    );
    let mut t = sc.tcp_session((c, 50_005), (v4("140.82.112.3"), 22));
    t.handshake(&mut sc);
    t.server_sends(&mut sc, b"SSH-2.0-babeld-9d5ee4a4\r\n");
    t.client_sends(&mut sc, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    t.client_bulk(&mut sc, 25 * MB, 60_000);
    t.close(&mut sc);
    let recs = replay_cfg(sc.bytes(), &cfg);
    let ex = host_alerts(&recs, "exfiltration");
    let who = src_and(&ex, "destination");
    assert_eq!(
        who,
        vec![("10.5.0.1", "github"), ("10.5.0.5", "github")],
        "{ex:#?}"
    );
    assert!(ex[0]["alert"]["metadata"]["git"][0]
        .as_str()
        .unwrap()
        .contains("https"));
    assert!(ex[1]["alert"]["metadata"]["git"][0]
        .as_str()
        .unwrap()
        .starts_with("git push over ssh"));
    assert_eq!(ex[1]["app_proto"], "ssh");
    // The push is a copy (one run of data up), not a tunnel: no alert beside exfiltration.
    let push = flows(&recs)
        .into_iter()
        .find(|f| f["app_proto"] == "ssh")
        .unwrap();
    assert_eq!(push["ssh"]["shape"], "transfer", "{}", push["ssh"]);
    assert_eq!(push["ssh"]["transfer"]["direction"], "to_server");
    let others: Vec<&Value> = alerts(&recs)
        .into_iter()
        .filter(|a| a["alert"]["category"] != "exfiltration")
        .collect();
    assert!(others.is_empty(), "{others:#?}");
}

#[test]
fn collection_from_internal_file_share() {
    let dir = tmpdir();
    let cfg = config(
        dir.path(),
        "[host.collection]\nnew_host_bytes = 104857600\n",
    );
    let mut sc = Scene::new(1_700_000_000);
    let share = v4("10.4.0.1");
    // 150 MB read over SMB: collection; 150 MB from an internal web server: not
    for (c, port) in [("10.4.0.8", 445), ("10.4.0.9", 80)] {
        let mut t = sc.tcp_session((v4(c), 51_000), (share, port));
        t.handshake(&mut sc);
        t.client_sends(&mut sc, b"\x00\x00\x00\x10request");
        t.server_bulk(&mut sc, 150 * MB, 60_000);
        t.close(&mut sc);
    }
    let recs = replay_cfg(sc.bytes(), &cfg);
    let co = host_alerts(&recs, "collection");
    assert_eq!(co.len(), 1, "{co:#?}");
    assert_eq!(co[0]["src_ip"], "10.4.0.8");
    assert_eq!(co[0]["alert"]["metadata"]["service"][0], "smb");
    assert_eq!(alerts(&recs).len(), 1);
}

/// `calls` RTP streams between `host` and distinct remotes, interleaved for 10 s.
fn calls(sc: &mut Scene, host: &str, remotes: &[&str], base_port: u16) {
    let h = v4(host);
    for i in 0..500u16 {
        for (j, r) in remotes.iter().enumerate() {
            let ssrc = 0x1000 + j as u32;
            let p = base_port + 2 * j as u16;
            if i % 2 == 0 {
                sc.udp(
                    (h, p),
                    (v4(r), 3478 + j as u16),
                    &rtp(111, i, i as u32 * 960, ssrc, 120),
                );
            } else {
                sc.udp(
                    (v4(r), 3478 + j as u16),
                    (h, p),
                    &rtp(111, i, i as u32 * 960, ssrc + 99, 120),
                );
            }
        }
        sc.advance_ms(20);
    }
}

#[test]
fn concurrent_calls_on_one_host() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let mut sc = Scene::new(1_700_000_000);
    // three calls at once on 10.2.0.5 (the captures of three meetings moved onto one
    // address), two on 10.2.0.6 (allowed: max_concurrent = 2)
    calls(
        &mut sc,
        "10.2.0.5",
        &["198.51.100.21", "203.0.113.22", "192.0.2.23"],
        50_000,
    );
    calls(
        &mut sc,
        "10.2.0.6",
        &["198.51.100.31", "203.0.113.32"],
        52_000,
    );
    // later, 10.2.0.6 has one call at a time, three times over: still fine
    sc.advance_ms(200_000);
    for (k, r) in ["198.51.100.41", "198.51.100.42", "198.51.100.43"]
        .iter()
        .enumerate()
    {
        calls(&mut sc, "10.2.0.6", &[r], 54_000 + 10 * k as u16);
        sc.advance_ms(200_000); // past the UDP timeout: the call ends
    }
    let recs = replay_cfg(sc.bytes(), &cfg);
    let ca = host_alerts(&recs, "calls");
    assert_eq!(ca.len(), 1, "{ca:#?}");
    assert_eq!(ca[0]["src_ip"], "10.2.0.5");
    let md = &ca[0]["alert"]["metadata"];
    assert_eq!(md["concurrent_calls"][0], "3");
    assert_eq!(md["calls"].as_array().unwrap().len(), 3);
    assert_eq!(alerts(&recs).len(), 1, "{:#?}", alerts(&recs));
}

/// A DTLS 1.2 record: handshake (ClientHello, with `use_srtp` when `srtp`) or 100 bytes of
/// application data in epoch 1.
fn dtls_record(hello: bool, srtp: bool, seq: u16) -> Vec<u8> {
    if !hello {
        let mut v = vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0];
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&[0, 100]);
        v.extend_from_slice(&[0x5a; 100]);
        return v;
    }
    let mut body = vec![0xfe, 0xfd];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 0, 2, 0xc0, 0x2b, 1, 0]);
    // renegotiation_info; use_srtp (SRTP_AES128_CM_HMAC_SHA1_80) for WebRTC
    let mut e = vec![0xff, 0x01, 0, 1, 0];
    if srtp {
        e.extend_from_slice(&[0, 14, 0, 5, 0, 2, 0, 1, 0]);
    }
    body.extend_from_slice(&(e.len() as u16).to_be_bytes());
    body.extend(e);
    let l = body.len() as u8;
    let mut v = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12 + l];
    v.extend_from_slice(&[1, 0, 0, l, 0, 0, 0, 0, 0, 0, 0, l]);
    v.extend(body);
    v
}

/// An OpenConnect/AnyConnect-style VPN from `host` to `gw`: the TLS session to the gateway,
/// then the DTLS data channel on UDP 443 carrying 300 datagrams each way.
fn dtls_vpn(sc: &mut Scene, host: &str, gw: &str) {
    let (h, g) = (v4(host), v4(gw));
    let mut t = sc.tcp_session((h, 51_000), (g, 443));
    t.handshake(sc);
    t.client_sends(sc, &tls_client_hello(Some("vpn.example.com"), &[]));
    sc.udp((h, 51_001), (g, 443), &dtls_record(true, false, 0));
    for i in 0..300u16 {
        sc.udp((h, 51_001), (g, 443), &dtls_record(false, false, i));
        sc.udp((g, 443), (h, 51_001), &dtls_record(false, false, i));
        sc.advance_ms(10);
    }
}

#[test]
fn a_vpn_dtls_channel_is_not_a_call() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let mut sc = Scene::new(1_700_000_000);
    // 10.2.0.7: a DTLS VPN and two calls (max_concurrent = 2): fine
    dtls_vpn(&mut sc, "10.2.0.7", "198.51.100.50");
    calls(
        &mut sc,
        "10.2.0.7",
        &["198.51.100.51", "203.0.113.52"],
        50_000,
    );
    // 10.2.0.8: the same VPN and three calls: a calls alert naming the three
    dtls_vpn(&mut sc, "10.2.0.8", "198.51.100.50");
    calls(
        &mut sc,
        "10.2.0.8",
        &["198.51.100.61", "203.0.113.62", "192.0.2.63"],
        52_000,
    );
    // 10.2.0.9: a WebRTC leg that is DTLS from its first datagram (use_srtp) and two calls
    let (h, r) = (v4("10.2.0.9"), v4("192.0.2.70"));
    sc.udp((h, 53_000), (r, 19_305), &dtls_record(true, true, 0));
    for i in 0..150u16 {
        sc.udp((r, 19_305), (h, 53_000), &dtls_record(false, false, i));
    }
    calls(
        &mut sc,
        "10.2.0.9",
        &["198.51.100.71", "203.0.113.72"],
        54_000,
    );
    let recs = replay_cfg(sc.bytes(), &cfg);
    let dtls: Vec<&Value> = flows(&recs)
        .into_iter()
        .filter(|f| f["app_proto"] == "dtls")
        .collect();
    assert_eq!(dtls.len(), 3, "{dtls:#?}");
    let ca = host_alerts(&recs, "calls");
    let who: Vec<&str> = ca.iter().map(|a| a["src_ip"].as_str().unwrap()).collect();
    assert_eq!(who, ["10.2.0.8", "10.2.0.9"], "{ca:#?}");
    let md = &ca[0]["alert"]["metadata"];
    assert_eq!(md["concurrent_calls"][0], "3");
    assert!(md["calls"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| !c.as_str().unwrap().starts_with("198.51.100.50 ")));
    assert!(ca[1]["alert"]["metadata"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().starts_with("192.0.2.70 dtls")));
}

#[test]
fn remote_access_server_reached_from_many_places() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let mut sc = Scene::new(1_700_000_000);
    let rdp_to = |sc: &mut Scene, src: &str, server: &str, port: u16| {
        let mut t = sc.tcp_session((v4(src), port), (v4(server), 3389));
        t.handshake(sc);
        t.client_sends(sc, &rdp_connection_request("alice", 3));
        t.server_sends(sc, &rdp_connection_confirm(2));
        t.close(sc);
        sc.advance_ms(60_000);
    };
    // six sources in four networks reach 10.3.0.10: both fan-in alerts
    for (i, s) in [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
        "198.51.100.7",
        "192.0.2.9",
        "100.64.1.1",
    ]
    .iter()
    .enumerate()
    {
        rdp_to(&mut sc, s, "10.3.0.10", 50_000 + i as u16);
    }
    // the same source many times and one more from its network: nothing for 10.3.0.11
    for i in 0..6 {
        rdp_to(&mut sc, "198.51.100.50", "10.3.0.11", 51_000 + i);
    }
    rdp_to(&mut sc, "198.51.100.51", "10.3.0.11", 51_100);
    let recs = replay_cfg(sc.bytes(), &cfg);
    let fi = host_alerts(&recs, "fan-in");
    let sids: Vec<(u64, &str)> = fi
        .iter()
        .map(|a| {
            (
                a["alert"]["signature_id"].as_u64().unwrap(),
                a["dest_ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sids,
        vec![(9_300_050, "10.3.0.10"), (9_300_051, "10.3.0.10")],
        "{fi:#?}"
    );
    // the fifth source crosses max_sources (4); the sixth brings a fourth network
    assert_eq!(fi[0]["alert"]["metadata"]["distinct_sources"][0], "5");
    let nets = fi[1]["alert"]["metadata"]["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 4);
    // remote-access alerts themselves are there too, and nothing else
    let other: Vec<&Value> = alerts(&recs)
        .into_iter()
        .filter(|a| a["alert"]["category"] != "fan-in" && a["alert"]["category"] != "remote-access")
        .collect();
    assert!(other.is_empty(), "{other:#?}");
}

#[test]
fn fan_in_names_countries_and_autonomous_systems() {
    use MmdbValue::*;
    let dir = tmpdir();
    let country = |cc: &str| {
        Map(vec![(
            "country".into(),
            Map(vec![("iso_code".into(), Str(cc.into()))]),
        )])
    };
    let asn = |n: u32, o: &str| {
        Map(vec![
            ("autonomous_system_number".into(), U32(n)),
            ("autonomous_system_organization".into(), Str(o.into())),
        ])
    };
    let cdb = dir.path().join("country.mmdb");
    let adb = dir.path().join("asn.mmdb");
    std::fs::write(
        &cdb,
        mmdb_v4(
            "GeoLite2-Country",
            &[
                ([203, 0, 113, 0], 24, country("DE")),
                ([198, 51, 100, 0], 24, country("FR")),
                ([192, 0, 2, 0], 24, country("DE")),
                ([100, 64, 0, 0], 10, country("US")),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        &adb,
        mmdb_v4(
            "GeoLite2-ASN",
            &[
                ([203, 0, 113, 0], 24, asn(64500, "Example Transit")),
                ([198, 51, 100, 0], 24, asn(64501, "Example Hosting")),
                ([192, 0, 2, 0], 24, asn(64500, "Example Transit")),
                ([100, 64, 0, 0], 10, asn(64502, "Example Mobile")),
            ],
        ),
    )
    .unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "[host.fan_in]\ngeoip_country_db = {:?}\ngeoip_asn_db = {:?}\n",
            cdb.to_str().unwrap(),
            adb.to_str().unwrap()
        ),
    );
    let mut sc = Scene::new(1_700_000_000);
    for (i, s) in [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
        "198.51.100.7",
        "192.0.2.9",
        "100.64.1.1",
    ]
    .iter()
    .enumerate()
    {
        let mut t = sc.tcp_session((v4(s), 50_000 + i as u16), (v4("10.3.0.10"), 3389));
        t.handshake(&mut sc);
        t.client_sends(&mut sc, &rdp_connection_request("alice", 3));
        t.server_sends(&mut sc, &rdp_connection_confirm(2));
        t.close(&mut sc);
        sc.advance_ms(60_000);
    }
    let recs = replay_cfg(sc.bytes(), &cfg);
    let fi = host_alerts(&recs, "fan-in");
    // four /24s, but three autonomous systems: only the many-sources alert
    assert_eq!(fi.len(), 1, "{fi:#?}");
    assert_eq!(fi[0]["alert"]["signature_id"], 9_300_050);
    let md = &fi[0]["alert"]["metadata"];
    assert_eq!(md["countries"], serde_json::json!(["DE", "FR"]));
    assert_eq!(
        md["asns"],
        serde_json::json!(["AS64500 Example Transit", "AS64501 Example Hosting"])
    );
    // a database that cannot be read stops start-up with its name
    let bad = config(
        dir.path(),
        "[host.fan_in]\ngeoip_asn_db = \"/nonexistent/asn.mmdb\"\n",
    );
    let (_, out) = replay_bytes(sc.bytes(), &["--config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/asn.mmdb"));
}

#[test]
fn git_push_over_plain_http_is_named() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let mut sc = Scene::new(1_700_000_000);
    let mut t = sc.tcp_session((v4("10.5.0.9"), 50_100), (v4("172.65.251.78"), 80));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"POST /alice/code.git/git-receive-pack HTTP/1.1\r\nHost: gitlab.com\r\nUser-Agent: git/2.39.2\r\nContent-Type: application/x-git-receive-pack-request\r\n\r\n",
    );
    t.client_bulk(&mut sc, 25 * MB, 60_000);
    t.close(&mut sc);
    let recs = replay_cfg(sc.bytes(), &cfg);
    let ex = host_alerts(&recs, "exfiltration");
    assert_eq!(ex.len(), 1, "{:#?}", alerts(&recs));
    let md = &ex[0]["alert"]["metadata"];
    assert_eq!(md["destination"][0], "gitlab");
    assert_eq!(md["git"][0], "git push over http (POST git-receive-pack)");
}
