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
        });
    }
}
