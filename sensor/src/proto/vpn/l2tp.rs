//! L2TP v2 and v3 control and data headers over UDP.

use crate::bytes::{be16, be32};

/// An L2TP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct L2tp {
    pub control: bool,
    /// 2 (RFC 2661) or 3 (RFC 3931).
    pub version: u8,
}

/// Probe a UDP datagram (port 1701) for L2TP.
///
/// RFC 2661 §3.1 header: `T L x x S x O P | x x x x Ver`, then Length (if L), Tunnel ID,
/// Session ID, Ns/Nr (if S), Offset (if O). Control messages (T=1) MUST set L and S and
/// clear O and P; the length equals the message size; a non-empty control message
/// starts with the Message Type AVP (§4.4.1: M bit set, length 8, vendor 0, attribute 0).
/// RFC 3931 §3.2.1 (v3 control over UDP): the same first 16 bits with Ver 3, then Length,
/// a 32-bit Control Connection ID, Ns, Nr. L2TPv3 data over UDP (§4.1.2.1): T=0,
/// reserved zero, Ver 3, 16 reserved zero bits, then a non-zero 32-bit Session ID.
/// L2TPv2 data must carry L with a matching length or start the PPP frame with FF 03.
pub fn probe_l2tp(buf: &[u8]) -> Option<L2tp> {
    let flags = be16(buf, 0)?;
    let t = flags & 0x8000 != 0;
    let l = flags & 0x4000 != 0;
    let s = flags & 0x0800 != 0;
    let o = flags & 0x0200 != 0;
    let p = flags & 0x0100 != 0;
    let version = (flags & 0x000f) as u8;
    // Reserved bits: x x (0x3000), x (0x0400), and x x x x (0x00f0).
    if flags & 0x34f0 != 0 {
        return None;
    }
    match (t, version) {
        (true, 2) | (true, 3) => {
            if !(l && s) || o || p {
                return None;
            }
            if usize::from(be16(buf, 2)?) != buf.len() {
                return None;
            }
            // v2: len 2, tunnel 2, session 2, Ns 2, Nr 2; v3: len 2, ccid 4, Ns 2, Nr 2.
            let body = 12;
            if buf.len() == body {
                return Some(L2tp {
                    control: true,
                    version,
                }); // ZLB acknowledgement
            }
            // Message Type AVP: 0x8008 (M bit + length 8), vendor 0, type 0, value.
            if be16(buf, body)? & 0xbfff != 0x8008
                || be16(buf, body + 2)? != 0
                || be16(buf, body + 4)? != 0
            {
                return None;
            }
            let msg_type = be16(buf, body + 6)?;
            if !(1..=30).contains(&msg_type) {
                return None;
            }
            Some(L2tp {
                control: true,
                version,
            })
        }
        (false, 2) => {
            if s && buf.len() < 12 {
                return None;
            }
            if l {
                if usize::from(be16(buf, 2)?) != buf.len() {
                    return None;
                }
            } else {
                // No length: require the PPP address/control bytes right after the header.
                let mut off = 2 + 4;
                if s {
                    off += 4;
                }
                if o {
                    off += 2 + usize::from(be16(buf, off)?);
                }
                if buf.get(off..off + 2)? != [0xff, 0x03] {
                    return None;
                }
            }
            Some(L2tp {
                control: false,
                version,
            })
        }
        (false, 3) => {
            if flags != 0x0003 || be16(buf, 2)? != 0 || be32(buf, 4)? == 0 || buf.len() < 12 {
                return None;
            }
            Some(L2tp {
                control: false,
                version,
            })
        }
        _ => None,
    }
}
