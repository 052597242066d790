use super::*;

const REQ: &[u8] = b"POST /upload?x=1 HTTP/1.1\r\nHost: files.example.net\r\n\
user-agent:  curl/8.5.0 \r\nContent-Length: 1048576\r\nProxy-Authorization: Basic Zm9v\r\n\
Upgrade: websocket\r\n\r\nBODY";

#[test]
fn request_head() {
    match parse_request_head(REQ) {
        Parsed::Done { value, consumed } => {
            assert_eq!(consumed, REQ.len() - 4);
            assert_eq!(value.method, "POST");
            assert_eq!(value.uri, "/upload?x=1");
            assert_eq!(value.version, "HTTP/1.1");
            assert_eq!(value.host.as_deref(), Some("files.example.net"));
            assert_eq!(value.user_agent.as_deref(), Some("curl/8.5.0"));
            assert_eq!(value.content_length, Some(1_048_576));
            assert!(value.proxy_authorization);
            assert_eq!(value.upgrade.as_deref(), Some("websocket"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_split_and_truncation() {
    let half = &REQ[..REQ.len() / 2];
    assert!(matches!(parse_request_head(half), Parsed::NeedMore { .. }));
    for n in 0..REQ.len() - 4 {
        let _ = probe(&REQ[..n]);
        assert!(
            matches!(parse_request_head(&REQ[..n]), Parsed::NeedMore { .. }),
            "prefix {n}"
        );
    }
    assert_eq!(
        parse_request_head(b"GET / HTTP/1.1\r\n\r"),
        Parsed::NeedMore { needed: 1 }
    );
}

#[test]
fn rdg_and_limits() {
    let r = parse_request_head(b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n\r\n")
        .done()
        .unwrap();
    assert_eq!(r.method, "RDG_OUT_DATA");
    let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    assert!(matches!(parse_request_head(&long), Parsed::Malformed(_)));
    assert!(matches!(
        parse_request_head(b"FOO / HTTP/1.1\r\n\r\n"),
        Parsed::Malformed(_)
    ));
    assert!(matches!(
        parse_request_head(b"GET /\r\n\r\n"),
        Parsed::Malformed(_)
    ));
}

#[test]
fn probe_cases() {
    assert_eq!(probe(b""), Probe::NeedMore);
    assert_eq!(probe(b"GE"), Probe::NeedMore);
    assert_eq!(probe(b"GET /"), Probe::Match);
    assert_eq!(probe(b"HTTP/1.1 200"), Probe::Match);
    assert_eq!(probe(b"RDG_IN"), Probe::NeedMore);
    assert_eq!(probe(b"SSH-2.0"), Probe::NoMatch);
    assert_eq!(probe(&[0x16, 3, 1]), Probe::NoMatch);
}

#[test]
fn response_head() {
    let resp = b"HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid/6.6\r\nContent-Length: 12\r\n\r\n";
    match parse_response_head(resp) {
        Parsed::Done { value, consumed } => {
            assert_eq!(consumed, resp.len());
            assert_eq!(value.status, 407);
            assert_eq!(value.server.as_deref(), Some("squid/6.6"));
            assert_eq!(value.content_length, Some(12));
        }
        other => panic!("{other:?}"),
    }
    let half = &resp[..resp.len() / 2];
    assert!(matches!(parse_response_head(half), Parsed::NeedMore { .. }));
    for n in 0..resp.len() {
        assert!(matches!(
            parse_response_head(&resp[..n]),
            Parsed::NeedMore { .. }
        ));
    }
    assert!(matches!(
        parse_response_head(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        Parsed::Malformed(_)
    ));
}
