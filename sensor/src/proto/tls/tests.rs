use super::fingerprint::hex12;
use super::*;
use crate::proto::Parsed;

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
fn ext(t: u16, d: &[u8]) -> Vec<u8> {
    let mut e = t.to_be_bytes().to_vec();
    e.extend_from_slice(&(d.len() as u16).to_be_bytes());
    e.extend_from_slice(d);
    e
}
fn vec16(d: &[u8]) -> Vec<u8> {
    let mut e = (d.len() as u16).to_be_bytes().to_vec();
    e.extend_from_slice(d);
    e
}
fn hs(t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![t];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}
fn records(msg: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in msg.chunks(max) {
        out.extend_from_slice(&[0x16, 0x03, 0x01]);
        out.extend_from_slice(&(c.len() as u16).to_be_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// A ClientHello shaped after the JA4 technical details' worked example: its 15
/// ciphers and 16 extensions in the example's wire order, "h2" first in ALPN, and its
/// 8 signature algorithms, plus GREASE values that must be ignored.
fn ja4_example_hello() -> Vec<u8> {
    let ciphers = [
        0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
        0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let order: [u16; 16] = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
        0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ];
    let mut exts = ext(0x2a2a, &[]);
    for t in order {
        let d: Vec<u8> = match t {
            0x0000 => {
                let name = b"example.com";
                let mut e = vec![0];
                e.extend_from_slice(&vec16(name));
                vec16(&e)
            }
            0x0010 => vec16(&[
                2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
            ]),
            0x002b => {
                let mut v = vec![6];
                v.extend_from_slice(&u16s(&[0x1a1a, 0x0304, 0x0303]));
                v
            }
            0x000d => vec16(&u16s(&[
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ])),
            _ => vec![],
        };
        exts.extend_from_slice(&ext(t, &d));
    }
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]);
    body.push(32);
    body.extend_from_slice(&[0x22; 32]);
    body.extend_from_slice(&vec16(&u16s(&ciphers)));
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&vec16(&exts));
    hs(HS_CLIENT_HELLO, &body)
}

