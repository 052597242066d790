//! Proxy handshakes: SOCKS 4/4a/5, HTTP `CONNECT`, absolute-form proxy requests, and the
//! HAProxy PROXY protocol header.
//!
//! Parsers work on the opening bytes of one direction, never panic, say `NeedMore` on a
//! split handshake and `Malformed` as soon as a byte rules the protocol out. After a
//! successful handshake the caller feeds the bytes that follow (`consumed` onward, and
//! the other direction after the reply) to the other probes.
//!
//! One file per proxy protocol; this file keeps what they share. Callers use the items
//! re-exported here (`proto::proxy::parse_socks4`).

/// A SOCKS connect / bind / UDP-associate request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksRequest {
    /// 4 (including 4a) or 5.
    pub version: u8,
    /// SOCKS4: 1 CONNECT, 2 BIND. SOCKS5: 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE.
    pub command: u8,
    /// Destination: an IP address in text, or the name for SOCKS4a / SOCKS5 ATYP 3.
    pub host: String,
    pub port: u16,
}

/// Longest handshake text we wait for before calling it malformed.
const MAX_HEAD: usize = 8192;

/// Return `NeedMore` from the enclosing parser when `buf` is shorter than `want`.
macro_rules! need_or {
    ($buf:expr, $want:expr) => {
        if $buf.len() < $want {
            return Parsed::NeedMore {
                needed: ($want - $buf.len()).max(1),
            };
        }
    };
}

/// A host name as a proxy would accept it: 1..=255 bytes of letters, digits, `-`, `.`,
/// `_` (and `:` for bracketless IPv6 text some clients send).
fn valid_name(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 255
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b':'))
}

// After `need_or!`: a `macro_rules!` macro is visible only in modules declared below it.
mod http_connect;
mod proxy_protocol;
mod socks4;
mod socks5;

pub use http_connect::{
    is_absolute_form_proxy_request, parse_connect_response, parse_http_connect, ConnectRequest,
};
pub use proxy_protocol::{parse_proxy_protocol, ProxyHeader, ProxyTransport};
pub use socks4::parse_socks4;
pub use socks5::{parse_socks5_greeting, parse_socks5_reply, parse_socks5_request, SocksReply};

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
