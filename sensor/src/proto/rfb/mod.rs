//! VNC / RFB handshake: ProtocolVersion (RFC 6143 §7.1.1) and the security handshake
//! (§7.1.2, including the 3.3 form in §A.1). Security type numbers after IANA's
//! "Remote Framebuffer Security Types" registry.

use super::{Parsed, Probe};
use crate::bytes::be32;

const VERSION_LEN: usize = 12;
/// A failure reason longer than this is not believed.
const MAX_REASON: usize = 64 * 1024;

/// Pattern of `RFB xxx.yyy\n`: `d` stands for an ASCII digit.
const PATTERN: &[u8; VERSION_LEN] = b"RFB ddd.ddd\n";

fn byte_ok(i: usize, b: u8) -> bool {
    match PATTERN.get(i) {
        Some(b'd') => b.is_ascii_digit(),
        Some(&p) => p == b,
        None => false,
    }
}

/// Does this direction open with `RFB xxx.yyy\n`? Pure, allocation-free.
pub fn probe(buf: &[u8]) -> Probe {
    for (i, &b) in buf.iter().take(VERSION_LEN).enumerate() {
        if !byte_ok(i, b) {
            return Probe::NoMatch;
        }
    }
    if buf.len() >= VERSION_LEN {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

fn digits(b: &[u8]) -> u16 {
    b.iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d.wrapping_sub(b'0')))
}

/// Parse exactly `RFB xxx.yyy\n` into (major, minor), e.g. (3, 8).
pub fn parse_version(buf: &[u8]) -> Parsed<(u16, u16)> {
    match probe(buf) {
        Probe::NoMatch => Parsed::Malformed("not an RFB ProtocolVersion"),
        Probe::NeedMore => Parsed::NeedMore {
            needed: VERSION_LEN - buf.len(),
        },
        Probe::Match => {
            let major = digits(buf.get(4..7).unwrap_or(&[]));
            let minor = digits(buf.get(8..11).unwrap_or(&[]));
            Parsed::Done {
                value: (major, minor),
                consumed: VERSION_LEN,
            }
        }
    }
}

/// The server's security offer for the negotiated `version`. From 3.7 on (§7.1.2): u8
/// count and that many u8 types; a count of 0 is a failure followed by a u32 reason
/// length and reason, and gives an empty list. Before 3.7 (§A.1, version 3.3): one u32
/// security type, 0 meaning failure (reason follows; empty list).
pub fn parse_security_types(buf: &[u8], version: (u16, u16)) -> Parsed<Vec<u8>> {
    let (count_len, count) = if version >= (3, 7) {
        let Some(&n) = buf.first() else {
            return Parsed::NeedMore { needed: 1 };
        };
        (1usize, u32::from(n))
    } else {
        let Some(t) = be32(buf, 0) else {
            return Parsed::NeedMore {
                needed: 4 - buf.len(),
            };
        };
        if t > 255 {
            return Parsed::Malformed("RFB 3.3 security type out of range");
        }
        if t != 0 {
            return Parsed::Done {
                value: vec![t as u8],
                consumed: 4,
            };
        }
        (4usize, 0)
    };
    if count == 0 {
        let Some(rlen) = be32(buf, count_len) else {
            return Parsed::NeedMore {
                needed: count_len + 4 - buf.len(),
            };
        };
        let rlen = rlen as usize;
        if rlen > MAX_REASON {
            return Parsed::Malformed("RFB failure reason too long");
        }
        let end = count_len + 4 + rlen;
        if buf.len() < end {
            return Parsed::NeedMore {
                needed: end - buf.len(),
            };
        }
        return Parsed::Done {
            value: Vec::new(),
            consumed: end,
        };
    }
    let end = 1 + count as usize;
    match buf.get(1..end) {
        Some(types) => Parsed::Done {
            value: types.to_vec(),
            consumed: end,
        },
        None => Parsed::NeedMore {
            needed: end - buf.len(),
        },
    }
}

/// The client's chosen security type (one u8, §7.1.2; 3.7 and later).
pub fn parse_security_choice(buf: &[u8]) -> Parsed<u8> {
    match buf.first() {
        Some(&t) => Parsed::Done {
            value: t,
            consumed: 1,
        },
        None => Parsed::NeedMore { needed: 1 },
    }
}

/// Name of an RFB security type (IANA registry; RFC 6143 §7.2).
pub fn security_type_name(t: u8) -> &'static str {
    match t {
        0 => "Invalid",
        1 => "None",
        2 => "VNC",
        5 => "RA2",
        6 => "RA2ne",
        16 => "Tight",
        17 => "UltraVNC",
        18 => "TLS",
        19 => "VeNCrypt",
        20 => "SASL",
        21 => "MD5",
        22 => "xvp",
        23 => "SecureTunnel",
        24 => "IntegratedSSH",
        30 => "Apple ARD",
        31..=35 => "Apple",
        3 | 4 | 7..=15 | 128..=255 => "RealVNC",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
