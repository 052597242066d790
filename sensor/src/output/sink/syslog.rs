//! EVE to syslog: RFC 5424 messages over the local socket (`/dev/log`), UDP (RFC 5426) or
//! TCP with octet-counting framing (RFC 6587 section 3.4.1: `LEN SP MSG`).

use super::{SendError, Transport};
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
}

impl Target {
    /// `unix:/dev/log`, `udp:HOST:PORT`, `tcp:HOST:PORT`.
    pub fn parse(key: &str, v: &str) -> Result<Target, String> {
        if let Some(p) = v.strip_prefix("unix:") {
            if !p.starts_with('/') {
                return Err(format!("{key} = {v:?}: unix: needs an absolute path"));
            }
            return Ok(Target::Unix(PathBuf::from(p)));
        }
        if let Some(a) = v.strip_prefix("udp:") {
            super::check_host_port(key, a)?;
            return Ok(Target::Udp(a.into()));
        }
        if let Some(a) = v.strip_prefix("tcp:") {
            super::check_host_port(key, a)?;
            return Ok(Target::Tcp(a.into()));
        }
        Err(format!(
            "{key} = {v:?} must be \"unix:PATH\", \"udp:HOST:PORT\" or \"tcp:HOST:PORT\""
        ))
    }
}

/// Facility names and codes (RFC 5424 table 1).
pub const FACILITIES: [(&str, u8); 20] = [
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

pub fn facility(key: &str, name: &str) -> Result<u8, String> {
    FACILITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            let names: Vec<&str> = FACILITIES.iter().map(|(n, _)| *n).collect();
            format!("{key} = {name:?} is not one of {}", names.join(", "))
        })
}

/// An APP-NAME or HOSTNAME field: printable US-ASCII without spaces, at most `max`
/// characters; `-` (the nil value) when empty.
pub fn header_field(s: &str, max: usize) -> String {
    let f: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if f.is_empty() {
        "-".into()
    } else {
        f
    }
}

/// Severity of every record: informational (6).
const SEVERITY: u8 = 6;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

