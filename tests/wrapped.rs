//! Protocols wrapped in another (detect::wrapped): an SSH session inside TLS, a byte
//! stream inside long-lived HTTP requests and a DNS tunnel polling through DoH or DoT, on
//! captures generated here (testkit) and on the
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

/// A TLS 1.2 session to port 443: ClientHello, ServerHello and certificate, both sides'
/// ChangeCipherSpec and Finished; then `exchange` writes application-data records.
fn tls_session(exchange: impl FnOnce(&mut Scene, &mut TcpSession)) -> Vec<Value> {
    tls_session_to(
        ("203.0.113.9", 443),
        Some("files.example.net"),
        None,
        exchange,
    )
}

/// As [`tls_session`], to `server` with the ClientHello's `sni` and an ALPN both sides name.
fn tls_session_to(
    (server, port): (&str, u16),
    sni: Option<&str>,
    alpn: Option<&str>,
    exchange: impl FnOnce(&mut Scene, &mut TcpSession),
) -> Vec<Value> {
    let mut sc = Scene::new(T0);
    let mut s = sc.tcp_session((v4("10.1.0.5"), 50123), (v4(server), port));
    s.handshake(&mut sc);
    let offered: Vec<&str> = alpn.into_iter().collect();
    s.client_sends(&mut sc, &tls_client_hello(sni, &offered));
    let cn = sni.unwrap_or("server.example");
    let cert = x509_cert(&[("CN", cn)], &[("CN", "Example CA")]);
    s.server_sends(&mut sc, &tls_server_hello_cert(alpn, Some(&cert)));
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
/// wrapped-protocol alert (live-doh_tunnel.pcap, with its ordinary DoH session beside the
/// tunnel, is checked in tests/fixtures_breadth.rs).
#[test]
fn other_recordings_stay_quiet() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".pcap")
            || name.contains("stunnel")
            || name.contains("httptunnel")
            || name.contains("doh_tunnel")
        {
            continue;
        }
        let recs = fixture(&name);
        n += 1;
        let bad: Vec<_> = alerts(&recs)
            .into_iter()
            .filter(|a| {
                [TLS_SSH, HTTP_STREAM, DNS_POLL]
                    .contains(&a["alert"]["signature_id"].as_u64().unwrap())
            })
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
    }
    assert!(n >= 10);
}

const HTTP_STREAM: u64 = 9_400_013;

/// A client's POST with `declared` bytes of body and a GET answered with `declared` bytes,
/// both to 203.0.113.7:8080, the POST from port 40001 and the GET from 40002; then `rounds`
/// of a stream both ways: a small write up the POST, an answer down the GET, 150–300 ms
/// apart (someone typing through it). `query` goes after the path.
fn two_requests(query: &str, declared: u64, rounds: u64, close: bool) -> Vec<Value> {
    let mut sc = Scene::new(T0);
    let srv = (v4("203.0.113.7"), 8080);
    let mut up = sc.tcp_session((v4("10.1.0.5"), 40001), srv);
    let mut down = sc.tcp_session((v4("10.1.0.5"), 40002), srv);
    up.handshake(&mut sc);
    down.handshake(&mut sc);
    let post = format!(
        "POST /index.html{query} HTTP/1.1\r\nHost: 203.0.113.7:8080\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    );
    up.client_sends(&mut sc, post.as_bytes());
    let get = format!("GET /index.html{query} HTTP/1.1\r\nHost: 203.0.113.7:8080\r\n\r\n");
    down.client_sends(&mut sc, get.as_bytes());
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n"
    );
    down.server_sends(&mut sc, head.as_bytes());
    for i in 0..rounds {
        sc.advance_ms(150 + (i * 37) % 150);
        up.client_sends(&mut sc, &noise(39, i));
        down.server_sends(&mut sc, &noise(39 + (i as usize % 3) * 20, 1000 + i));
    }
    if close {
        up.close(&mut sc);
        down.close(&mut sc);
    }
    replay_checked(sc.bytes(), &[])
}

