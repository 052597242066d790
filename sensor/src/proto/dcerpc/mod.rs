//! DCE/RPC over TCP (connection-oriented, The Open Group C706 §12.6, MS-RPCE §2.2.2): the
//! PDU header and the auth verifier of BIND, ALTER_CONTEXT and AUTH3, where an NTLMSSP
//! AUTHENTICATE travels (raw, or inside SPNEGO).

pub mod open;
#[cfg(test)]
mod tests;

use crate::bytes::le16;
use crate::proto::Parsed;

pub const BIND: u8 = 11;
pub const ALTER_CONTEXT: u8 = 14;
pub const AUTH3: u8 = 16;
/// The common header's size.
pub const HEADER: usize = 16;
/// The auth verifier's fixed part (type, level, pad length, reserved, context id).
const AUTH_FIXED: usize = 8;

/// One PDU at the start of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu<'a> {
    pub ptype: u8,
    /// The auth verifier's value (empty without one).
    pub auth: &'a [u8],
}

/// The header looks like a client's first DCE/RPC PDU (version 5.0/5.1, BIND or
/// ALTER_CONTEXT, little- or big-endian integers, a fragment length that holds the header
/// and the auth verifier).
pub fn probe(buf: &[u8]) -> bool {
    let Some(h) = buf.get(..HEADER) else {
        return false;
    };
    let frag = usize::from(u16::from_le_bytes([h[8], h[9]]));
    let auth = usize::from(u16::from_le_bytes([h[10], h[11]]));
    h[0] == 5
        && h[1] <= 1
        && matches!(h[2], BIND | ALTER_CONTEXT)
        && h[4] == 0x10
        && frag >= HEADER + 12
        && (auth == 0 || frag >= HEADER + AUTH_FIXED + auth)
}

/// The PDU at the start of `buf` (little-endian data representation only).
pub fn parse(buf: &[u8]) -> Parsed<Pdu<'_>> {
    if buf.len() < HEADER {
        return Parsed::NeedMore {
            needed: HEADER - buf.len(),
        };
    }
    if buf[0] != 5 || buf[1] > 1 || buf[4] & 0xf0 != 0x10 {
        return Parsed::Malformed("not a little-endian DCE/RPC 5.x PDU");
    }
    let frag = usize::from(le16(buf, 8).unwrap_or(0));
    let auth_len = usize::from(le16(buf, 10).unwrap_or(0));
    if frag < HEADER || (auth_len > 0 && frag < HEADER + AUTH_FIXED + auth_len) {
        return Parsed::Malformed("DCE/RPC fragment shorter than its header and auth verifier");
    }
    let Some(pdu) = buf.get(..frag) else {
        return Parsed::NeedMore {
            needed: frag - buf.len(),
        };
    };
    let auth = if auth_len > 0 {
        pdu.get(frag - auth_len..).unwrap_or(&[])
    } else {
        &[]
    };
    Parsed::Done {
        value: Pdu {
            ptype: buf[2],
            auth,
        },
        consumed: frag,
    }
}

/// The name of a PDU type that carries authentication.
pub fn ptype_name(t: u8) -> &'static str {
    match t {
        BIND => "BIND",
        ALTER_CONTEXT => "ALTER_CONTEXT",
        AUTH3 => "AUTH3",
        _ => "OTHER",
    }
}
