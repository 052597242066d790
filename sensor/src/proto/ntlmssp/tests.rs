use super::*;
use crate::proto::ber::{garbage, tlv};
use base64::Engine;

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// AUTHENTICATE (MS-NLMP §2.2.1.3) with the payload after the 64-byte fixed part plus an
/// 8-byte Version and 16-byte MIC, in the order domain, user, workstation, LM, NT.
pub(crate) fn authenticate(domain: &str, user: &str, host: &str, unicode: bool) -> Vec<u8> {
    let enc = |s: &str| {
        if unicode {
            utf16(s)
        } else {
            s.as_bytes().to_vec()
        }
    };
    let nt: Vec<u8> = vec![0x11; 48];
    let lm: Vec<u8> = vec![0; 24];
    let fields: Vec<Vec<u8>> = vec![lm, nt, enc(domain), enc(user), enc(host), Vec::new()];
    let mut m = SIGNATURE.to_vec();
    m.extend(3u32.to_le_bytes());
    let mut payload: Vec<u8> = Vec::new();
    let base = 64 + 8 + 16;
    // Field headers in header order: LM, NT, Domain, User, Workstation, SessionKey;
    // payload order: domain, user, host, lm, nt, key.
    let order = [2usize, 3, 4, 0, 1, 5];
    let mut offsets = [0usize; 6];
    for &f in &order {
        offsets[f] = base + payload.len();
        payload.extend(&fields[f]);
    }
    for f in 0..6 {
        let l = fields[f].len() as u16;
        m.extend(l.to_le_bytes());
        m.extend(l.to_le_bytes());
        m.extend((offsets[f] as u32).to_le_bytes());
    }
    let flags: u32 = 0xe288_8215 & if unicode { !0 } else { !1 } | if unicode { 0 } else { 2 };
    m.extend(flags.to_le_bytes());
    m.extend([10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
    m.extend([0u8; 16]);
    m.extend(payload);
    m
}

#[test]
fn authenticate_unicode_and_oem() {
    for unicode in [true, false] {
        let a = parse_authenticate(&authenticate("CORP", "bob", "WS-07", unicode)).unwrap();
        assert_eq!(
            (a.user.as_str(), a.domain.as_str(), a.host.as_str()),
            ("bob", "CORP", "WS-07")
        );
        assert!(!a.anonymous);
    }
    let j = serde_json::to_value(parse_authenticate(&authenticate("D", "u", "h", true)).unwrap())
        .unwrap();
    assert_eq!(
        (j["user"].as_str(), j["domain"].as_str(), j["host"].as_str()),
        (Some("u"), Some("D"), Some("h"))
    );
}

#[test]
fn fields_outside_the_message_are_errors() {
    let mut m = authenticate("CORP", "bob", "WS", true);
    m[40..44].copy_from_slice(&0xffff_fff0u32.to_le_bytes()); // user offset
    assert!(parse_authenticate(&m).is_err());
    let m = authenticate("CORP", "bob", "WS", true);
    assert!(parse_authenticate(&m[..70]).is_err());
    let mut neg = m.clone();
    neg[8] = 1;
    assert!(parse_authenticate(&neg).is_err());
}

#[test]
fn long_names_are_capped() {
    let u = "x".repeat(3000);
    let a = parse_authenticate(&authenticate("D", &u, "H", true)).unwrap();
    assert_eq!(a.user.len(), NAME_CAP);
}

/// SPNEGO NegTokenResp (RFC 4178 §4.2.2) carrying the AUTHENTICATE as responseToken.
fn spnego(inner: &[u8]) -> Vec<u8> {
    tlv(0xa1, &tlv(0x30, &tlv(0xa2, &tlv(0x04, inner))))
}

#[test]
fn http_authorization_ntlm_and_negotiate() {
    let m = authenticate("CORP", "bob", "WS-07", true);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let a = from_http_authorization(&format!("NTLM {}", b64(&m))).unwrap();
    assert_eq!(a.user, "bob");
    let a = from_http_authorization(&format!("Negotiate {}", b64(&spnego(&m)))).unwrap();
    assert_eq!(a.domain, "CORP");
    assert!(from_http_authorization(&format!("Basic {}", b64(&m))).is_none());
    assert!(from_http_authorization("NTLM !!!").is_none());

    let req = format!(
        "GET /ews HTTP/1.1\r\nHost: mail\r\nauthorization: NTLM {}\r\n\r\nbody",
        b64(&m)
    );
    let req = req.as_bytes();
    let head_end = req.len() - 4;
    for cut in 0..head_end {
        assert!(
            matches!(from_http_request(&req[..cut]), Parsed::NeedMore { .. }),
            "cut {cut}"
        );
    }
    match from_http_request(req) {
        Parsed::Done {
            value: Some(a),
            consumed,
        } => {
            assert_eq!(a.user, "bob");
            assert_eq!(consumed, head_end);
        }
        other => panic!("{other:?}"),
    }
}

/// NetBIOS + SMB2 SESSION_SETUP request (MS-SMB2 §2.2.1.2, §2.2.5) with `sec` as the
/// security buffer.
pub(crate) fn smb2_session_setup(sec: &[u8]) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B'];
    h.extend(64u16.to_le_bytes()); // StructureSize
    h.extend(1u16.to_le_bytes()); // CreditCharge
    h.extend(0u32.to_le_bytes()); // Status
    h.extend(1u16.to_le_bytes()); // Command SESSION_SETUP
    h.extend(1u16.to_le_bytes()); // CreditRequest
    h.extend(0u32.to_le_bytes()); // Flags
    h.extend(0u32.to_le_bytes()); // NextCommand
    h.extend(2u64.to_le_bytes()); // MessageId
    h.extend(0u32.to_le_bytes()); // Reserved
    h.extend(0u32.to_le_bytes()); // TreeId
    h.extend(0x1234u64.to_le_bytes()); // SessionId
    h.extend([0u8; 16]); // Signature
    assert_eq!(h.len(), 64);
    h.extend(25u16.to_le_bytes());
    h.extend([0, 1]); // Flags, SecurityMode
    h.extend(1u32.to_le_bytes()); // Capabilities
    h.extend(0u32.to_le_bytes()); // Channel
    h.extend(88u16.to_le_bytes()); // SecurityBufferOffset
    h.extend((sec.len() as u16).to_le_bytes());
    h.extend(0u64.to_le_bytes()); // PreviousSessionId
    h.extend(sec);
    let mut out = vec![0, 0, (h.len() >> 8) as u8, h.len() as u8];
    out.extend(h);
    out
}

#[test]
fn smb2_session_setup_every_split_point() {
    let msg = smb2_session_setup(&spnego(&authenticate("CORP", "bob", "WS-07", true)));
    match parse_smb2_session_setup(&msg) {
        Parsed::Done {
            value: Some(s),
            consumed,
        } => {
            assert!(s.request);
            assert_eq!(s.ntlmssp.unwrap().host, "WS-07");
            assert_eq!(consumed, msg.len());
        }
        other => panic!("{other:?}"),
    }
    for cut in 0..msg.len() {
        assert!(
            matches!(
                parse_smb2_session_setup(&msg[..cut]),
                Parsed::NeedMore { .. }
            ),
            "cut {cut}"
        );
    }
    // A NetBIOS keep-alive before it is skipped.
    let mut ka = vec![0x85, 0, 0, 0];
    ka.extend(&msg);
    assert_eq!(
        parse_smb2_session_setup(&ka),
        Parsed::Done {
            value: None,
            consumed: 4
        }
    );
    assert!(matches!(
        parse_smb2_session_setup(&ka[4..]),
        Parsed::Done { value: Some(_), .. }
    ));
    // Not SMB: rejected at once.
    assert!(matches!(
        parse_smb2_session_setup(b"\0\0\0\x10GET "),
        Parsed::Malformed(_)
    ));
    // Another SMB2 command: complete, nothing in it.
    let mut other = msg.clone();
    other[4 + 12] = 5;
    assert!(matches!(
        parse_smb2_session_setup(&other),
        Parsed::Done { value: None, .. }
    ));
}

#[test]
fn never_panics_on_garbage() {
    let a = authenticate("CORP", "bob", "WS", true);
    let smb = smb2_session_setup(&a);
    for seed in [a.clone(), smb, spnego(&a)] {
        garbage(&seed, 3000, |b| {
            let _ = parse_authenticate(b);
            let _ = find_authenticate(b);
            let _ = parse_smb2_session_setup(b);
            let _ = from_http_request(b);
        });
    }
}

#[test]
fn a_bad_authenticate_is_told_apart_from_none_and_from_a_good_one() {
    let good = authenticate("CORP", "alice", "WS1", true);
    let mut framed = b"smb2 header".to_vec();
    framed.extend_from_slice(&good);
    assert!(!bad_authenticate(&framed));
    assert!(!bad_authenticate(b"no ntlmssp here at all"));
    // a NEGOTIATE (type 1) is not an AUTHENTICATE, good or bad
    assert!(!bad_authenticate(b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2"));
    // cut inside the fixed part
    assert!(bad_authenticate(&good[..40]));
    // the user field pointing past the end
    let mut far = good.clone();
    far[36 + 4..36 + 8].copy_from_slice(&0xffffu32.to_le_bytes());
    assert!(bad_authenticate(&far));
}
