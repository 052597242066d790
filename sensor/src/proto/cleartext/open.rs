//! FTP (21), POP3 (110), IMAP (143) and SMTP submission and relay (25, 587): the login
//! name a client sends before any TLS. Each probe is gated on its port and wants the
//! server's greeting (`220`, `+OK`, `* OK`); the reader walks the client's command lines
//! until one names a user (only the name is kept, never a password), and pairs them with
//! the server's replies until one answers the login (`reply.rs`).

use super::reply::{self, Answer};
use super::{
    ftp_command, imap_command, line, pop3_command, sasl_login_user, sasl_plain, smtp_command, Login,
};
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, S1};
use crate::proto::Parsed;

/// Client lines read before giving up on a login.
const LINES: usize = 16;

fn greets(sc: &[u8], port: u16, ports: &[u16], greeting: &[u8]) -> bool {
    ports.contains(&port) && sc.starts_with(greeting)
}

pub fn probe_ftp(_cs: &[u8], sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    greets(sc, ports[1], &[21], b"220").then_some(AppProto::Ftp)
}

pub fn probe_pop3(_cs: &[u8], sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    greets(sc, ports[1], &[110], b"+OK").then_some(AppProto::Pop3)
}

pub fn probe_imap(_cs: &[u8], sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    (greets(sc, ports[1], &[143], b"* OK") || greets(sc, ports[1], &[143], b"* PREAUTH"))
        .then_some(AppProto::Imap)
}

pub fn probe_smtp(_cs: &[u8], sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    greets(sc, ports[1], &[25, 587], b"220").then_some(AppProto::Smtp)
}

/// The login in the client's lines of `buf`, and whether the search is over (a login, a
/// switch to TLS, too many lines, or bytes that are not command lines).
fn find_login(proto: AppProto, mut buf: &[u8]) -> (Option<Login>, bool) {
    // A SASL exchange without an initial response: the client's next line is its answer.
    let mut pending: Option<&'static str> = None;
    for _ in 0..LINES {
        let (l, consumed) = match line(buf) {
            Parsed::Done { value, consumed } => (value, consumed),
            Parsed::NeedMore { .. } => return (None, false),
            Parsed::Malformed(_) => return (None, true),
        };
        if let Some(method) = pending {
            // `AUTH LOGIN`: the base64 user name; `AUTH PLAIN`: authzid NUL user NUL
            // password, of which only the names are decoded.
            let (user, authzid) = if method == "plain" {
                match std::str::from_utf8(l).ok().and_then(sasl_plain) {
                    Some((z, u)) => (Some(u), z),
                    None => (None, None),
                }
            } else {
                (sasl_login_user(l), None)
            };
            let login = user.map(|user| Login {
                proto: proto.as_str(),
                method,
                user,
                authzid,
            });
            return (login, true);
        }
        let text = String::from_utf8_lossy(l);
        let words: Vec<&str> = text.split_ascii_whitespace().take(3).collect();
        let verb_at = usize::from(proto == AppProto::Imap);
        let verb = words.get(verb_at).map(|w| w.to_ascii_uppercase());
        if verb.as_deref() == Some("STARTTLS")
            || (verb.as_deref() == Some("AUTH") && proto == AppProto::Ftp)
        {
            return (None, true);
        }
        let parsed = match proto {
            AppProto::Ftp => ftp_command(buf),
            AppProto::Pop3 => pop3_command(buf),
            AppProto::Imap => imap_command(buf),
            _ => smtp_command(buf),
        };
        if let Parsed::Done {
            value: Some(login), ..
        } = parsed
        {
            return (Some(login), true);
        }
        let mech = words.get(verb_at + 1).map(|w| w.to_ascii_uppercase());
        if matches!(verb.as_deref(), Some("AUTH" | "AUTHENTICATE")) && words.len() == verb_at + 2 {
            pending = match mech.as_deref() {
                Some("LOGIN") => Some("sasl-login"),
                Some("PLAIN") => Some("plain"),
                _ => None,
            };
        }
        buf = &buf[consumed.min(buf.len())..];
    }
    (None, true)
}

