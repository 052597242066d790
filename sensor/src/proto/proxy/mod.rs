//! Proxy handshakes: SOCKS 4/4a/5, HTTP `CONNECT`, absolute-form proxy requests, and the
//! HAProxy PROXY protocol header.
//!
//! Parsers work on the opening bytes of one direction, never panic, say `NeedMore` on a
//! split handshake and `Malformed` as soon as a byte rules the protocol out. After a
//! successful handshake the caller feeds the bytes that follow (`consumed` onward, and
//! the other direction after the reply) to the other probes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Parsed;
use crate::decode::wire::be16;

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

/// A SOCKS5 reply (RFC 1928 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksReply {
    /// REP: 0 succeeded, 1..=8 failures.
    pub reply: u8,
    pub host: String,
    pub port: u16,
}

/// An HTTP `CONNECT` request's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
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

// ====================================================================== SOCKS4 / 4a

/// SOCKS4 request ("SOCKS: A protocol for TCP proxy across firewalls", Ying-Da Lee):
/// VN=4, CD (1 CONNECT, 2 BIND), DSTPORT (2), DSTIP (4), USERID, NUL. SOCKS4a ("SOCKS 4A:
/// A Simple Extension to SOCKS 4 Protocol"): DSTIP 0.0.0.x with x ≠ 0, and the host name
/// follows the user id, NUL-terminated.
pub fn parse_socks4(buf: &[u8]) -> Parsed<SocksRequest> {
    need_or!(buf, 1);
    if buf.first() != Some(&4) {
        return Parsed::Malformed("socks4: VN is not 4");
    }
    need_or!(buf, 8);
    let (Some(&cd), Some(port)) = (buf.get(1), be16(buf, 2)) else {
        return Parsed::Malformed("socks4: short");
    };
    if !matches!(cd, 1 | 2) {
        return Parsed::Malformed("socks4: CD is not 1 or 2");
    }
    if port == 0 {
        return Parsed::Malformed("socks4: port 0");
    }
    let Some(&[a, b, c, d]) = buf.get(4..8) else {
        return Parsed::Malformed("socks4: short");
    };
    let Some(rest) = buf.get(8..) else {
        return Parsed::Malformed("socks4: short");
    };
    // USERID up to NUL: printable, at most 255 bytes.
    let user_end = match rest.iter().position(|&x| x == 0) {
        Some(i) => i,
        None if rest.len() > 255 => return Parsed::Malformed("socks4: user id too long"),
        None => return Parsed::NeedMore { needed: 1 },
    };
    if user_end > 255
        || !rest
            .iter()
            .take(user_end)
            .all(|&x| (0x20..0x7f).contains(&x))
    {
        return Parsed::Malformed("socks4: bad user id");
    }
    let after_user = 8 + user_end + 1;
    let is_4a = a == 0 && b == 0 && c == 0 && d != 0;
    if !is_4a {
        if [a, b, c, d] == [0, 0, 0, 0] {
            return Parsed::Malformed("socks4: address 0.0.0.0");
        }
        return Parsed::Done {
            value: SocksRequest {
                version: 4,
                command: cd,
                host: Ipv4Addr::new(a, b, c, d).to_string(),
                port,
            },
            consumed: after_user,
        };
    }
    let name_area = buf.get(after_user..).unwrap_or(&[]);
    let name_end = match name_area.iter().position(|&x| x == 0) {
        Some(i) => i,
        None if name_area.len() > 255 => return Parsed::Malformed("socks4a: name too long"),
        None => return Parsed::NeedMore { needed: 1 },
    };
    let name = name_area.get(..name_end).unwrap_or(&[]);
    if !valid_name(name) {
        return Parsed::Malformed("socks4a: bad host name");
    }
    Parsed::Done {
        value: SocksRequest {
            version: 4,
            command: cd,
            host: String::from_utf8_lossy(name).into_owned(),
            port,
        },
        consumed: after_user + name_end + 1,
    }
}

// ====================================================================== SOCKS5

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

// ====================================================================== HTTP CONNECT

/// Where an HTTP head ends (just past `\r\n\r\n`): `Ok(None)` while incomplete.
fn head_end(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) if i + 4 <= MAX_HEAD => Ok(Some(i + 4)),
        Some(_) => Err("http: head too long"),
        None if buf.len() >= MAX_HEAD => Err("http: head too long"),
        None => Ok(None),
    }
}

/// Split `host:port` / `[v6]:port` (RFC 9112 §3.2.3 authority-form).
fn split_authority(a: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = rest.get(..close)?;
        host.parse::<Ipv6Addr>().ok()?;
        (host, rest.get(close + 1..)?.strip_prefix(':')?)
    } else {
        let (h, p) = a.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h, p)
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    if port == 0 || !valid_name(host.as_bytes()) {
        return None;
    }
    Some((host, port))
}

