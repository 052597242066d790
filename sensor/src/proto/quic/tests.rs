use super::crypto::{read_frames, CryptoStream, MAX_CRYPTO};
use super::initial::{initial_keys, long_header, open, Version};
use super::{Datagram, Track};
use crate::proto::{tls, Parsed};
use spanwatch_testkit::{
    quic_client_hello, quic_crypto_frame, quic_initial, quic_server_hello, QUIC_DRAFT29, QUIC_V1,
    QUIC_V2,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

// RFC 9001 Appendix A and RFC 9369 Appendix A: the client's Destination Connection ID and
// the protected packets of A.2 (client Initial) and A.3 (server Initial).
const DCID: &str = "8394c8f03e515708";
const V1_CLIENT: &str = include_str!("testdata/rfc9001-a2-client-initial.hex");
const V1_SERVER: &str = include_str!("testdata/rfc9001-a3-server-initial.hex");
const V2_CLIENT: &str = include_str!("testdata/rfc9369-a2-client-initial.hex");
const V2_SERVER: &str = include_str!("testdata/rfc9369-a3-server-initial.hex");

/// The ClientHello of RFC 9001 A.2 (and RFC 9369 A.2), 241 bytes with its header.
const CLIENT_HELLO_START: &str = "010000ed0303ebf8fa56f12939b9584a";
const CLIENT_HELLO_END: &str = "0f088394c8f03e51570806048000ffff";

#[test]
fn rfc9001_a1_keys() {
    let c = initial_keys(Version::V1, &hex(DCID), false);
    assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    let s = initial_keys(Version::V1, &hex(DCID), true);
    assert_eq!(s.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(s.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
    assert_eq!(s.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
}

#[test]
fn rfc9369_a1_keys() {
    let c = initial_keys(Version::V2, &hex(DCID), false);
    assert_eq!(c.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(c.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
    assert_eq!(c.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let s = initial_keys(Version::V2, &hex(DCID), true);
    assert_eq!(s.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(s.iv.to_vec(), hex("dd13c276499c0249d3310652"));
    assert_eq!(s.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
}

/// Open the RFC's client Initial exactly: packet number 2, a 1162-byte payload whose
/// CRYPTO frame holds the 241-byte ClientHello, then the server's Initial with the
/// 90-byte ServerHello.
fn rfc_pair(client: &str, server: &str, version: Version, q: &str) {
    let pkt = hex(client);
    assert_eq!(pkt.len(), 1200);
    assert!(super::is_initial_like(&pkt));
    let h = long_header(&pkt).unwrap();
    assert_eq!(h.version, version);
    assert!(h.is_initial());
    assert_eq!(h.dcid, hex(DCID).as_slice());
    assert_eq!((h.pn_off, h.end), (18, 1200));
    let (pn, plain) = open(&pkt, &h, &initial_keys(version, &hex(DCID), false)).unwrap();
    assert_eq!(pn, 2);
    assert_eq!(plain.len(), 1162);
    // The server's keys do not authenticate the client's packet.
    assert!(open(&pkt, &h, &initial_keys(version, &hex(DCID), true)).is_err());

    let mut t = Track::default();
    assert_eq!(t.datagram(&pkt, 0), Datagram::Read);
    let ch = t.streams[0].contiguous();
    assert_eq!(ch.len(), 241);
    assert!(ch.starts_with(&hex(CLIENT_HELLO_START)));
    assert!(ch.ends_with(&hex(CLIENT_HELLO_END)));
    let Parsed::Done { value: ch, .. } = tls::parse_client_hello_message(ch, true) else {
        panic!("ClientHello")
    };
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(ch.alpn, vec!["alpn".to_string()]);
    // JA4 with the QUIC prefix: 2 ciphers, 11 extensions, ALPN "alpn".
    assert_eq!(ch.ja4, q);
    assert_eq!(
        ch.ja3,
        "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24,"
    );
    assert_eq!(tls::md5_hex(&ch.ja3), "41bc9ae914d6cb3bd0bd0a5453ab7d7f");

    assert_eq!(t.datagram(&hex(server), 1), Datagram::Read);
    let Parsed::Done { value: sh, .. } =
        tls::parse_server_hello_message(t.streams[1].contiguous(), true)
    else {
        panic!("ServerHello")
    };
    assert_eq!((sh.version, sh.cipher), (0x0304, 0x1301));
    assert_eq!(sh.ja3s, "771,4865,51-43");
    assert_eq!(sh.ja4s, "q130200_1301_234ea6891581");
    assert_eq!((t.opened, t.malformed), (2, 0));
}

#[test]
fn rfc9001_appendix_a_v1() {
    rfc_pair(
        V1_CLIENT,
        V1_SERVER,
        Version::V1,
        "q13d0211an_62ed6f6ca7ad_4d634acda6c0",
    );
}

#[test]
fn rfc9369_appendix_a_v2() {
    rfc_pair(
        V2_CLIENT,
        V2_SERVER,
        Version::V2,
        "q13d0211an_62ed6f6ca7ad_4d634acda6c0",
    );
}

#[test]
fn version_names_as_suricata_writes_them() {
    assert_eq!(Version::V1.name(), "1");
    assert_eq!(Version::V2.name(), "6b3343cf");
    assert_eq!(Version::of(QUIC_DRAFT29).unwrap().name(), "ff00001d");
    assert_eq!(Version::of(0x1234_5678), None);
}

/// A ClientHello split over two Initial packets in two datagrams, the second half sent
/// first, for each version.
#[test]
fn client_hello_across_packets_out_of_order() {
    for v in [QUIC_V1, QUIC_V2, QUIC_DRAFT29] {
        let dcid = [7u8; 8];
        let ch = quic_client_hello("relay.teamviewer.com", &["h3"]);
        let cut = ch.len() / 3;
        let second = quic_initial(
            v,
            &dcid,
            &dcid,
            &[1, 2],
            false,
            1,
            &quic_crypto_frame(cut as u64, &ch[cut..]),
            1200,
        );
        let first = quic_initial(
            v,
            &dcid,
            &dcid,
            &[1, 2],
            false,
            0,
            &quic_crypto_frame(0, &ch[..cut]),
            1200,
        );
        let mut t = Track::default();
        assert_eq!(t.datagram(&second, 0), Datagram::Read);
        assert!(t.streams[0].contiguous().is_empty());
        assert_eq!(t.datagram(&first, 0), Datagram::Read);
        assert_eq!(t.streams[0].contiguous(), ch.as_slice(), "version {v:x}");
        let Parsed::Done { value, .. } = tls::parse_client_hello_message(&ch, true) else {
            panic!()
        };
        assert_eq!(value.sni.as_deref(), Some("relay.teamviewer.com"));
        assert!(value.ja4.starts_with("q13d"), "{}", value.ja4);
        assert_eq!(t.version.map(|x| x.wire()), Some(v));
    }
}

/// Two Initial packets coalesced in one datagram, and datagram padding after them.
#[test]
fn coalesced_packets_and_trailing_padding() {
    let dcid = [9u8; 12];
    let ch = quic_client_hello("example.org", &[]);
    let a = quic_initial(
        QUIC_V1,
        &dcid,
        &dcid,
        &[],
        false,
        0,
        &quic_crypto_frame(0, &ch[..50]),
        0,
    );
    let b = quic_initial(
        QUIC_V1,
        &dcid,
        &dcid,
        &[],
        false,
        1,
        &quic_crypto_frame(50, &ch[50..]),
        0,
    );
    let mut d = [a, b].concat();
    d.resize(1300, 0);
    let mut t = Track::default();
    assert_eq!(t.datagram(&d, 0), Datagram::Read);
    assert_eq!(t.streams[0].contiguous(), ch.as_slice());
    assert_eq!(t.opened, 2);
}

/// The server's Initial opens with keys from the client's first DCID, although its own
/// header carries other connection IDs.
#[test]
fn server_initial_uses_the_clients_dcid() {
    let dcid = [3u8; 8];
    let ch = quic_client_hello("example.org", &["h3"]);
    let sh = quic_server_hello();
    let c = quic_initial(
        QUIC_V1,
        &dcid,
        &dcid,
        &[5; 4],
        false,
        0,
        &quic_crypto_frame(0, &ch),
        1200,
    );
    let s = quic_initial(
        QUIC_V1,
        &dcid,
        &[5; 4],
        &[6; 8],
        true,
        0,
        &quic_crypto_frame(0, &sh),
        1200,
    );
    let mut t = Track::default();
    // Before the client's Initial there are no keys.
    assert!(matches!(t.datagram(&s, 1), Datagram::Malformed(_)));
    assert_eq!(t.datagram(&c, 0), Datagram::Read);
    assert_eq!(t.datagram(&s, 1), Datagram::Read);
    assert_eq!(t.streams[1].contiguous(), sh.as_slice());
}

/// Every prefix of a protected Initial, and every single-byte corruption of a few
/// positions, is an error or nothing: never a panic, never a false ClientHello.
#[test]
fn truncated_and_corrupted_initials_are_malformed() {
    let pkt = hex(V1_CLIENT);
    for n in 0..pkt.len() {
        let mut t = Track::default();
        let r = t.datagram(&pkt[..n], 0);
        assert_ne!(r, Datagram::Read, "prefix {n}");
        if n > 0 {
            assert!(matches!(r, Datagram::Malformed(_)), "prefix {n}: {r:?}");
            assert_eq!(t.malformed, 1);
        }
    }
    for at in [0usize, 5, 17, 18, 40, 600, 1199] {
        let mut p = pkt.clone();
        p[at] ^= 0x5a;
        let mut t = Track::default();
        let r = t.datagram(&p, 0);
        assert!(
            matches!(r, Datagram::Malformed(_) | Datagram::Nothing),
            "byte {at}: {r:?}"
        );
        assert!(t.streams[0].contiguous().is_empty());
    }
}

#[test]
fn frames_outside_an_initial_are_malformed() {
    let mut s = CryptoStream::default();
    // STREAM frame (0x08) in an Initial.
    assert!(read_frames(&[0x08, 0, 0], &mut s).is_err());
    // CRYPTO frame running past the payload.
    assert!(read_frames(&[0x06, 0x00, 0x10, 1, 2], &mut s).is_err());
    // PADDING, PING, an ACK with one range and ECN counts, CONNECTION_CLOSE ends.
    assert!(read_frames(
        &[0, 0, 1, 0x03, 5, 0, 1, 0, 1, 1, 0, 0, 0, 0x1c, 0xff],
        &mut s
    )
    .is_ok());
}

#[test]
fn crypto_stream_is_bounded() {
    let mut s = CryptoStream::default();
    assert!(s.add(MAX_CRYPTO as u64, &[1]).is_err());
    assert!(s.add(u64::MAX, &[1]).is_err());
    for i in 0..32u64 {
        assert!(s.add(100 + i * 2, &[1]).is_ok());
    }
    assert!(s.add(500, &[1]).is_err(), "too many fragments held");
    // Overlapping and repeated data keep the first copy.
    let mut s = CryptoStream::default();
    s.add(0, b"abcd").unwrap();
    s.add(2, b"cdef").unwrap();
    s.add(0, b"zz").unwrap();
    assert_eq!(s.contiguous(), b"abcdef");
}

#[test]
fn varints() {
    assert_eq!(super::varint(&[0x25], 0), Some((37, 1)));
    assert_eq!(super::varint(&[0x7b, 0xbd], 0), Some((15293, 2)));
    assert_eq!(
        super::varint(&[0x9d, 0x7f, 0x3e, 0x7d], 0),
        Some((494_878_333, 4))
    );
    assert_eq!(
        super::varint(&hex("c2197c5eff14e88c"), 0),
        Some((151_288_809_941_952_652, 8))
    );
    assert_eq!(super::varint(&[0x40], 0), None);
    assert_eq!(super::varint(&[], 0), None);
}
