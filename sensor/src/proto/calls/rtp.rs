//! RTP (RFC 3550 §5.1) and RTCP (RFC 3550 §6) headers.

use crate::bytes::{be16, be32};

/// An RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rtp {
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
}

/// Probe for RTP (RFC 3550 §5.1): version 2; payload type a static one (0..=34, RFC 3551
/// §6) or dynamic (96..=127), never 72..=76 (RTCP's range when multiplexed, RFC 5761 §4);
/// the fixed header, CSRC list and (if X) the extension header with its length, and (if
/// P) the padding count, all fit the packet.
pub fn probe_rtp(buf: &[u8]) -> Option<Rtp> {
    let b0 = *buf.first()?;
    let b1 = *buf.get(1)?;
    if b0 >> 6 != 2 {
        return None;
    }
    let pt = b1 & 0x7f;
    if !matches!(pt, 0..=34 | 96..=127) {
        return None;
    }
    let cc = usize::from(b0 & 0x0f);
    let mut hdr = 12 + 4 * cc;
    if b0 & 0x10 != 0 {
        let words = usize::from(be16(buf, hdr + 2)?);
        hdr += 4 + 4 * words;
    }
    if hdr > buf.len() {
        return None;
    }
    if b0 & 0x20 != 0 {
        let pad = usize::from(*buf.last()?);
        if pad == 0 || hdr + pad > buf.len() {
            return None;
        }
    }
    Some(Rtp {
        pt,
        seq: be16(buf, 2)?,
        ts: be32(buf, 4)?,
        ssrc: be32(buf, 8)?,
    })
}

/// An RTCP packet header (the first of a compound packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rtcp {
    pub pt: u8,
    pub ssrc: u32,
}

/// Probe for RTCP (RFC 3550 §6.4): version 2; packet type 200..=207 (SR, RR, SDES, BYE,
/// APP; RTPFB/PSFB RFC 4585; XR RFC 3611); the length field (32-bit words minus one)
/// fits the buffer; for SR and RR the report count's blocks fit that length (§6.4.1:
/// SR = 6 + 6·RC words after the first, RR = 1 + 6·RC).
pub fn probe_rtcp(buf: &[u8]) -> Option<Rtcp> {
    let b0 = *buf.first()?;
    let pt = *buf.get(1)?;
    if b0 >> 6 != 2 || !(200..=207).contains(&pt) {
        return None;
    }
    let words = usize::from(be16(buf, 2)?);
    if words * 4 + 4 > buf.len() || words == 0 {
        return None;
    }
    let rc = usize::from(b0 & 0x1f);
    let min_words = match pt {
        200 => 6 + 6 * rc,
        201 => 1 + 6 * rc,
        _ => 1,
    };
    if words < min_words {
        return None;
    }
    Some(Rtcp {
        pt,
        ssrc: be32(buf, 4)?,
    })
}
