use super::*;
use crate::proto::ber::garbage;
use base64::Engine;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn user(p: Parsed<Option<Login>>) -> Option<(&'static str, String, Option<String>)> {
    p.done().flatten().map(|l| (l.method, l.user, l.authzid))
}

#[test]
fn http_basic_user_never_password() {
    let req = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\r\n",
        b64(b"alice:pa:ss")
    );
    let l = http_basic(req.as_bytes()).done().flatten().unwrap();
    assert_eq!((l.proto, l.user.as_str()), ("http", "alice"));
    assert!(!serde_json::to_string(&l).unwrap().contains("pa"));
    for cut in 0..req.len() {
        assert!(
            matches!(http_basic(&req.as_bytes()[..cut]), Parsed::NeedMore { .. }),
            "cut {cut}"
        );
    }
    assert_eq!(
        http_basic(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").done(),
        Some(None)
    );
}

#[test]
fn ftp_and_pop3_user() {
    assert_eq!(
        user(ftp_command(b"USER anonymous\r\n")),
        Some(("user", "anonymous".into(), None))
    );
    assert_eq!(
        user(ftp_command(b"user bob\n")),
        Some(("user", "bob".into(), None))
    );
    assert_eq!(ftp_command(b"PASS secret\r\n").done(), Some(None));
    assert!(matches!(ftp_command(b"USER bo"), Parsed::NeedMore { .. }));
    assert_eq!(
        user(pop3_command(b"USER carol\r\n")),
        Some(("user", "carol".into(), None))
    );
    assert_eq!(
        user(pop3_command(
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
        )),
        Some(("apop", "mrose".into(), None))
    );
}

#[test]
fn imap_login_atom_quoted_and_literal() {
    assert_eq!(
        user(imap_command(b"a001 LOGIN bob secret\r\n")),
        Some(("login", "bob".into(), None))
    );
    assert_eq!(
        user(imap_command(b"a2 login \"Bob \\\"B\\\" Smith\" \"pw\"\r\n")),
        Some(("login", "Bob \"B\" Smith".into(), None))
    );
    assert_eq!(imap_command(b"a3 LOGIN {5}\r\n").done(), Some(None));
    assert_eq!(imap_command(b"a4 SELECT INBOX\r\n").done(), Some(None));
}

#[test]
fn smtp_auth_plain_and_login() {
    let line = format!("AUTH PLAIN {}\r\n", b64(b"\0tim\0tanstaaftanstaaf"));
    assert_eq!(
        user(smtp_command(line.as_bytes())),
        Some(("plain", "tim".into(), None))
    );
    let line = format!("AUTH PLAIN {}\r\n", b64(b"admin\0tim\0pw"));
    assert_eq!(
        user(smtp_command(line.as_bytes())),
        Some(("plain", "tim".into(), Some("admin".into())))
    );
    let line = format!("AUTH LOGIN {}\r\n", b64(b"tim"));
    assert_eq!(
        user(smtp_command(line.as_bytes())),
        Some(("sasl-login", "tim".into(), None))
    );
    assert_eq!(smtp_command(b"AUTH LOGIN\r\n").done(), Some(None));
    assert_eq!(
        sasl_login_user(b64(b"tim").as_bytes()).as_deref(),
        Some("tim")
    );
    assert_eq!(smtp_command(b"MAIL FROM:<a@b>\r\n").done(), Some(None));
    let line = format!("A1 AUTHENTICATE PLAIN {}\r\n", b64(b"\0u\0p"));
    assert_eq!(
        user(imap_command(line.as_bytes())),
        Some(("plain", "u".into(), None))
    );
}

#[test]
fn long_lines_and_names_are_capped() {
    let long = format!("USER {}\r\n", "n".repeat(3000));
    assert_eq!(
        user(ftp_command(long.as_bytes())).unwrap().1.len(),
        NAME_CAP
    );
    let huge = vec![b'x'; LINE_CAP + 10];
    assert!(matches!(ftp_command(&huge), Parsed::Malformed(_)));
}

#[test]
fn never_panics_on_garbage() {
    let seeds: Vec<Vec<u8>> = vec![
        b"a1 LOGIN \"x\\\" y\r\n".to_vec(),
        b"USER a\r\nPASS b\r\n220-x\r\n220 y\r\n331 p\r\n530 n\r\n".to_vec(),
        b"a AUTHENTICATE PLAIN\r\n* OK\r\n+ \r\n* X {3}\r\nabca NO x\r\n".to_vec(),
        format!("AUTH PLAIN {}\r\n", b64(b"a\0b\0c")).into_bytes(),
        format!(
            "GET / HTTP/1.1\r\nAuthorization: Basic {}\r\n\r\n",
            b64(b"u:p")
        )
        .into_bytes(),
    ];
    for seed in seeds {
        garbage(&seed, 3000, |b| {
            let _ = http_basic(b);
            let _ = ftp_command(b);
            let _ = pop3_command(b);
            let _ = imap_command(b);
            let _ = smtp_command(b);
            let _ = sasl_login_user(b);
            let (cs, sc) = b.split_at(b.len() / 2);
            let _ = reply::ftp(cs, sc);
            let _ = reply::pop3(cs, sc);
            let _ = reply::imap(cs, sc);
            let _ = reply::smtp(cs, sc);
        });
    }
}

mod replies {
    use super::super::reply::{self, Answer};

