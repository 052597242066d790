//! Login names that clear-text protocols send in the open: HTTP Basic (RFC 7617), FTP
//! `USER` (RFC 959 §4.1.1), POP3 `USER` / `APOP` / `AUTH PLAIN` (RFC 1939 §7, RFC 5034),
//! IMAP `LOGIN` / `AUTHENTICATE PLAIN` (RFC 9051 §6.2.3, §6.2.2) and SMTP `AUTH PLAIN` /
//! `AUTH LOGIN` (RFC 4954, SASL PLAIN RFC 4616).
//!
//! Only the name is ever kept: passwords are skipped without being copied anywhere.
//! Every parser takes the start of one direction's stream buffer and answers for one line
//! (or one HTTP head); `Done(None)` is a complete line that carries no login.

use super::Parsed;
use base64::Engine;
use serde::Serialize;

/// Longest name kept, in bytes.
pub const NAME_CAP: usize = 256;
/// Longest command line looked at; a longer one is malformed.
pub const LINE_CAP: usize = 4096;
/// Longest HTTP request head looked at.
pub const HEAD_CAP: usize = 16 * 1024;

/// One login name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Login {
    /// "http", "ftp", "pop3", "imap" or "smtp".
    pub proto: &'static str,
    /// "basic", "user", "apop", "login", "plain" (SASL PLAIN) or "sasl-login".
    pub method: &'static str,
    pub user: String,
    /// SASL PLAIN authorization identity, when it differs from the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authzid: Option<String>,
}

