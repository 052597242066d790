use super::stun::STUN_MAGIC;
use super::*;
use crate::proto::rmm::samples::{negatives, DNS_QUERY, HTTP_GET, TLS_CLIENT_HELLO};

fn stun_binding(software: &[u8]) -> Vec<u8> {
    let mut attrs = Vec::new();
    attrs.extend_from_slice(&0x8022u16.to_be_bytes());
    attrs.extend_from_slice(&(software.len() as u16).to_be_bytes());
    attrs.extend_from_slice(software);
    while attrs.len() % 4 != 0 {
        attrs.push(0);
    }
    attrs.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'u', b's', b'e', b'r']);
    attrs.extend_from_slice(&[0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4]);
    let mut v = vec![0x00, 0x01];
    v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    v.extend_from_slice(&STUN_MAGIC.to_be_bytes());
    v.extend_from_slice(&[7; 12]);
    v.extend(attrs);
    v
}

fn rtp(pt: u8) -> Vec<u8> {
    let mut v = vec![0x80, pt, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef];
    v.extend_from_slice(&[0x55; 160]);
    v
}

fn rtcp_rr() -> Vec<u8> {
    // RR with one report block: 1 + 6 words after the first.
    let mut v = vec![0x81, 201, 0, 7, 0xde, 0xad, 0xbe, 0xef];
    v.extend_from_slice(&[0; 24]);
    v
}

fn dtls_client_hello() -> Vec<u8> {
    let mut v = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12];
    v.extend_from_slice(&[1, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8]);
    v
}

/// A DTLS 1.2 ClientHello with the given extensions (type, data).
fn dtls_hello(exts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![0xfe, 0xfd];
    body.extend_from_slice(&[9; 32]); // random
    body.push(0); // session id
    body.push(0); // cookie
    body.extend_from_slice(&[0, 2, 0xc0, 0x2b]); // one suite
    body.extend_from_slice(&[1, 0]); // null compression
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&(d.len() as u16).to_be_bytes());
        e.extend_from_slice(d);
    }
    body.extend_from_slice(&(e.len() as u16).to_be_bytes());
    body.extend(e);
    let l = body.len() as u32;
    let mut hs = vec![1, (l >> 16) as u8, (l >> 8) as u8, l as u8, 0, 0, 0, 0, 0];
    hs.extend_from_slice(&[(l >> 16) as u8, (l >> 8) as u8, l as u8]);
    hs.extend(body);
    let mut v = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    v.extend(hs);
    v
}

#[test]
fn dtls_srtp_or_not() {
    let webrtc = dtls_hello(&[(10, &[0, 2, 0, 29]), (14, &[0, 2, 0, 1, 0])]);
    let vpn = dtls_hello(&[(10, &[0, 2, 0, 29]), (0xff01, &[0])]);
    assert!(dtls_use_srtp(&webrtc));
    assert!(!dtls_use_srtp(&vpn));
    for i in 0..webrtc.len() {
        assert!(!dtls_use_srtp(&webrtc[..i]), "{i}");
    }
    // a VPN data channel: handshake, then application data only
    let mut app = vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0, 100];
    app.extend_from_slice(&[0x42; 100]);
    let mut m = DtlsMedia::default();
    m.observe(&vpn);
    for _ in 0..200 {
        m.observe(&app);
    }
    assert!(!m.is_media());
    // use_srtp in the hello, or STUN beside, or SRTP after the handshake
    let mut m = DtlsMedia::default();
    m.observe(&webrtc);
    assert!(m.is_media());
    let mut m = DtlsMedia::default();
    m.observe(&vpn);
    m.observe(&stun_binding(b"x"));
    assert!(m.is_media());
    let mut m = DtlsMedia::default();
    m.observe(&vpn);
    for _ in 0..3 {
        assert!(!m.is_media());
        m.observe(&rtp(111));
    }
    assert!(m.is_media());
}

#[test]
fn stun() {
    let m = stun_binding(b"Microsoft-Teams");
    let s = probe_stun(&m).unwrap();
    assert_eq!(s.class, StunClass::Request);
    assert_eq!(s.method, 1);
    assert!(s.has_magic_cookie);
    assert_eq!(s.software, Some("Microsoft-Teams"));
    assert!(s.has_username && s.has_fingerprint && !s.has_realm);
    // Success response class bits.
    let mut r = m.clone();
    r[0] = 0x01;
    assert_eq!(probe_stun(&r).unwrap().class, StunClass::SuccessResponse);
    // Classic RFC 3489: no cookie, empty body.
    let mut c = vec![0x00, 0x01, 0x00, 0x00];
    c.extend_from_slice(&[9; 16]);
    assert!(!probe_stun(&c).unwrap().has_magic_cookie);
    // Classic with an unknown type is refused; so are length and padding errors.
    c[1] = 0x03;
    assert!(probe_stun(&c).is_none());
    let mut bad = m.clone();
    bad.push(0);
    assert!(probe_stun(&bad).is_none());
    let mut bad = m.clone();
    bad[22] = 0x01; // SOFTWARE length 0x010f overruns the message
    assert!(probe_stun(&bad).is_none());
}

#[test]
fn turn_channel() {
    let mut v = vec![0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5];
    assert_eq!(probe_turn_channel(&v), Some(0x4001));
    v.extend_from_slice(&[0, 0, 0]);
    assert_eq!(probe_turn_channel(&v), Some(0x4001));
    v.push(0);
    assert_eq!(probe_turn_channel(&v), None);
    assert_eq!(probe_turn_channel(&[0x80, 0x01, 0x00, 0x01, 9]), None);
}

