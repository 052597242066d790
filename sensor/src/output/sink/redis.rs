//! EVE to Redis in Suricata's three modes: `list` (RPUSH or LPUSH), `channel` (PUBLISH) and
//! `stream` (XADD with `MAXLEN ~`). The client speaks RESP (the Redis protocol,
//! <https://redis.io/docs/latest/develop/reference/protocol-spec/>) itself: four commands
//! and their replies, no async runtime and no connection manager needed.

use super::{SendError, Transport};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    List { lpush: bool },
    Channel,
    Stream,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `host:port`
    pub server: String,
    pub mode: Mode,
    pub key: String,
    /// `MAXLEN ~ n` on XADD; 0: no trimming.
    pub stream_maxlen: u64,
    /// AUTH before anything else: (user, password); no user: the default user.
    pub password: Option<(Option<String>, String)>,
}

/// The stream entry's field that holds the EVE record.
pub const STREAM_FIELD: &str = "eve";
const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Redis {
    s: Settings,
    conn: Option<(BufReader<TcpStream>, TcpStream)>,
    buf: Vec<u8>,
}

/// One RESP command: `*N\r\n$len\r\narg\r\n…`.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A reply, reduced to what the sink needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Error(String),
}

fn bad(m: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.to_string())
}

/// Read one complete reply (nested arrays included).
pub fn read_reply<R: BufRead>(r: &mut R) -> io::Result<Reply> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    if !line.ends_with(b"\r\n") || line.len() < 3 {
        return Err(bad("malformed RESP reply"));
    }
    let body = &line[1..line.len() - 2];
    let num = || -> io::Result<i64> {
        std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("malformed RESP length"))
    };
    match line[0] {
        b'+' | b':' | b'_' | b'#' | b',' | b'(' => Ok(Reply::Ok),
        b'-' => Ok(Reply::Error(String::from_utf8_lossy(body).into())),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n > 64 << 20 {
                return Err(bad("RESP reply too large"));
            }
            let mut blob = Vec::new();
            if n >= 0 {
                blob = vec![0u8; n as usize + 2];
                io::Read::read_exact(r, &mut blob)?;
                blob.truncate(n as usize);
            }
            if line[0] == b'!' {
                return Ok(Reply::Error(String::from_utf8_lossy(&blob).into()));
            }
            Ok(Reply::Ok)
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = num()?;
            let items = if line[0] == b'%' { n * 2 } else { n };
            for _ in 0..items.max(0) {
                read_reply(r)?;
            }
            Ok(Reply::Ok)
        }
        _ => Err(bad("unknown RESP reply type")),
    }
}

