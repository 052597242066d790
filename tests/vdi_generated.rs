//! Virtual desktops named by their handshakes (Mandiant: VDI makes the worker harder to
//! see): Horizon's PCoIP (TLS handshake on tcp/4172, UDP-encapsulated ESP session data behind
//! the PCoIP transport header on udp/4172) and Blast Extreme (TLS on tcp/22443, WebSocket
//! under `/r/`), each on a capture generated here, with the look-alikes that must stay quiet;
//! and across two flows (host::vdi): Amazon DCV's TLS (WebSocket authentication) then QUIC
//! on 8443, Horizon Blast's TLS then BEAT (UDP) on 22443 or, through Unified Access
//! Gateway, on 8443.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;
const HORIZON_SID: u64 = 9_110_002;

fn run(sc: Scene) -> Vec<Value> {
    replay_checked(sc.bytes(), &[])
}

fn horizon_alerts(recs: &[Value]) -> Vec<&Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == HORIZON_SID)
        .collect()
}

fn pcoip(spi: u32, seq: u32, n: usize) -> Vec<u8> {
    let mut v = vec![0x80, 0x00, 0x00, 0x01];
    v.extend_from_slice(&spi.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend(noise(n, seq as u64));
    v
}

#[test]
fn pcoip_session_data_on_udp_4172() {
    let mut sc = Scene::new(T0);
    let (c, s) = ((v4("10.0.0.5"), 50002), (v4("203.0.113.40"), 4172));
    for i in 1..=5 {
        sc.udp(c, s, &pcoip(0x0a0b_0c0d, i, 200));
        sc.udp(s, c, &pcoip(0x7070_0101, i, 900));
    }
    let r = run(sc);
    let a = horizon_alerts(&r);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["app_proto"], "pcoip");
    assert_eq!(a[0]["alert"]["category"], "remote-access");
    let ev = a[0]["alert"]["metadata"]["evidence"].to_string();
    assert!(ev.contains("pcoip.spi=0x0a0b0c0d"), "{ev}");
    let f = flows(&r)
        .into_iter()
        .find(|f| f["app_proto"] == "pcoip")
        .unwrap();
    assert_eq!(f["app"], "vmware-horizon");

    // The same port with datagrams that are not ESP's layout (reserved SPI), and ESP-looking
    // datagrams on another port: neither is PCoIP.
    let mut sc = Scene::new(T0);
    for i in 1..=3 {
        sc.udp(c, s, &pcoip(7, i, 200));
        sc.udp(s, c, &pcoip(9, i, 200));
        sc.udp((c.0, 50003), (s.0, 40000), &pcoip(0x0a0b_0c0d, i, 200));
        sc.udp((s.0, 40000), (c.0, 50003), &pcoip(0x0a0b_0c0e, i, 200));
    }
    let r = run(sc);
    assert!(horizon_alerts(&r).is_empty());
    assert!(flows(&r).iter().all(|f| f["app_proto"] != "pcoip"));
}

#[test]
fn pcoip_handshake_and_blast_over_tls() {
    let mut sc = Scene::new(T0);
    for (i, port) in [4172u16, 22443, 443].into_iter().enumerate() {
        let mut t = sc.tcp_session(
            (v4("10.0.0.6"), 41000 + i as u16),
            (v4("203.0.113.41"), port),
        );
        t.handshake(&mut sc);
        t.client_sends(
            &mut sc,
            &tls_client_hello(Some("desktop.corp.example"), &[]),
        );
        t.server_sends(&mut sc, &tls_server_hello_cert(None, None));
        t.client_sends(&mut sc, &tls_app_data(300, 1));
        t.server_sends(&mut sc, &tls_app_data(900, 2));
        t.close(&mut sc);
        sc.advance_ms(1000);
    }
    let r = run(sc);
    let a = horizon_alerts(&r);
    assert_eq!(a.len(), 2, "{a:#?}");
    let by_port = |p: u16| a.iter().find(|x| x["dest_port"] == p).copied();
    let pc = by_port(4172).expect("PCoIP handshake alert");
    assert_eq!(pc["app_proto"], "pcoip");
    assert!(pc["alert"]["metadata"]["evidence"]
        .to_string()
        .contains("pcoip=TLS session handshake"));
    let bl = by_port(22443).expect("Blast alert");
    assert_eq!(bl["app_proto"], "tls");
    assert!(bl["alert"]["metadata"]["evidence"]
        .to_string()
        .contains("blast=TLS session on tcp/22443"));
    // The same handshake on 443 is plain TLS.
    assert!(by_port(443).is_none());
    let f = flows(&r)
        .into_iter()
        .find(|f| f["dest_port"] == 4172)
        .unwrap();
    assert_eq!(f["tls"]["sni"], "desktop.corp.example");
}

