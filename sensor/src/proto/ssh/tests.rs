use super::*;

fn kexinit_packet(lists: &[&str; 10]) -> Vec<u8> {
    let mut payload = vec![SSH_MSG_KEXINIT];
    payload.extend_from_slice(&[0x5a; 16]);
    for l in lists {
        payload.extend_from_slice(&(l.len() as u32).to_be_bytes());
        payload.extend_from_slice(l.as_bytes());
    }
    payload.push(0);
    payload.extend_from_slice(&[0, 0, 0, 0]);
    // Block size 8: 4 + 1 + payload + padding ≡ 0 (mod 8), padding ≥ 4.
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let plen = 1 + payload.len() + pad;
    let mut pkt = (plen as u32).to_be_bytes().to_vec();
    pkt.push(pad as u8);
    pkt.extend_from_slice(&payload);
    pkt.extend(std::iter::repeat_n(0u8, pad));
    pkt
}

const LISTS: [&str; 10] = [
    "curve25519-sha256,diffie-hellman-group14-sha256",
    "ssh-ed25519,rsa-sha2-512",
    "chacha20-poly1305@openssh.com,aes128-ctr",
    "aes256-ctr",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "none,zlib@openssh.com",
    "none",
    "",
    "",
];

#[test]
fn banner_plain_and_with_comments() {
    let b = parse_banner(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\nrest")
        .done()
        .unwrap();
    assert_eq!(b.proto_version, "2.0");
    assert_eq!(b.software, "OpenSSH_9.6p1");
    assert_eq!(b.comments.as_deref(), Some("Ubuntu-3ubuntu13"));
    assert!(matches!(
        parse_banner(b"SSH-2.0-PuTTY_Release_0.80\n"),
        Parsed::Done { consumed: 27, .. }
    ));
}

#[test]
fn banner_after_preamble_lines() {
    let buf = b"Welcome\r\nauthorized use only\nSSH-1.99-Cisco-1.25\r\n";
    match parse_banner(buf) {
        Parsed::Done { value, consumed } => {
            assert_eq!(value.proto_version, "1.99");
            assert_eq!(value.software, "Cisco-1.25");
            assert_eq!(consumed, buf.len());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn banner_split_truncated_and_too_long() {
    let buf = b"SSH-2.0-OpenSSH_8.9\r\n";
    let half = &buf[..buf.len() / 2];
    assert_eq!(parse_banner(half), Parsed::NeedMore { needed: 1 });
    assert!(matches!(parse_banner(buf), Parsed::Done { .. }));
    for n in 0..buf.len() {
        let _ = probe(&buf[..n]);
        assert!(matches!(parse_banner(&buf[..n]), Parsed::NeedMore { .. }));
    }
    let mut long = b"SSH-2.0-".to_vec();
    long.extend(std::iter::repeat_n(b'a', 300));
    assert!(matches!(parse_banner(&long), Parsed::Malformed(_)));
    long.extend_from_slice(b"\r\n");
    assert!(matches!(parse_banner(&long), Parsed::Malformed(_)));
    assert!(matches!(parse_banner(b"SSH-2.0\r\n"), Parsed::Malformed(_)));
}

#[test]
fn probe_cases() {
    assert_eq!(probe(b""), Probe::NeedMore);
    assert_eq!(probe(b"SS"), Probe::NeedMore);
    assert_eq!(probe(b"SSH-2.0"), Probe::Match);
    assert_eq!(probe(b"GET /"), Probe::NoMatch);
}

#[test]
fn kexinit_and_hassh() {
    let pkt = kexinit_packet(&LISTS);
    let mut buf = pkt.clone();
    buf.extend_from_slice(b"next packet");
    match parse_kexinit(&buf) {
        Parsed::Done { value, consumed } => {
            assert_eq!(consumed, pkt.len());
            assert_eq!(value.cookie, [0x5a; 16]);
            assert_eq!(value.server_host_key_algorithms, LISTS[1]);
            assert!(!value.first_kex_packet_follows);
            let (s, h) = value.hassh();
            assert_eq!(
                s,
                "curve25519-sha256,diffie-hellman-group14-sha256;\
                     chacha20-poly1305@openssh.com,aes128-ctr;hmac-sha2-256;none,zlib@openssh.com"
            );
            // MD5 of that string, computed independently with coreutils' md5sum.
            assert_eq!(h, "c001f560064f07fd2a02d1c93cb2c90f");
            let (s, h) = value.hassh_server();
            assert_eq!(
                s,
                "curve25519-sha256,diffie-hellman-group14-sha256;aes256-ctr;hmac-sha2-512;none"
            );
            assert_eq!(h.len(), 32);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn kexinit_split_and_truncation() {
    let pkt = kexinit_packet(&LISTS);
    let half = &pkt[..pkt.len() / 2];
    assert!(matches!(parse_kexinit(half), Parsed::NeedMore { .. }));
    assert!(matches!(parse_kexinit(&pkt), Parsed::Done { .. }));
    for n in 0..pkt.len() {
        assert!(
            matches!(parse_kexinit(&pkt[..n]), Parsed::NeedMore { .. }),
            "{n}"
        );
    }
    for i in 0..pkt.len() {
        let mut d = pkt.clone();
        d[i] ^= 0x80;
        let _ = parse_kexinit(&d);
    }
    assert!(matches!(
        parse_kexinit(&[0xff, 0xff, 0xff, 0xff, 4]),
        Parsed::Malformed(_)
    ));
}
