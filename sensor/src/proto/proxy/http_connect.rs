//! HTTP proxying: `CONNECT` and its response, and absolute-form requests to a proxy.

use std::net::Ipv6Addr;

use super::{valid_name, MAX_HEAD};
use crate::proto::Parsed;

/// An HTTP `CONNECT` request's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub host: String,
    pub port: u16,
}

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
