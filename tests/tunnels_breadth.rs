//! Tunnel and proxy detections beyond the ones a handshake names (issue 15), each on a
//! capture generated here (testkit) after the published formats, each beside its ordinary
//! look-alike that must stay quiet: IPsec seen alone, fully encrypted openings, WebSocket
//! tunnels, SSL VPN data channels and SSTP, DNS-port and ICMP covert channels, proxies and
//! protocols named by the server's side.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;
use std::net::IpAddr;

const T0: u64 = 1_700_000_000;

fn run_scene(sc: Scene) -> Vec<Value> {
    replay_checked(sc.bytes(), &[])
}

fn sigs(recs: &[Value]) -> Vec<String> {
    alerts(recs)
        .iter()
        .map(|a| a["alert"]["signature"].as_str().unwrap_or("").to_string())
        .collect()
}

fn one_alert(recs: &[Value], sid: u64) -> &Value {
    let a: Vec<&Value> = alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == sid)
        .collect();
    assert_eq!(a.len(), 1, "one alert {sid}: {:?}", sigs(recs));
    a[0]
}

fn flow_on(recs: &[Value], port: u16) -> &Value {
    flows(recs)
        .into_iter()
        .find(|f| f["dest_port"] == port)
        .expect("a flow on the port")
}

fn ends() -> (IpAddr, IpAddr) {
    (v4("10.0.0.5"), v4("198.51.100.7"))
}

/// ESP header (RFC 4303 §2): SPI, sequence number, then ciphertext.
fn esp(spi: u32, seq: u32, n: usize) -> Vec<u8> {
    let mut v = spi.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend(noise(n, seq as u64));
    v
}

#[test]
fn ipsec_alone_over_ipv6_and_in_udp_4500() {
    let (c6, s6): (IpAddr, IpAddr) = (
        "2001:db8::5".parse().unwrap(),
        "2001:db8:1::7".parse().unwrap(),
    );
    let mut sc = Scene::new(T0);
    for i in 1..=4 {
        sc.ip_packet(c6, s6, 50, &esp(0xc0de_0001, i, 80));
        sc.ip_packet(s6, c6, 50, &esp(0xbeef_0002, i, 80));
    }
    let r = run_scene(sc);
    assert_eq!(flows(&r)[0]["app_proto"], "esp");
    assert!(one_alert(&r, 9_400_001)["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("IPsec ESP"));
    // ESP in UDP (RFC 3948): a NAT keepalive (0xff), then ESP with its SPI first; no IKE.
    let (c, s) = ends();
    let mut sc = Scene::new(T0);
    sc.udp((c, 4500), (s, 4500), &[0xff]);
    for i in 1..=4 {
        sc.udp((c, 4500), (s, 4500), &esp(0xc0de_0001, i, 80));
        sc.udp((s, 4500), (c, 4500), &esp(0xbeef_0002, i, 80));
    }
    let r = run_scene(sc);
    assert_eq!(flow_on(&r, 4500)["app_proto"], "esp");
    assert!(one_alert(&r, 9_400_001)["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("NAT traversal"));
}

fn fet_session(port: u16, client: &[u8], server: &[u8]) -> Vec<Value> {
    let (c, s) = ends();
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40000), (s, port));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, client);
    t.server_sends(&mut sc, server);
    t.client_sends(&mut sc, &noise(500, 3));
    t.close(&mut sc);
    run_scene(sc)
}

#[test]
fn fully_encrypted_openings_are_a_proxy() {
    // A Shadowsocks AEAD opening: 32-byte salt, encrypted length + tag, first chunk + tag.
    let r = fet_session(8388, &noise(32 + 18 + 57, 1), &noise(1200, 2));
    let a = one_alert(&r, 9_400_010);
    assert_eq!(a["alert"]["category"], "proxy");
    let conf: u32 = a["alert"]["metadata"]["confidence"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((60..=100).contains(&conf), "{conf}");
    assert_eq!(flow_on(&r, 8388)["proxy"]["protocol"], "fully-encrypted");
    // Look-alikes stay quiet: a binary protocol with a length header, a server that
    // answers in text, a short opening, the web port, and a mid-session capture.
    let mut framed = 198u16.to_be_bytes().to_vec();
    framed.extend(noise(198, 1));
    let mut framed_answer = 298u16.to_be_bytes().to_vec();
    framed_answer.extend(noise(298, 2));
    assert!(alerts(&fet_session(8388, &framed, &framed_answer)).is_empty());
    let text = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert!(alerts(&fet_session(8388, &noise(200, 1), text)).is_empty());
    assert!(alerts(&fet_session(8388, &noise(40, 1), &noise(300, 2))).is_empty());
    assert!(alerts(&fet_session(443, &noise(200, 1), &noise(300, 2))).is_empty());
    let (c, s) = ends();
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40000), (s, 8388));
    t.client_sends(&mut sc, &noise(200, 1));
    t.server_sends(&mut sc, &noise(300, 2));
    assert!(alerts(&run_scene(sc)).is_empty(), "no SYN in view");
}

