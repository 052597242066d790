use super::*;

#[test]
fn version_parse_split_truncation() {
    let buf = b"RFB 003.008\n";
    assert_eq!(
        parse_version(buf),
        Parsed::Done {
            value: (3, 8),
            consumed: 12
        }
    );
    assert_eq!(parse_version(&buf[..6]), Parsed::NeedMore { needed: 6 });
    for n in 0..buf.len() {
        assert_eq!(probe(&buf[..n]), Probe::NeedMore);
        assert!(matches!(parse_version(&buf[..n]), Parsed::NeedMore { .. }));
    }
    assert_eq!(parse_version(b"RFB 003.889\n").done(), Some((3, 889)));
    assert!(matches!(
        parse_version(b"RFB 003.00x\n"),
        Parsed::Malformed(_)
    ));
    assert_eq!(probe(b"SSH-2.0-x"), Probe::NoMatch);
}

#[test]
fn security_types_37_and_33() {
    let buf = [3u8, 1, 2, 30];
    assert_eq!(
        parse_security_types(&buf, (3, 8)),
        Parsed::Done {
            value: vec![1, 2, 30],
            consumed: 4
        }
    );
    assert!(matches!(
        parse_security_types(&buf[..2], (3, 8)),
        Parsed::NeedMore { needed: 2 }
    ));
    for n in 0..buf.len() {
        assert!(matches!(
            parse_security_types(&buf[..n], (3, 8)),
            Parsed::NeedMore { .. }
        ));
    }
    let v33 = [0u8, 0, 0, 2];
    assert_eq!(parse_security_types(&v33, (3, 3)).done(), Some(vec![2]));
    assert!(matches!(
        parse_security_types(&v33[..2], (3, 3)),
        Parsed::NeedMore { needed: 2 }
    ));
    let mut fail = vec![0u8, 0, 0, 0, 4];
    fail.extend_from_slice(b"nope");
    assert_eq!(
        parse_security_types(&fail, (3, 8)),
        Parsed::Done {
            value: vec![],
            consumed: 9
        }
    );
    for n in 0..fail.len() {
        assert!(matches!(
            parse_security_types(&fail[..n], (3, 8)),
            Parsed::NeedMore { .. }
        ));
        let _ = parse_security_types(&fail[..n], (3, 3));
    }
    assert!(matches!(
        parse_security_types(&[0, 0, 1, 0], (3, 3)),
        Parsed::Malformed(_)
    ));
}

#[test]
fn choice_and_names() {
    assert_eq!(parse_security_choice(&[]), Parsed::NeedMore { needed: 1 });
    assert_eq!(parse_security_choice(&[2, 9]).done(), Some(2));
    assert_eq!(security_type_name(2), "VNC");
    assert_eq!(security_type_name(30), "Apple ARD");
    assert_eq!(security_type_name(19), "VeNCrypt");
    assert_eq!(security_type_name(99), "Unknown");
}
