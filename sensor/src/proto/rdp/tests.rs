use super::*;

fn x224(code: u8, var: &[u8]) -> Vec<u8> {
    let len = FIXED + var.len();
    let mut v = vec![3, 0];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(&[(6 + var.len()) as u8, code, 0, 0, 0x12, 0x34, 0]);
    v.extend_from_slice(var);
    v
}

fn neg(t: u8, val: u32) -> Vec<u8> {
    let mut v = vec![t, 0, 8, 0];
    v.extend_from_slice(&val.to_le_bytes());
    v
}

#[test]
fn connection_request_with_cookie_and_neg() {
    let mut var = b"Cookie: mstshash=alice\r\n".to_vec();
    var.extend_from_slice(&neg(1, 0x0b));
    let buf = x224(TPDU_CR, &var);
    assert_eq!(probe(&buf), Probe::Match);
    match parse_connection_request(&buf) {
        Parsed::Done { value, consumed } => {
            assert_eq!(consumed, buf.len());
            assert_eq!(value.cookie.as_deref(), Some("alice"));
            assert_eq!(value.routing_token, None);
            assert_eq!(value.requested_protocols, Some(0x0b));
            assert_eq!(protocol_names(0x0b), vec!["ssl", "hybrid", "hybrid_ex"]);
        }
        other => panic!("{other:?}"),
    }
    let half = &buf[..buf.len() / 2];
    assert!(matches!(
        parse_connection_request(half),
        Parsed::NeedMore { .. }
    ));
    for n in 0..buf.len() {
        let _ = probe(&buf[..n]);
        assert!(matches!(
            parse_connection_request(&buf[..n]),
            Parsed::NeedMore { .. }
        ));
    }
    for i in 0..buf.len() {
        let mut d = buf.clone();
        d[i] ^= 0xff;
        let _ = parse_connection_request(&d);
    }
}

#[test]
fn connection_request_routing_token_and_bare() {
    let buf = x224(TPDU_CR, b"Cookie: msts=3640205228.15629.0000\r\n");
    let r = parse_connection_request(&buf).done().unwrap();
    assert_eq!(r.routing_token.as_deref(), Some("3640205228.15629.0000"));
    assert_eq!(r.cookie, None);
    let bare = parse_connection_request(&x224(TPDU_CR, &[]))
        .done()
        .unwrap();
    assert_eq!(bare.requested_protocols, None);
    assert!(matches!(
        parse_connection_request(&x224(TPDU_CC, &[])),
        Parsed::Malformed(_)
    ));
}

#[test]
fn connection_confirm() {
    let buf = x224(TPDU_CC, &neg(2, 2));
    assert_eq!(probe(&buf), Probe::Match);
    let c = parse_connection_confirm(&buf).done().unwrap();
    assert_eq!(c.selected_protocol, Some(2));
    assert_eq!(protocol_names(2), vec!["hybrid"]);
    let f = parse_connection_confirm(&x224(TPDU_CC, &neg(3, 5)))
        .done()
        .unwrap();
    assert_eq!(f.failure_code, Some(5));
    assert_eq!(f.selected_protocol, None);
    let half = &buf[..buf.len() / 2];
    assert!(matches!(
        parse_connection_confirm(half),
        Parsed::NeedMore { .. }
    ));
    for n in 0..buf.len() {
        assert!(matches!(
            parse_connection_confirm(&buf[..n]),
            Parsed::NeedMore { .. }
        ));
    }
    assert_eq!(protocol_names(0), vec!["rdp"]);
}

#[test]
fn probe_rejects_other() {
    assert_eq!(probe(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    assert_eq!(probe(&[3, 0, 0]), Probe::NeedMore);
    assert_eq!(probe(&[3, 0, 0, 11, 6, 0xf0]), Probe::NoMatch);
}

fn syn(flags: u16, src_ack: u32, synex_ver: Option<u16>) -> Vec<u8> {
    let mut v = src_ack.to_be_bytes().to_vec();
    v.extend_from_slice(&64u16.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    v.extend_from_slice(&1232u16.to_be_bytes());
    v.extend_from_slice(&1232u16.to_be_bytes());
    if let Some(ver) = synex_ver {
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ver.to_be_bytes());
    }
    v.resize(1232, 0);
    v
}

#[test]
fn rdpeudp_syn_and_synack() {
    let s = syn(FLAG_SYN, 0xffff_ffff, None);
    assert_eq!(
        probe_rdpeudp(&s),
        Some(RdpeUdp {
            syn: true,
            synack: false,
            version: 1
        })
    );
    let s2 = syn(FLAG_SYN | FLAG_SYNEX, 0xffff_ffff, Some(2));
    assert_eq!(probe_rdpeudp(&s2).map(|r| r.version), Some(2));
    let sa = syn(FLAG_SYN | FLAG_ACK | FLAG_SYNEX, 0x1234_5678, Some(0x0101));
    assert_eq!(
        probe_rdpeudp(&sa),
        Some(RdpeUdp {
            syn: false,
            synack: true,
            version: 3
        })
    );
    // Not -1 in a client SYN, short datagram, non-zero padding.
    assert_eq!(probe_rdpeudp(&syn(FLAG_SYN, 7, None)), None);
    assert_eq!(probe_rdpeudp(&s[..600]), None);
    let mut bad = s.clone();
    bad[1000] = 1;
    assert_eq!(probe_rdpeudp(&bad), None);
    for n in 0..s.len() {
        let _ = probe_rdpeudp(&s[..n]);
    }
}

#[test]
fn rdg_methods() {
    assert!(is_rdg_http_method("RDG_OUT_DATA"));
    assert!(is_rdg_http_method("RDG_IN_DATA"));
    assert!(!is_rdg_http_method("GET"));
}

#[test]
fn cotp_connection_request_with_tsaps_is_not_rdp() {
    // TPKT + COTP CR as S7comm sends it: TPDU size, src TSAP, dst TSAP parameters.
    let cr = [
        3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2,
    ];
    assert_eq!(probe(&cr), Probe::NoMatch);
}
