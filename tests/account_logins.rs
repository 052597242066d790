//! Failed clear-text logins feed the failed-logins account alert (9300083) like Kerberos,
//! LDAP, SMB and HTTP 401 do: FTP `530` to `PASS`, POP3 `-ERR` to `PASS`/`AUTH`, IMAP `NO`/
//! `BAD` to `LOGIN`/`AUTHENTICATE`, SMTP `535` to `AUTH`. Replayed from generated captures;
//! each flow record carries the server's answer as `login`.

mod common;
use common::*;
use spanwatch_testkit::*;

const FAILED: u64 = 9_300_083;

/// One exchange: the client's lines and the server's, alternating, server first.
type Talk = fn(&str, bool) -> Vec<(bool, String)>;

fn ftp(user: &str, ok: bool) -> Vec<(bool, String)> {
    vec![
        (false, "220 (vsFTPd 3.0.3)\r\n".into()),
        (true, format!("USER {user}\r\n")),
        (false, "331 Please specify the password.\r\n".into()),
        (true, "PASS wrong-pw\r\n".into()),
        (
            false,
            if ok {
                "230 Login successful.\r\n"
            } else {
                "530 Login incorrect.\r\n"
            }
            .into(),
        ),
    ]
}

fn pop3(user: &str, ok: bool) -> Vec<(bool, String)> {
    vec![
        (false, "+OK Dovecot ready.\r\n".into()),
        (true, format!("USER {user}\r\n")),
        (false, "+OK\r\n".into()),
        (true, "PASS wrong-pw\r\n".into()),
        (
            false,
            if ok {
                "+OK Logged in.\r\n"
            } else {
                "-ERR [AUTH] Authentication failed.\r\n"
            }
            .into(),
        ),
    ]
}

fn imap(user: &str, ok: bool) -> Vec<(bool, String)> {
    vec![
        (
            false,
            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n".into(),
        ),
        (true, format!("a1 LOGIN {user} wrong-pw\r\n")),
        (
            false,
            if ok {
                "a1 OK Logged in\r\n"
            } else {
                "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
            }
            .into(),
        ),
    ]
}

/// `n` logins of `user`, from the clients in turn, 20 s apart.
fn logins((talk, port): (Talk, u16), user: &str, ok: bool, n: usize, clients: &[&str]) -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000);
    for i in 0..n {
        let c = clients[i % clients.len()];
        let mut t = sc.tcp_session((v4(c), 45_000 + i as u16), (v4("10.0.0.25"), port));
        t.handshake(&mut sc);
        for (from_client, line) in talk(user, ok) {
            if from_client {
                t.client_sends(&mut sc, line.as_bytes());
            } else {
                t.server_sends(&mut sc, line.as_bytes());
            }
        }
        t.close(&mut sc);
        sc.advance_ms(20_000);
    }
    sc.bytes().to_vec()
}

const SRCS: [&str; 3] = ["10.1.0.1", "10.2.0.1", "10.3.0.1"];

#[test]
fn failed_ftp_pop3_imap_logins_raise_the_failed_logins_alert() {
    for (talk, name, cmd, reply) in [
        ((ftp as Talk, 21), "ftp", "PASS", "530"),
        ((pop3 as Talk, 110), "pop3", "PASS", "-ERR"),
        ((imap as Talk, 143), "imap", "LOGIN", "NO"),
    ] {
        let recs = replay_home(&logins(talk, "bob", false, 12, &SRCS));
        let fl = flows(&recs);
        assert_eq!(fl.len(), 12, "{name}");
        for f in &fl {
            assert_eq!(f["app_proto"], name);
            assert_eq!(f["account"], "bob", "{name}: {f}");
            assert_eq!(
                f["login"],
                serde_json::json!({"command": cmd, "failed": true, "reply": reply}),
                "{name}"
            );
        }
        let a = by_sid(&recs, FAILED);
        assert_eq!(a.len(), 1, "{name}: {:#?}", alerts(&recs));
        let m = &a[0]["alert"]["metadata"];
        assert_eq!(a[0]["app_proto"], name);
        assert_eq!(m["account"][0], "bob");
        assert_eq!(m["failures"][0], "10");
        assert_eq!(m["sources"], serde_json::json!(SRCS));
    }
}

#[test]
fn successful_logins_and_too_few_failures_raise_nothing() {
    for talk in [(ftp as Talk, 21), (pop3, 110), (imap, 143)] {
        let recs = replay_home(&logins(talk, "bob", true, 12, &SRCS));
        assert!(alerts(&recs).is_empty(), "{:#?}", alerts(&recs));
        for f in flows(&recs) {
            assert_eq!(f["login"]["failed"], false, "{f}");
        }
        // nine failures, or many from one source
        assert!(by_sid(&replay_home(&logins(talk, "bob", false, 9, &SRCS)), FAILED).is_empty());
        let one = logins(talk, "bob", false, 30, &SRCS[..1]);
        assert!(by_sid(&replay_home(&one), FAILED).is_empty());
    }
}
