use super::*;

fn masked(op: u8, data: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0x80 | op];
    if data.len() < 126 {
        f.push(0x80 | data.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(data.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend(data.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[test]
fn upgrade_answer_is_recognised() {
    let r =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    assert_eq!(
        upgrade_response(r),
        Parsed::Done {
            value: (r.len(), false),
            consumed: r.len()
        }
    );
    let d = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    assert!(matches!(
        upgrade_response(d),
        Parsed::Done {
            value: (_, true),
            ..
        }
    ));
    let h2c = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
    assert!(matches!(upgrade_response(h2c), Parsed::Malformed(_)));
    for i in 0..r.len() {
        assert!(
            matches!(upgrade_response(&r[..i]), Parsed::NeedMore { .. }),
            "{i}"
        );
    }
}

#[test]
fn frames_are_unmasked_and_joined() {
    let banner = b"SSH-2.0-OpenSSH_9.2\r\n";
    let mut s = masked(2, &banner[..5], [1, 2, 3, 4]);
    s.extend(masked(9, b"ping", [9, 9, 9, 9])); // a control frame in between
    s.extend(masked(0, &banner[5..], [0xa0, 0xb0, 0xc0, 0xd0]));
    let (p, bin) = payload(&s);
    assert_eq!(p, banner);
    assert!(bin);
    // unmasked (server) frames, 16-bit length
    let big = vec![0x42u8; 300];
    let mut f = vec![0x82, 126];
    f.extend_from_slice(&300u16.to_be_bytes());
    f.extend_from_slice(&big);
    assert_eq!(payload(&f).0, big);
    // every cut of a frame header says NeedMore, and payload() never panics on one
    let m = masked(2, &big, [5, 6, 7, 8]);
    for i in 0..8 {
        assert!(matches!(frame(&m[..i]), Parsed::NeedMore { .. }), "{i}");
        let _ = payload(&m[..i]);
    }
    assert!(matches!(frame(&[0x83, 0]), Parsed::Malformed(_)));
}
