//! Tunnel, VPN and proxy detections the corpus conformance test showed missing, each on a
//! capture generated here (testkit): the packets follow the published formats, no corpus
//! bytes are copied. Each case has its ordinary look-alike that must stay quiet.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;

fn cat_alerts<'a>(recs: &'a [Value], category: &str) -> Vec<&'a Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["category"] == category)
        .collect()
}

fn flow_with<'a>(recs: &'a [Value], app_proto: &str) -> Option<&'a Value> {
    flows(recs)
        .into_iter()
        .find(|f| f["app_proto"] == app_proto)
}

fn run_scene(sc: Scene) -> Vec<Value> {
    replay_checked(sc.bytes(), &[])
}

/// ESP header (RFC 4303 §2): SPI, sequence number, then ciphertext.
fn esp(spi: u32, seq: u32, n: usize) -> Vec<u8> {
    let mut v = spi.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend(noise(n, seq as u64));
    v
}

#[test]
fn raw_esp_is_an_ipsec_vpn() {
    let mut sc = Scene::new(T0);
    let (a, b) = (v4("192.0.2.1"), v4("198.51.100.1"));
    for i in 1..=4 {
        sc.ip_packet(a, b, 50, &esp(0xc0de_0001, i, 64));
        sc.ip_packet(b, a, 50, &esp(0xbeef_0002, i, 64));
    }
    let r = run_scene(sc);
    let f = flow_with(&r, "esp").expect("an esp flow");
    assert_eq!(f["proto"], "ESP");
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1);
    assert!(v[0]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("IPsec ESP"));
    // An SPI in the reserved range 1..=255 is not ESP.
    let mut sc = Scene::new(T0);
    sc.ip_packet(a, b, 50, &esp(7, 1, 64));
    let r = run_scene(sc);
    assert!(cat_alerts(&r, "vpn").is_empty());
}

#[test]
fn a_flow_without_ports_starts_with_its_oldest_packet_whatever_order_they_come_in() {
    // On a live link the two directions of an ESP flow (one SPI each) may reach different
    // workers; the one handed over can arrive after a younger packet of the other side.
    // Here the capture holds them in that order: B's packet (1 s) after A's (2 s).
    let (a, b) = (v4("192.0.2.1"), v4("198.51.100.1"));
    let l3 = |src, dst, spi, seq| ether(0x0800, &ip(src, dst, 50, &esp(spi, seq, 64)));
    let mut w = PcapWriter::new(1);
    let s = T0 * 1_000_000_000;
    w.packet(s + 2_000_000_000, &l3(a, b, 0xc0de_0001, 1));
    w.packet(s + 1_000_000_000, &l3(b, a, 0xbeef_0002, 1));
    w.packet(s + 3_000_000_000, &l3(a, b, 0xc0de_0001, 2));
    w.packet(s + 3_100_000_000, &l3(b, a, 0xbeef_0002, 2));
    let (r, _) = replay_bytes(w.bytes(), &[]);
    let f = flow_with(&r, "esp").expect("an esp flow");
    assert_eq!(f["src_ip"], "198.51.100.1", "{f}");
    assert_eq!(f["flow"]["start"], "2023-11-14T22:13:21.000000+0000");
    assert_eq!(f["flow"]["pkts_toserver"], 2);
    assert_eq!(f["flow"]["pkts_toclient"], 2);
    // in time order the first sender is the client, as before
    let mut w = PcapWriter::new(1);
    w.packet(s + 1_000_000_000, &l3(a, b, 0xc0de_0001, 1));
    w.packet(s + 2_000_000_000, &l3(b, a, 0xbeef_0002, 1));
    let (r, _) = replay_bytes(w.bytes(), &[]);
    assert_eq!(flow_with(&r, "esp").unwrap()["src_ip"], "192.0.2.1");
}

/// IPv4 with an Authentication Header (RFC 4302 §2): next header, payload length in 4-byte
/// words minus 2, reserved, SPI, sequence, 12-byte ICV; then `inner`.
fn ah_packet(src: &str, dst: &str, next: u8, inner: &[u8]) -> Vec<u8> {
    let mut ah = vec![next, 4, 0, 0];
    ah.extend_from_slice(&0x0000_1234u32.to_be_bytes());
    ah.extend_from_slice(&1u32.to_be_bytes());
    ah.extend_from_slice(&[0xa5; 12]);
    ah.extend_from_slice(inner);
    ip(v4(src), v4(dst), 51, &ah)
}

