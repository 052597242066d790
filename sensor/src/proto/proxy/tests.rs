use super::proxy_protocol::PP2_SIG;
use super::*;
use crate::proto::rmm::samples::negatives;
use crate::proto::Parsed;

fn not_done<T: std::fmt::Debug>(p: &Parsed<T>) -> bool {
    matches!(p, Parsed::NeedMore { .. } | Parsed::Malformed(_))
}

/// Every prefix gives NeedMore (never Done, never a panic), and the whole gives Done.
fn prefixes_need_more<T: std::fmt::Debug>(msg: &[u8], f: fn(&[u8]) -> Parsed<T>) {
    for i in 0..msg.len() {
        let r = f(&msg[..i]);
        assert!(
            matches!(r, Parsed::NeedMore { .. }),
            "prefix {i} of {msg:02x?}: {r:?}"
        );
    }
    assert!(matches!(f(msg), Parsed::Done { .. }));
}

#[test]
fn socks4_and_4a() {
    let m = [4, 1, 0x01, 0xbb, 93, 184, 216, 34, b'b', b'o', b'b', 0];
    assert_eq!(
        parse_socks4(&m),
        Parsed::Done {
            value: SocksRequest {
                version: 4,
                command: 1,
                host: "93.184.216.34".into(),
                port: 443
            },
            consumed: 12
        }
    );
    prefixes_need_more(&m, parse_socks4);
    let mut a = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
    a.extend_from_slice(b"example.com\0");
    a.extend_from_slice(b"GET / HTTP/1.1\r\n"); // tunnelled bytes after it
    let Parsed::Done { value, consumed } = parse_socks4(&a) else {
        panic!()
    };
    assert_eq!(value.host, "example.com");
    assert_eq!(consumed, 21);
    prefixes_need_more(&a[..21], parse_socks4);
    assert!(matches!(
        parse_socks4(&[4, 3, 0, 80, 1, 2, 3, 4, 0]),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse_socks4(&[4, 1, 0, 0, 1, 2, 3, 4, 0]),
        Parsed::Malformed(_)
    ));
}

#[test]
fn socks5() {
    let g = [5, 2, 0, 2];
    assert_eq!(
        parse_socks5_greeting(&g),
        Parsed::Done {
            value: vec![0, 2],
            consumed: 4
        }
    );
    prefixes_need_more(&g, parse_socks5_greeting);
    assert!(matches!(
        parse_socks5_greeting(&[5, 0]),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse_socks5_greeting(&[5, 1, 0xff]),
        Parsed::Malformed(_)
    ));

    let mut r = vec![5, 1, 0, 3, 11];
    r.extend_from_slice(b"example.com");
    r.extend_from_slice(&[0x01, 0xbb]);
    assert_eq!(
        parse_socks5_request(&r).done(),
        Some(SocksRequest {
            version: 5,
            command: 1,
            host: "example.com".into(),
            port: 443
        })
    );
    prefixes_need_more(&r, parse_socks5_request);
    let r4 = [5, 1, 0, 1, 10, 0, 0, 1, 0, 22];
    assert_eq!(parse_socks5_request(&r4).done().unwrap().host, "10.0.0.1");
    let mut r6 = vec![5, 3, 0, 4];
    r6.extend_from_slice(&[0u8; 15]);
    r6.push(1);
    r6.extend_from_slice(&[0, 53]);
    assert_eq!(parse_socks5_request(&r6).done().unwrap().host, "::1");
    // Split buffer: feed in two pieces, the first asks for more.
    let (a, _) = r.split_at(7);
    assert!(matches!(parse_socks5_request(a), Parsed::NeedMore { .. }));
    assert!(matches!(
        parse_socks5_request(&[5, 1, 1, 1]),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse_socks5_request(&[5, 1, 0, 2]),
        Parsed::Malformed(_)
    ));

    let rep = [5, 0, 0, 1, 192, 0, 2, 1, 0x10, 0x00];
    assert_eq!(
        parse_socks5_reply(&rep).done(),
        Some(SocksReply {
            reply: 0,
            host: "192.0.2.1".into(),
            port: 4096
        })
    );
    prefixes_need_more(&rep, parse_socks5_reply);
    assert!(matches!(
        parse_socks5_reply(&[5, 9, 0, 1]),
        Parsed::Malformed(_)
    ));
}

#[test]
fn http_connect() {
    let m = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";
    let Parsed::Done { value, consumed } = parse_http_connect(m) else {
        panic!()
    };
    assert_eq!(value.host, "example.com");
    assert_eq!(value.port, 443);
    assert_eq!(&m[consumed..], b"\x16\x03\x01");
    prefixes_need_more(&m[..consumed], parse_http_connect);
    let v6 = b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n";
    assert_eq!(parse_http_connect(v6).done().unwrap().host, "2001:db8::1");
    for bad in [
        &b"CONNECT example.com HTTP/1.1\r\n\r\n"[..],
        b"CONNECT example.com:0 HTTP/1.1\r\n\r\n",
        b"CONNECT example.com:443 HTTP/2\r\n\r\n",
        b"CONNECT http://example.com/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        assert!(
            matches!(parse_http_connect(bad), Parsed::Malformed(_)),
            "{bad:?}"
        );
    }
    // Split: the head arrives in two segments.
    let (a, b) = m.split_at(20);
    assert!(matches!(parse_http_connect(a), Parsed::NeedMore { .. }));
    let mut joined = a.to_vec();
    joined.extend_from_slice(b);
    assert!(parse_http_connect(&joined).done().is_some());

    let resp = b"HTTP/1.1 200 Connection established\r\n\r\n";
    assert_eq!(parse_connect_response(resp).done(), Some(200));
    prefixes_need_more(resp, parse_connect_response);
    assert_eq!(
        parse_connect_response(b"HTTP/1.0 407 Proxy Authentication Required\r\nX: y\r\n\r\n")
            .done(),
        Some(407)
    );
    assert!(matches!(
        parse_connect_response(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        Parsed::Malformed(_)
    ));
}

