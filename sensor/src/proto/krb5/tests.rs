use super::*;
use crate::proto::ber::{garbage, tlv};

fn int(v: u8) -> Vec<u8> {
    tlv(0x02, &[v])
}
fn gstr(s: &str) -> Vec<u8> {
    tlv(0x1b, s.as_bytes())
}
fn ctx(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}
fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}
fn principal(kind: u8, names: &[&str]) -> Vec<u8> {
    let strings: Vec<Vec<u8>> = names.iter().map(|n| gstr(n)).collect();
    seq(&[ctx(0, &int(kind)), ctx(1, &seq(&strings))])
}

/// AS-REQ for alice@EXAMPLE.ORG asking krbtgt/EXAMPLE.ORG, etypes 18 and 17 (RFC 4120
/// §5.4.1), with an (opaque) PA-DATA.
pub(crate) fn as_req() -> Vec<u8> {
    let body = seq(&[
        ctx(0, &tlv(0x03, &[0, 0x40, 0x81, 0, 0x10])),
        ctx(1, &principal(1, &["alice"])),
        ctx(2, &gstr("EXAMPLE.ORG")),
        ctx(3, &principal(2, &["krbtgt", "EXAMPLE.ORG"])),
        ctx(5, &tlv(0x18, b"20370913024805Z")),
        ctx(7, &tlv(0x02, &[0x12, 0x34, 0x56, 0x78])),
        ctx(8, &seq(&[int(18), int(17)])),
    ]);
    let padata = seq(&[seq(&[ctx(1, &int(2)), ctx(2, &tlv(0x04, &[0xaa; 20]))])]);
    tlv(
        0x6a,
        &seq(&[
            ctx(1, &int(5)),
            ctx(2, &int(10)),
            ctx(3, &padata),
            ctx(4, &body),
        ]),
    )
}

fn krb_error(code: u8) -> Vec<u8> {
    tlv(
        0x7e,
        &seq(&[
            ctx(0, &int(5)),
            ctx(1, &int(30)),
            ctx(4, &tlv(0x18, b"20261127160000Z")),
            ctx(5, &int(7)),
            ctx(6, &int(code)),
            ctx(8, &principal(1, &["alice"])),
            ctx(9, &gstr("EXAMPLE.ORG")),
            ctx(10, &principal(2, &["krbtgt", "EXAMPLE.ORG"])),
        ]),
    )
}

fn as_rep() -> Vec<u8> {
    let ticket = tlv(0x61, &seq(&[ctx(0, &int(5)), ctx(1, &gstr("EXAMPLE.ORG"))]));
    let enc = seq(&[ctx(0, &int(18)), ctx(2, &tlv(0x04, &[0x55; 40]))]);
    tlv(
        0x6b,
        &seq(&[
            ctx(0, &int(5)),
            ctx(1, &int(11)),
            ctx(3, &gstr("EXAMPLE.ORG")),
            ctx(4, &principal(1, &["alice"])),
            ctx(5, &ticket),
            ctx(6, &enc),
        ]),
    )
}

#[test]
fn as_req_gives_client_realm_service_and_etypes() {
    let m = parse_udp(&as_req()).done().unwrap();
    assert_eq!(m.msg_type, "KRB_AS_REQ");
    assert_eq!(m.cname.as_deref(), Some("alice"));
    assert_eq!(m.realm.as_deref(), Some("EXAMPLE.ORG"));
    assert_eq!(m.sname.as_deref(), Some("krbtgt/EXAMPLE.ORG"));
    assert_eq!(m.etypes, vec![18, 17]);
    assert!(!m.failed);
    let j = serde_json::to_value(&m).unwrap();
    assert_eq!(j["cname"], "alice");
    assert!(j.get("error_code").is_none());
}

#[test]
fn as_rep_gives_client_and_realm() {
    let m = parse_udp(&as_rep()).done().unwrap();
    assert_eq!(m.msg_type, "KRB_AS_REP");
    assert_eq!(m.cname.as_deref(), Some("alice"));
    assert_eq!(m.realm.as_deref(), Some("EXAMPLE.ORG"));
}

#[test]
fn preauth_failure_and_unknown_client_are_failed_logins() {
    for (code, failed) in [(24, true), (6, true), (25, false), (68, false)] {
        let m = parse_udp(&krb_error(code)).done().unwrap();
        assert_eq!(m.msg_type, "KRB_ERROR");
        assert_eq!(m.error_code, Some(i32::from(code)));
        assert_eq!(m.failed, failed, "code {code}");
        assert_eq!(m.cname.as_deref(), Some("alice"));
        assert_eq!(m.sname.as_deref(), Some("krbtgt/EXAMPLE.ORG"));
    }
}

#[test]
fn tcp_record_every_split_point_needs_more_then_parses() {
    let msg = as_req();
    let mut rec = (msg.len() as u32).to_be_bytes().to_vec();
    rec.extend_from_slice(&msg);
    let whole = parse_tcp(&rec);
    let Parsed::Done { consumed, .. } = whole else {
        panic!("{whole:?}")
    };
    assert_eq!(consumed, rec.len());
    for cut in 0..rec.len() {
        match parse_tcp(&rec[..cut]) {
            Parsed::NeedMore { needed } => assert!(needed >= 1 && cut + needed <= rec.len()),
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    // Two records back to back: the first is parsed, the rest left for the next call.
    let mut two = rec.clone();
    two.extend_from_slice(&rec);
    assert_eq!(parse_tcp(&two), parse_tcp(&rec));
}

#[test]
fn udp_truncated_or_padded_is_malformed() {
    let msg = as_req();
    assert!(matches!(
        parse_udp(&msg[..msg.len() - 1]),
        Parsed::Malformed(_)
    ));
    let mut padded = msg.clone();
    padded.push(0);
    assert!(matches!(parse_udp(&padded), Parsed::Malformed(_)));
    assert!(matches!(
        parse_udp(b"GET / HTTP/1.1\r\n"),
        Parsed::Malformed(_)
    ));
}

#[test]
fn tcp_rejects_bad_record_marks() {
    assert!(matches!(
        parse_tcp(&[0x80, 0, 0, 10, 0x6a]),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse_tcp(&[0x7f, 0, 0, 0, 0x6a]),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse_tcp(&[0, 0, 0, 10, 0x16]),
        Parsed::Malformed(_)
    ));
}

#[test]
fn long_names_are_cut() {
    let long = "a".repeat(5000);
    let body = seq(&[ctx(1, &principal(1, &[&long, &long])), ctx(2, &gstr(&long))]);
    let msg = tlv(
        0x6a,
        &seq(&[ctx(1, &int(5)), ctx(2, &int(10)), ctx(4, &body)]),
    );
    let m = parse_udp(&msg).done().unwrap();
    assert!(m.cname.unwrap().len() <= ber::NAME_CAP);
    assert!(m.realm.unwrap().len() <= ber::NAME_CAP);
}

#[test]
fn never_panics_on_garbage() {
    let mut rec = (as_req().len() as u32).to_be_bytes().to_vec();
    rec.extend(as_req());
    for seed in [as_req(), krb_error(24), as_rep(), rec] {
        garbage(&seed, 3000, |b| {
            let _ = parse_udp(b);
            let _ = parse_tcp(b);
        });
    }
}