#[test]
fn ja4_matches_spec_worked_example() {
    // Expected value: the "Example" section of FoxIO's JA4 technical details
    // (JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1).
    let rec = records(&ja4_example_hello(), 1 << 14);
    let ch = parse_client_hello(&rec).done().expect("parsed");
    assert_eq!(ch.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(ch.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(ch.supported_versions, vec![0x1a1a, 0x0304, 0x0303]);
    assert_eq!(ch.legacy_version, 0x0303);
    assert_eq!(ch.ciphers.len(), 16);
    assert_eq!(ch.extensions.len(), 17);
    assert_eq!(ch.sig_algs.len(), 8);
    assert_eq!(probe(&rec), Probe::Match);
}

#[test]
fn ja4_hash_parts_from_spec() {
    // The spec's stand-alone hash examples.
    assert_eq!(
        hex12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
        "8daaf6152771"
    );
    assert_eq!(
        hex12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
        "6d807ffa2a79"
    );
}

#[test]
fn client_hello_split_and_multi_record() {
    let msg = ja4_example_hello();
    let whole = records(&msg, 1 << 14);
    let half = &whole[..whole.len() / 2];
    assert!(matches!(parse_client_hello(half), Parsed::NeedMore { .. }));
    assert!(matches!(
        parse_client_hello(&whole),
        Parsed::Done { consumed, .. } if consumed == whole.len()
    ));
    // The same message over 40-byte records.
    let multi = records(&msg, 40);
    match parse_client_hello(&multi) {
        Parsed::Done { value, consumed } => {
            assert_eq!(consumed, multi.len());
            assert_eq!(value.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        }
        other => panic!("{other:?}"),
    }
    for n in 0..multi.len() {
        assert!(
            matches!(parse_client_hello(&multi[..n]), Parsed::NeedMore { .. }),
            "prefix {n}"
        );
    }
}

#[test]
fn client_hello_truncation_never_panics() {
    let whole = records(&ja4_example_hello(), 1 << 14);
    for n in 0..whole.len() {
        let _ = probe(&whole[..n]);
        assert!(!matches!(
            parse_client_hello(&whole[..n]),
            Parsed::Done { .. }
        ));
    }
    // Damaged lengths inside.
    for i in 0..whole.len() {
        let mut d = whole.clone();
        d[i] ^= 0xff;
        let _ = parse_client_hello(&d);
    }
}

#[test]
fn probe_cases() {
    assert_eq!(probe(b""), Probe::NeedMore);
    assert_eq!(probe(&[0x16, 0x03]), Probe::NeedMore);
    assert_eq!(probe(b"GET / HTTP/1.1"), Probe::NoMatch);
    assert_eq!(probe(&[0x16, 0x03, 0x01, 0x00, 0x10, 0x02]), Probe::Match);
    assert_eq!(probe(&[0x16, 0x03, 0x05, 0x00, 0x10, 0x01]), Probe::NoMatch);
    assert_eq!(probe(&[0x16, 0x03, 0x01, 0x00, 0x10, 0x0b]), Probe::NoMatch);
}

#[test]
fn ja4_no_sni_no_alpn_no_sigs() {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0; 32]);
    body.push(0);
    body.extend_from_slice(&vec16(&u16s(&[0x002f])));
    body.extend_from_slice(&[1, 0]);
    let ch = parse_client_hello(&records(&hs(1, &body), 1 << 14))
        .done()
        .unwrap();
    assert!(ch.ja4.starts_with("t12i010000_"), "{}", ch.ja4);
    assert!(ch.ja4.ends_with("_000000000000"));
}

// A minimal certificate: SEQUENCE { tbs SEQUENCE { [0]{INTEGER 2}, INTEGER 1,
// SEQUENCE{OID}, issuer, validity SEQUENCE{}, subject }, ... }.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    if content.len() < 0x80 {
        v.push(content.len() as u8);
    } else {
        v.push(0x82);
        v.extend_from_slice(&(content.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(content);
    v
}
fn rdn(oid_last: u8, val: &str) -> Vec<u8> {
    let mut atv = tlv(0x06, &[0x55, 0x04, oid_last]);
    atv.extend_from_slice(&tlv(0x13, val.as_bytes()));
    tlv(0x31, &tlv(0x30, &atv))
}
fn cert() -> Vec<u8> {
    let mut issuer = rdn(6, "US");
    issuer.extend_from_slice(&rdn(10, "Test CA, Inc"));
    issuer.extend_from_slice(&rdn(3, "Test Root"));
    let mut subject = rdn(6, "DE");
    subject.extend_from_slice(&rdn(10, "Example"));
    subject.extend_from_slice(&rdn(3, "www.example.org"));
    let mut tbs = tlv(0xa0, &tlv(0x02, &[2]));
    tbs.extend_from_slice(&tlv(0x02, &[1]));
    tbs.extend_from_slice(&tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48])));
    tbs.extend_from_slice(&tlv(0x30, &issuer));
    tbs.extend_from_slice(&tlv(0x30, &[]));
    tbs.extend_from_slice(&tlv(0x30, &subject));
    tbs.extend_from_slice(&tlv(0x30, &tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48])))); // SPKI

    // extensions [3]: basicConstraints (critical), then subjectAltName with two DNS names,
    // an IP address and an e-mail (rfc822Name)
    let mut bc = tlv(0x06, &[0x55, 0x1d, 0x13]);
    bc.extend_from_slice(&tlv(0x01, &[0xff]));
    bc.extend_from_slice(&tlv(0x04, &tlv(0x30, &[])));
    let mut names = tlv(0x82, b"sni.CDN.example");
    names.extend_from_slice(&tlv(0x87, &[192, 0, 2, 1]));
    names.extend_from_slice(&tlv(0x81, b"a@fronted.example"));
    names.extend_from_slice(&tlv(0x82, b"*.fronted.example"));
    let mut san = tlv(0x06, &[0x55, 0x1d, 0x11]);
    san.extend_from_slice(&tlv(0x04, &tlv(0x30, &names)));
    let mut exts = tlv(0x30, &bc);
    exts.extend_from_slice(&tlv(0x30, &san));
    tbs.extend_from_slice(&tlv(0xa3, &tlv(0x30, &exts)));
    let mut c = tlv(0x30, &tbs);
    c.extend_from_slice(&tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48])));
    c.extend_from_slice(&tlv(0x03, &[0, 1, 2, 3]));
    tlv(0x30, &c)
}
fn server_hello(exts: &[u8]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x33; 32]);
    body.push(0);
    body.extend_from_slice(&[0xc0, 0x2f, 0]);
    if !exts.is_empty() {
        body.extend_from_slice(&vec16(exts));
    }
    hs(HS_SERVER_HELLO, &body)
}
fn tls12_flight() -> Vec<u8> {
    let alpn = ext(
        0x0010,
        &vec16(&[8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1']),
    );
    let mut msgs = server_hello(&alpn);
    let c = cert();
    let mut list = (c.len() as u32).to_be_bytes()[1..].to_vec();
    list.extend_from_slice(&c);
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend_from_slice(&list);
    msgs.extend_from_slice(&hs(HS_CERTIFICATE, &body));
    msgs.extend_from_slice(&hs(14, &[])); // ServerHelloDone
    records(&msgs, 100)
}

#[test]
fn server_flight_tls12_certificate() {
    let buf = tls12_flight();
    match parse_server_flight(&buf) {
        Parsed::Done { value, consumed } => {
            assert_eq!(value.version, 0x0303);
            assert_eq!(value.cipher, 0xc02f);
            assert_eq!(value.alpn.as_deref(), Some("http/1.1"));
            assert_eq!(
                value.cert_subject.as_deref(),
                Some("CN=www.example.org, O=Example, C=DE")
            );
            assert_eq!(
                value.cert_issuer.as_deref(),
                Some("CN=Test Root, O=Test CA\\, Inc, C=US")
            );
            assert_eq!(value.cert_dns, ["sni.cdn.example", "*.fronted.example"]);
            assert!(consumed <= buf.len());
        }
        other => panic!("{other:?}"),
    }
    let half = &buf[..buf.len() / 2];
    assert!(matches!(parse_server_flight(half), Parsed::NeedMore { .. }));
    for n in 0..buf.len() {
        let _ = probe(&buf[..n]);
        let _ = parse_server_flight(&buf[..n]);
    }
    for i in 0..buf.len() {
        let mut d = buf.clone();
        d[i] = d[i].wrapping_add(0x41);
        let _ = parse_server_flight(&d);
    }
}

#[test]
fn server_flight_tls13_stops_after_server_hello() {
    let sv = ext(0x002b, &[0x03, 0x04]);
    let mut buf = records(&server_hello(&sv), 1 << 14);
    let sh_len = buf.len();
    buf.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    buf.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb]);
    match parse_server_flight(&buf) {
        Parsed::Done { value, consumed } => {
            assert_eq!(value.version, 0x0304);
            assert_eq!(value.cert_subject, None);
            assert_eq!(consumed, sh_len);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_flight_resumption_without_certificate() {
    let mut buf = records(&server_hello(&[]), 1 << 14);
    assert!(matches!(parse_server_flight(&buf), Parsed::NeedMore { .. }));
    buf.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    let sh = parse_server_flight(&buf).done().unwrap();
    assert_eq!(sh.version, 0x0303);
    assert_eq!(sh.cert_subject, None);
}

#[test]
fn grease_values() {
    assert!(is_grease(0x0a0a));
    assert!(is_grease(0xfafa));
    assert!(!is_grease(0x0a1a));
    assert!(!is_grease(0x1301));
}

#[test]
fn ja3_string_leaves_out_grease_and_keeps_wire_order() {
    let rec = records(&ja4_example_hello(), 1 << 14);
    let ch = parse_client_hello(&rec).done().expect("parsed");
    assert_eq!(
        ch.ja3,
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
         27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,,"
    );
    // Groups and point formats, GREASE group left out.
    let mut body = vec![0x03, 0x01];
    body.extend_from_slice(&[0; 32]);
    body.push(0);
    body.extend_from_slice(&vec16(&u16s(&[0x002f, 0x3a3a])));
    body.extend_from_slice(&[1, 0]);
    let mut exts = ext(0x000a, &vec16(&u16s(&[0x4a4a, 0x0017, 0x0018])));
    exts.extend_from_slice(&ext(0x000b, &[2, 0, 1]));
    body.extend_from_slice(&vec16(&exts));
    let ch = parse_client_hello(&records(&hs(HS_CLIENT_HELLO, &body), 1 << 14))
        .done()
        .expect("parsed");
    assert_eq!(ch.ja3, "769,47,10-11,23-24,0-1");
    // The JA3 README's example string and its published MD5.
    assert_eq!(
        md5_hex("769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"),
        "ada70206e40642a3e4461f35503241d5"
    );
}

#[test]
fn ja3s_and_ja4s_of_a_server_hello() {
    // TLS 1.2 ServerHello: cipher 0xc02f, renegotiation_info then ALPN "h2".
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x33; 32]);
    body.push(0);
    body.extend_from_slice(&[0xc0, 0x2f, 0]);
    let mut exts = ext(0xff01, &[0]);
    exts.extend_from_slice(&ext(0x0010, &vec16(&[2, b'h', b'2'])));
    body.extend_from_slice(&vec16(&exts));
    let mut rec = records(&hs(HS_SERVER_HELLO, &body), 1 << 14);
    rec.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    let sh = parse_server_flight(&rec).done().expect("parsed");
    assert_eq!(sh.ja3s, "771,49199,65281-16");
    assert_eq!(sh.ja4s, format!("t1202h2_c02f_{}", hex12("ff01,0010")));
    // The same message without a record layer, as QUIC carries it.
    let Parsed::Done { value, .. } = parse_server_hello_message(&hs(HS_SERVER_HELLO, &body), true)
    else {
        panic!("parsed")
    };
    assert!(value.ja4s.starts_with("q1202h2_c02f_"));
    assert_eq!(
        parse_server_hello_message(&hs(HS_SERVER_HELLO, &body)[..20], true),
        Parsed::NeedMore { needed: 38 }
    );
}