#[test]
fn ipsec_ah_tunnel_and_host_to_host_are_vpns_routing_authentication_is_recorded() {
    let ping = icmp_echo(true, 1, 1, b"abcdefghijklmnopqrstuvwabcdefghi");
    // Tunnel mode: AH, then a whole inner IPv4 packet between two other hosts.
    let inner = ip(v4("10.1.1.1"), v4("10.2.2.2"), 1, &ping);
    let mut w = PcapWriter::new(1);
    w.packet(
        T0 * 1_000_000_000,
        &ether(0x0800, &ah_packet("192.0.2.1", "192.0.2.2", 4, &inner)),
    );
    let (r, _) = replay_bytes(w.bytes(), &[]);
    assert_schema(&r);
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1, "{r:?}");
    assert!(v[0]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("IPsec AH tunnel"));
    let f = &flows(&r)[0];
    assert_eq!(f["src_ip"], "10.1.1.1");
    assert_eq!(f["ipsec"]["ah"], "tunnel");
    // Transport mode between two hosts: AH around their own ICMP, a host-to-host IPsec
    // association.
    let one = |src: &str, dst: &str, next: u8, inner: &[u8]| {
        let mut w = PcapWriter::new(1);
        w.packet(
            T0 * 1_000_000_000,
            &ether(0x0800, &ah_packet(src, dst, next, inner)),
        );
        replay_bytes(w.bytes(), &[]).0
    };
    let r = one("192.0.2.1", "192.0.2.2", 1, &ping);
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1, "{r:?}");
    assert!(v[0]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("IPsec AH between two hosts (transport mode)"));
    assert_eq!(v[0]["alert"]["signature_id"], 9_400_014);
    assert_eq!(flows(&r)[0]["ipsec"]["ah"], "transport");
    // AH authenticating routing (OSPF, RFC 4552 style; VRRP) or sent to a multicast group:
    // recorded, no alert.
    let hello = [2u8, 1, 0, 44, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    for (dst, next, inner) in [
        ("192.0.2.2", 89u8, &hello[..]),
        ("224.0.0.5", 89, &hello[..]),
        ("224.0.0.18", 112, &hello[..8]),
        ("224.0.0.1", 1, &ping[..]),
    ] {
        let r = one("192.0.2.1", dst, next, inner);
        assert!(cat_alerts(&r, "vpn").is_empty(), "{dst} {next}: {r:?}");
        assert_eq!(flows(&r)[0]["ipsec"]["ah"], "transport", "{dst} {next}");
    }
}

/// WireGuard transport data (whitepaper §5.4.6): type 4, reserved zeros, receiver index,
/// little-endian counter, then an encrypted packet padded to 16 plus a 16-byte tag.
fn wg_data(receiver: u32, counter: u64, padded: usize) -> Vec<u8> {
    let mut v = vec![4, 0, 0, 0];
    v.extend_from_slice(&receiver.to_le_bytes());
    v.extend_from_slice(&counter.to_le_bytes());
    v.extend(noise(padded + 16, counter));
    v
}

#[test]
fn wireguard_caught_mid_session_on_another_port() {
    let (c, s) = ((v4("192.168.1.10"), 22595), (v4("203.0.113.9"), 5060));
    let mut sc = Scene::new(T0);
    for i in 0..4u64 {
        sc.udp(c, s, &wg_data(0x7949_7615, 19 + i, 48));
        sc.udp(s, c, &wg_data(0x1c10_48b0, 15 + i, 64));
    }
    let r = run_scene(sc);
    assert!(flow_with(&r, "wireguard").is_some(), "{r:?}");
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1);
    assert!(v[0]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("WireGuard transport data"));
    // The same header bytes with a receiver index that changes every packet: not a session.
    let mut sc = Scene::new(T0);
    for i in 0..8u64 {
        sc.udp(c, s, &wg_data(0x1000 + i as u32, i, 48));
    }
    let r = run_scene(sc);
    assert!(flow_with(&r, "wireguard").is_none());
    assert!(cat_alerts(&r, "vpn").is_empty());
}

