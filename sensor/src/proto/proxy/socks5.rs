//! SOCKS5 (RFC 1928): the method-selection greeting, the request and the reply.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{valid_name, SocksRequest};
use crate::bytes::be16;
use crate::proto::Parsed;

/// A SOCKS5 reply (RFC 1928 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksReply {
    /// REP: 0 succeeded, 1..=8 failures.
    pub reply: u8,
    pub host: String,
    pub port: u16,
}

/// SOCKS5 method-selection greeting (RFC 1928 §3): VER=5, NMETHODS ≥ 1, METHODS. Each
/// method is an assigned one (0x00..=0x09, IANA "SOCKS Methods") or private (0x80..=0xFE);
/// 0xFF ("no acceptable methods") only appears in the server's answer.
pub fn parse_socks5_greeting(buf: &[u8]) -> Parsed<Vec<u8>> {
    need_or!(buf, 1);
    if buf.first() != Some(&5) {
        return Parsed::Malformed("socks5: VER is not 5");
    }
    need_or!(buf, 2);
    let n = usize::from(buf.get(1).copied().unwrap_or(0));
    if n == 0 {
        return Parsed::Malformed("socks5: no methods");
    }
    need_or!(buf, 2 + n);
    let Some(methods) = buf.get(2..2 + n) else {
        return Parsed::Malformed("socks5: short");
    };
    if !methods
        .iter()
        .all(|&m| matches!(m, 0x00..=0x09 | 0x80..=0xfe))
    {
        return Parsed::Malformed("socks5: unknown method");
    }
    Parsed::Done {
        value: methods.to_vec(),
        consumed: 2 + n,
    }
}

/// VER, code, RSV=0, ATYP, address, port — the shape of both request and reply
/// (RFC 1928 §4, §6). Returns (code, host, port, consumed).
fn socks5_addr_msg(buf: &[u8], max_code: u8) -> Parsed<(u8, String, u16)> {
    need_or!(buf, 1);
    if buf.first() != Some(&5) {
        return Parsed::Malformed("socks5: VER is not 5");
    }
    need_or!(buf, 4);
    let (Some(&code), Some(&rsv), Some(&atyp)) = (buf.get(1), buf.get(2), buf.get(3)) else {
        return Parsed::Malformed("socks5: short");
    };
    if code > max_code || rsv != 0 {
        return Parsed::Malformed("socks5: bad code or RSV");
    }
    let (host, addr_end) = match atyp {
        1 => {
            need_or!(buf, 10);
            let Some(&[a, b, c, d]) = buf.get(4..8) else {
                return Parsed::Malformed("socks5: short");
            };
            (Ipv4Addr::new(a, b, c, d).to_string(), 8)
        }
        3 => {
            need_or!(buf, 5);
            let n = usize::from(buf.get(4).copied().unwrap_or(0));
            need_or!(buf, 5 + n + 2);
            let name = buf.get(5..5 + n).unwrap_or(&[]);
            if !valid_name(name) {
                return Parsed::Malformed("socks5: bad host name");
            }
            (String::from_utf8_lossy(name).into_owned(), 5 + n)
        }
        4 => {
            need_or!(buf, 22);
            let Some(raw) = buf.get(4..20).and_then(|s| <[u8; 16]>::try_from(s).ok()) else {
                return Parsed::Malformed("socks5: short");
            };
            (Ipv6Addr::from(raw).to_string(), 20)
        }
        _ => return Parsed::Malformed("socks5: ATYP not 1, 3 or 4"),
    };
    let Some(port) = be16(buf, addr_end) else {
        return Parsed::NeedMore { needed: 2 };
    };
    Parsed::Done {
        value: (code, host, port),
        consumed: addr_end + 2,
    }
}

/// SOCKS5 request (RFC 1928 §4): VER=5, CMD 1..=3, RSV=0, ATYP 1/3/4, DST.ADDR, DST.PORT.
pub fn parse_socks5_request(buf: &[u8]) -> Parsed<SocksRequest> {
    if buf.get(1) == Some(&0) {
        return Parsed::Malformed("socks5: CMD 0");
    }
    match socks5_addr_msg(buf, 3) {
        Parsed::Done {
            value: (command, host, port),
            consumed,
        } => {
            if port == 0 && command == 1 {
                return Parsed::Malformed("socks5: CONNECT to port 0");
            }
            Parsed::Done {
                value: SocksRequest {
                    version: 5,
                    command,
                    host,
                    port,
                },
                consumed,
            }
        }
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(e) => Parsed::Malformed(e),
    }
}

/// SOCKS5 reply (RFC 1928 §6): VER=5, REP 0..=8, RSV=0, ATYP, BND.ADDR, BND.PORT.
pub fn parse_socks5_reply(buf: &[u8]) -> Parsed<SocksReply> {
    match socks5_addr_msg(buf, 8) {
        Parsed::Done {
            value: (reply, host, port),
            consumed,
        } => Parsed::Done {
            value: SocksReply { reply, host, port },
            consumed,
        },
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(e) => Parsed::Malformed(e),
    }
}