pub fn read(o: &mut Opening) -> Outcome {
    let proto = *o.app_proto;
    let (login, over) = find_login(proto, o.buf[0]);
    if let Some(l) = login {
        o.meta().account = Some(l.user);
    }
    if over || o.gap[0] {
        *o.got |= C1;
    }
    let answer = match proto {
        AppProto::Ftp => reply::ftp(o.buf[0], o.buf[1]),
        AppProto::Pop3 => reply::pop3(o.buf[0], o.buf[1]),
        AppProto::Imap => reply::imap(o.buf[0], o.buf[1]),
        _ => reply::smtp(o.buf[0], o.buf[1]),
    };
    match answer {
        Answer::Reply(r) => {
            o.meta().login = Some(r);
            *o.got |= S1;
        }
        Answer::Over => *o.got |= S1,
        Answer::NeedMore if o.gap[0] || o.gap[1] => *o.got |= S1,
        Answer::NeedMore => {}
    }
    o.done_if(C1 | S1);
    Outcome::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(p: AppProto, client: &[u8]) -> (Option<String>, bool) {
        let (l, over) = find_login(p, client);
        (l.map(|l| l.user), over)
    }

    #[test]
    fn probes_want_port_and_greeting() {
        assert_eq!(
            probe_ftp(b"", b"220 ready\r\n", [5000, 21]),
            Some(AppProto::Ftp)
        );
        assert_eq!(probe_ftp(b"", b"220 ready\r\n", [5000, 2121]), None);
        assert_eq!(
            probe_smtp(b"", b"220 mx ESMTP\r\n", [5000, 587]),
            Some(AppProto::Smtp)
        );
        assert_eq!(
            probe_pop3(b"", b"+OK POP3\r\n", [5000, 110]),
            Some(AppProto::Pop3)
        );
        assert_eq!(
            probe_imap(b"", b"* OK IMAP\r\n", [5000, 143]),
            Some(AppProto::Imap)
        );
        assert_eq!(probe_imap(b"", b"HTTP/1.1 200", [5000, 143]), None);
    }

    #[test]
    fn logins_after_other_commands() {
        let ftp = b"FEAT\r\nUSER bob\r\nPASS hunter2\r\n";
        assert_eq!(user(AppProto::Ftp, ftp), (Some("bob".into()), true));
        let imap = b"a1 CAPABILITY\r\na2 LOGIN \"carol x\" pw\r\n";
        assert_eq!(user(AppProto::Imap, imap), (Some("carol x".into()), true));
        // SMTP AUTH LOGIN without an initial response: the next line is the user.
        let smtp = b"EHLO me\r\nAUTH LOGIN\r\nZGF2ZQ==\r\ncGFzcw==\r\n";
        assert_eq!(user(AppProto::Smtp, smtp), (Some("dave".into()), true));
        // AUTH PLAIN without an initial response: authzid NUL user NUL password.
        let smtp = b"EHLO me\r\nAUTH PLAIN\r\nAGVyaW4AcHc=\r\n";
        assert_eq!(user(AppProto::Smtp, smtp), (Some("erin".into()), true));
    }

    #[test]
    fn waits_for_whole_lines_and_stops_at_tls() {
        assert_eq!(user(AppProto::Ftp, b"USER bo"), (None, false));
        assert_eq!(
            user(AppProto::Smtp, b"EHLO me\r\nSTARTTLS\r\n"),
            (None, true)
        );
        assert_eq!(user(AppProto::Ftp, b"AUTH TLS\r\n"), (None, true));
        // Split at every byte: no name until the line is complete.
        let ftp = b"USER bob\r\n";
        for i in 0..ftp.len() {
            assert_eq!(user(AppProto::Ftp, &ftp[..i]).0, None, "{i}");
        }
    }
}
