use super::open::probe as probe_open;
use super::*;
use crate::proto::ntlmssp::tests::authenticate;
use crate::proto::registry::AppProto;

/// A PDU of type `ptype` with `body` and, when given, an auth verifier (NTLMSSP, level 6).
pub(crate) fn pdu(ptype: u8, body: &[u8], auth: &[u8]) -> Vec<u8> {
    let frag = HEADER + body.len() + if auth.is_empty() { 0 } else { 8 + auth.len() };
    let mut v = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
    v.extend_from_slice(&(frag as u16).to_le_bytes());
    v.extend_from_slice(&(auth.len() as u16).to_le_bytes());
    v.extend_from_slice(&7u32.to_le_bytes());
    v.extend_from_slice(body);
    if !auth.is_empty() {
        v.extend_from_slice(&[10, 6, 0, 0, 0, 0, 0, 0]);
        v.extend_from_slice(auth);
    }
    v
}

const BIND_BODY: [u8; 12] = [0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn auth3_carries_the_authenticate_and_every_split_waits() {
    let a = authenticate("CORP", "alice", "WS1", true);
    let mut stream = pdu(BIND, &BIND_BODY, b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2");
    stream.extend(pdu(AUTH3, &[0, 0, 0, 0], &a));
    assert_eq!(
        probe_open(&stream, b"", [50000, 135]),
        Some(AppProto::Dcerpc)
    );
    let Parsed::Done { value, consumed } = parse(&stream) else {
        panic!()
    };
    assert_eq!(value.ptype, BIND);
    let Parsed::Done { value, .. } = parse(&stream[consumed..]) else {
        panic!()
    };
    assert_eq!(value.ptype, AUTH3);
    let n = crate::proto::ntlmssp::find_authenticate(value.auth).unwrap();
    assert_eq!((n.domain.as_str(), n.user.as_str()), ("CORP", "alice"));
    let second = &stream[consumed..];
    for cut in 0..second.len() {
        assert!(
            matches!(parse(&second[..cut]), Parsed::NeedMore { .. }),
            "cut at {cut}"
        );
    }
}

#[test]
fn not_dcerpc() {
    assert!(!probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    let mut b = pdu(BIND, &BIND_BODY, b"");
    assert!(probe(&b));
    b[4] = 0; // big-endian integers: not read
    assert!(!probe(&b));
    let mut r = pdu(0, &BIND_BODY, b""); // a REQUEST does not open a connection
    assert!(!probe(&r));
    r[8] = 4; // fragment shorter than the header
    assert!(matches!(parse(&r), Parsed::Malformed(_)));
    assert!(matches!(parse(b"\x05\x00\x0b"), Parsed::NeedMore { .. }));
}