/// A client (masked) or server (unmasked) WebSocket binary frame (RFC 6455 §5.2).
fn ws_frame(data: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![0x82];
    let m = if mask.is_some() { 0x80 } else { 0 };
    if data.len() < 126 {
        f.push(m | data.len() as u8);
    } else {
        f.push(m | 126);
        f.extend_from_slice(&(data.len() as u16).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(data.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(data),
    }
    f
}

fn ws_session(client_inner: &[u8], server_inner: &[u8], extensions: &str) -> Vec<Value> {
    let (c, s) = ends();
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40001), (s, 80));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"GET /ws HTTP/1.1\r\nHost: tunnel.example.org\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    );
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extensions}\r\n"
    );
    t.server_sends(&mut sc, resp.as_bytes());
    t.client_sends(
        &mut sc,
        &ws_frame(client_inner, Some([0x11, 0x22, 0x33, 0x44])),
    );
    t.server_sends(&mut sc, &ws_frame(server_inner, None));
    t.close(&mut sc);
    run_scene(sc)
}

#[test]
fn websocket_tunnels_name_what_they_carry() {
    // wstunnel-style: an SSH session inside binary frames
    let ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
    let r = ws_session(ssh, b"SSH-2.0-OpenSSH_9.6\r\n", "");
    let f = flow_on(&r, 80);
    assert_eq!(f["app_proto"], "websocket");
    assert_eq!(f["proxy"]["inner_app_proto"], "ssh");
    let a = one_alert(&r, 9_400_011);
    assert_eq!(a["alert"]["category"], "tunnel");
    assert_eq!(a["alert"]["metadata"]["hostname"][0], "tunnel.example.org");
    // a TLS ClientHello inside (V2Ray `ws` + TLS, wstunnel over TLS)
    let hello = tls_client_hello(Some("inner.example.net"), &[]);
    let r = ws_session(&hello, &noise(100, 9), "");
    assert_eq!(flow_on(&r, 80)["proxy"]["inner_app_proto"], "tls");
    // V2Ray VMess over ws: random from the first byte
    let r = ws_session(&noise(300, 4), &noise(300, 5), "");
    assert_eq!(
        flow_on(&r, 80)["proxy"]["inner_app_proto"],
        "fully-encrypted"
    );
    // ordinary WebSockets stay quiet: JSON text, and compressed frames
    let r = ws_session(br#"{"op":"subscribe","channel":"ticker"}"#, b"{}", "");
    assert_eq!(flow_on(&r, 80)["app_proto"], "websocket");
    assert!(alerts(&r).is_empty(), "{:?}", sigs(&r));
    let r = ws_session(
        &noise(300, 4),
        &noise(300, 5),
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    );
    assert!(alerts(&r).is_empty(), "{:?}", sigs(&r));
}

/// A DTLS record (RFC 6347 §4.1): type, version, epoch, 48-bit sequence, length, body.
fn dtls_record(ctype: u8, version: u16, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ctype];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// An SSL VPN client's TLS session (CSTP) to its gateway on tcp/443.
fn gateway_session(sc: &mut Scene, c: IpAddr, s: IpAddr) {
    let mut t = sc.tcp_session((c, 40444), (s, 443));
    t.handshake(sc);
    t.client_sends(sc, &tls_client_hello(Some("vpn.example.com"), &[]));
    t.server_sends(sc, &noise(200, 9));
    t.close(sc);
}

#[test]
fn ssl_vpn_data_channel_and_sstp() {
    // AnyConnect / OpenConnect legacy DTLS (version 0x0100) on UDP 443
    let (c, s) = ends();
    let scene = |gateway: bool| {
        let mut sc = Scene::new(T0);
        if gateway {
            gateway_session(&mut sc, c, s);
        }
        let mut hello = vec![1, 0, 0, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0x56, 1, 0];
        hello.extend(noise(0x50, 1));
        sc.udp((c, 54107), (s, 443), &dtls_record(22, 0x0100, 0, 0, &hello));
        for i in 1..5u64 {
            sc.udp(
                (c, 54107),
                (s, 443),
                &dtls_record(23, 0x0100, 1, i, &noise(100, i)),
            );
            sc.udp(
                (s, 443),
                (c, 54107),
                &dtls_record(23, 0x0100, 1, i, &noise(150, i)),
            );
        }
        run_scene(sc)
    };
    // Alone, DTLS 0x0100 is no proof (an old OpenSSL spoke it too): no alert ...
    let alone = scene(false);
    assert_eq!(flow_on(&alone, 443)["app_proto"], "dtls");
    assert!(
        !sigs(&alone).iter().any(|s| s.contains("SSL VPN")),
        "{:?}",
        sigs(&alone)
    );
    // ... beside the client's TLS session to the same gateway on tcp/443 it is the VPN.
    let r = scene(true);
    let dtls = one_alert(&r, 9_400_001);
    assert!(dtls["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("SSL VPN"));
    assert_eq!(dtls["app_proto"], "dtls");
    // SSTP's opening request, where TLS is terminated in view
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40003), (s, 443));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n\
          Host: vpn.example.com\r\nContent-Length: 18446744073709551615\r\n\r\n",
    );
    t.server_sends(
        &mut sc,
        b"HTTP/1.1 200\r\nContent-Length: 18446744073709551615\r\n\r\n",
    );
    let r = run_scene(sc);
    assert_eq!(flow_on(&r, 443)["app_proto"], "sstp");
    assert!(one_alert(&r, 9_400_001)["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("SSTP"));
}

#[test]
fn dns_port_and_icmp_covert_channels() {
    let (c, s) = ends();
    // raw UDP on port 53, no DNS format at all
    let mut sc = Scene::new(T0);
    for i in 0..6 {
        sc.udp((c, 33333), (s, 53), &noise(200, i));
        sc.udp((s, 53), (c, 33333), &noise(300, i + 100));
    }
    let r = run_scene(sc);
    assert_eq!(one_alert(&r, 9_300_100)["alert"]["category"], "tunnel");
    // and TCP 53
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40010), (s, 53));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &noise(300, 5));
    t.server_sends(&mut sc, &noise(300, 6));
    t.close(&mut sc);
    one_alert(&run_scene(sc), 9_300_100);
    // ordinary DNS stays quiet
    let mut sc = Scene::new(T0);
    for i in 0..6u16 {
        sc.udp((c, 33333), (s, 53), &dns_query(i, "www.example.com", 1));
    }
    assert!(alerts(&run_scene(sc)).is_empty());
    // base32 chunks behind a fixed prefix, one query per chunk
    let mut sc = Scene::new(T0);
    let b32 = b"abcdefghijklmnopqrstuvwxyz234567";
    for i in 0..60u64 {
        let n = noise(52, i);
        let label: String = n.iter().map(|b| b32[(*b % 32) as usize] as char).collect();
        let q = dns_query(i as u16, &format!("x{i}.{label}.exfil.example.net"), 1);
        sc.udp((c, 30000 + i as u16), (v4("10.0.0.1"), 53), &q);
        sc.advance_ms(300);
    }
    let r = run_scene(sc);
    assert!(
        sigs(&r).iter().any(|s| s.contains("DNS tunnel")),
        "{:?}",
        sigs(&r)
    );
    // ICMP echo of ordinary size (56 bytes) carrying random, changing data
    let mut sc = Scene::new(T0);
    for i in 0..30u16 {
        sc.ip_packet(c, s, 1, &icmp_echo(true, 7, i, &noise(56, i as u64)));
        sc.ip_packet(
            s,
            c,
            1,
            &icmp_echo(false, 7, i, &noise(56, 1000 + i as u64)),
        );
        sc.advance_ms(1000);
    }
    assert_eq!(
        one_alert(&run_scene(sc), 9_300_001)["alert"]["category"],
        "tunnel"
    );
    // Linux, BSD/macOS and Windows ping stay quiet
    let mut sc = Scene::new(T0);
    for i in 0..30u16 {
        let mut linux = (i as u64 * 1_000_003).to_le_bytes().to_vec();
        linux.extend_from_slice(&[0; 8]);
        linux.extend(0x10u8..0x38);
        let mut bsd = (i as u64 * 7).to_be_bytes().to_vec();
        bsd.extend(0x08u8..0x38);
        sc.ip_packet(c, s, 1, &icmp_echo(true, 1, i, &linux));
        sc.ip_packet(c, v4("198.51.100.8"), 1, &icmp_echo(true, 2, i, &bsd));
        sc.ip_packet(
            c,
            v4("198.51.100.9"),
            1,
            &icmp_echo(true, 3, i, b"abcdefghijklmnopqrstuvwabcdefghi"),
        );
        sc.advance_ms(1000);
    }
    assert!(alerts(&run_scene(sc)).is_empty());
}

