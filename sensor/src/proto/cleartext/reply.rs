//! The server's answer to a clear-text login: each client command is paired with the
//! server's reply in order (the protocols are lock-step; a pipelining client's replies still
//! come in order), until the reply to a login command says whether it succeeded.
//!
//! - FTP (RFC 959 §4.2, §5.4): `USER`/`PASS`/`ACCT` answered `230` (logged in) or `530`
//!   (not logged in); `1xx` preliminary replies are skipped; `AUTH` (TLS follows) ends it.
//! - SMTP (RFC 4954 §4, §6): `AUTH` answered `235` or `535` (credentials invalid), with `334`
//!   challenges each answered by one client line; `STARTTLS` ends it.
//! - POP3 (RFC 1939 §3, RFC 5034 §4): `PASS`, `APOP` or `AUTH mech` answered `+OK` or `-ERR`,
//!   `+ ` continuations each answered by one client line, multi-line replies (`CAPA`, `LIST`,
//!   `UIDL`, `RETR`, `TOP`) skipped to their `.`; `STLS` ends it.
//! - IMAP (RFC 9051 §7.1): the tagged `OK`, `NO` or `BAD` carrying the tag of `LOGIN` or
//!   `AUTHENTICATE`; untagged and continuation lines (and their literals) are skipped;
//!   `STARTTLS` ends it.
//!
//! Only command verbs and reply codes are looked at: a password line is never copied.

use super::line;
use crate::model::meta::LoginMeta;
use crate::proto::Parsed;

/// Client commands paired with replies before giving up.
const COMMANDS: usize = 16;

/// What the two streams say of a login so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The reply to a login command.
    Reply(LoginMeta),
    /// More bytes of either stream are needed.
    NeedMore,
    /// No answer will come: TLS starts, too many commands, or bytes that are not lines.
    Over,
}

type Step<T> = Result<T, Answer>;

/// One stream's lines, one at a time.
struct Lines<'a>(&'a [u8]);

impl<'a> Lines<'a> {
    fn next(&mut self) -> Step<&'a [u8]> {
        match line(self.0) {
            Parsed::Done { value, consumed } => {
                self.0 = &self.0[consumed.min(self.0.len())..];
                Ok(value)
            }
            Parsed::NeedMore { .. } => Err(Answer::NeedMore),
            Parsed::Malformed(_) => Err(Answer::Over),
        }
    }

    fn skip(&mut self, n: usize) -> Step<()> {
        if self.0.len() < n {
            return Err(Answer::NeedMore);
        }
        self.0 = &self.0[n..];
        Ok(())
    }
}

fn run(f: impl FnOnce() -> Step<LoginMeta>) -> Answer {
    match f() {
        Ok(m) => Answer::Reply(m),
        Err(a) => a,
    }
}

fn reply(command: &'static str, reply: &str, failed: bool) -> LoginMeta {
    LoginMeta {
        command,
        failed,
        reply: reply.to_string(),
    }
}

/// The `n`th word of a line, upper-cased (command verbs are case-insensitive).
fn word(l: &[u8], n: usize) -> Option<String> {
    l.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .nth(n)
        .map(|w| String::from_utf8_lossy(&w[..w.len().min(16)]).to_ascii_uppercase())
}

/// The verb as a static name when it is one of `names`.
fn named(verb: Option<&str>, names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|n| Some(*n) == verb)
}

/// A reply line's three-digit code (FTP, SMTP) and whether more lines follow (`ddd-`).
fn code3(l: &[u8]) -> Option<(u16, bool)> {
    let d = l.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let more = match l.get(3) {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return None,
    };
    let code = d.iter().fold(0u16, |a, b| a * 10 + u16::from(b - b'0'));
    Some((code, more))
}

/// One FTP/SMTP reply, multi-line ones to their last line: its code.
fn coded(s: &mut Lines) -> Step<u16> {
    let (code, mut more) = code3(s.next()?).ok_or(Answer::Over)?;
    while more {
        let l = s.next()?;
        more = code3(l).is_none_or(|(c, m)| c != code || m);
    }
    Ok(code)
}

/// One final FTP/SMTP reply (preliminary `1xx` replies skipped).
fn final_coded(s: &mut Lines) -> Step<u16> {
    loop {
        let c = coded(s)?;
        if c >= 200 {
            return Ok(c);
        }
    }
}

/// FTP: the reply to `USER`, `PASS` or `ACCT` that logs in (`230`) or refuses (`530`).
pub fn ftp(cs: &[u8], sc: &[u8]) -> Answer {
    run(|| {
        let (mut c, mut s) = (Lines(cs), Lines(sc));
        final_coded(&mut s)?; // the greeting
        for _ in 0..COMMANDS {
            let verb = word(c.next()?, 0);
            if verb.as_deref() == Some("AUTH") {
                return Err(Answer::Over);
            }
            let code = final_coded(&mut s)?;
            if let Some(v) = named(verb.as_deref(), &["USER", "PASS", "ACCT"]) {
                if code == 230 || code == 530 {
                    return Ok(reply(v, &code.to_string(), code == 530));
                }
            }
        }
        Err(Answer::Over)
    })
}

