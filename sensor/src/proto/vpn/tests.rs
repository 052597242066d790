use super::*;
use crate::proto::rmm::samples::negatives;

const NOW: [u8; 4] = [0x67, 0x00, 0x00, 0x00]; // 2024-10

fn ovpn_plain_client() -> Vec<u8> {
    let mut v = vec![7 << 3];
    v.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]); // session id
    v.push(0); // ack array length
    v.extend_from_slice(&[0, 0, 0, 0]); // message packet id
    v
}

fn ovpn_tls_auth_client(h: usize) -> Vec<u8> {
    let mut v = vec![7 << 3];
    v.extend_from_slice(&[9, 9, 9, 9, 9, 9, 9, 9]);
    v.extend_from_slice(&vec![0xab; h]); // HMAC
    v.extend_from_slice(&[0, 0, 0, 1]); // packet id
    v.extend_from_slice(&NOW);
    v.push(0);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

fn ovpn_tls_crypt_client() -> Vec<u8> {
    let mut v = vec![7 << 3];
    v.extend_from_slice(&[7, 7, 7, 7, 7, 7, 7, 7]);
    v.extend_from_slice(&[0, 0, 0, 1]);
    v.extend_from_slice(&NOW);
    v.extend_from_slice(&[0x5a; 32]); // tag
    v.extend_from_slice(&[0xc3, 0x11, 0x9e, 0x42, 0x07]); // ciphertext
    v
}

#[test]
fn openvpn_variants() {
    let p = probe_openvpn_udp(&ovpn_plain_client()).unwrap();
    assert_eq!(p.opcode, 7);
    assert_eq!(p.wrap, OpenVpnWrap::Plain);
    assert_eq!(p.session_id, 0x0102_0304_0506_0708);
    for h in [20usize, 32] {
        assert_eq!(
            probe_openvpn_udp(&ovpn_tls_auth_client(h)).map(|o| o.wrap),
            Some(OpenVpnWrap::TlsAuth { hmac_len: h as u8 })
        );
    }
    assert_eq!(
        probe_openvpn_udp(&ovpn_tls_crypt_client()).map(|o| o.wrap),
        Some(OpenVpnWrap::TlsCrypt)
    );
    // tls-crypt-v2: opcode 10 and a WKc of 300 bytes ending with its length.
    let mut v3 = ovpn_tls_crypt_client();
    v3[0] = 10 << 3;
    let mut wkc = vec![0x33; 298];
    wkc.extend_from_slice(&300u16.to_be_bytes());
    v3.extend(wkc);
    assert_eq!(
        probe_openvpn_udp(&v3).map(|o| o.wrap),
        Some(OpenVpnWrap::TlsCryptV2)
    );
    // Server reset acknowledging the client's packet 0.
    let mut srv = vec![8 << 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
    srv.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    srv.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(probe_openvpn_udp(&srv).map(|o| o.opcode), Some(8));
    // With an early-negotiation TLV.
    let mut tlv = ovpn_plain_client();
    tlv.extend_from_slice(&[0, 1, 0, 2, 0, 1]);
    assert_eq!(
        probe_openvpn_udp(&tlv).map(|o| o.wrap),
        Some(OpenVpnWrap::Plain)
    );
    // TCP framing.
    let pkt = ovpn_tls_auth_client(20);
    let mut tcp = (pkt.len() as u16).to_be_bytes().to_vec();
    tcp.extend_from_slice(&pkt);
    assert!(probe_openvpn_tcp(&tcp).is_some());
    assert!(probe_openvpn_tcp(&tcp[..tcp.len() - 1]).is_none());
}

#[test]
fn openvpn_near_misses() {
    let mut v = ovpn_plain_client();
    v[0] |= 1; // key id 1
    assert!(probe_openvpn_udp(&v).is_none());
    let mut v = ovpn_plain_client();
    v[9] = 1; // a client reset that acks something
    assert!(probe_openvpn_udp(&v).is_none());
    let mut v = ovpn_plain_client();
    v.push(0); // trailing byte
    assert!(probe_openvpn_udp(&v).is_none());
    let mut v = ovpn_tls_auth_client(20);
    v[29..33].copy_from_slice(&[0, 0, 0, 0]); // net_time 0
    assert!(probe_openvpn_udp(&v).is_none());
    let mut v = ovpn_plain_client();
    v[0] = 6 << 3; // P_DATA_V1 is not a reset
    assert!(probe_openvpn_udp(&v).is_none());
}

fn wg(ty: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0x5cu8; len];
    v[..4].copy_from_slice(&[ty, 0, 0, 0]);
    v
}

#[test]
fn wireguard() {
    assert_eq!(probe_wireguard(&wg(1, 148)), Some(WgMsg::Initiation));
    assert_eq!(probe_wireguard(&wg(2, 92)), Some(WgMsg::Response));
    assert_eq!(probe_wireguard(&wg(3, 64)), Some(WgMsg::CookieReply));
    assert_eq!(probe_wireguard(&wg(4, 32)), Some(WgMsg::Transport));
    assert_eq!(probe_wireguard(&wg(4, 1440)), Some(WgMsg::Transport));
    assert_eq!(probe_wireguard(&wg(1, 149)), None);
    assert_eq!(probe_wireguard(&wg(4, 33)), None);
    let mut v = wg(1, 148);
    v[2] = 1;
    assert_eq!(probe_wireguard(&v), None);
}

fn ike_v2_sa_init() -> Vec<u8> {
    let mut v = vec![0u8; 28];
    v[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    v[16] = 33; // SA
    v[17] = 0x20;
    v[18] = 34;
    v[19] = 0x08; // Initiator
    v.extend_from_slice(&[0u8; 40]);
    let len = v.len() as u32;
    v[24..28].copy_from_slice(&len.to_be_bytes());
    v
}

fn ike_v1_main() -> Vec<u8> {
    let mut v = vec![0u8; 28];
    v[..8].copy_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
    v[16] = 1; // SA
    v[17] = 0x10;
    v[18] = 2; // identity protection
    v.extend_from_slice(&[0u8; 52]);
    let len = v.len() as u32;
    v[24..28].copy_from_slice(&len.to_be_bytes());
    v
}

#[test]
fn ike() {
    let i = probe_ike(&ike_v2_sa_init(), 500).unwrap();
    assert!(!i.v1);
    assert_eq!(i.exchange, 34);
    let i = probe_ike(&ike_v1_main(), 500).unwrap();
    assert!(i.v1);
    assert_eq!(i.exchange, 2);
    let mut nat = vec![0, 0, 0, 0];
    nat.extend(ike_v2_sa_init());
    assert!(probe_ike(&nat, 4500).is_some());
    assert!(probe_ike(&ike_v2_sa_init(), 4500).is_none());
    // Length mismatch, zero SPI, responder SPI set in the first message.
    let mut v = ike_v2_sa_init();
    v.push(0);
    assert!(probe_ike(&v, 500).is_none());
    let mut v = ike_v2_sa_init();
    v[..8].fill(0);
    assert!(probe_ike(&v, 500).is_none());
    let mut v = ike_v2_sa_init();
    v[8] = 1;
    assert!(probe_ike(&v, 500).is_none());
}

#[test]
fn nat_t() {
    assert!(is_nat_t_keepalive(&[0xff]));
    assert!(!is_nat_t_keepalive(&[0xff, 0xff]));
    assert!(!is_nat_t_keepalive(&[]));
    let mut esp = vec![0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 1];
    esp.extend_from_slice(&[0x77; 40]);
    assert!(probe_esp_in_udp(&esp));
    esp[..4].fill(0);
    assert!(!probe_esp_in_udp(&esp));
    assert!(!probe_esp_in_udp(&[0xff]));
}

fn l2tp_sccrq() -> Vec<u8> {
    let mut v = vec![0xc8, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(&[0x80, 0x08, 0, 0, 0, 0, 0, 1]); // Message Type = SCCRQ
    v.extend_from_slice(&[0x80, 0x08, 0, 0, 0, 2, 1, 0]); // Protocol Version
    let len = v.len() as u16;
    v[2..4].copy_from_slice(&len.to_be_bytes());
    v
}

#[test]
fn l2tp() {
    assert_eq!(
        probe_l2tp(&l2tp_sccrq()),
        Some(L2tp {
            control: true,
            version: 2
        })
    );
    let zlb = [0xc8, 0x02, 0, 12, 0, 1, 0, 0, 0, 1, 0, 1];
    assert!(probe_l2tp(&zlb).is_some());
    let data = [0x00, 0x02, 0, 1, 0, 1, 0xff, 0x03, 0xc0, 0x21, 1, 1];
    assert_eq!(
        probe_l2tp(&data),
        Some(L2tp {
            control: false,
            version: 2
        })
    );
    let mut v3 = l2tp_sccrq();
    v3[1] = 0x03;
    assert_eq!(probe_l2tp(&v3).map(|l| l.version), Some(3));
    let mut bad = l2tp_sccrq();
    bad.push(0);
    assert!(probe_l2tp(&bad).is_none());
    let mut bad = l2tp_sccrq();
    bad[12] = 0x00; // AVP without M bit and length
    assert!(probe_l2tp(&bad).is_none());
}

fn pptp_sccrq() -> Vec<u8> {
    let mut v = vec![0u8; 156];
    v[..12].copy_from_slice(&[0, 156, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0]);
    v[12..14].copy_from_slice(&[1, 0]); // protocol version 1.0
    v
}

#[test]
fn pptp() {
    assert_eq!(probe_pptp(&pptp_sccrq()), Some(PptpCtrl { msg_type: 1 }));
    let mut v = pptp_sccrq();
    v[4] = 0x1b;
    assert!(probe_pptp(&v).is_none());
    let mut v = pptp_sccrq();
    v[1] = 150;
    assert!(probe_pptp(&v).is_none());
    assert!(probe_pptp(&pptp_sccrq()[..100]).is_none());
}

#[test]
fn sstp() {
    let req = b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\nHost: vpn\r\n\r\n";
    assert_eq!(probe_sstp(req), Some(Sstp::HttpRequest));
    let ctrl = [
        0x10, 0x01, 0x00, 0x0e, 0x00, 0x01, 0x00, 0x01, 0, 1, 0, 6, 0, 1,
    ];
    assert_eq!(probe_sstp(&ctrl), Some(Sstp::Control { msg_type: 1 }));
    assert_eq!(probe_sstp(&ctrl[..13]), None);
}

#[test]
fn softether() {
    assert!(probe_softether_udp(b"IP=192.0.2.7,PORT=5555"));
    assert!(probe_softether_udp(b"IP=10.0.0.1,PORT=443\0"));
    assert!(!probe_softether_udp(b"IP=hello,PORT=5555"));
    assert!(!probe_softether_udp(b"IP=192.0.2.7,PORT=99999"));
    assert!(!probe_softether_udp(b"IP=192.0.2.7;PORT=5555"));
    let m = b"IP=192.0.2.7,PORT=5555";
    for i in 0..m.len() {
        assert!(!probe_softether_udp(&m[..i]) || i >= 19);
    }
}

#[test]
fn tor() {
    assert!(probe_tor_cert(
        "www.abcdefgh234.net",
        "www.qrstuvwxyz27.com"
    ));
    assert!(probe_tor_cert(
        "CN=www.abcdefgh234.net",
        "CN=www.qrstuvwxyz27.net"
    ));
    assert!(!probe_tor_cert("www.example.net", "www.example.com"));
    assert!(!probe_tor_cert(
        "www.abcdefgh234.com",
        "www.qrstuvwxyz27.com"
    ));
    assert!(!probe_tor_cert(
        "www.abcdefgh189.net",
        "www.qrstuvwxyz27.com"
    ));
    assert!(!probe_tor_cert("www.abcdefgh.net", "www.abcdefgh.com"));
    assert!(!probe_tor_cert("www.abc.net", "www.qrstuvwxyz27.com"));
    assert!(!probe_tor_cert("", ""));
}

fn wg_data(rx: u32, ctr: u64, len: usize) -> Vec<u8> {
    let mut v = wg(4, len);
    v[4..8].copy_from_slice(&rx.to_le_bytes());
    v[8..16].copy_from_slice(&ctr.to_le_bytes());
    v
}

#[test]
fn wireguard_mid_session() {
    // Three data packets of one session (rising counters, one receiver index).
    let mut t = WgTrack::default();
    assert!(!t.add(0, &wg_data(0x1576_4979, 19, 96)));
    assert!(!t.add(1, &wg_data(0xb048_101c, 15, 96))); // the other direction
    assert!(!t.add(0, &wg_data(0x1576_4979, 20, 80)));
    assert!(t.add(0, &wg_data(0x1576_4979, 21, 160)));
    // A changed index, a counter going back, or a big jump restart the run.
    let mut t = WgTrack::default();
    assert!(!t.add(0, &wg_data(7, 1, 32)));
    assert!(!t.add(0, &wg_data(8, 2, 32)));
    assert!(!t.add(0, &wg_data(8, 1, 32)));
    assert!(!t.add(0, &wg_data(8, 1000, 32)));
    assert!(!t.add(0, &wg_data(8, 1001, 32)));
    assert!(t.add(0, &wg_data(8, 1002, 32)));
    // Something else in between breaks it too.
    let mut t = WgTrack::default();
    assert!(!t.add(0, &wg_data(9, 1, 32)));
    assert!(!t.add(0, &wg_data(9, 2, 32)));
    assert!(!t.add(0, b"not wireguard at all, 32 bytes.."));
    assert!(!t.add(0, &wg_data(9, 3, 32)));
    // Random datagrams never start a run.
    let mut t = WgTrack::default();
    for n in negatives() {
        assert!(!t.add(0, &n));
    }
    for i in 0..200 {
        assert!(!t.add(1, &spanwatch_testkit::noise(96, i)));
    }
}

#[test]
fn tailscale_disco() {
    let mut d = vec![0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac];
    d.extend_from_slice(&[0x42; 32 + 24 + 16]);
    assert!(is_tailscale_disco(&d));
    assert!(!is_tailscale_disco(&d[..d.len() - 1]));
    d[5] = 0xad;
    assert!(!is_tailscale_disco(&d));
}

#[test]
fn esp_and_tinc() {
    let mut esp = vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1];
    esp.extend_from_slice(&[0x99; 40]);
    assert_eq!(probe_esp(&esp), Some(0x1234_5678));
    esp[..4].copy_from_slice(&[0, 0, 0, 7]); // reserved SPI
    assert_eq!(probe_esp(&esp), None);
    assert!(probe_tinc_id(b"0 think 17\n"));
    assert!(probe_tinc_id(b"0 node_2 17.7\n"));
    assert!(probe_tinc_id(b"0 think 17\n1 429 672 0 0 2CDA\n"));
    assert!(!probe_tinc_id(b"0 think 17"));
    assert!(!probe_tinc_id(b"1 think 17\n"));
    assert!(!probe_tinc_id(b"0 th-ink 17\n"));
    assert!(!probe_tinc_id(b"0 think 16\n"));
    assert!(!probe_tinc_id(b"0 think 17.\n"));
    assert!(!probe_tinc_id(b"0  17\n"));
    for n in negatives() {
        assert!(!probe_tinc_id(&n));
        assert!(!is_tailscale_disco(&n));
    }
}

#[test]
fn negatives_never_match() {
    for n in negatives() {
        assert_eq!(probe_openvpn_udp(&n), None, "{n:02x?}");
        assert_eq!(probe_openvpn_tcp(&n), None, "{n:02x?}");
        assert_eq!(probe_ike(&n, 500), None);
        assert_eq!(probe_ike(&n, 4500), None);
        assert_eq!(probe_l2tp(&n), None, "{n:02x?}");
        assert_eq!(probe_pptp(&n), None);
        assert_eq!(probe_sstp(&n), None);
        assert!(!probe_softether_udp(&n));
        assert!(!is_nat_t_keepalive(&n) || n == [0xff]);
        // WireGuard's size rules are its only constraint beyond three zero bytes:
        // random data with those zeros is what it would take.
        if n.get(1..4) != Some(&[0, 0, 0]) {
            assert_eq!(probe_wireguard(&n), None);
        }
    }
}

#[test]
fn mutations_never_panic() {
    use crate::proto::rmm::samples::mutations;
    let mut v3 = ovpn_tls_crypt_client();
    v3[0] = 10 << 3;
    v3.extend_from_slice(&[0x33; 298]);
    v3.extend_from_slice(&300u16.to_be_bytes());
    for p in [
        ovpn_tls_auth_client(20),
        ovpn_tls_crypt_client(),
        v3,
        wg(1, 148),
        ike_v1_main(),
        l2tp_sccrq(),
        pptp_sccrq(),
        b"IP=192.0.2.7,PORT=5555".to_vec(),
    ] {
        for m in mutations(&p) {
            let _ = (probe_openvpn_udp(&m), probe_openvpn_tcp(&m));
            let _ = (probe_wireguard(&m), probe_ike(&m, 500), probe_ike(&m, 4500));
            let _ = (probe_l2tp(&m), probe_pptp(&m), probe_sstp(&m));
            let _ = (probe_esp_in_udp(&m), probe_softether_udp(&m));
        }
    }
}

#[test]
fn truncation() {
    let all = [
        ovpn_plain_client(),
        ovpn_tls_auth_client(20),
        ovpn_tls_crypt_client(),
        wg(1, 148),
        ike_v2_sa_init(),
        l2tp_sccrq(),
        pptp_sccrq(),
    ];
    for p in all {
        for i in 0..p.len() {
            let pre = &p[..i];
            let _ = probe_openvpn_udp(pre);
            let _ = probe_openvpn_tcp(pre);
            let _ = probe_wireguard(pre);
            assert!(probe_ike(pre, 500).is_none());
            assert!(probe_ike(pre, 4500).is_none());
            let _ = probe_l2tp(pre);
            assert!(probe_pptp(pre).is_none());
            let _ = probe_sstp(pre);
            let _ = probe_esp_in_udp(pre);
        }
    }
    // Strict prefixes of the length-exact ones never match.
    for p in [ovpn_tls_auth_client(20), l2tp_sccrq(), wg(2, 92)] {
        for i in 0..p.len() {
            assert!(probe_openvpn_udp(&p[..i]).is_none());
            assert!(probe_l2tp(&p[..i]).is_none());
            assert!(probe_wireguard(&p[..i]).is_none());
        }
    }
}

#[test]
fn tor_client_sni_shape() {
    assert!(probe_tor_sni("www.q3vbkzo2xw4hp.com", false, &[29, 23, 24]));
    assert!(probe_tor_sni("www.xkfdtmwqzb.com", false, &[29, 23, 24]));
    // with ALPN, a real-looking word, the wrong TLD, or outside base32: not Tor
    assert!(!probe_tor_sni("www.q3vbkzo2xw4hp.com", true, &[29, 23, 24]));
    assert!(!probe_tor_sni("www.wikipedia.com", false, &[29, 23, 24]));
    assert!(!probe_tor_sni("www.example.com", false, &[29, 23, 24]));
    assert!(!probe_tor_sni(
        "www.q3vbkzo2xw4hp.net",
        false,
        &[29, 23, 24]
    ));
    assert!(!probe_tor_sni(
        "www.q3vbkzo0xw9hp.com",
        false,
        &[29, 23, 24]
    ));
    assert!(!probe_tor_sni("www.abc2.com", false, &[29, 23, 24]));
    // short or word-like draws, with Tor's groups (P-224 last): tor 0.4.9 on OpenSSL 3.0
    let tor_groups = [23, 29, 21];
    assert!(probe_tor_sni("www.wlrm.com", false, &tor_groups));
    assert!(probe_tor_sni("www.example.com", false, &tor_groups));
    assert!(probe_tor_sni("www.k2a5b.com", false, &[23, 21]));
    assert!(!probe_tor_sni("www.wlrm.com", true, &tor_groups));
    assert!(!probe_tor_sni("www.abc.com", false, &tor_groups));
    assert!(!probe_tor_sni("www.wlrm.net", false, &tor_groups));
    assert!(!probe_tor_sni("mail.wlrm.com", false, &tor_groups));
}