    type Pair = fn(&[u8], &[u8]) -> Answer;

    fn got(a: Answer) -> Option<(&'static str, String, bool)> {
        match a {
            Answer::Reply(r) => Some((r.command, r.reply, r.failed)),
            _ => None,
        }
    }

    /// Cut either stream anywhere before its last byte: the answer waits for more; whole,
    /// it is `want`.
    fn split_everywhere(f: Pair, cs: &[u8], sc: &[u8], want: (&'static str, &str, bool)) {
        let want = Some((want.0, want.1.to_string(), want.2));
        assert_eq!(got(f(cs, sc)), want);
        for cut in 0..sc.len() {
            assert_eq!(f(cs, &sc[..cut]), Answer::NeedMore, "server cut {cut}");
        }
        // The client's stream may stop after the login command's line.
        let last = cs.len() - 1;
        for cut in 0..last {
            let a = f(&cs[..cut], sc);
            assert!(
                a == Answer::NeedMore || got(a.clone()) == want,
                "client cut {cut}: {a:?}"
            );
        }
    }

    #[test]
    fn ftp_530_after_pass_is_a_failure() {
        let cs = b"USER bob\r\nPASS hunter2\r\n";
        let sc = b"220-Welcome\r\n220 ready\r\n331 Please specify the password.\r\n530 Login incorrect.\r\n";
        split_everywhere(reply::ftp, cs, sc, ("PASS", "530", true));
        let ok = b"220 ready\r\n331 pw\r\n230 Login successful.\r\n";
        assert_eq!(got(reply::ftp(cs, ok)), Some(("PASS", "230".into(), false)));
        // A 530 to another command (before login) is not a failed login.
        let cs = b"LIST\r\nUSER bob\r\nPASS x\r\n";
        let sc = b"220 ready\r\n530 Please login with USER and PASS.\r\n331 pw\r\n230 ok\r\n";
        assert_eq!(got(reply::ftp(cs, sc)), Some(("PASS", "230".into(), false)));
        // AUTH TLS: nothing more to read in clear.
        assert_eq!(
            reply::ftp(b"AUTH TLS\r\n", b"220 x\r\n234 go\r\n"),
            Answer::Over
        );
        // Not FTP replies.
        assert_eq!(reply::ftp(b"USER a\r\n", b"HTTP/1.1 200\r\n"), Answer::Over);
    }

    #[test]
    fn pop3_err_after_pass_or_auth_is_a_failure() {
        let cs = b"CAPA\r\nUSER bob\r\nPASS hunter2\r\n";
        let sc = b"+OK POP3 ready\r\n+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\n.\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n";
        split_everywhere(reply::pop3, cs, sc, ("PASS", "-ERR", true));
        // AUTH PLAIN without an initial response: one continuation.
        let cs = b"AUTH PLAIN\r\nAGJvYgBwdw==\r\n";
        let sc = b"+OK hi\r\n+ \r\n-ERR [AUTH] Authentication failed.\r\n";
        split_everywhere(reply::pop3, cs, sc, ("AUTH", "-ERR", true));
        let sc = b"+OK hi\r\n+ \r\n+OK Logged in.\r\n";
        assert_eq!(
            got(reply::pop3(cs, sc)),
            Some(("AUTH", "+OK".into(), false))
        );
        // -ERR to USER (plaintext refused) is not a failed login; STLS ends it.
        let cs = b"USER bob\r\nSTLS\r\n";
        let sc = b"+OK hi\r\n-ERR [AUTH] Plaintext authentication disallowed\r\n+OK Begin TLS\r\n";
        assert_eq!(reply::pop3(cs, sc), Answer::Over);
    }

    #[test]
    fn imap_no_or_bad_to_login_is_a_failure() {
        let cs = b"a1 CAPABILITY\r\na2 LOGIN bob hunter2\r\n";
        let sc = b"* OK IMAP4rev1 ready\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\na2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n";
        split_everywhere(reply::imap, cs, sc, ("LOGIN", "NO", true));
        let cs = b"x AUTHENTICATE PLAIN\r\nAGJvYgBwdw==\r\n";
        let sc = b"* OK ready\r\n+ \r\nx BAD Invalid\r\n";
        split_everywhere(reply::imap, cs, sc, ("AUTHENTICATE", "BAD", true));
        let sc = b"* OK ready\r\n+ \r\n* CAPABILITY {5}\r\nx OK \r\nx OK Logged in\r\n";
        // The literal's bytes are not a tagged line.
        assert_eq!(
            got(reply::imap(cs, sc)),
            Some(("AUTHENTICATE", "OK".into(), false))
        );
        assert_eq!(
            reply::imap(b"a STARTTLS\r\n", b"* OK\r\na OK go\r\n"),
            Answer::Over
        );
    }

    #[test]
    fn smtp_535_to_auth_is_a_failure() {
        let cs = b"EHLO me\r\nAUTH LOGIN\r\nYm9i\r\ncHc=\r\n";
        let sc = b"220 mx ESMTP\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n535 5.7.8 Authentication credentials invalid\r\n";
        split_everywhere(reply::smtp, cs, sc, ("AUTH", "535", true));
        assert_eq!(
            reply::smtp(b"EHLO me\r\nSTARTTLS\r\n", b"220 x\r\n250 x\r\n220 go\r\n"),
            Answer::Over
        );
    }
}
