use super::*;

#[test]
fn the_papers_exemptions() {
    // random bytes pass
    let r = spanwatch_testkit::noise(300, 7);
    assert!(fully_encrypted(&r));
    // 1: too few or too many bits set
    assert_eq!(exemption(&[0u8; 100]), Some("popcount"));
    assert_eq!(exemption(&[0xffu8; 100]), Some("popcount"));
    // 2: six printable bytes first
    let mut p = b"GET / ".to_vec();
    p.extend_from_slice(&r);
    assert_eq!(exemption(&p), Some("printable-prefix"));
    // 3: more than half printable
    let mixed: Vec<u8> = r
        .iter()
        .enumerate()
        .map(|(i, b)| if i % 3 == 0 { *b | 0x80 } else { b'a' + b % 26 })
        .collect();
    assert_eq!(exemption(&mixed), Some("printable-fraction"));
    // 4: a printable run of 21
    let mut q = vec![0x80u8, 0x81, 0x82, 0x83, 0x84, 0x85];
    q.extend_from_slice(&r[..100]);
    q.extend_from_slice(b"abcdefghijklmnopqrstuvwxyz");
    q.extend_from_slice(&r[100..200]);
    let q: Vec<u8> = q
        .iter()
        .map(|b| {
            if printable(*b) && *b > b'z' {
                b ^ 0x80
            } else {
                *b
            }
        })
        .collect();
    assert!(matches!(
        exemption(&q),
        Some("printable-run") | Some("printable-fraction")
    ));
}

#[test]
fn both_sides_and_size_are_required() {
    let c = spanwatch_testkit::noise(301, 1);
    let s = spanwatch_testkit::noise(900, 2);
    let (conf, _) = judge(&c, &s).expect("fully encrypted both ways");
    assert!(conf >= 80, "{conf}");
    assert!(judge(&c[..40], &s).is_none(), "too short");
    assert!(judge(&c, b"HTTP/1.1 400 Bad Request\r\n\r\n").is_none());
    assert!(judge(&c, &[]).is_none());
}

#[test]
fn structured_openings_are_exempt() {
    let r = spanwatch_testkit::noise(200, 3);
    let s = spanwatch_testkit::noise(200, 4);
    assert_eq!(framed(&r, &s), None);
    // a TLS record caught mid-session
    let mut t = vec![0x17, 3, 3, 0, 195];
    t.extend_from_slice(&r[..195]);
    assert_eq!(framed(&t, &s), Some("tls-record"));
    // a 16-bit length counting the rest of the packet
    let mut l = 198u16.to_be_bytes().to_vec();
    l.extend_from_slice(&r[..198]);
    let mut ls = 198u16.to_le_bytes().to_vec();
    ls.extend_from_slice(&s[..198]);
    assert_eq!(framed(&l, &ls), Some("length-prefix"));
    // one side alone is chance (a random salt may start with its packet's length)
    assert_eq!(framed(&l, &s), None);
    // header zeros, and a magic both sides share
    let mut z = r.clone();
    z[2] = 0;
    z[5] = 0;
    assert_eq!(framed(&z, &s), Some("zero-header"));
    let mut m = s.clone();
    m[..2].copy_from_slice(&r[..2]);
    assert_eq!(framed(&r, &m), Some("shared-prefix"));
    assert!(judge(&z, &s).is_none());
}