/// `CONNECT host:port HTTP/1.x` (RFC 9110 §9.3.6; target in authority-form, RFC 9112
/// §3.2.3). The whole head up to `\r\n\r\n` must be present: until then, `NeedMore`.
pub fn parse_http_connect(buf: &[u8]) -> Parsed<ConnectRequest> {
    const M: &[u8] = b"CONNECT ";
    let n = buf.len().min(M.len());
    if buf.get(..n) != M.get(..n) {
        return Parsed::Malformed("connect: not CONNECT");
    }
    let end = match head_end(buf) {
        Ok(Some(e)) => e,
        Ok(None) => return Parsed::NeedMore { needed: 1 },
        Err(e) => return Parsed::Malformed(e),
    };
    let Some(line) = buf
        .get(..end)
        .and_then(|h| h.split(|&b| b == b'\n').next())
        .and_then(|l| l.strip_suffix(b"\r"))
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return Parsed::Malformed("connect: bad request line");
    };
    let mut parts = line.split(' ');
    let (Some("CONNECT"), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Malformed("connect: bad request line");
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Parsed::Malformed("connect: bad version");
    }
    let Some((host, port)) = split_authority(target) else {
        return Parsed::Malformed("connect: target is not host:port");
    };
    Parsed::Done {
        value: ConnectRequest {
            host: host.to_owned(),
            port,
        },
        consumed: end,
    }
}

/// The proxy's answer to `CONNECT`: `HTTP/1.x NNN reason`, head complete. Returns the
/// status; 2xx means the tunnel is open (RFC 9110 §9.3.6) and the caller probes what
/// follows `consumed`.
pub fn parse_connect_response(buf: &[u8]) -> Parsed<u16> {
    const P: &[u8] = b"HTTP/1.";
    let n = buf.len().min(P.len());
    if buf.get(..n) != P.get(..n) {
        return Parsed::Malformed("connect response: not HTTP/1.x");
    }
    let end = match head_end(buf) {
        Ok(Some(e)) => e,
        Ok(None) => return Parsed::NeedMore { needed: 1 },
        Err(e) => return Parsed::Malformed(e),
    };
    let (Some(minor), Some(sp), Some(code), Some(after)) =
        (buf.get(7), buf.get(8), buf.get(9..12), buf.get(12))
    else {
        return Parsed::Malformed("connect response: short status line");
    };
    if !matches!(minor, b'0' | b'1') || *sp != b' ' || !matches!(after, b' ' | b'\r') {
        return Parsed::Malformed("connect response: bad status line");
    }
    if !code.iter().all(u8::is_ascii_digit) {
        return Parsed::Malformed("connect response: bad status code");
    }
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Parsed::Malformed("connect response: status out of range");
    }
    Parsed::Done {
        value: status,
        consumed: end,
    }
}

/// A plain forward-proxy request: `METHOD http://host[:port]/path HTTP/1.x` (absolute-form,
/// RFC 9112 §3.2.2). Returns the method and the authority (user info stripped), borrowed
/// from the input. The first line must be complete.
pub fn is_absolute_form_proxy_request(buf: &[u8]) -> Option<(&str, &str)> {
    let line_end = buf.iter().take(MAX_HEAD).position(|&b| b == b'\n')?;
    let line = buf.get(..line_end)?.strip_suffix(b"\r")?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    if !matches!(
        method,
        "GET" | "POST" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "PATCH" | "TRACE"
    ) || !matches!(version, "HTTP/1.1" | "HTTP/1.0")
    {
        return None;
    }
    let scheme_len = if target.get(..7)?.eq_ignore_ascii_case("http://") {
        7
    } else if target.get(..8)?.eq_ignore_ascii_case("https://") {
        8
    } else {
        return None;
    };
    let rest = target.get(scheme_len..)?;
    let auth_end = rest.find(&['/', '?', '#'][..]).unwrap_or(rest.len());
    let authority = rest.get(..auth_end)?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_ok = if authority.starts_with('[') {
        authority.contains(']')
    } else {
        let host = authority.split(':').next()?;
        valid_name(host.as_bytes())
    };
    host_ok.then_some((method, authority))
}

// ====================================================================== PROXY protocol

/// Transport named by a PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyTransport {
    Tcp,
    Udp,
    Unknown,
}

/// A HAProxy PROXY protocol header (haproxy doc/proxy-protocol.txt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 (text) or 2 (binary).
    pub version: u8,
    /// v2 LOCAL command (health checks): the addresses are not the client's.
    pub local: bool,
    pub transport: ProxyTransport,
    pub source: Option<SocketAddr>,
    pub destination: Option<SocketAddr>,
}

/// v2 signature (proxy-protocol.txt §2.2).
const PP2_SIG: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];

