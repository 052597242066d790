//! Virtual desktops named by their handshakes (Mandiant: VDI makes the worker harder to
//! see): Horizon's PCoIP (TLS handshake on tcp/4172, UDP-encapsulated ESP session data behind
//! the PCoIP transport header on udp/4172) and Blast Extreme (TLS on tcp/22443, WebSocket
//! under `/r/`), each on a capture generated here, with the look-alikes that must stay quiet.

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