#[test]
fn proxies_and_protocols_named_by_the_server() {
    let (c, s) = ends();
    // forward-proxy requests on port 80: Proxy-Connection, or an answer with Via
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40008), (s, 80));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"GET http://www.example.net/a HTTP/1.1\r\nHost: www.example.net\r\n\
          Proxy-Connection: Keep-Alive\r\n\r\n",
    );
    t.server_sends(&mut sc, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    t.close(&mut sc);
    let mut t = sc.tcp_session((c, 40009), (s, 80));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"GET http://www.example.org/b HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
    );
    t.server_sends(
        &mut sc,
        b"HTTP/1.1 200 OK\r\nVia: 1.1 squid (squid/5.7)\r\nContent-Length: 0\r\n\r\n",
    );
    t.close(&mut sc);
    // an absolute-form request to an origin server that answers itself stays quiet
    let mut t = sc.tcp_session((c, 40011), (s, 80));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"GET http://www.example.com/c HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
    );
    t.server_sends(&mut sc, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    t.close(&mut sc);
    let r = run_scene(sc);
    let p: Vec<String> = sigs(&r)
        .into_iter()
        .filter(|s| s.contains("HTTP proxy request"))
        .collect();
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(!p.iter().any(|s| s.contains("www.example.com")));
    // CONNECT refused (403), CONNECT to port 80, SOCKS5 on a port of its own
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40002), (s, 3128));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"CONNECT internal.example.com:22 HTTP/1.1\r\nHost: internal.example.com:22\r\n\r\n",
    );
    t.server_sends(
        &mut sc,
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    );
    t.close(&mut sc);
    let mut t = sc.tcp_session((c, 40003), (s, 3128));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com:80\r\n\r\n",
    );
    t.server_sends(&mut sc, b"HTTP/1.1 200 Connection established\r\n\r\n");
    t.client_sends(&mut sc, b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
    t.close(&mut sc);
    let mut t = sc.tcp_session((c, 40004), (s, 9999));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &[5, 1, 0]);
    t.server_sends(&mut sc, &[5, 0]);
    t.client_sends(&mut sc, &[5, 1, 0, 1, 10, 1, 2, 3, 0, 22]);
    t.server_sends(&mut sc, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    t.client_sends(&mut sc, b"SSH-2.0-x\r\n");
    t.close(&mut sc);
    let r = run_scene(sc);
    let s3 = sigs(&r);
    for want in [
        "HTTP CONNECT to internal.example.com:22",
        "HTTP CONNECT to www.example.com:80",
        "SOCKS to 10.1.2.3:22",
    ] {
        assert!(s3.iter().any(|s| s.contains(want)), "{want}: {s3:?}");
    }
    // an HTTP request to an SSH server: the server's banner names the flow
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40006), (s, 2222));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    t.server_sends(
        &mut sc,
        b"SSH-2.0-OpenSSH_9.2p1\r\nInvalid SSH identification string.\r\n",
    );
    t.close(&mut sc);
    let r = run_scene(sc);
    assert_eq!(flow_on(&r, 2222)["app_proto"], "ssh");
    // an RDP negotiation whose TPKT length (47) is not the packet's (43)
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((c, 40007), (s, 3389));
    t.handshake(&mut sc);
    let mut cr = vec![3, 0, 0, 47, 38, 0xe0, 0, 0, 0, 0, 0];
    cr.extend_from_slice(b"Cookie: mstshash=alice\r\n");
    cr.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
    t.client_sends(&mut sc, &cr);
    t.server_sends(
        &mut sc,
        &[
            3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0,
        ],
    );
    t.close(&mut sc);
    assert_eq!(flow_on(&run_scene(sc), 3389)["app_proto"], "rdp");
}