/// SMTP: the reply to `AUTH` that accepts (`235`) or refuses the credentials (`535`).
pub fn smtp(cs: &[u8], sc: &[u8]) -> Answer {
    run(|| {
        let (mut c, mut s) = (Lines(cs), Lines(sc));
        final_coded(&mut s)?;
        for _ in 0..COMMANDS {
            let verb = word(c.next()?, 0);
            match verb.as_deref() {
                Some("STARTTLS") | Some("DATA") | Some("BDAT") => return Err(Answer::Over),
                Some("AUTH") => loop {
                    let code = final_coded(&mut s)?;
                    if code == 334 {
                        c.next()?;
                        continue;
                    }
                    if code == 235 || code == 535 {
                        return Ok(reply("AUTH", &code.to_string(), code == 535));
                    }
                    break;
                },
                _ => {
                    final_coded(&mut s)?;
                }
            }
        }
        Err(Answer::Over)
    })
}

/// A POP3 status line: `+OK` (true) or `-ERR` (false).
fn pop3_status(l: &[u8]) -> Step<bool> {
    if l.starts_with(b"+OK") {
        Ok(true)
    } else if l.starts_with(b"-ERR") {
        Ok(false)
    } else {
        Err(Answer::Over)
    }
}

/// Skip a POP3 multi-line reply's lines to its terminating `.`.
fn pop3_body(s: &mut Lines) -> Step<()> {
    while s.next()? != b"." {}
    Ok(())
}

/// POP3: the reply to `PASS`, `APOP` or `AUTH mech`: `+OK` or `-ERR`.
pub fn pop3(cs: &[u8], sc: &[u8]) -> Answer {
    run(|| {
        let (mut c, mut s) = (Lines(cs), Lines(sc));
        pop3_status(s.next()?)?; // the greeting
        for _ in 0..COMMANDS {
            let cmd = c.next()?;
            let verb = word(cmd, 0);
            let has_arg = word(cmd, 1).is_some();
            if verb.as_deref() == Some("STLS") {
                return Err(Answer::Over);
            }
            let mut l = s.next()?;
            // SASL continuations: one client line each.
            while verb.as_deref() == Some("AUTH") && (l == b"+" || l.starts_with(b"+ ")) {
                c.next()?;
                l = s.next()?;
            }
            let ok = pop3_status(l)?;
            let body = match verb.as_deref() {
                Some("CAPA" | "RETR" | "TOP") => true,
                Some("LIST" | "UIDL" | "AUTH") => !has_arg,
                _ => false,
            };
            if ok && body {
                pop3_body(&mut s)?;
            }
            let login = match verb.as_deref() {
                Some("AUTH") if has_arg => Some("AUTH"),
                v => named(v, &["PASS", "APOP"]),
            };
            if let Some(v) = login {
                return Ok(reply(v, if ok { "+OK" } else { "-ERR" }, !ok));
            }
        }
        Err(Answer::Over)
    })
}

/// The byte count of a literal `{n}` or `{n+}` that ends an IMAP line.
fn literal(l: &[u8]) -> Option<usize> {
    let inner = l.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let n = &inner[open + 1..];
    let n = n.strip_suffix(b"+").unwrap_or(n);
    if n.is_empty() || n.len() > 9 || !n.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// IMAP: the tagged reply to `LOGIN` or `AUTHENTICATE`: `OK`, `NO` or `BAD`.
pub fn imap(cs: &[u8], sc: &[u8]) -> Answer {
    run(|| {
        let mut c = Lines(cs);
        let mut found = None;
        for _ in 0..COMMANDS {
            let cmd = c.next()?;
            let verb = word(cmd, 1);
            if verb.as_deref() == Some("STARTTLS") {
                return Err(Answer::Over);
            }
            if let Some(v) = named(verb.as_deref(), &["LOGIN", "AUTHENTICATE"]) {
                let tag = cmd.split(|&b| b == b' ').next().unwrap_or_default();
                found = Some((v, tag));
                break;
            }
        }
        let (verb, tag) = found.ok_or(Answer::Over)?;
        let mut s = Lines(sc);
        loop {
            let l = s.next()?;
            if let Some(n) = literal(l) {
                s.skip(n)?;
            }
            let mut w = l.splitn(3, |&b| b == b' ');
            if w.next() != Some(tag) {
                continue;
            }
            let status = w.next().map(|x| x.to_ascii_uppercase());
            return match status.as_deref() {
                Some(b"OK") => Ok(reply(verb, "OK", false)),
                Some(b"NO") => Ok(reply(verb, "NO", true)),
                Some(b"BAD") => Ok(reply(verb, "BAD", true)),
                _ => Err(Answer::Over),
            };
        }
    })
}
