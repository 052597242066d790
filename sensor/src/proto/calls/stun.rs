//! STUN (RFC 5389, classic RFC 3489) messages and TURN ChannelData framing (RFC 5766).

use crate::bytes::{be16, be32};

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
pub(super) const STUN_MAGIC: u32 = 0x2112_a442;

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
