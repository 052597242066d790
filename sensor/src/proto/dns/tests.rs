use super::*;

fn name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// A response: question `WWW.Example.COM` A, answers CNAME (compressed) and A.
fn response() -> Vec<u8> {
    let mut m = vec![0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
    m.extend_from_slice(&name("WWW.Example.COM"));
    m.extend_from_slice(&[0, 1, 0, 1]);
    // CNAME: name = pointer to 12; rdata = "cdn" + pointer to "example.com" (16).
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6]);
    m.extend_from_slice(&[3, b'c', b'd', b'n', 0xc0, 16]);
    let cname_at = m.len() - 6;
    m.extend_from_slice(&[
        0xc0,
        cname_at as u8,
        0,
        1,
        0,
        1,
        0,
        0,
        0,
        60,
        0,
        4,
        93,
        184,
        216,
        34,
    ]);
    m.extend_from_slice(&[
        0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, b'a', b'b', b'c',
    ]);
    m
}

#[test]
fn response_with_compression() {
    let m = response();
    let msg = parse(&m).unwrap();
    assert_eq!(msg.id, 0xbeef);
    assert!(msg.is_response);
    assert_eq!(msg.opcode, 0);
    assert_eq!(msg.rcode, 0);
    assert_eq!(msg.questions[0].name, "www.example.com");
    assert_eq!(qtype_name(msg.questions[0].qtype), "A");
    assert_eq!(msg.answers.len(), 3);
    assert_eq!(
        msg.answers[0].data,
        AnswerData::Cname("cdn.example.com".into())
    );
    assert_eq!(msg.answers[0].ttl, 3600);
    assert_eq!(msg.answers[1].name, "cdn.example.com");
    assert_eq!(msg.answers[1].data, AnswerData::A([93, 184, 216, 34]));
    assert_eq!(msg.answers[2].data, AnswerData::Txt { len: 4 });
}

#[test]
fn truncation_and_tcp_split() {
    let m = response();
    for n in 0..m.len() {
        assert!(parse(&m[..n]).is_err(), "prefix {n}");
    }
    let mut tcp = (m.len() as u16).to_be_bytes().to_vec();
    tcp.extend_from_slice(&m);
    let half = &tcp[..tcp.len() / 2];
    assert!(matches!(parse_tcp(half), Parsed::NeedMore { .. }));
    assert!(matches!(parse_tcp(&tcp), Parsed::Done { consumed, .. } if consumed == tcp.len()));
    for n in 0..tcp.len() {
        assert!(matches!(parse_tcp(&tcp[..n]), Parsed::NeedMore { .. }));
    }
    for i in 0..m.len() {
        let mut d = m.clone();
        d[i] ^= 0xc0;
        let _ = parse(&d);
    }
}

#[test]
fn pointer_loops_and_long_names() {
    // Question name is a pointer to itself.
    let m = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
    assert_eq!(parse(&m).unwrap_err(), "too many compression pointers");
    // 5 labels of 63 bytes: 320 > 255.
    let mut q = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for _ in 0..5 {
        q.push(63);
        q.extend(std::iter::repeat_n(b'a', 63));
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(parse(&q).unwrap_err(), "name longer than 255");
}

#[test]
fn helpers() {
    assert_eq!(max_label_len("abc.defgh.i"), 5);
    assert_eq!(max_label_len(""), 0);
    assert_eq!(label_entropy("aaaa"), 0.0);
    assert!((label_entropy("abcd") - 2.0).abs() < 1e-6);
    assert_eq!(label_entropy(""), 0.0);
    assert_eq!(qtype_name(65), "HTTPS");
}

#[test]
fn plausible_header_keeps_cut_messages_and_drops_raw_datagrams() {
    // a response cut after its header and part of the question (snap length) is still DNS
    let r = response();
    assert!(parse(&r[..20]).is_err());
    assert!(plausible_header(&r[..20]));
    assert!(plausible_header(&r));
    // iodine's raw UDP mode: `10 d1 9e` then the command byte (opcode 3, unassigned)
    let raw = [
        0x10, 0xd1, 0x9e, 0x20, 0x78, 0xda, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    ];
    assert!(!plausible_header(&raw));
    // an assigned opcode but thousands of questions; too short for a header
    assert!(!plausible_header(&[
        0, 1, 0x01, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0
    ]));
    assert!(!plausible_header(&r[..11]));
    // two questions (a malformed answer, not a tunnel) still count as DNS
    assert!(plausible_header(&[
        0x84, 0xb4, 0x81, 0, 0, 2, 0, 2, 0, 0, 0, 0
    ]));
}