/// A DTLS 1.2 ClientHello record (RFC 6347 §4.2.2), with `use_srtp` (extension 14) or not.
fn dtls12_client_hello(srtp: bool) -> Vec<u8> {
    let mut body = vec![0xfe, 0xfd];
    body.extend(noise(32, 7)); // random
    body.push(0); // session id
    body.push(0); // cookie
    body.extend_from_slice(&[0, 2, 0xc0, 0x2b]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    let mut ext = vec![0, 23, 0, 0]; // extended master secret
    if srtp {
        ext.extend_from_slice(&[0, 14, 0, 5, 0, 2, 0, 1, 0]);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let n = body.len() as u32;
    let mut hs = vec![1];
    hs.extend_from_slice(&n.to_be_bytes()[1..]);
    hs.extend_from_slice(&[0, 0, 0, 0, 0]); // message seq, fragment offset
    hs.extend_from_slice(&n.to_be_bytes()[1..]);
    hs.extend(body);
    dtls_record(22, 0xfefd, 0, 0, &hs)
}

#[test]
fn dtls_on_443_without_srtp_is_a_vpn_channel() {
    let (c, s) = ends();
    let run = |srtp: bool| {
        let mut sc = Scene::new(T0);
        gateway_session(&mut sc, c, s);
        sc.udp((c, 50000), (s, 443), &dtls12_client_hello(srtp));
        for i in 1..4u64 {
            sc.udp(
                (s, 443),
                (c, 50000),
                &dtls_record(23, 0xfefd, 1, i, &noise(90, i)),
            );
        }
        run_scene(sc)
    };
    let r = run(false);
    assert_eq!(one_alert(&r, 9_400_001)["app_proto"], "dtls");
    // WebRTC's DTLS-SRTP offers use_srtp: no VPN
    let r = run(true);
    assert!(
        !sigs(&r).iter().any(|s| s.contains("SSL VPN")),
        "{:?}",
        sigs(&r)
    );
}

#[test]
fn tor_client_hello_by_its_random_sni() {
    let (c, s) = ends();
    let run = |sni: &str, alpn: &[&str]| {
        let mut sc = Scene::new(T0);
        let mut t = sc.tcp_session((c, 40100), (s, 9001));
        t.handshake(&mut sc);
        t.client_sends(&mut sc, &tls_client_hello(Some(sni), alpn));
        t.server_sends(&mut sc, &noise(200, 1));
        t.close(&mut sc);
        run_scene(sc)
    };
    // tor's client: SNI www.<4..25 base32>.com, no ALPN
    let r = run("www.q3vbkzo2xw4hp.com", &[]);
    assert_eq!(flow_on(&r, 9001)["app_proto"], "tor");
    assert_eq!(one_alert(&r, 9_400_002)["alert"]["category"], "vpn");
    // a browser to a real site: ALPN offered, or an ordinary name
    assert!(alerts(&run("www.q3vbkzo2xw4hp.com", &["h2", "http/1.1"])).is_empty());
    assert!(alerts(&run("www.wikipedia.com", &[])).is_empty());
}

#[test]
fn dns_flow_that_switches_to_raw_datagrams() {
    let (c, s) = ends();
    // a DNS handshake, then the tool's own framing on the same socket (iodine's raw UDP
    // mode: `10 d1 9e` and a command byte, then compressed data)
    let raw = |i: u64| {
        let mut v = vec![0x10, 0xd1, 0x9e, 0x20];
        v.extend(noise(400, i));
        v
    };
    let mut sc = Scene::new(T0);
    for i in 0..4u16 {
        sc.udp(
            (c, 33334),
            (s, 53),
            &dns_query(i, "vaaaakatest.t.example.org", 10),
        );
    }
    for i in 0..6 {
        sc.udp((c, 33334), (s, 53), &raw(i));
        sc.udp((s, 53), (c, 33334), &raw(i + 50));
    }
    let r = run_scene(sc);
    let a = one_alert(&r, 9_300_100);
    assert_eq!(a["app_proto"], "dns");
    assert_eq!(
        a["alert"]["metadata"]["evidence"][0],
        "4 datagrams that are not DNS after DNS messages"
    );
    // DNS messages cut short (a capture's snap length) are still DNS: quiet
    let mut sc = Scene::new(T0);
    for i in 0..10u16 {
        let q = dns_query(i, "a-rather-long-name-for-a-cut-message.example.com", 1);
        sc.udp((c, 33335), (s, 53), &q[..q.len() - 20]);
    }
    let r = run_scene(sc);
    assert!(alerts(&r).is_empty(), "{:?}", sigs(&r));
}

/// A TLS 1.2 session whose ClientHello carries `sni` (or none) to a server presenting a
/// certificate with subject `cn` and subjectAltName `names`.
fn cert_session(sni: Option<&str>, cn: &str, names: &[&str]) -> Vec<Value> {
    let mut sc = Scene::new(T0);
    let mut s = sc.tcp_session((v4("10.1.0.5"), 40557), (v4("198.51.100.190"), 443));
    s.handshake(&mut sc);
    s.client_sends(&mut sc, &tls_client_hello(sni, &["h2", "http/1.1"]));
    let cert = x509_cert_with_names(&[("CN", cn)], &[("CN", "Shared CDN CA")], names);
    s.server_sends(&mut sc, &tls_server_hello_cert(Some("h2"), Some(&cert)));
    for i in 0..4 {
        s.client_sends(&mut sc, &tls_app_data(300, i));
        s.server_sends(&mut sc, &tls_app_data(900, i));
    }
    s.close(&mut sc);
    run_scene(sc)
}

#[test]
fn a_fronted_service_is_named_from_the_certificate_when_no_sni_is_sent() {
    // Psiphon behind a CDN's shared certificate (nDPI's psiphon3.pcap: no SNI, subject
    // sni.cloudflaressl.com, psiphon3.net among the alternative names)
    let names = [
        "sni.cdn.example",
        "shop.example",
        "psiphon3.net",
        "*.psiphon3.net",
    ];
    let recs = cert_session(None, "sni.cdn.example", &names);
    let f = flow_on(&recs, 443);
    assert_eq!(f["app"], "psiphon", "{f}");
    assert!(f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "tls.cert_dns=psiphon3.net"));
    assert!(
        sigs(&recs).iter().any(|s| s.contains("Psiphon")),
        "{:?}",
        sigs(&recs)
    );
    // the client asked for another name on the same shared certificate: that name is the
    // service, not the certificate's other customers
    let recs = cert_session(Some("shop.example"), "sni.cdn.example", &names);
    assert!(flow_on(&recs, 443)["app"].is_null(), "{recs:?}");
    assert!(alerts(&recs).is_empty(), "{:?}", sigs(&recs));
    // no SNI and no catalogue name among the certificate's: nothing named
    let recs = cert_session(
        None,
        "sni.cdn.example",
        &["sni.cdn.example", "shop.example"],
    );
    assert!(flow_on(&recs, 443)["app"].is_null());
}
