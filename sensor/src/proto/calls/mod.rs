//! Call media and its signalling helpers: STUN/TURN, RTP, RTCP, DTLS, and Zoom's media
//! encapsulation.
//!
//! WhatsApp, Teams, Meet and the like are named by the caller from the STUN `SOFTWARE`
//! attribute ([`Stun::software`], e.g. a value starting `Microsoft`), from TLS names and
//! from the rules catalogue; this module only says what the bytes are.
//!
//! A single RTP packet is weak evidence (two version bits and a payload type): callers
//! should ask for several packets with the same SSRC and advancing sequence numbers.

use crate::decode::wire::{be16, be32};

// ====================================================================== STUN

/// STUN message class (RFC 5389 §6: bits C1 C0 of the message type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StunClass {
    Request,
    Indication,
    SuccessResponse,
    ErrorResponse,
}

/// A STUN (or classic RFC 3489 STUN) message header and the attributes callers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stun<'a> {
    pub msg_type: u16,
    pub class: StunClass,
    /// Method: 0x001 Binding; TURN 0x003 Allocate, 0x004 Refresh, 0x006 Send, 0x007 Data,
    /// 0x008 CreatePermission, 0x009 ChannelBind; 0x00A..=0x00C TCP relay (RFC 6062).
    pub method: u16,
    /// RFC 5389 magic cookie present. Without it (RFC 3489) the 16-byte transaction id's
    /// last 12 bytes are reported in `transaction_id`.
    pub has_magic_cookie: bool,
    pub transaction_id: [u8; 12],
    /// SOFTWARE (0x8022) value, when it is UTF-8.
    pub software: Option<&'a str>,
    /// REALM (0x0014) present.
    pub has_realm: bool,
    /// USERNAME (0x0006) present.
    pub has_username: bool,
    /// MESSAGE-INTEGRITY (0x0008) present.
    pub has_message_integrity: bool,
    /// FINGERPRINT (0x8028) present.
    pub has_fingerprint: bool,
}

/// RFC 5389 §6 magic cookie.
const STUN_MAGIC: u32 = 0x2112_a442;

/// Probe a datagram (or a TCP segment carrying exactly one message) for STUN.
///
/// RFC 5389 §6: the top two bits of the type are zero; the length excludes the 20-byte
/// header, is a multiple of 4 and here must equal the rest of the datagram; the magic
/// cookie sits at byte 4. The attributes (§15: type, length, value padded to 4) must tile
/// the body exactly. Classic RFC 3489 messages (no cookie) are accepted only with the
/// exact length, tiling attributes and one of the six RFC 3489 §11.1 message types.
pub fn probe_stun(buf: &[u8]) -> Option<Stun<'_>> {
    let msg_type = be16(buf, 0)?;
    let len = usize::from(be16(buf, 2)?);
    if msg_type & 0xc000 != 0 || len % 4 != 0 || len + 20 != buf.len() {
        return None;
    }
    let has_magic_cookie = be32(buf, 4)? == STUN_MAGIC;
    let class = match ((msg_type >> 7) & 0x2) | ((msg_type >> 4) & 0x1) {
        0 => StunClass::Request,
        1 => StunClass::Indication,
        2 => StunClass::SuccessResponse,
        _ => StunClass::ErrorResponse,
    };
    let method = (msg_type & 0x000f) | ((msg_type >> 1) & 0x0070) | ((msg_type >> 2) & 0x0f80);
    // 0x002 was RFC 3489's Shared Secret: only meaningful without the cookie.
    if !(0x001..=0x00c).contains(&method)
        || method == 0x005
        || (method == 0x002 && has_magic_cookie)
    {
        return None;
    }
    if !has_magic_cookie
        && !matches!(
            msg_type,
            0x0001 | 0x0101 | 0x0111 | 0x0002 | 0x0102 | 0x0112
        )
    {
        return None;
    }
    let transaction_id: [u8; 12] = buf.get(8..20)?.try_into().ok()?;
    let mut s = Stun {
        msg_type,
        class,
        method,
        has_magic_cookie,
        transaction_id,
        software: None,
        has_realm: false,
        has_username: false,
        has_message_integrity: false,
        has_fingerprint: false,
    };
    let mut off = 20;
    while off < buf.len() {
        let ty = be16(buf, off)?;
        let alen = usize::from(be16(buf, off + 2)?);
        let value = buf.get(off + 4..off + 4 + alen)?;
        match ty {
            0x8022 => s.software = std::str::from_utf8(value).ok(),
            0x0014 => s.has_realm = true,
            0x0006 => s.has_username = true,
            0x0008 => s.has_message_integrity = true,
            0x8028 => s.has_fingerprint = true,
            _ => {}
        }
        off += 4 + alen.div_ceil(4) * 4;
    }
    // Padding must land exactly on the end.
    (off == buf.len()).then_some(s)
}

/// TURN ChannelData (RFC 5766 §11.4; RFC 8656 §12.4): a channel number 0x4000..=0x7FFF,
/// a 16-bit data length, then the data. Over UDP the datagram is the message plus at most
/// 3 bytes of padding (RFC 5766 §11.5). Returns the channel number.
pub fn probe_turn_channel(buf: &[u8]) -> Option<u16> {
    let ch = be16(buf, 0)?;
    let len = usize::from(be16(buf, 2)?);
    if !(0x4000..=0x7fff).contains(&ch) {
        return None;
    }
    let data = buf.len().checked_sub(4)?;
    (data >= len && data - len < 4 && len > 0).then_some(ch)
}

// ====================================================================== RTP / RTCP

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

// ====================================================================== DTLS

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
pub fn probe_dtls(buf: &[u8]) -> Option<Dtls> {
    let content_type = *buf.first()?;
    let version = be16(buf, 1)?;
    if !(20..=25).contains(&content_type) || !matches!(version, 0xfeff | 0xfefd) {
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

// ====================================================================== Zoom

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

#[cfg(test)]
mod tests;
