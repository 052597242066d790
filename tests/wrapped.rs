//! Protocols wrapped in another (detect::wrapped): an SSH session inside TLS and a byte
//! stream inside long-lived HTTP requests, on captures generated here (testkit) and on the
//! recordings of the real programs (tests/fixtures/live-stunnel_ssh.pcap: stunnel4 and
//! OpenSSH; see tests/fixtures/README.md), each beside the ordinary traffic that must stay
//! quiet.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;
use std::path::Path;

const T0: u64 = 1_700_000_000;
const TLS_SSH: u64 = 9_400_012;

fn sid_alerts(recs: &[Value], sid: u64) -> Vec<&Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == sid)
        .collect()
}

fn fixture(name: &str) -> Vec<Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let (recs, out) = replay(&p, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    recs
}

/// A TLS 1.2 session to port 443: ClientHello, ServerHello and certificate, both sides'
/// ChangeCipherSpec and Finished; then `exchange` writes application-data records.
fn tls_session(exchange: impl FnOnce(&mut Scene, &mut TcpSession)) -> Vec<Value> {
    let mut sc = Scene::new(T0);
    let mut s = sc.tcp_session((v4("10.1.0.5"), 50123), (v4("203.0.113.9"), 443));
    s.handshake(&mut sc);
    s.client_sends(&mut sc, &tls_client_hello(Some("files.example.net"), &[]));
    let cert = x509_cert(&[("CN", "files.example.net")], &[("CN", "Example CA")]);
    s.server_sends(&mut sc, &tls_server_hello_cert(None, Some(&cert)));
    let ccs_fin = |seed| [vec![0x14, 3, 3, 0, 1, 1], tls_handshake_fin(seed)].concat();
    s.client_sends(&mut sc, &ccs_fin(1));
    s.server_sends(&mut sc, &ccs_fin(2));
    exchange(&mut sc, &mut s);
    s.close(&mut sc);
    replay_checked(sc.bytes(), &[])
}

/// An encrypted Finished record (40 bytes of body, as AES-GCM makes it).
fn tls_handshake_fin(seed: u8) -> Vec<u8> {
    let mut r = tls_app_data(40, seed);
    r[0] = 0x16;
    r
}

/// One SSH packet of `plain` bytes as a TLS 1.2 AES-GCM record (8-byte nonce, 16-byte tag).
fn wrapped(plain: usize, seed: u8) -> Vec<u8> {
    tls_app_data(plain + 24, seed)
}

#[test]
fn ssh_inside_tls_is_a_tunnel() {
    let recs = tls_session(|sc, s| {
        // banners, KEXINITs, curve25519 exchange, NEWKEYS (OpenSSH 9 sizes)
        s.client_sends(sc, &wrapped(41, 1));
        s.server_sends(sc, &wrapped(41, 2));
        s.client_sends(sc, &wrapped(1512, 3));
        s.server_sends(sc, &wrapped(1080, 4));
        s.client_sends(sc, &wrapped(48, 5));
        s.server_sends(sc, &wrapped(564, 6));
        s.client_sends(sc, &wrapped(16, 7));
        // login: service request and accept, authentication, channel, pty, shell
        for (c, v) in [
            (44, 44),
            (60, 500),
            (400, 52),
            (120, 40),
            (300, 40),
            (80, 600),
        ] {
            s.client_sends(sc, &wrapped(c, 8));
            s.server_sends(sc, &wrapped(v, 9));
        }
        // someone types: 40 keystrokes 80-240 ms apart, each echoed
        for i in 0..40u64 {
            sc.advance_ms(80 + (i * 53) % 160);
            s.client_segment(sc, &wrapped(36, 10));
            s.server_segment(sc, &wrapped(36, 11));
        }
    });
    let a = sid_alerts(&recs, TLS_SSH);
    assert_eq!(a.len(), 1, "{recs:#?}");
    assert_eq!(a[0]["alert"]["category"], "tunnel");
    assert_eq!(a[0]["app"], "ssh");
    assert_eq!(a[0]["alert"]["metadata"]["confidence"][0], "90");
    assert_eq!(a[0]["alert"]["metadata"]["ssh_banner_bytes"][0], "41/41");
    let f = flows(&recs)
        .into_iter()
        .find(|f| f["dest_port"] == 443)
        .unwrap();
    assert_eq!(f["app_proto"], "tls");
    assert_eq!(f["wrapped"]["inner"], "ssh");
    assert_eq!(f["wrapped"]["outer"], "tls");
    assert_eq!(f["wrapped"]["shape"], "interactive", "{f:#}");
}