#[test]
fn a_post_and_a_get_that_never_finish_carry_a_stream() {
    // no tool's trait: the host stage pairs the two halves from their flow records
    let recs = two_requests("", 1_000_000, 40, true);
    let a = sid_alerts(&recs, HTTP_STREAM);
    assert_eq!(a.len(), 1, "{recs:#?}");
    assert_eq!(a[0]["alert"]["category"], "tunnel");
    assert_eq!(a[0]["alert"]["metadata"]["confidence"][0], "80");
    assert_eq!(
        a[0]["alert"]["metadata"]["paired"][0],
        "upstream+downstream"
    );
    let halves: Vec<_> = flows(&recs)
        .into_iter()
        .filter_map(|f| f["wrapped"]["traits"].as_array())
        .map(|t| t[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(halves.len(), 2, "{halves:?}");
    assert!(halves.contains(&"half=upstream".to_string()));
    assert!(halves.contains(&"half=downstream".to_string()));
    // httptunnel's request traits: the worker raises it at once, named
    let recs = two_requests("?crap=1795825904", 102_400, 40, true);
    let a = sid_alerts(&recs, HTTP_STREAM);
    assert_eq!(a.len(), 1, "{recs:#?}");
    assert_eq!(a[0]["app"], "httptunnel");
    assert_eq!(a[0]["alert"]["metadata"]["confidence"][0], "85");
}

#[test]
fn ordinary_http_is_not_a_wrapped_stream() {
    // an upload that sends what it declared, and a download
    let mut sc = Scene::new(T0);
    let srv = (v4("203.0.113.7"), 8080);
    let mut s = sc.tcp_session((v4("10.1.0.5"), 40001), srv);
    s.handshake(&mut sc);
    s.client_sends(
        &mut sc,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n",
    );
    s.client_bulk(&mut sc, 300_000, 1514);
    s.server_sends(
        &mut sc,
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    );
    s.close(&mut sc);
    let mut d = sc.tcp_session((v4("10.1.0.5"), 40002), srv);
    d.handshake(&mut sc);
    d.client_sends(&mut sc, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    d.server_sends(
        &mut sc,
        b"HTTP/1.1 200 OK\r\nContent-Length: 500000\r\n\r\n",
    );
    d.server_bulk(&mut sc, 500_000, 1514);
    d.close(&mut sc);
    // long polling beside them: a GET whose large answer trickles, no POST kept open
    let mut p = sc.tcp_session((v4("10.1.0.5"), 40003), srv);
    p.handshake(&mut sc);
    p.client_sends(&mut sc, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    p.server_sends(
        &mut sc,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",
    );
    for i in 0..30 {
        sc.advance_ms(400);
        p.server_sends(&mut sc, &noise(90, i));
    }
    p.close(&mut sc);
    let recs = replay_checked(sc.bytes(), &[]);
    assert!(sid_alerts(&recs, HTTP_STREAM).is_empty(), "{recs:#?}");
    // a POST and a GET kept open that carried only three small writes each: too little
    let recs = two_requests("", 1_000_000, 3, true);
    assert!(sid_alerts(&recs, HTTP_STREAM).is_empty(), "{recs:#?}");
}

#[test]
fn httptunnel_recording_is_a_stream_and_plain_http_is_not() {
    let recs = fixture("live-httptunnel.pcap");
    let a = sid_alerts(&recs, HTTP_STREAM);
    assert!(!a.is_empty(), "no HTTP-wrapped stream alert");
    assert!(a
        .iter()
        .all(|a| a["dest_port"] == 8888 && a["app"] == "httptunnel"));
    let halves: Vec<_> = flows(&recs)
        .into_iter()
        .filter(|f| f["wrapped"]["outer"] == "http")
        .collect();
    assert_eq!(halves.len(), 2, "the POST and the GET");
    assert!(halves.iter().all(|f| f["wrapped"]["tool"] == "httptunnel"));
    assert!(alerts(&recs).iter().all(|a| a["dest_port"] != 8000));
    assert!(
        flows(&recs)
            .iter()
            .filter(|f| f["dest_port"] == 8000)
            .count()
            >= 3
    );
}

const DNS_POLL: u64 = 9_300_101;

/// Encrypted DNS to a public resolver: TLS 1.2 to `server`:`port` (with `sni`, if any), then
/// `exchange` writes the queries and answers.
fn encrypted_dns(
    server: &str,
    port: u16,
    sni: Option<&str>,
    exchange: impl FnOnce(&mut Scene, &mut TcpSession),
) -> Vec<Value> {
    tls_session_to((server, port), sni, Some("h2"), exchange)
}

/// A DNS tunnel's polling (iodine's lazy mode, dns2tcp): the tunnel server holds each query
/// until it has data or its timeout, and the client asks again as soon as an answer lands.
fn held_polls(sc: &mut Scene, s: &mut TcpSession, n: usize) {
    s.client_segment(sc, &tls_app_data(130, 1));
    for i in 0..n {
        sc.advance_ms(2_000 + (i as u64 * 373) % 1_200);
        s.server_segment(sc, &tls_app_data(210, 2));
        sc.advance_ms(3);
        s.client_segment(sc, &tls_app_data(140, 3));
    }
}

#[test]
fn a_dns_tunnel_polling_through_doh_or_dot_is_a_tunnel() {
    // DoH to 1.1.1.1 by address, no SNI (the shape of nDPI's dns2tcp_tunnel.pcap)
    let recs = encrypted_dns("1.1.1.1", 443, None, |sc, s| held_polls(sc, s, 4));
    let a = sid_alerts(&recs, DNS_POLL);
    assert_eq!(a.len(), 1, "{recs:?}");
    assert_eq!(a[0]["alert"]["category"], "tunnel");
    assert!(a[0]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("DNS tunnel inside DNS over HTTPS"));
    assert_eq!(a[0]["alert"]["metadata"]["held_polls"][0], "3");
    let f = &flows(&recs)[0];
    assert_eq!(f["resolver_bypass"]["kind"], "doh");
    assert_eq!(f["wrapped"]["inner"], "dns-tunnel");
    // DoH named by its SNI on any address, and DoT on port 853 to an unlisted resolver
    let recs = encrypted_dns("203.0.113.9", 443, Some("dns.google"), |sc, s| {
        held_polls(sc, s, 3)
    });
    assert_eq!(sid_alerts(&recs, DNS_POLL).len(), 1, "{recs:?}");
    let recs = encrypted_dns("203.0.113.9", 853, None, |sc, s| held_polls(sc, s, 3));
    let a = sid_alerts(&recs, DNS_POLL);
    assert_eq!(a.len(), 1, "{recs:?}");
    assert!(a[0]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("DNS over TLS"));
}

#[test]
fn ordinary_encrypted_dns_and_long_polling_web_apps_stay_quiet() {
    // a browser's DoH: lookups answered in tens of milliseconds when pages need names, one
    // slow recursion; an idle server's HTTP/2 PINGs answered at once (too small to be DNS)
    let recs = encrypted_dns("1.1.1.1", 443, Some("cloudflare-dns.com"), |sc, s| {
        for i in 0..30u64 {
            s.client_segment(sc, &tls_app_data(95, 1));
            sc.advance_ms(if i == 9 { 1_600 } else { 18 });
            s.server_segment(sc, &tls_app_data(190, 2));
            sc.advance_ms(700 + (i * 419) % 4_000);
        }
        for _ in 0..5 {
            sc.advance_ms(1_500);
            s.server_segment(sc, &tls_app_data(17, 3));
            sc.advance_ms(1);
            s.client_segment(sc, &tls_app_data(17, 4));
        }
    });
    assert!(sid_alerts(&recs, DNS_POLL).is_empty(), "{recs:?}");
    assert_eq!(flows(&recs)[0]["resolver_bypass"]["kind"], "doh");
    // the same held-poll shape to a web server (long polling, server-sent events) is not
    // encrypted DNS, and is not looked at
    let recs = encrypted_dns("203.0.113.9", 443, Some("chat.example.net"), |sc, s| {
        held_polls(sc, s, 6)
    });
    assert!(sid_alerts(&recs, DNS_POLL).is_empty(), "{recs:?}");
}