enum Conn {
    Unix(UnixDatagram),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

pub struct Syslog {
    target: Target,
    /// `<PRI>1 ` up to the timestamp, and ` HOSTNAME APP-NAME PROCID - - ` after it.
    pri: String,
    rest: String,
    conn: Option<Conn>,
    buf: Vec<u8>,
}

impl Syslog {
    pub fn new(target: Target, facility: u8, hostname: &str, app_name: &str) -> Syslog {
        Syslog {
            target,
            pri: format!("<{}>1 ", facility as u32 * 8 + SEVERITY as u32),
            rest: format!(
                " {} {} {} - - ",
                header_field(hostname, 255),
                header_field(app_name, 48),
                std::process::id()
            ),
            conn: None,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`,
    /// MSGID and STRUCTURED-DATA nil, MSG the EVE record.
    pub fn message(&self, out: &mut Vec<u8>, wall_ns: u64, rec: &str) {
        out.extend_from_slice(self.pri.as_bytes());
        out.extend_from_slice(rfc3339(wall_ns).as_bytes());
        out.extend_from_slice(self.rest.as_bytes());
        out.extend_from_slice(rec.as_bytes());
    }
}

pub use crate::output::eve::{rfc3339, wall_ns};

fn connect_tcp(a: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for sa in a.to_socket_addrs()? {
        match TcpStream::connect_timeout(&sa, IO_TIMEOUT) {
            Ok(s) => {
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Transport for Syslog {
    fn describe(&self) -> String {
        match &self.target {
            Target::Unix(p) => format!("syslog unix:{}", p.display()),
            Target::Udp(a) => format!("syslog udp:{a}"),
            Target::Tcp(a) => format!("syslog tcp:{a}"),
        }
    }

    fn connect(&mut self) -> io::Result<()> {
        self.conn = Some(match &self.target {
            Target::Unix(p) => {
                let s = UnixDatagram::unbound()?;
                s.connect(p)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                Conn::Unix(s)
            }
            Target::Udp(a) => {
                let sa = a
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
                let bind = if sa.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
                let s = UdpSocket::bind(bind)?;
                s.connect(sa)?;
                Conn::Udp(s)
            }
            Target::Tcp(a) => Conn::Tcp(connect_tcp(a)?),
        });
        Ok(())
    }

    fn send(&mut self, recs: &[Arc<str>], refused: &mut u64) -> Result<(), SendError> {
        let now = wall_ns();
        let mut buf = std::mem::take(&mut self.buf);
        let mut conn = self.conn.take();
        let res = (|| {
            let err = |delivered, error| SendError { delivered, error };
            match conn.as_mut() {
                None => Err(err(
                    0,
                    io::Error::new(io::ErrorKind::NotConnected, "not connected"),
                )),
                Some(Conn::Tcp(s)) => {
                    // octet counting: the whole batch in one write; a broken write sends
                    // the batch again after the reconnect
                    buf.clear();
                    let mut msg = Vec::with_capacity(1024);
                    for r in recs {
                        msg.clear();
                        self.message(&mut msg, now, r);
                        buf.extend_from_slice(format!("{} ", msg.len()).as_bytes());
                        buf.extend_from_slice(&msg);
                    }
                    s.write_all(&buf).map_err(|e| err(0, e))
                }
                Some(c) => {
                    for (i, r) in recs.iter().enumerate() {
                        buf.clear();
                        self.message(&mut buf, now, r);
                        let res = match c {
                            Conn::Unix(s) => s.send(&buf),
                            Conn::Udp(s) => s.send(&buf),
                            Conn::Tcp(_) => unreachable!(),
                        };
                        match res {
                            Ok(_) => {}
                            // too big for one datagram: this record only
                            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => *refused += 1,
                            Err(e) => return Err(err(i, e)),
                        }
                    }
                    Ok(())
                }
            }
        })();
        self.buf = buf;
        self.conn = conn;
        res
    }

    fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_message() {
        let s = Syslog::new(
            Target::Udp("127.0.0.1:514".into()),
            21,
            "sensor 1",
            "spanwatch",
        );
        let mut out = Vec::new();
        s.message(
            &mut out,
            1_700_000_000_123_456_789,
            "{\"event_type\":\"flow\"}",
        );
        let want = format!(
            "<174>1 2023-11-14T22:13:20.123456Z sensor1 spanwatch {} - - {{\"event_type\":\"flow\"}}",
            std::process::id()
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(header_field("", 48), "-");
        assert_eq!(header_field(&"x".repeat(60), 48).len(), 48);
    }

    #[test]
    fn targets_and_facilities_are_checked() {
        assert_eq!(
            Target::parse("k", "unix:/dev/log").unwrap(),
            Target::Unix("/dev/log".into())
        );
        assert_eq!(
            Target::parse("k", "tcp:[::1]:6514").unwrap(),
            Target::Tcp("[::1]:6514".into())
        );
        for bad in [
            "/dev/log",
            "unix:dev/log",
            "udp:host",
            "tcp:h:0",
            "http://x",
        ] {
            let e = Target::parse("output.syslog.target", bad).unwrap_err();
            assert!(e.contains("output.syslog.target"), "{e}");
        }
        assert_eq!(facility("k", "local5").unwrap(), 21);
        assert!(facility("output.syslog.facility", "local9")
            .unwrap_err()
            .contains("output.syslog.facility"));
    }

    #[test]
    fn unix_and_tcp_framing_on_real_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let mut s = Syslog::new(Target::Unix(path.clone()), 1, "h", "app");
        s.connect().unwrap();
        let recs: Vec<Arc<str>> = vec![Arc::from("{\"a\":1}"), Arc::from("{\"b\":2}")];
        let mut refused = 0;
        s.send(&recs, &mut refused).unwrap();
        let mut b = [0u8; 4096];
        for want in ["{\"a\":1}", "{\"b\":2}"] {
            let n = server.recv(&mut b).unwrap();
            let m = std::str::from_utf8(&b[..n]).unwrap();
            assert!(
                m.starts_with("<14>1 ")
                    && m.ends_with(&format!(" h app {} - - {want}", std::process::id())),
                "{m}"
            );
        }
        // TCP: LEN SP MSG, back to back
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap().to_string();
        let mut t = Syslog::new(Target::Tcp(a), 1, "h", "app");
        t.connect().unwrap();
        let (mut c, _) = l.accept().unwrap();
        t.send(&recs, &mut refused).unwrap();
        t.close();
        let mut got = String::new();
        io::Read::read_to_string(&mut c, &mut got).unwrap();
        let mut rest = got.as_str();
        for want in ["{\"a\":1}", "{\"b\":2}"] {
            let (len, tail) = rest.split_once(' ').unwrap();
            let len: usize = len.parse().unwrap();
            let (msg, tail) = tail.split_at(len);
            assert!(msg.starts_with("<14>1 ") && msg.ends_with(want), "{msg}");
            rest = tail;
        }
        assert!(rest.is_empty());
        assert_eq!(refused, 0);
    }
}
