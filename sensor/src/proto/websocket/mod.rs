//! WebSocket (RFC 6455): the HTTP/1.1 upgrade that opens it and the frames that follow,
//! unmasked, so that the protocol a tunnel carries inside them (wstunnel, V2Ray's `ws`
//! transport, websocat) can be probed like any other opening.

use crate::bytes::{be16, be32};
use crate::proto::cleartext::{header_values, http_head};
use crate::proto::Parsed;

pub mod open;
#[cfg(test)]
mod tests;

/// Bytes of frame payload gathered per direction for probing the inner protocol.
pub const INNER_CAP: usize = 1024;

/// A `101 Switching Protocols` answer with `Upgrade: websocket` (RFC 6455 §4.2.2): the
/// length of the response head, and whether permessage-deflate was agreed (RFC 7692).
pub fn upgrade_response(sc: &[u8]) -> Parsed<(usize, bool)> {
    let (head, consumed) = match http_head(sc, crate::proto::cleartext::HEAD_CAP) {
        Parsed::Done { value, consumed } => (value, consumed),
        Parsed::NeedMore { needed } => return Parsed::NeedMore { needed },
        Parsed::Malformed(w) => return Parsed::Malformed(w),
    };
    let status_101 = head.starts_with(b"HTTP/1.1 101") || head.starts_with(b"HTTP/1.0 101");
    let upgrade = header_values(head, "upgrade").any(|v| v.eq_ignore_ascii_case("websocket"));
    if !status_101 || !upgrade {
        return Parsed::Malformed("not a websocket upgrade");
    }
    let deflate = header_values(head, "sec-websocket-extensions")
        .any(|v| v.to_ascii_lowercase().contains("permessage-deflate"));
    Parsed::Done {
        value: (consumed, deflate),
        consumed,
    }
}

/// One frame's header (RFC 6455 §5.2): opcode, the mask key when masked, where the payload
/// starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub header_len: usize,
    pub payload_len: u64,
}

/// Parse the header of the frame at `buf`'s start.
pub fn frame(buf: &[u8]) -> Parsed<Frame> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Parsed::NeedMore {
            needed: 2 - buf.len(),
        };
    };
    if b0 & 0x70 != 0 && b0 & 0x0f != 1 && b0 & 0x0f != 2 && b0 & 0x0f != 0 {
        return Parsed::Malformed("reserved bits on a control frame");
    }
    let opcode = b0 & 0x0f;
    if matches!(opcode, 3..=7 | 0xb..=0xf) {
        return Parsed::Malformed("reserved opcode");
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => match be16(buf, 2) {
            Some(l) => (u64::from(l), 4),
            None => return Parsed::NeedMore { needed: 1 },
        },
        127 => match (be32(buf, 2), be32(buf, 6)) {
            (Some(h), Some(l)) => ((u64::from(h) << 32) | u64::from(l), 10),
            _ => return Parsed::NeedMore { needed: 1 },
        },
        l => (u64::from(l), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let Some(k) = buf.get(at..at + 4) else {
            return Parsed::NeedMore {
                needed: at + 4 - buf.len(),
            };
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Parsed::Done {
        value: Frame {
            opcode,
            mask,
            header_len: at,
            payload_len: len,
        },
        consumed: at,
    }
}

/// The data frames' payload at `buf`'s start, unmasked and joined (at most [`INNER_CAP`]
/// bytes), and whether any data frame was binary. Control frames are skipped; a frame cut
/// short contributes what is there.
pub fn payload(buf: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut binary = false;
    let mut rest = buf;
    while out.len() < INNER_CAP {
        let Parsed::Done { value: f, .. } = frame(rest) else {
            break;
        };
        let body = &rest[f.header_len..];
        let n = usize::try_from(f.payload_len)
            .unwrap_or(usize::MAX)
            .min(body.len());
        if f.opcode <= 2 {
            binary |= f.opcode == 2;
            let take = n.min(INNER_CAP - out.len());
            out.extend(body[..take].iter().enumerate().map(|(i, b)| match f.mask {
                Some(k) => b ^ k[i % 4],
                None => *b,
            }));
        }
        rest = &body[n..];
        if rest.is_empty() {
            break;
        }
    }
    (out, binary)
}