#[test]
fn tailscale_disco_names_the_wireguard_socket() {
    // "TS💬" magic, sender key, nonce, box.
    let mut disco = vec![0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac];
    disco.extend(noise(32 + 24 + 30, 3));
    let (c, s) = ((v4("192.168.88.3"), 41641), (v4("198.51.100.7"), 41641));
    let mut sc = Scene::new(T0);
    sc.udp(c, s, &disco);
    sc.udp(s, c, &disco);
    let r = run_scene(sc);
    let f = flow_with(&r, "wireguard").expect("wireguard flow");
    assert_eq!(f["app"], "tailscale");
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["app"], "tailscale");
}

#[test]
fn softether_and_tinc_are_named_vpns() {
    // SoftEther's UDP answer naming the client's public address.
    let (c, s) = ((v4("192.168.2.100"), 51381), (v4("198.51.100.113"), 5004));
    let mut sc = Scene::new(T0);
    sc.udp(c, s, b"A");
    sc.udp(s, c, b"IP=203.0.113.133,PORT=51381");
    let r = run_scene(sc);
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1, "{r:?}");
    assert_eq!(v[0]["app"], "softether");
    // tinc's meta protocol ID requests, both ways.
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((v4("10.0.0.5"), 49290), (v4("198.51.100.27"), 655));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, b"0 alpha 17\n");
    t.server_sends(&mut sc, b"0 beta 17\n");
    let r = run_scene(sc);
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1, "{r:?}");
    assert_eq!(v[0]["app"], "tinc");
    // A line protocol that only looks alike (an SMTP-ish greeting) stays quiet.
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((v4("10.0.0.5"), 49291), (v4("198.51.100.27"), 655));
    t.handshake(&mut sc);
    t.server_sends(&mut sc, b"220 mail ready\r\n");
    t.client_sends(&mut sc, b"0 alpha 16\n");
    assert!(cat_alerts(&run_scene(sc), "vpn").is_empty());
}

#[test]
fn proxy_protocol_header_and_absolute_form_requests() {
    // PROXY v1 header in front of a TLS ClientHello.
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((v4("192.0.2.10"), 48502), (v4("198.51.100.2"), 443));
    t.handshake(&mut sc);
    let mut data = b"PROXY TCP4 203.0.113.11 198.51.100.2 52176 443\r\n".to_vec();
    data.extend(tls_client_hello(Some("example.org"), &["h2"]));
    t.client_sends(&mut sc, &data);
    let r = run_scene(sc);
    let f = flow_with(&r, "tls").expect("the TLS behind the header is identified");
    assert_eq!(f["tls"]["sni"], "example.org");
    let p = cat_alerts(&r, "proxy");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["alert"]["metadata"]["client"][0], "203.0.113.11:52176");
    // A forward-proxy request (absolute-form target) to a proxy port.
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((v4("192.168.1.103"), 1241), (v4("192.168.1.146"), 8080));
    t.handshake(&mut sc);
    t.client_sends(
        &mut sc,
        b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    t.server_sends(&mut sc, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let r = run_scene(sc);
    let p = cat_alerts(&r, "proxy");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["alert"]["metadata"]["target"][0], "example.com");
    // The same request sent straight to an origin on port 80, and an origin-form request:
    // no proxy.
    for (port, req) in [
        (
            80u16,
            &b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
        ),
        (8080, &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..]),
    ] {
        let mut sc = Scene::new(T0);
        let mut t = sc.tcp_session((v4("192.168.1.103"), 1242), (v4("192.168.1.146"), port));
        t.handshake(&mut sc);
        t.client_sends(&mut sc, req);
        t.server_sends(&mut sc, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(cat_alerts(&run_scene(sc), "proxy").is_empty());
    }
}

