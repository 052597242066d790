//! HTTP/1.x message heads (RFC 9112 §2–§5): request line or status line and the header
//! fields a sensor wants. Bodies are not read. RD Gateway's `RDG_OUT_DATA` /
//! `RDG_IN_DATA` (MS-TSGU §2.2.3.1) count as request methods.

use super::{Parsed, Probe};

/// A head longer than this without its blank line is not believed.
const MAX_HEAD: usize = 16 * 1024;
const STR_CAP: usize = 256;
const URI_CAP: usize = 1024;

const METHODS: [&[u8]; 10] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"OPTIONS ",
    b"DELETE ",
    b"PATCH ",
    b"CONNECT ",
    b"RDG_OUT_DATA ",
    b"RDG_IN_DATA ",
];
const RESPONSE: &[u8] = b"HTTP/1.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub content_length: Option<u64>,
    /// A Proxy-Authorization header is present (its value is not kept).
    pub proxy_authorization: bool,
    pub upgrade: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub server: Option<String>,
    pub content_length: Option<u64>,
}

/// The text of the first `<tag>…</tag>` (ASCII case-insensitive) within the first 8 KiB of
/// `buf`, trimmed, control characters dropped, at most 128 bytes; None when absent or empty.
pub fn tag_text(buf: &[u8], tag: &str) -> Option<String> {
    let buf = &buf[..buf.len().min(8192)];
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let find = |hay: &[u8], pat: &[u8]| {
        hay.windows(pat.len())
            .position(|w| w.eq_ignore_ascii_case(pat))
    };
    let start = find(buf, open.as_bytes())? + open.len();
    let len = find(&buf[start..], close.as_bytes())?;
    let text = &buf[start..start + len.min(512)];
    let mut s: String = String::from_utf8_lossy(text)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    s = s.trim().to_string();
    super::ber::truncate(&mut s, 128);
    (!s.is_empty()).then_some(s)
}

/// Compare `buf` with `pat` as far as `buf` goes: Some(true) complete match, Some(false)
/// prefix only, None mismatch.
fn prefix(buf: &[u8], pat: &[u8]) -> Option<bool> {
    let n = buf.len().min(pat.len());
    if buf.get(..n)? == pat.get(..n)? {
        Some(n == pat.len())
    } else {
        None
    }
}

/// Does this direction open with an HTTP/1.x request (known method) or response?
/// Pure, allocation-free.
pub fn probe(buf: &[u8]) -> Probe {
    let mut need_more = false;
    for pat in METHODS.iter().copied().chain(std::iter::once(RESPONSE)) {
        match prefix(buf, pat) {
            Some(true) => return Probe::Match,
            Some(false) => need_more = true,
            None => {}
        }
    }
    if need_more {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

fn lossy(b: &[u8], cap: usize) -> String {
    let b = b.get(..b.len().min(cap)).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

/// The head up to (not including) CR LF CR LF, and the bytes through it.
fn head(buf: &[u8]) -> Result<(&[u8], usize), Parsed<()>> {
    let window = buf.get(..buf.len().min(MAX_HEAD)).unwrap_or(buf);
    match window.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) => Ok((window.get(..p).unwrap_or(&[]), p + 4)),
        None if buf.len() >= MAX_HEAD => Err(Parsed::Malformed("HTTP head longer than 16 KiB")),
        None => {
            // How many of "\r\n\r\n" are already at the end?
            let tail = (1..=3)
                .rev()
                .find(|&k| buf.len() >= k && buf.ends_with(&b"\r\n\r\n"[..k]))
                .unwrap_or(0);
            Err(Parsed::NeedMore { needed: 4 - tail })
        }
    }
}

fn reshape<T>(p: Parsed<()>) -> Parsed<T> {
    match p {
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
        Parsed::Done { .. } => Parsed::Malformed("internal"),
    }
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Header fields (RFC 9112 §5): name, value with surrounding whitespace removed. Lines
/// without a colon are skipped.
fn fields(lines: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    lines.split(|&b| b == b'\n').filter_map(|l| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let c = l.iter().position(|&b| b == b':')?;
        Some((l.get(..c)?, trim(l.get(c + 1..)?)))
    })
}

fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn split_line(h: &[u8]) -> (&[u8], &[u8]) {
    let end = h.iter().position(|&b| b == b'\n').unwrap_or(h.len());
    let line = h.get(..end).unwrap_or(h);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (line, h.get(end + 1..).unwrap_or(&[]))
}

/// Parse a request head: NeedMore until CR LF CR LF, Malformed past 16 KiB without it.
pub fn parse_request_head(buf: &[u8]) -> Parsed<Request> {
    if probe(buf) == Probe::NoMatch {
        return Parsed::Malformed("not an HTTP request method");
    }
    let (h, consumed) = match head(buf) {
        Ok(v) => v,
        Err(p) => return reshape(p),
    };
    let (line, rest) = split_line(h);
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Malformed("HTTP request line needs method, target and version");
    };
    if !version.starts_with(b"HTTP/") {
        return Parsed::Malformed("HTTP request line without HTTP version");
    }
    let mut req = Request {
        method: lossy(method, STR_CAP),
        uri: lossy(uri, URI_CAP),
        version: lossy(version, STR_CAP),
        host: None,
        user_agent: None,
        content_length: None,
        proxy_authorization: false,
        upgrade: None,
    };
    for (name, value) in fields(rest) {
        if name.eq_ignore_ascii_case(b"host") {
            req.host.get_or_insert_with(|| lossy(value, STR_CAP));
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            req.user_agent.get_or_insert_with(|| lossy(value, STR_CAP));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            req.content_length = req.content_length.or(content_length(value));
        } else if name.eq_ignore_ascii_case(b"proxy-authorization") {
            req.proxy_authorization = true;
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            req.upgrade.get_or_insert_with(|| lossy(value, STR_CAP));
        }
    }
    Parsed::Done {
        value: req,
        consumed,
    }
}

/// Parse a response head (`HTTP/1.x SP 3DIGIT ...`): NeedMore until CR LF CR LF.
pub fn parse_response_head(buf: &[u8]) -> Parsed<Response> {
    if prefix(buf, RESPONSE).is_none() {
        return Parsed::Malformed("not an HTTP/1.x response");
    }
    let (h, consumed) = match head(buf) {
        Ok(v) => v,
        Err(p) => return reshape(p),
    };
    let (line, rest) = split_line(h);
    let status = match line.get(8..) {
        Some([b' ', a, b, c, ..]) if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Parsed::Malformed("HTTP status line without a 3-digit status"),
    };
    let mut resp = Response {
        status,
        server: None,
        content_length: None,
    };
    for (name, value) in fields(rest) {
        if name.eq_ignore_ascii_case(b"server") {
            resp.server.get_or_insert_with(|| lossy(value, STR_CAP));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            resp.content_length = resp.content_length.or(content_length(value));
        }
    }
    Parsed::Done {
        value: resp,
        consumed,
    }
}

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