#[test]
fn blast_websocket_in_clear() {
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((v4("10.0.0.7"), 42000), (v4("10.9.0.2"), 8080));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"GET /r/5d1e2f00-0000-4000-8000-0123456789ab?vauth=abc HTTP/1.1\r\nHost: uag.corp.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    t.server_sends(
        &mut sc,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    t.client_sends(&mut sc, &[0x82, 0x84, 1, 2, 3, 4, 5, 6, 7, 8]);
    t.close(&mut sc);
    // An ordinary WebSocket elsewhere stays quiet.
    let mut u = sc.tcp_session((v4("10.0.0.7"), 42001), (v4("10.9.0.3"), 8080));
    u.handshake(&mut sc);
    u.client_sends(
        &mut sc,
        b"GET /chat HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    u.server_sends(
        &mut sc,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    );
    u.close(&mut sc);
    let r = run(sc);
    let a = horizon_alerts(&r);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["dest_ip"], "10.9.0.2");
    // The server agreed to the upgrade: the flow is a WebSocket (named by the HTTP reader).
    assert_eq!(a[0]["app_proto"], "websocket");
}

const VDI_TRANSPORTS: u64 = 9_200_012;

/// A TLS session from `c` to `s` (the web client or the WebSocket that authenticates).
fn tls_session(sc: &mut Scene, c: (std::net::IpAddr, u16), s: (std::net::IpAddr, u16)) {
    let mut t = sc.tcp_session(c, s);
    t.handshake(sc);
    t.client_sends(
        sc,
        &tls_client_hello(Some("vdi.example.net"), &["http/1.1"]),
    );
    t.server_sends(sc, &tls_server_hello_cert(None, None));
    for i in 0..3 {
        t.client_sends(sc, &tls_app_data(200, i));
        t.server_sends(sc, &tls_app_data(600, i + 5));
    }
    t.close(sc);
    sc.advance_ms(50);
}