#[test]
fn dns_tunnel_to_a_server_outside_the_public_dns() {
    // dnscat2 without a domain: "dnscat.<hex>.<hex>" sent straight to the tunnel server, so
    // every query has a different last label.
    let (c, s) = (v4("192.168.220.56"), v4("192.168.203.167"));
    let mut sc = Scene::new(T0);
    for i in 0..40u64 {
        let hex: String = noise(60, i).iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("dnscat.{}.{}.{}", &hex[..60], &hex[60..110], &hex[110..]);
        sc.udp(
            (c, 40000 + i as u16),
            (s, 53),
            &dns_query(i as u16, &name, 16),
        );
        sc.advance_ms(200);
    }
    let r = run_scene(sc);
    let t = cat_alerts(&r, "tunnel");
    assert_eq!(t.len(), 1, "{r:?}");
    assert!(t[0]["alert"]["metadata"]["domain"][0]
        .as_str()
        .unwrap()
        .contains("outside the public DNS"));
    // Ordinary local names under .local/.lan and a router's own names: quiet.
    let mut sc = Scene::new(T0);
    for i in 0..60u64 {
        let name = match i % 3 {
            0 => format!("host-{i}.lan"),
            1 => format!("printer-{i}.local"),
            _ => format!("nas{i}.fritz.box"),
        };
        sc.udp(
            (c, 41000 + i as u16),
            (s, 53),
            &dns_query(i as u16, &name, 1),
        );
    }
    assert!(cat_alerts(&run_scene(sc), "tunnel").is_empty());
}

#[test]
fn one_query_carrying_encoded_data() {
    // A file pasted into one name as base64 (gzip's "H4sI" start, '=' padding).
    let name =
        "H4sIAAAAAAAAA3N0dHh0AAvJyCxWAKJEheLU5KLUEoW0zJx.ULgAge4S2FgAAAA==.exfil.example.org";
    let mut sc = Scene::new(T0);
    sc.udp(
        (v4("192.168.2.225"), 5353),
        (v4("192.168.2.1"), 53),
        &dns_query(9, name, 1),
    );
    let t = cat_alerts(&run_scene(sc), "tunnel").len();
    assert_eq!(t, 1);
    // Long but ordinary names (CDN style, letters/digits/hyphens): quiet.
    let mut sc = Scene::new(T0);
    let n = "r4---sn-4g5e6nz7-a5me.googlevideo-cache-accelerated-edge.example.net";
    sc.udp(
        (v4("192.168.2.225"), 5353),
        (v4("192.168.2.1"), 53),
        &dns_query(9, n, 1),
    );
    assert!(cat_alerts(&run_scene(sc), "tunnel").is_empty());
}

#[test]
fn vpn_services_named_by_sni_and_certificate() {
    for (sni, app) in [
        ("eu0.sec-tunnel.com", "opera-vpn"),
        ("api.cloudflareclient.com", "cloudflare-warp"),
    ] {
        let mut sc = Scene::new(T0);
        let mut t = sc.tcp_session((v4("192.168.1.29"), 51430), (v4("198.51.100.69"), 443));
        t.handshake(&mut sc);
        t.client_sends(&mut sc, &tls_client_hello(Some(sni), &["h2"]));
        t.server_sends(&mut sc, &tls_server_hello_cert(Some("h2"), None));
        let r = run_scene(sc);
        let v = cat_alerts(&r, "vpn");
        assert_eq!(v.len(), 1, "{sni}");
        assert_eq!(v[0]["app"], app);
    }
    // A FortiGate's factory certificate, no SNI.
    let cert = x509_cert(
        &[
            ("O", "Fortinet"),
            ("OU", "FortiGate"),
            ("CN", "FGT60E0000000000"),
        ],
        &[
            ("O", "Fortinet"),
            ("OU", "Certificate Authority"),
            ("CN", "support"),
        ],
    );
    let mut sc = Scene::new(T0);
    let mut t = sc.tcp_session((v4("192.168.1.178"), 61820), (v4("198.51.100.13"), 10443));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &tls_client_hello(None, &[]));
    t.server_sends(&mut sc, &tls_server_hello_cert(None, Some(&cert)));
    let r = run_scene(sc);
    let v = cat_alerts(&r, "vpn");
    assert_eq!(v.len(), 1, "{r:?}");
    assert_eq!(v[0]["app"], "fortigate-sslvpn");
}
