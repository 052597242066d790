use super::*;
use crate::proto::ber::{garbage, tlv};

fn msg(id: u8, op: &[u8]) -> Vec<u8> {
    tlv(0x30, &[tlv(0x02, &[id]), op.to_vec()].concat())
}

/// BindRequest (RFC 4511 §4.2): version 3, name, simple [0] password.
pub(crate) fn simple_bind(dn: &str, password: &str) -> Vec<u8> {
    msg(
        1,
        &tlv(
            0x60,
            &[
                tlv(0x02, &[3]),
                tlv(0x04, dn.as_bytes()),
                tlv(0x80, password.as_bytes()),
            ]
            .concat(),
        ),
    )
}

fn sasl_bind(mech: &str, creds: &[u8]) -> Vec<u8> {
    msg(
        2,
        &tlv(
            0x60,
            &[
                tlv(0x02, &[3]),
                tlv(0x04, b""),
                tlv(
                    0xa3,
                    &[tlv(0x04, mech.as_bytes()), tlv(0x04, creds)].concat(),
                ),
            ]
            .concat(),
        ),
    )
}

fn bind_response(code: u8) -> Vec<u8> {
    msg(
        1,
        &tlv(
            0x61,
            &[tlv(0x0a, &[code]), tlv(0x04, b""), tlv(0x04, b"")].concat(),
        ),
    )
}

#[test]
fn simple_bind_reports_dn_but_never_the_password() {
    let m = parse(&simple_bind("cn=admin,dc=example,dc=org", "s3cret"))
        .done()
        .unwrap();
    assert_eq!(m.opcode, "bind_request");
    let b = m.bind_request.as_ref().unwrap();
    assert_eq!(
        (b.version, b.name.as_str(), b.auth),
        (3, "cn=admin,dc=example,dc=org", "simple")
    );
    let j = serde_json::to_string(&m).unwrap();
    assert!(!j.contains("s3cret"), "{j}");
}

#[test]
fn sasl_bind_gives_mechanism_and_ntlm_names() {
    let m = parse(&sasl_bind("GSSAPI", &[0x60, 0x00])).done().unwrap();
    let b = m.bind_request.unwrap();
    assert_eq!(
        (b.auth, b.sasl_mechanism.as_deref()),
        ("sasl", Some("GSSAPI"))
    );
    let ntlm = crate::proto::ntlmssp::tests::authenticate("CORP", "bob", "WS", true);
    let m = parse(&sasl_bind("GSS-SPNEGO", &ntlm)).done().unwrap();
    assert_eq!(m.bind_request.unwrap().ntlmssp.unwrap().user, "bob");
}

#[test]
fn bind_response_result_codes() {
    let r = parse(&bind_response(49))
        .done()
        .unwrap()
        .bind_response
        .unwrap();
    assert_eq!(
        (r.result_code, r.result, r.failed),
        (49, "invalid_credentials", true)
    );
    let r = parse(&bind_response(0))
        .done()
        .unwrap()
        .bind_response
        .unwrap();
    assert!(!r.failed);
    // Another operation: opcode only.
    let s = parse(&msg(3, &tlv(0x63, &tlv(0x04, b"dc=x"))))
        .done()
        .unwrap();
    assert_eq!(s.opcode, "search_request");
    assert!(s.bind_request.is_none());
}

#[test]
fn every_split_point_needs_more_then_parses() {
    let mut stream = simple_bind("cn=a", "pw");
    let first = stream.len();
    stream.extend(bind_response(0));
    for cut in 0..first {
        assert!(
            matches!(parse(&stream[..cut]), Parsed::NeedMore { .. }),
            "cut {cut}"
        );
    }
    match parse(&stream) {
        Parsed::Done { consumed, .. } => assert_eq!(consumed, first),
        other => panic!("{other:?}"),
    }
    assert!(parse(&stream[first..])
        .done()
        .unwrap()
        .bind_response
        .is_some());
}

#[test]
fn rejects_non_ldap_and_oversized() {
    assert!(matches!(parse(b"GET / HTTP/1.1"), Parsed::Malformed(_)));
    assert!(matches!(
        parse(&[0x30, 0x84, 0x7f, 0, 0, 0]),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse(&[0x30, 0x03, 0x02, 0x01, 0x01]),
        Parsed::Malformed(_)
    ));
}

#[test]
fn never_panics_on_garbage() {
    for seed in [
        simple_bind("cn=a,dc=b", "x"),
        sasl_bind("GSS-SPNEGO", b"NTLMSSP\0"),
        bind_response(49),
    ] {
        garbage(&seed, 3000, |b| {
            let _ = parse(b);
        });
    }
}