impl Redis {
    pub fn new(s: Settings) -> Redis {
        Redis {
            s,
            conn: None,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// The commands for `recs`, and how many replies they get.
    pub fn encode(&self, recs: &[Arc<str>], out: &mut Vec<u8>) -> usize {
        let key = self.s.key.as_bytes();
        match self.s.mode {
            Mode::List { lpush } => {
                // one command for the batch: it is applied whole or not at all
                let verb: &[u8] = if lpush { b"LPUSH" } else { b"RPUSH" };
                let mut args: Vec<&[u8]> = Vec::with_capacity(recs.len() + 2);
                args.push(verb);
                args.push(key);
                args.extend(recs.iter().map(|r| r.as_bytes()));
                command(out, &args);
                1
            }
            Mode::Channel => {
                for r in recs {
                    command(out, &[b"PUBLISH", key, r.as_bytes()]);
                }
                recs.len()
            }
            Mode::Stream => {
                let maxlen = self.s.stream_maxlen.to_string();
                for r in recs {
                    if self.s.stream_maxlen > 0 {
                        command(
                            out,
                            &[
                                b"XADD",
                                key,
                                b"MAXLEN",
                                b"~",
                                maxlen.as_bytes(),
                                b"*",
                                STREAM_FIELD.as_bytes(),
                                r.as_bytes(),
                            ],
                        );
                    } else {
                        command(
                            out,
                            &[b"XADD", key, b"*", STREAM_FIELD.as_bytes(), r.as_bytes()],
                        );
                    }
                }
                recs.len()
            }
        }
    }
}

impl Transport for Redis {
    fn describe(&self) -> String {
        let mode = match self.s.mode {
            Mode::List { lpush: false } => "list (rpush)",
            Mode::List { lpush: true } => "list (lpush)",
            Mode::Channel => "channel",
            Mode::Stream => "stream",
        };
        format!("redis {} {mode} {}", self.s.server, self.s.key)
    }

    fn connect(&mut self) -> io::Result<()> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for a in self.s.server.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, IO_TIMEOUT) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(IO_TIMEOUT))?;
                    s.set_write_timeout(Some(IO_TIMEOUT))?;
                    let mut rd = BufReader::new(s.try_clone()?);
                    let mut w = s;
                    if let Some((user, pass)) = &self.s.password {
                        let mut out = Vec::new();
                        match user {
                            Some(u) => command(&mut out, &[b"AUTH", u.as_bytes(), pass.as_bytes()]),
                            None => command(&mut out, &[b"AUTH", pass.as_bytes()]),
                        }
                        w.write_all(&out)?;
                        if let Reply::Error(e) = read_reply(&mut rd)? {
                            return Err(io::Error::new(
                                io::ErrorKind::PermissionDenied,
                                format!("AUTH refused: {e}"),
                            ));
                        }
                    }
                    self.conn = Some((rd, w));
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn send(&mut self, recs: &[Arc<str>], refused: &mut u64) -> Result<(), SendError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let replies = self.encode(recs, &mut buf);
        let res = (|| {
            let Some((rd, w)) = self.conn.as_mut() else {
                return Err(SendError {
                    delivered: 0,
                    error: io::Error::new(io::ErrorKind::NotConnected, "not connected"),
                });
            };
            w.write_all(&buf).map_err(|error| SendError {
                delivered: 0,
                error,
            })?;
            for i in 0..replies {
                match read_reply(rd) {
                    Ok(Reply::Ok) => {}
                    Ok(Reply::Error(e)) => {
                        // e.g. WRONGTYPE: sending again would not help
                        tracing::debug!(error = %e, "redis refused a record");
                        *refused += if replies == 1 { recs.len() as u64 } else { 1 };
                    }
                    Err(error) => {
                        // a list batch is one command; other modes: one reply per record
                        return Err(SendError {
                            delivered: if replies == 1 { 0 } else { i },
                            error,
                        });
                    }
                }
            }
            Ok(())
        })();
        self.buf = buf;
        res
    }

    fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(mode: Mode, maxlen: u64) -> Redis {
        Redis::new(Settings {
            server: "127.0.0.1:1".into(),
            mode,
            key: "sw".into(),
            stream_maxlen: maxlen,
            password: None,
        })
    }

    #[test]
    fn resp_commands_per_mode() {
        let recs: Vec<Arc<str>> = vec![Arc::from("{\"a\":1}"), Arc::from("é")];
        let mut out = Vec::new();
        assert_eq!(r(Mode::List { lpush: false }, 0).encode(&recs, &mut out), 1);
        assert_eq!(
            out,
            b"*4\r\n$5\r\nRPUSH\r\n$2\r\nsw\r\n$7\r\n{\"a\":1}\r\n$2\r\n\xc3\xa9\r\n"
        );
        out.clear();
        assert_eq!(
            r(Mode::List { lpush: true }, 0).encode(&recs[..1], &mut out),
            1
        );
        assert!(out.starts_with(b"*3\r\n$5\r\nLPUSH\r\n"));
        out.clear();
        assert_eq!(r(Mode::Channel, 0).encode(&recs, &mut out), 2);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nsw\r\n$7\r\n{\"a\":1}\r\n*3\r\n$7\r\nPUBLISH\r\n$2\r\nsw\r\n$2\r\n\xc3\xa9\r\n"
        );
        out.clear();
        assert_eq!(r(Mode::Stream, 1000).encode(&recs[..1], &mut out), 1);
        assert_eq!(
            out,
            b"*8\r\n$4\r\nXADD\r\n$2\r\nsw\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$4\r\n1000\r\n$1\r\n*\r\n$3\r\neve\r\n$7\r\n{\"a\":1}\r\n"
        );
        out.clear();
        r(Mode::Stream, 0).encode(&recs[..1], &mut out);
        assert!(out.starts_with(b"*5\r\n$4\r\nXADD\r\n$2\r\nsw\r\n$1\r\n*\r\n"));
    }

    #[test]
    fn replies_are_read_whole() {
        let text: &[u8] = b"+OK\r\n:12\r\n$15\r\n1700000000000-0\r\n-WRONGTYPE Operation against a key\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n$-1\r\n+last\r\n";
        let mut rd = io::BufReader::new(text);
        assert_eq!(read_reply(&mut rd).unwrap(), Reply::Ok);
        assert_eq!(read_reply(&mut rd).unwrap(), Reply::Ok);
        assert_eq!(read_reply(&mut rd).unwrap(), Reply::Ok);
        assert_eq!(
            read_reply(&mut rd).unwrap(),
            Reply::Error("WRONGTYPE Operation against a key".into())
        );
        assert_eq!(read_reply(&mut rd).unwrap(), Reply::Ok);
        assert_eq!(read_reply(&mut rd).unwrap(), Reply::Ok);
        assert_eq!(read_reply(&mut rd).unwrap(), Reply::Ok);
        assert!(read_reply(&mut rd).is_err(), "end of input is an error");
        assert!(read_reply(&mut io::BufReader::new(&b"?x\r\n"[..])).is_err());
    }
}