/// Parse a PROXY protocol v1 or v2 header at the start of a TCP stream.
///
/// v1 (§2.1): `PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n`, at most 107 bytes.
/// v2 (§2.2): the 12-byte signature, version/command (0x20 LOCAL, 0x21 PROXY), family and
/// transport (0x11 TCP4, 0x12 UDP4, 0x21 TCP6, 0x22 UDP6, 0x31/0x32 UNIX, 0x00 UNSPEC),
/// a 16-bit length, then addresses (12 bytes IPv4, 36 IPv6, 216 UNIX) and TLVs.
pub fn parse_proxy_protocol(buf: &[u8]) -> Parsed<ProxyHeader> {
    need_or!(buf, 1);
    if buf.first() == Some(&b'P') {
        parse_pp1(buf)
    } else if buf.first() == Some(&0x0d) {
        parse_pp2(buf)
    } else {
        Parsed::Malformed("proxy protocol: no signature")
    }
}

fn parse_pp1(buf: &[u8]) -> Parsed<ProxyHeader> {
    const P: &[u8] = b"PROXY ";
    let n = buf.len().min(P.len());
    if buf.get(..n) != P.get(..n) {
        return Parsed::Malformed("proxy v1: no PROXY");
    }
    let end = match buf.iter().take(107).position(|&b| b == b'\n') {
        Some(i) => i,
        None if buf.len() >= 107 => return Parsed::Malformed("proxy v1: line too long"),
        None => return Parsed::NeedMore { needed: 1 },
    };
    let Some(line) = buf
        .get(..end)
        .and_then(|l| l.strip_suffix(b"\r"))
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return Parsed::Malformed("proxy v1: bad line");
    };
    let mut f = line.split(' ').skip(1);
    let proto = f.next().unwrap_or("");
    if proto == "UNKNOWN" {
        return Parsed::Done {
            value: ProxyHeader {
                version: 1,
                local: false,
                transport: ProxyTransport::Unknown,
                source: None,
                destination: None,
            },
            consumed: end + 1,
        };
    }
    let v6 = match proto {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Parsed::Malformed("proxy v1: unknown protocol"),
    };
    let (Some(s), Some(d), Some(sp), Some(dp), None) =
        (f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        return Parsed::Malformed("proxy v1: wrong field count");
    };
    let ip = |t: &str| -> Option<IpAddr> {
        if v6 {
            t.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            t.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        }
    };
    let port = |t: &str| -> Option<u16> {
        if t.is_empty() || (t.len() > 1 && t.starts_with('0')) {
            return None;
        }
        t.parse().ok()
    };
    let (Some(si), Some(di), Some(spn), Some(dpn)) = (ip(s), ip(d), port(sp), port(dp)) else {
        return Parsed::Malformed("proxy v1: bad address or port");
    };
    Parsed::Done {
        value: ProxyHeader {
            version: 1,
            local: false,
            transport: ProxyTransport::Tcp,
            source: Some(SocketAddr::new(si, spn)),
            destination: Some(SocketAddr::new(di, dpn)),
        },
        consumed: end + 1,
    }
}

fn parse_pp2(buf: &[u8]) -> Parsed<ProxyHeader> {
    let n = buf.len().min(PP2_SIG.len());
    if buf.get(..n) != PP2_SIG.get(..n) {
        return Parsed::Malformed("proxy v2: bad signature");
    }
    need_or!(buf, 16);
    let (Some(&vc), Some(&fam), Some(len)) = (buf.get(12), buf.get(13), be16(buf, 14)) else {
        return Parsed::Malformed("proxy v2: short");
    };
    let local = match vc {
        0x20 => true,
        0x21 => false,
        _ => return Parsed::Malformed("proxy v2: bad version/command"),
    };
    let transport = match fam & 0x0f {
        0 => ProxyTransport::Unknown,
        1 => ProxyTransport::Tcp,
        2 => ProxyTransport::Udp,
        _ => return Parsed::Malformed("proxy v2: bad transport"),
    };
    let addr_len = match fam >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Parsed::Malformed("proxy v2: bad family"),
    };
    let len = usize::from(len);
    if len < addr_len {
        return Parsed::Malformed("proxy v2: length shorter than addresses");
    }
    need_or!(buf, 16 + len);
    let a = buf.get(16..16 + addr_len).unwrap_or(&[]);
    let (source, destination) = match fam >> 4 {
        1 => {
            let ip4 = |o: usize| -> Option<IpAddr> {
                let s: [u8; 4] = a.get(o..o + 4)?.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(s)))
            };
            (
                ip4(0).zip(be16(a, 8)).map(|(i, p)| SocketAddr::new(i, p)),
                ip4(4).zip(be16(a, 10)).map(|(i, p)| SocketAddr::new(i, p)),
            )
        }
        2 => {
            let ip6 = |o: usize| -> Option<IpAddr> {
                let s: [u8; 16] = a.get(o..o + 16)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(s)))
            };
            (
                ip6(0).zip(be16(a, 32)).map(|(i, p)| SocketAddr::new(i, p)),
                ip6(16).zip(be16(a, 34)).map(|(i, p)| SocketAddr::new(i, p)),
            )
        }
        _ => (None, None),
    };
    Parsed::Done {
        value: ProxyHeader {
            version: 2,
            local,
            transport,
            source,
            destination,
        },
        consumed: 16 + len,
    }
}

#[cfg(test)]
mod tests;
