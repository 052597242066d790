use super::*;
use crate::proto::rmm::samples::negatives;

#[test]
fn positives() {
    assert_eq!(probe_citrix(b"\x7f\x7fICA\x00"), Some(Citrix::Ica));
    assert_eq!(
        probe_citrix(b"\x7f\x7fICA\x00\x7f\x7fICA\x00"),
        Some(Citrix::Ica)
    );
    assert_eq!(probe_citrix(b"\x07\x07ICA\x00"), Some(Citrix::Ica));
    assert_eq!(probe_citrix(b"\x1aCGP/01\x00\x00\x01"), Some(Citrix::Cgp));
    assert_eq!(probe_tcp(b"\x1aCGP/01"), Some(Vdi::Citrix(Citrix::Cgp)));
    assert_eq!(Vdi::Citrix(Citrix::Ica).id(), "citrix");
}

#[test]
fn near_misses() {
    assert_eq!(probe_citrix(b"\x7f\x7fICA\x01"), None);
    assert_eq!(probe_citrix(b"\x7f\x7fICA\x00junk"), None);
    assert_eq!(probe_citrix(b"\x1aCGP/02"), None);
}

#[test]
fn negatives_never_match() {
    for n in negatives() {
        assert_eq!(probe_tcp(&n), None, "{n:02x?}");
    }
}

#[test]
fn truncation() {
    for p in [&b"\x7f\x7fICA\x00"[..], &b"\x1aCGP/01"[..]] {
        for i in 0..p.len() {
            assert_eq!(probe_citrix(&p[..i]), None);
        }
    }
}

/// A PCoIP datagram: transport header, ESP SPI and sequence, then `n` bytes of ciphertext.
fn pcoip(spi: u32, seq: u32, n: usize) -> Vec<u8> {
    let mut v = vec![0x80, 0x00, 0x00, 0x01];
    v.extend_from_slice(&spi.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend((0..n).map(|i| (i * 37 + 11) as u8));
    v
}

#[test]
fn pcoip_session_data() {
    use horizon::probe_pcoip_udp;
    assert_eq!(
        probe_pcoip_udp(&pcoip(0x1234_5678, 1, 64)),
        Some(0x1234_5678)
    );
    assert_eq!(
        probe_pcoip_udp(&pcoip(0x1234_5678, 4000, 900)),
        Some(0x1234_5678)
    );
    // reserved SPIs, sequence 0, a late sequence, too short: not PCoIP's layout
    assert_eq!(probe_pcoip_udp(&pcoip(0, 1, 64)), None);
    assert_eq!(probe_pcoip_udp(&pcoip(200, 1, 64)), None);
    assert_eq!(probe_pcoip_udp(&pcoip(0x1234_5678, 0, 64)), None);
    assert_eq!(probe_pcoip_udp(&pcoip(0x1234_5678, 0x0200_0000, 64)), None);
    assert_eq!(probe_pcoip_udp(&pcoip(0x1234_5678, 1, 10)), None);
    for n in 0..36 {
        assert_eq!(probe_pcoip_udp(&pcoip(0x1234_5678, 1, 64)[..n]), None);
    }
}

#[test]
fn blast_websocket_opening() {
    use horizon::is_blast_websocket;
    let ok = b"GET /r/4f1c2d3e-aaaa?vauth=x HTTP/1.1\r\nHost: uag.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    assert!(is_blast_websocket(ok));
    let lower = b"GET /r/x HTTP/1.1\r\nupgrade:WebSocket\r\n\r\n";
    assert!(is_blast_websocket(lower));
    // another path, no upgrade, not GET
    assert!(!is_blast_websocket(
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
    ));
    assert!(!is_blast_websocket(b"GET /r/x HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert!(!is_blast_websocket(
        b"POST /r/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
    ));
    for i in 0..ok.len() {
        // a head cut anywhere before its upgrade header is not (yet) Blast
        let cut = &ok[..i];
        if !cut.windows(9).any(|w| w == b"websocket") {
            assert!(!is_blast_websocket(cut));
        }
    }
}

#[test]
fn horizon_negatives_never_match() {
    for n in negatives() {
        assert!(!horizon::is_blast_websocket(&n), "{n:02x?}");
    }
}