/// A QUIC v1 connection (Initial with the ClientHello, the server's Initial, then short
/// packets) from `c` to `s`.
fn quic_session(sc: &mut Scene, c: (std::net::IpAddr, u16), s: (std::net::IpAddr, u16)) {
    let dcid = [0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
    let scid = [0xc1, 0xc2, 0xc3, 0xc4];
    let ch = quic_client_hello("vdi.example.net", &["dcv"]);
    let p = quic_initial(
        QUIC_V1,
        &dcid,
        &dcid,
        &scid,
        false,
        0,
        &quic_crypto_frame(0, &ch),
        1200,
    );
    sc.udp(c, s, &p);
    sc.advance_ms(20);
    let sp = quic_initial(
        QUIC_V1,
        &dcid,
        &scid,
        &[0xd1; 8],
        true,
        0,
        &quic_crypto_frame(0, &quic_server_hello()),
        1200,
    );
    sc.udp(s, c, &sp);
    for i in 0..6u8 {
        sc.advance_ms(10);
        let mut short = vec![0x40 | (i & 3)];
        short.extend_from_slice(&[0xd1; 8]);
        short.extend(noise(900, u64::from(i)));
        sc.udp(c, s, &short);
        sc.udp(s, c, &short);
    }
    sc.advance_ms(50);
}

/// Datagrams both ways that are no protocol spanwatch knows (BEAT's own framing).
fn udp_stream(sc: &mut Scene, c: (std::net::IpAddr, u16), s: (std::net::IpAddr, u16)) {
    for i in 0..8u64 {
        sc.udp(c, s, &noise(120, i));
        sc.udp(s, c, &noise(1100, i + 100));
        sc.advance_ms(15);
    }
    sc.advance_ms(50);
}

fn vdi_pairs(recs: &[Value]) -> Vec<(String, String, u64)> {
    let mut v: Vec<_> = alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == VDI_TRANSPORTS)
        .map(|a| {
            (
                a["alert"]["metadata"]["tool"][0]
                    .as_str()
                    .unwrap()
                    .to_string(),
                a["dest_ip"].as_str().unwrap().to_string(),
                a["dest_port"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn dcv_is_tls_then_quic_on_8443_to_the_same_server() {
    let mut sc = Scene::new(T0);
    let dcv = v4("203.0.113.60");
    // the QUIC half may end first: records come in the order flows end
    quic_session(&mut sc, (v4("10.0.0.5"), 50_100), (dcv, 8443));
    tls_session(&mut sc, (v4("10.0.0.5"), 50_101), (dcv, 8443));
    // look-alikes: TLS alone on 8443 (any web server); QUIC to 8443 of another server
    // than the TLS one; QUIC on 443 after TLS on 443 (HTTP/3)
    tls_session(
        &mut sc,
        (v4("10.0.0.6"), 50_200),
        (v4("203.0.113.61"), 8443),
    );
    quic_session(
        &mut sc,
        (v4("10.0.0.6"), 50_201),
        (v4("203.0.113.62"), 8443),
    );
    tls_session(&mut sc, (v4("10.0.0.7"), 50_300), (v4("203.0.113.63"), 443));
    quic_session(&mut sc, (v4("10.0.0.7"), 50_301), (v4("203.0.113.63"), 443));
    let r = run(sc);
    assert_eq!(
        vdi_pairs(&r),
        [("amazon-dcv".into(), "203.0.113.60".into(), 8443)],
        "{:#?}",
        alerts(&r)
    );
    let a = alerts(&r)
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == VDI_TRANSPORTS)
        .unwrap();
    assert_eq!(a["app_proto"], "quic");
    assert_eq!(a["alert"]["category"], "remote-access");
    assert!(a["alert"]["metadata"]["transports"][0]
        .as_str()
        .unwrap()
        .contains("QUIC"));
}

#[test]
fn blast_beat_is_tls_then_udp_on_22443_or_through_uag_on_8443() {
    let mut sc = Scene::new(T0);
    let agent = v4("10.20.0.8");
    let uag = v4("203.0.113.70");
    tls_session(&mut sc, (v4("10.0.0.5"), 50_400), (agent, 22443));
    udp_stream(&mut sc, (v4("10.0.0.5"), 50_401), (agent, 22443));
    tls_session(&mut sc, (v4("10.0.0.9"), 50_500), (uag, 8443));
    udp_stream(&mut sc, (v4("10.0.0.9"), 50_501), (uag, 8443));
    // UDP alone on 22443, no TLS beside it: not named by this pairing
    udp_stream(&mut sc, (v4("10.0.0.10"), 50_600), (v4("10.20.0.9"), 22443));
    let r = run(sc);
    assert_eq!(
        vdi_pairs(&r),
        [
            ("vmware-horizon".into(), "10.20.0.8".into(), 22443),
            ("vmware-horizon".into(), "203.0.113.70".into(), 8443),
        ],
        "{:#?}",
        alerts(&r)
    );
}
