//! DTLS handshake records, the use_srtp extension, and the tracker that tells a DTLS-SRTP
//! media flow by what follows the handshake.

use super::rtp::{probe_rtcp, probe_rtp};
use super::stun::probe_stun;
use crate::bytes::be16;

/// A DTLS record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dtls {
    /// 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data, 24 heartbeat,
    /// 25 tls12_cid.
    pub content_type: u8,
    /// 0xFEFF DTLS 1.0, 0xFEFD DTLS 1.2 (also the legacy value of DTLS 1.3's first
    /// records).
    pub version: u16,
}

/// Probe for a DTLS record (RFC 6347 §4.1): content type 20..=25 (25 is RFC 9146),
/// version 0xFEFF or 0xFEFD, 2-byte epoch, 6-byte sequence number, 2-byte length with the
/// record inside the datagram. An epoch-0 handshake record must carry a handshake type
/// seen in the clear (RFC 6347 §4.2.2 / §4.3.2: 1 ClientHello, 2 ServerHello,
/// 3 HelloVerifyRequest, 11..=16 certificate through key exchange), and epoch-0
/// application data cannot exist (no keys yet).
/// The record version of the DTLS that Cisco shipped before RFC 4347 settled (OpenSSL's
/// `DTLS1_BAD_VER`), spoken only by AnyConnect gateways and their clients (OpenConnect's
/// legacy `X-DTLS-CipherSuite` data channel).
pub const DTLS_BAD_VER: u16 = 0x0100;

pub fn probe_dtls(buf: &[u8]) -> Option<Dtls> {
    let content_type = *buf.first()?;
    let version = be16(buf, 1)?;
    if !(20..=25).contains(&content_type) || !matches!(version, 0xfeff | 0xfefd | DTLS_BAD_VER) {
        return None;
    }
    let epoch = be16(buf, 3)?;
    let len = usize::from(be16(buf, 11)?);
    if len == 0 || 13 + len > buf.len() {
        return None;
    }
    if epoch == 0 {
        let hs_type = *buf.get(13)?;
        match content_type {
            22 if !matches!(hs_type, 1..=3 | 11..=16) => return None,
            23 | 25 => return None,
            _ => {}
        }
    }
    Some(Dtls {
        content_type,
        version,
    })
}

/// The `use_srtp` extension (RFC 5764 §4.1.1, extension type 14) in a DTLS ClientHello or
/// ServerHello at the start of the datagram: the handshake that keys SRTP for WebRTC and
/// other DTLS-SRTP media. Walks the handshake message (RFC 6347 §4.2.2: 12-byte header;
/// ClientHello: version, random, session id, cookie, cipher suites, compression methods,
/// extensions; ServerHello the same without the cookie and with one suite and method).
/// Only an unfragmented first message is read; a capture cut short reads as absent.
pub fn dtls_use_srtp(buf: &[u8]) -> bool {
    use_srtp(buf).unwrap_or(false)
}

/// Whether a complete DTLS ClientHello or ServerHello offers `use_srtp`; None when the
/// message is not one, or is cut short.
pub fn dtls_use_srtp_read(buf: &[u8]) -> Option<bool> {
    // only a first handshake message held whole in this record (no fragment, no cut)
    let hs = buf.get(13..)?;
    let len = u32::from_be_bytes([0, *hs.get(1)?, *hs.get(2)?, *hs.get(3)?]);
    let off = u32::from_be_bytes([0, *hs.get(6)?, *hs.get(7)?, *hs.get(8)?]);
    let flen = u32::from_be_bytes([0, *hs.get(9)?, *hs.get(10)?, *hs.get(11)?]);
    if off != 0 || flen != len || hs.len() < 12 + len as usize {
        return None;
    }
    use_srtp(buf)
}

fn use_srtp(buf: &[u8]) -> Option<bool> {
    let d = probe_dtls(buf)?;
    if d.content_type != 22 || be16(buf, 3)? != 0 {
        return Some(false);
    }
    let hs = buf.get(13..)?;
    let ty = *hs.first()?;
    if ty != 1 && ty != 2 {
        return Some(false);
    }
    // fragment offset 0 and the whole message in this fragment
    let len = u32::from_be_bytes([0, *hs.get(1)?, *hs.get(2)?, *hs.get(3)?]);
    let off = u32::from_be_bytes([0, *hs.get(6)?, *hs.get(7)?, *hs.get(8)?]);
    let flen = u32::from_be_bytes([0, *hs.get(9)?, *hs.get(10)?, *hs.get(11)?]);
    if off != 0 || flen != len {
        return Some(false);
    }
    let body = hs.get(12..12 + len as usize)?;
    let mut i = 2 + 32; // version, random
    i += 1 + usize::from(*body.get(i)?); // session id
    if ty == 1 {
        i += 1 + usize::from(*body.get(i)?); // cookie
        i += 2 + usize::from(be16(body, i)?); // cipher suites
        i += 1 + usize::from(*body.get(i)?); // compression methods
    } else {
        i += 3; // cipher suite, compression method
    }
    let end = i + 2 + usize::from(be16(body, i)?);
    i += 2;
    while i + 4 <= end.min(body.len()) {
        if be16(body, i)? == 14 {
            return Some(true);
        }
        i += 4 + usize::from(be16(body, i + 2)?);
    }
    Some(false)
}

/// What a flow identified as DTLS showed of WebRTC-style media, packet by packet: STUN on
/// the same 5-tuple (ICE connectivity checks and consent freshness, RFC 7675), a
/// `use_srtp` handshake, and SRTP/SRTCP packets (RTP and RTCP headers in the clear, RFC
/// 3711 §3.1) beside the DTLS records (RFC 7983 §7 demultiplexes them on the first
/// byte). A VPN's DTLS data channel (OpenConnect, AnyConnect) shows none of these: only
/// handshake and application-data records.
#[derive(Debug, Default, Clone)]
pub struct DtlsMedia {
    stun: bool,
    use_srtp: bool,
    srtp: u16,
}

/// SRTP or SRTCP packets that make a DTLS flow media.
const DTLS_SRTP_PACKETS: u16 = 3;

impl DtlsMedia {
    pub fn observe(&mut self, buf: &[u8]) {
        match buf.first() {
            Some(0..=3) if !self.stun => self.stun = probe_stun(buf).is_some(),
            Some(20..=63) if !self.use_srtp => self.use_srtp = dtls_use_srtp(buf),
            Some(128..=191)
                if self.srtp < DTLS_SRTP_PACKETS
                    && (probe_rtcp(buf).is_some() || probe_rtp(buf).is_some()) =>
            {
                self.srtp += 1;
            }
            _ => {}
        }
    }

    /// The flow is call media rather than some other DTLS (a VPN's data channel).
    pub fn is_media(&self) -> bool {
        self.stun || self.use_srtp || self.srtp >= DTLS_SRTP_PACKETS
    }
}