#[test]
fn absolute_form() {
    assert_eq!(
        is_absolute_form_proxy_request(b"GET http://example.com/a?b HTTP/1.1\r\nHost: x\r\n"),
        Some(("GET", "example.com"))
    );
    assert_eq!(
        is_absolute_form_proxy_request(b"POST http://user:pw@10.0.0.1:8080 HTTP/1.0\r\n"),
        Some(("POST", "10.0.0.1:8080"))
    );
    assert_eq!(is_absolute_form_proxy_request(b"GET / HTTP/1.1\r\n"), None);
    assert_eq!(
        is_absolute_form_proxy_request(b"GET http://example.com/ HTTP/1.1"),
        None
    );
    assert_eq!(
        is_absolute_form_proxy_request(b"FOO http://example.com/ HTTP/1.1\r\n"),
        None
    );
}

#[test]
fn proxy_protocol() {
    let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /";
    let Parsed::Done { value, consumed } = parse_proxy_protocol(v1) else {
        panic!()
    };
    assert_eq!(value.version, 1);
    assert_eq!(value.source, Some("192.0.2.1:56324".parse().unwrap()));
    assert_eq!(value.destination, Some("198.51.100.2:443".parse().unwrap()));
    assert_eq!(&v1[consumed..], b"GET /");
    prefixes_need_more(&v1[..consumed], parse_proxy_protocol);
    let v1u = b"PROXY UNKNOWN\r\n";
    assert_eq!(
        parse_proxy_protocol(v1u).done().unwrap().transport,
        ProxyTransport::Unknown
    );
    assert!(matches!(
        parse_proxy_protocol(b"PROXY TCP4 1.2.3.4 5.6.7.8 012 80\r\n"),
        Parsed::Malformed(_)
    ));

    let mut v2 = PP2_SIG.to_vec();
    v2.extend_from_slice(&[0x21, 0x11, 0, 12]);
    v2.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0x01, 0xbb]);
    let h = parse_proxy_protocol(&v2).done().unwrap();
    assert_eq!(h.version, 2);
    assert!(!h.local);
    assert_eq!(h.transport, ProxyTransport::Tcp);
    assert_eq!(h.source, Some("10.0.0.1:12345".parse().unwrap()));
    assert_eq!(h.destination, Some("10.0.0.2:443".parse().unwrap()));
    prefixes_need_more(&v2, parse_proxy_protocol);
    let mut bad = v2.clone();
    bad[12] = 0x31;
    assert!(matches!(parse_proxy_protocol(&bad), Parsed::Malformed(_)));
}

#[test]
fn mutations_never_panic() {
    use crate::proto::rmm::samples::mutations;
    let mut v2 = PP2_SIG.to_vec();
    v2.extend_from_slice(&[0x21, 0x21, 0, 36]);
    v2.extend_from_slice(&[1; 36]);
    for p in [
        b"\x04\x01\x00\x50\x00\x00\x00\x01u\x00example.com\x00".to_vec(),
        b"\x05\x01\x00\x03\x0bexample.com\x01\xbb".to_vec(),
        b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
        b"GET http://a@example.com:80/x HTTP/1.1\r\n".to_vec(),
        b"PROXY TCP6 ::1 ::2 1 2\r\n".to_vec(),
        v2,
    ] {
        for m in mutations(&p) {
            let _ = (parse_socks4(&m), parse_socks5_greeting(&m));
            let _ = (parse_socks5_request(&m), parse_socks5_reply(&m));
            let _ = (parse_http_connect(&m), parse_connect_response(&m));
            let _ = (is_absolute_form_proxy_request(&m), parse_proxy_protocol(&m));
        }
    }
}

#[test]
fn negatives_never_done() {
    for n in negatives() {
        assert!(
            not_done(&parse_socks4(&n)) || n.first() == Some(&4),
            "{n:02x?}"
        );
        assert!(not_done(&parse_http_connect(&n)));
        assert!(not_done(&parse_connect_response(&n)));
        assert!(not_done(&parse_proxy_protocol(&n)));
        assert!(is_absolute_form_proxy_request(&n).is_none());
        if n.first() != Some(&5) {
            assert!(not_done(&parse_socks5_greeting(&n)));
            assert!(not_done(&parse_socks5_request(&n)));
            assert!(not_done(&parse_socks5_reply(&n)));
        }
    }
    // The fixed negatives are refused outright.
    use crate::proto::rmm::samples::{DNS_QUERY, HTTP_GET, TLS_CLIENT_HELLO};
    for n in [TLS_CLIENT_HELLO, HTTP_GET, DNS_QUERY] {
        assert!(matches!(parse_socks4(n), Parsed::Malformed(_)));
        assert!(matches!(parse_socks5_greeting(n), Parsed::Malformed(_)));
        assert!(matches!(parse_socks5_request(n), Parsed::Malformed(_)));
        assert!(matches!(parse_http_connect(n), Parsed::Malformed(_)));
        assert!(matches!(parse_proxy_protocol(n), Parsed::Malformed(_)));
    }
}