#[test]
fn web_traffic_in_tls_is_not_ssh() {
    // an HTTP/1.1 download: a request, then full records
    let recs = tls_session(|sc, s| {
        s.client_sends(sc, &wrapped(78, 1));
        s.server_sends(sc, &wrapped(180, 2));
        for _ in 0..8 {
            s.server_sends(sc, &wrapped(16_384, 3));
        }
    });
    assert!(sid_alerts(&recs, TLS_SSH).is_empty(), "{recs:#?}");
    // HTTP/2 browsing: preface and SETTINGS, the server's SETTINGS and ack, requests and
    // answers of every size
    let recs = tls_session(|sc, s| {
        s.client_sends(sc, &wrapped(63, 1));
        s.server_sends(sc, &wrapped(27, 2));
        s.client_sends(sc, &wrapped(240, 3));
        s.server_sends(sc, &wrapped(9, 4));
        for i in 0..20usize {
            sc.advance_ms(150);
            s.client_sends(sc, &wrapped(40 + i * 7, 5));
            s.server_sends(sc, &wrapped(300 + i * 211, 6));
        }
    });
    assert!(sid_alerts(&recs, TLS_SSH).is_empty(), "{recs:#?}");
    // a chat over a WebSocket in TLS: small messages both ways at typing pace
    let recs = tls_session(|sc, s| {
        s.client_sends(sc, &wrapped(250, 1));
        s.server_sends(sc, &wrapped(160, 2));
        for i in 0..40u64 {
            sc.advance_ms(80 + (i * 53) % 160);
            s.client_segment(sc, &wrapped(30, 3));
            s.server_segment(sc, &wrapped(30, 4));
        }
    });
    assert!(sid_alerts(&recs, TLS_SSH).is_empty(), "{recs:#?}");
}

#[test]
fn stunnel_recording_names_ssh_and_not_https() {
    let recs = fixture("live-stunnel_ssh.pcap");
    let a = sid_alerts(&recs, TLS_SSH);
    assert!(!a.is_empty(), "no TLS-wrapped SSH alert");
    assert!(a.iter().all(|a| a["dest_port"] == 443));
    assert!(a
        .iter()
        .all(|a| a["alert"]["metadata"]["confidence"][0] == "90"));
    // both SSH sessions named, the typed one interactive; the HTTPS downloads on 8443 not
    let named: Vec<_> = flows(&recs)
        .into_iter()
        .filter(|f| f["wrapped"]["inner"] == "ssh")
        .collect();
    assert_eq!(named.len(), 2);
    assert!(named.iter().all(|f| f["dest_port"] == 443));
    assert!(named.iter().any(|f| f["wrapped"]["shape"] == "interactive"));
    let https = flows(&recs)
        .into_iter()
        .filter(|f| f["dest_port"] == 8443)
        .count();
    assert_eq!(https, 2);
    assert!(alerts(&recs).iter().all(|a| a["dest_port"] != 8443));
}

/// The other recordings (OpenConnect's TLS, SSH in clear, proxies, uploads …) raise no
/// wrapped-protocol alert.
#[test]
fn other_recordings_stay_quiet() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".pcap") || name.contains("stunnel") || name.contains("httptunnel") {
            continue;
        }
        let recs = fixture(&name);
        n += 1;
        let bad: Vec<_> = alerts(&recs)
            .into_iter()
            .filter(|a| {
                (9_400_012..=9_400_019).contains(&a["alert"]["signature_id"].as_u64().unwrap())
            })
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
    }
    assert!(n >= 10);
}