fn cap(s: &str) -> String {
    let mut end = s.len().min(NAME_CAP);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// One line ending in LF (CR before it dropped) at the start of `buf`.
pub fn line(buf: &[u8]) -> Parsed<&[u8]> {
    match buf.iter().take(LINE_CAP).position(|&b| b == b'\n') {
        Some(i) => {
            let l = &buf[..i];
            Parsed::Done {
                value: l.strip_suffix(b"\r").unwrap_or(l),
                consumed: i + 1,
            }
        }
        None if buf.len() >= LINE_CAP => Parsed::Malformed("line too long"),
        None => Parsed::NeedMore { needed: 1 },
    }
}

/// An HTTP head (up to and without the blank line) at the start of `buf`; `consumed`
/// includes the blank line. At most `cap` bytes are searched.
pub fn http_head(buf: &[u8], cap: usize) -> Parsed<&[u8]> {
    let hay = &buf[..buf.len().min(cap)];
    if let Some(i) = hay.windows(4).position(|w| w == b"\r\n\r\n") {
        return Parsed::Done {
            value: &buf[..i + 2],
            consumed: i + 4,
        };
    }
    if let Some(i) = hay.windows(2).position(|w| w == b"\n\n") {
        return Parsed::Done {
            value: &buf[..i + 1],
            consumed: i + 2,
        };
    }
    if buf.len() >= cap {
        Parsed::Malformed("HTTP head too long")
    } else {
        Parsed::NeedMore { needed: 1 }
    }
}

/// Values of the header `name` (ASCII case-insensitive) in an HTTP head, trimmed.
pub fn header_values<'a>(head: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.split(|&b| b == b'\n').skip(1).filter_map(move |l| {
        let l = std::str::from_utf8(l).ok()?;
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn b64(s: &str) -> Option<Vec<u8>> {
    if s.len() > LINE_CAP {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// The user of an `Authorization: Basic` header value (the part before the first ':').
pub fn basic_user(value: &str) -> Option<String> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let raw = b64(token)?;
    let user = raw.split(|&b| b == b':').next()?;
    Some(cap(&String::from_utf8_lossy(user)))
}

/// The user name of HTTP Basic authentication in a request head at the start of `buf`.
pub fn http_basic(buf: &[u8]) -> Parsed<Option<Login>> {
    match http_head(buf, HEAD_CAP) {
        Parsed::Done { value, consumed } => Parsed::Done {
            value: header_values(value, "authorization")
                .find_map(basic_user)
                .map(|user| Login {
                    proto: "http",
                    method: "basic",
                    user,
                    authzid: None,
                }),
            consumed,
        },
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
    }
}

/// SASL PLAIN initial response (base64 of authzid NUL authcid NUL passwd): (authzid,
/// authcid). The password is never decoded into a string.
pub fn sasl_plain(token: &str) -> Option<(Option<String>, String)> {
    let raw = b64(token)?;
    let mut parts = raw.splitn(3, |&b| b == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    parts.next()?;
    let authzid =
        (!authzid.is_empty() && authzid != authcid).then(|| cap(&String::from_utf8_lossy(authzid)));
    Some((authzid, cap(&String::from_utf8_lossy(authcid))))
}

/// The user name a client sends as the first reply of SASL LOGIN (base64 on its own line,
/// after the server's `334 VXNlcm5hbWU6`); the caller keeps that state.
pub fn sasl_login_user(line: &[u8]) -> Option<String> {
    let raw = b64(std::str::from_utf8(line).ok()?)?;
    (!raw.is_empty()).then(|| cap(&String::from_utf8_lossy(&raw)))
}

/// Splits "VERB rest" with the verb compared case-insensitively.
fn verb<'a>(l: &'a str, v: &str) -> Option<&'a str> {
    let (head, rest) = l.split_once(' ').unwrap_or((l, ""));
    head.eq_ignore_ascii_case(v).then_some(rest)
}

fn on_line(buf: &[u8], f: impl FnOnce(&str) -> Option<Login>) -> Parsed<Option<Login>> {
    match line(buf) {
        Parsed::Done { value, consumed } => Parsed::Done {
            value: std::str::from_utf8(value).ok().and_then(f),
            consumed,
        },
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
    }
}

fn login(proto: &'static str, method: &'static str, user: &str) -> Option<Login> {
    let user = user.trim();
    (!user.is_empty()).then(|| Login {
        proto,
        method,
        user: cap(user),
        authzid: None,
    })
}

fn plain(proto: &'static str, token: &str) -> Option<Login> {
    let (authzid, user) = sasl_plain(token)?;
    Some(Login {
        proto,
        method: "plain",
        user,
        authzid,
    })
}

/// SASL "AUTH mech [initial-response]" arguments common to POP3, SMTP and IMAP.
fn auth(proto: &'static str, args: &str) -> Option<Login> {
    let mut it = args.split_ascii_whitespace();
    let mech = it.next()?;
    let ir = it.next()?;
    if mech.eq_ignore_ascii_case("PLAIN") {
        plain(proto, ir)
    } else if mech.eq_ignore_ascii_case("LOGIN") {
        Some(Login {
            proto,
            method: "sasl-login",
            user: sasl_login_user(ir.as_bytes())?,
            authzid: None,
        })
    } else {
        None
    }
}

/// An FTP client command line: `USER name`.
pub fn ftp_command(buf: &[u8]) -> Parsed<Option<Login>> {
    on_line(buf, |l| login("ftp", "user", verb(l, "USER")?))
}

/// A POP3 client command line: `USER name`, `APOP name digest`, `AUTH PLAIN <b64>`.
pub fn pop3_command(buf: &[u8]) -> Parsed<Option<Login>> {
    on_line(buf, |l| {
        if let Some(u) = verb(l, "USER") {
            login("pop3", "user", u)
        } else if let Some(a) = verb(l, "APOP") {
            login("pop3", "apop", a.split_ascii_whitespace().next()?)
        } else {
            auth("pop3", verb(l, "AUTH")?)
        }
    })
}

/// An SMTP client command line: `AUTH PLAIN <b64>` or `AUTH LOGIN <b64 user>`.
pub fn smtp_command(buf: &[u8]) -> Parsed<Option<Login>> {
    on_line(buf, |l| auth("smtp", verb(l, "AUTH")?))
}

/// An IMAP client command line: `tag LOGIN user password` (user an atom or a quoted
/// string; a literal `{n}` is not followed) or `tag AUTHENTICATE PLAIN <b64>`.
pub fn imap_command(buf: &[u8]) -> Parsed<Option<Login>> {
    on_line(buf, |l| {
        let (_tag, rest) = l.split_once(' ')?;
        if let Some(args) = verb(rest, "LOGIN") {
            let user = imap_astring(args)?;
            login("imap", "login", &user)
        } else {
            auth("imap", verb(rest, "AUTHENTICATE")?)
        }
    })
}

/// The first astring of `s`: a quoted string (with `\"` and `\\`) or an atom.
fn imap_astring(s: &str) -> Option<String> {
    let s = s.trim_start();
    if let Some(q) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut esc = false;
        for c in q.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                return Some(out);
            } else {
                out.push(c);
            }
            if out.len() > NAME_CAP {
                return Some(cap(&out));
            }
        }
        None
    } else if s.starts_with('{') {
        None
    } else {
        s.split_ascii_whitespace().next().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests;

pub mod open;
pub mod reply;