#[test]
fn rtp_rtcp() {
    let r = probe_rtp(&rtp(111)).unwrap();
    assert_eq!((r.pt, r.seq, r.ssrc), (111, 0x1234, 0xdead_beef));
    assert!(probe_rtp(&rtp(72)).is_none());
    assert!(probe_rtp(&rtp(50)).is_none());
    let mut ext = rtp(0);
    ext[0] = 0x90;
    ext[12..16].copy_from_slice(&[0xbe, 0xde, 0x00, 0x01]);
    assert!(probe_rtp(&ext).is_some());
    ext[14..16].copy_from_slice(&[0xff, 0xff]);
    assert!(probe_rtp(&ext).is_none());
    let c = probe_rtcp(&rtcp_rr()).unwrap();
    assert_eq!((c.pt, c.ssrc), (201, 0xdead_beef));
    let mut short = rtcp_rr();
    short[3] = 3; // too short for one report block
    assert!(probe_rtcp(&short).is_none());
    assert!(probe_rtcp(&rtcp_rr()[..20]).is_none());
}

#[test]
fn dtls() {
    assert_eq!(
        probe_dtls(&dtls_client_hello()),
        Some(Dtls {
            content_type: 22,
            version: 0xfefd
        })
    );
    let mut app = dtls_client_hello();
    app[0] = 23;
    assert!(probe_dtls(&app).is_none()); // epoch 0
    app[4] = 1;
    assert!(probe_dtls(&app).is_some());
    let mut bad = dtls_client_hello();
    bad[2] = 0xfc;
    assert!(probe_dtls(&bad).is_none());
}

#[test]
fn zoom() {
    // SFU type 5, direction 0, media type 15 (audio), RTP 19 bytes into the media header.
    let mut v = vec![0x05, 0x00, 0x01, 0, 0, 0, 0, 0x00];
    let mut media = vec![15u8];
    media.extend_from_slice(&[0; 18]);
    media.extend(rtp(112));
    v.extend(media);
    assert!(probe_zoom(&v));
    // Media type 33 (RTCP), RTCP 16 bytes into the media header.
    let mut c = vec![0x05, 0x00, 0x02, 0, 0, 0, 0, 0x04, 33];
    c.extend_from_slice(&[0; 15]);
    c.extend(rtcp_rr());
    assert!(probe_zoom(&c));
    c[8] = 34;
    assert!(probe_zoom(&c));
    c[8] = 14; // not a media type
    assert!(!probe_zoom(&c));
    v[7] = 1; // bad direction
    assert!(!probe_zoom(&v));
    // P2P form.
    let mut p = vec![0x1f, 0x02, 0x01];
    p.extend_from_slice(&[0; 21]);
    let ip = b"10.0.0.1";
    p.extend_from_slice(&(ip.len() as u32).to_be_bytes());
    p.extend_from_slice(ip);
    let uuid = b"0123456789abcdef";
    p.extend_from_slice(&(uuid.len() as u32).to_be_bytes());
    p.extend_from_slice(uuid);
    p.extend_from_slice(&[0, 0, 0, 0]);
    assert!(probe_zoom(&p));
    p.insert(40, 0);
    assert!(!probe_zoom(&p));
}

#[test]
fn negatives_never_match() {
    for n in [TLS_CLIENT_HELLO, HTTP_GET, DNS_QUERY] {
        assert!(probe_stun(n).is_none());
        assert!(probe_turn_channel(n).is_none());
        assert!(probe_rtp(n).is_none());
        assert!(probe_rtcp(n).is_none());
        assert!(probe_dtls(n).is_none());
        assert!(!probe_zoom(n));
    }
    for n in negatives() {
        assert!(probe_stun(&n).is_none(), "{n:02x?}");
        assert!(probe_dtls(&n).is_none(), "{n:02x?}");
        assert!(!probe_zoom(&n), "{n:02x?}");
        // RTP/RTCP/ChannelData are single-packet-weak by nature (see module docs);
        // they must simply not panic on anything.
        let _ = (probe_rtp(&n), probe_rtcp(&n), probe_turn_channel(&n));
    }
}

#[test]
fn mutations_never_panic() {
    use crate::proto::rmm::samples::mutations;
    let mut zoom = vec![0x05, 0x00, 0x01, 0, 0, 0, 0, 0x00, 33];
    zoom.extend_from_slice(&[0; 15]);
    zoom.extend(rtcp_rr());
    for p in [
        stun_binding(b"abc"),
        rtp(96),
        rtcp_rr(),
        dtls_client_hello(),
        zoom,
    ] {
        for m in mutations(&p) {
            let _ = (probe_stun(&m), probe_turn_channel(&m), probe_rtp(&m));
            let _ = (probe_rtcp(&m), probe_dtls(&m), probe_zoom(&m));
        }
    }
}

#[test]
fn truncation() {
    for p in [
        stun_binding(b"x"),
        rtp(0),
        rtcp_rr(),
        dtls_client_hello(),
        vec![0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5],
    ] {
        for i in 0..p.len() {
            let pre = &p[..i];
            assert!(probe_stun(pre).is_none());
            let _ = probe_rtp(pre);
            let _ = probe_rtcp(pre);
            let _ = probe_dtls(pre);
            let _ = probe_turn_channel(pre);
            let _ = probe_zoom(pre);
        }
    }
    for p in [stun_binding(b"x"), dtls_client_hello(), rtcp_rr()] {
        for i in 0..p.len() {
            assert!(probe_dtls(&p[..i]).is_none());
            assert!(probe_rtcp(&p[..i]).is_none());
        }
    }
}
