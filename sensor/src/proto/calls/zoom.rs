//! Zoom's media encapsulation, to the SFU and peer to peer.

use super::rtp::{probe_rtcp, probe_rtp};
use crate::bytes::be32;

/// Zoom media over UDP (nDPI src/lib/protocols/zoom.c facts, after the Princeton
/// zoom-analysis work):
/// * server-routed (SFU) packets start with an 8-byte "SFU encapsulation": type (1 byte,
///   5 = media), sequence (2), 4 unknown bytes, direction (1: 0 to Zoom, 4 from Zoom);
/// * then a "media encapsulation" whose first byte is the media type: 13 / 30 screen
///   share, 15 audio, 16 video, 33..=35 RTCP; RTP starts 27 (13), 20 (30), 19 (15) or
///   24 (16) bytes into it, RTCP 16 bytes in;
/// * peer-to-peer packets have no SFU header: they begin `1f 02 01`, a 24-byte header,
///   then length-prefixed (4-byte big-endian) IP-address text and UUID, then 4 zero bytes.
///
/// We accept the SFU form only when the inner RTP/RTCP also validates, and the P2P form
/// only when the lengths add up to the datagram exactly.
pub fn probe_zoom(buf: &[u8]) -> bool {
    zoom_sfu(buf) || zoom_p2p(buf)
}

fn zoom_sfu(buf: &[u8]) -> bool {
    if buf.first() != Some(&0x05) || !matches!(buf.get(7), Some(0 | 4)) {
        return false;
    }
    let Some(media) = buf.get(8..) else {
        return false;
    };
    let Some(&kind) = media.first() else {
        return false;
    };
    let (inner_off, rtcp) = match kind {
        13 => (27, false),
        30 => (20, false),
        15 => (19, false),
        16 => (24, false),
        33..=35 => (16, true),
        _ => return false,
    };
    let Some(inner) = media.get(inner_off..) else {
        return false;
    };
    if rtcp {
        probe_rtcp(inner).is_some()
    } else {
        probe_rtp(inner).is_some()
    }
}

fn zoom_p2p(buf: &[u8]) -> bool {
    if buf.len() <= 36 || buf.get(..3) != Some(&[0x1f, 0x02, 0x01][..]) {
        return false;
    }
    if buf.get(buf.len() - 4..) != Some(&[0, 0, 0, 0][..]) {
        return false;
    }
    let Some(ip_len) = be32(buf, 24).map(|v| v as usize) else {
        return false;
    };
    let Some(uuid_at) = 28usize.checked_add(ip_len) else {
        return false;
    };
    let Some(uuid_len) = be32(buf, uuid_at).map(|v| v as usize) else {
        return false;
    };
    // The IP address is text: digits, dots, colons, hex letters.
    let ip_ok = ip_len > 0
        && buf.get(28..uuid_at).is_some_and(|t| {
            t.iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        });
    ip_ok
        && uuid_at
            .checked_add(4)
            .and_then(|x| x.checked_add(uuid_len))
            .and_then(|x| x.checked_add(4))
            == Some(buf.len())
}
