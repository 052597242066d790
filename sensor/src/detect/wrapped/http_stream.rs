//! A byte stream carried in HTTP requests that never finish (httptunnel, and tools built the
//! same way: the client POSTs with a Content-Length far beyond what it means to send and
//! writes the stream into the body as it comes; a GET from the same client is answered with
//! a large Content-Length and the other direction trickles into that body).
//!
//! The general traits, per connection, once its headers are read:
//! - *upstream*: a POST or PUT declaring at least [`BIG_BODY`] bytes whose body, a second or
//!   more after the headers, is still under a quarter of that, sent in small writes (mean
//!   under [`SMALL_WRITE`] bytes) with pauses between them (≥ [`PAUSES`] gaps of 100 ms).
//!   An ordinary upload sends its body at the link's pace in full-sized segments and
//!   finishes; a form post declares what it sends.
//! - *downstream*: a GET answered `200` with a Content-Length of at least [`BIG_BODY`] whose
//!   body arrives the same way. Long polling and server-sent events answer small or
//!   chunked; only together with the tool's traits does this half raise an alert alone.
//! - the known tool's traits: httptunnel 3.3 (GNU httptunnel; Debian `httptunnel`) asks for
//!   `/index.html?crap=<seconds>` with both requests and declares `Content-Length: 102400`
//!   (its default `--content-length`), as `tests/fixtures/live-httptunnel.pcap` shows.
//!
//! The host stage pairs the halves (same client, server and port) from the flow records.

use crate::model::meta::WrappedMeta;
use crate::model::record::Finding;
use crate::model::sid;
use std::collections::BTreeMap;

/// A declared body at least this large is worth following.
pub const BIG_BODY: u64 = 16 * 1024;
/// Mean body write below this is stream-like (keystrokes, protocol messages).
pub const SMALL_WRITE: u64 = 600;
/// Body writes that must have been seen.
const WRITES: u32 = 6;
/// Pauses of at least [`PAUSE_NS`] between body writes.
pub const PAUSES: u32 = 3;
const PAUSE_NS: u64 = 100_000_000;
/// The body is judged once this long after the headers.
const AFTER_NS: u64 = 1_000_000_000;
/// Header bytes kept per direction.
const HEAD_MAX: usize = 4096;
/// Body segments followed per direction before giving up.
const FOLLOW: u32 = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Upstream,
    Downstream,
}

impl Half {
    pub fn as_str(self) -> &'static str {
        match self {
            Half::Upstream => "upstream",
            Half::Downstream => "downstream",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub half: Half,
    pub confidence: u8,
    pub declared: u64,
    pub body: u64,
    pub writes: u32,
    pub pauses: u32,
    /// The tool whose traits were seen.
    pub tool: Option<&'static str>,
    /// The worker raises the alert (the tool's traits were seen; otherwise the host stage
    /// raises it when both halves are in view: [`super::pair`]).
    pub alert: bool,
}

/// Per-flow state (HTTP over TCP only). Direction 0 is the request, 1 the response.
#[derive(Debug, Default, Clone)]
pub struct HttpStream {
    head: [Vec<u8>; 2],
    head_done: [bool; 2],
    /// The request is a POST/PUT (upstream candidate) or a GET (downstream candidate).
    upload: bool,
    get: bool,
    declared: [u64; 2],
    head_ts: [u64; 2],
    body: [u64; 2],
    writes: [u32; 2],
    pauses: [u32; 2],
    last_ts: [u64; 2],
    tool: Option<&'static str>,
    pub over: bool,
    pub verdict: Option<Verdict>,
}

fn find_end(h: &[u8]) -> Option<usize> {
    h.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn content_length(head: &str) -> Option<u64> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

impl HttpStream {
    /// One TCP segment: `seg` as captured, `sent` its length on the wire.
    pub fn segment(
        &mut self,
        to_server: bool,
        seg: &[u8],
        sent: usize,
        ts: u64,
    ) -> Option<Verdict> {
        if self.over {
            return None;
        }
        let d = if to_server { 0 } else { 1 };
        if self.writes[0] + self.writes[1] > 2 * FOLLOW {
            // the answer never came, or came in another shape: stop here
            self.over = true;
            return None;
        }
        let mut body = sent as u64;
        if !self.head_done[d] {
            let before = self.head[d].len();
            let room = HEAD_MAX - before;
            self.head[d].extend_from_slice(&seg[..seg.len().min(room)]);
            let Some(end) = find_end(&self.head[d]) else {
                if self.head[d].len() >= HEAD_MAX || seg.len() < sent {
                    self.over = true;
                }
                return None;
            };
            self.head[d].truncate(end);
            self.head_done[d] = true;
            self.head_ts[d] = ts;
            self.last_ts[d] = ts;
            body = (sent as u64).saturating_sub((end - before) as u64);
            if !self.parse_head(d) {
                self.over = true;
                return None;
            }
            if body == 0 {
                return None;
            }
        }
        if self.writes[d] > 0 && ts.saturating_sub(self.last_ts[d]) >= PAUSE_NS {
            self.pauses[d] += 1;
        }
        self.body[d] += body;
        self.writes[d] += 1;
        self.last_ts[d] = ts;
        self.judge(ts)
    }

    /// The request's or the response's headers: is this connection worth following?
    fn parse_head(&mut self, d: usize) -> bool {
        let text = String::from_utf8_lossy(&self.head[d]).into_owned();
        let first = text.split("\r\n").next().unwrap_or("");
        let cl = content_length(&text).unwrap_or(0);
        self.declared[d] = cl;
        if d == 0 {
            let mut parts = first.split(' ');
            let method = parts.next().unwrap_or("");
            let target = parts.next().unwrap_or("");
            self.upload = matches!(method, "POST" | "PUT") && cl >= BIG_BODY;
            self.get = method == "GET";
            if let Some(q) = target.split_once("?crap=").map(|x| x.1) {
                if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) {
                    self.tool = Some("httptunnel");
                }
            }
            self.upload || self.get
        } else {
            // a GET answered 200 with a large body declared
            self.upload || (self.get && first.split(' ').nth(1) == Some("200") && cl >= BIG_BODY)
        }
    }

    fn judge(&mut self, ts: u64) -> Option<Verdict> {
        let d = if self.upload { 0 } else { 1 };
        if !self.head_done[d] {
            return None;
        }
        let declared = self.declared[d];
        if self.body[d] >= declared / 4 || self.writes[d] > FOLLOW {
            // the body is being sent for real: an upload or a download
            self.over = true;
            return None;
        }
        if ts.saturating_sub(self.head_ts[d]) < AFTER_NS
            || self.writes[d] < WRITES
            || self.pauses[d] < PAUSES
            || self.body[d] / self.writes[d] as u64 >= SMALL_WRITE
        {
            return None;
        }
        let half = if self.upload {
            Half::Upstream
        } else {
            Half::Downstream
        };
        let confidence = if self.tool.is_some() { 85 } else { 60 };
        let v = Verdict {
            half,
            confidence,
            declared,
            body: self.body[d],
            writes: self.writes[d],
            pauses: self.pauses[d],
            tool: self.tool,
            alert: self.tool.is_some(),
        };
        self.over = true;
        self.head = Default::default();
        self.verdict = Some(v.clone());
        Some(v)
    }
}

fn traits(v: &Verdict) -> super::Traits {
    let mut t = vec![
        ("half", v.half.as_str().to_string()),
        ("declared_bytes", v.declared.to_string()),
        ("body_bytes", v.body.to_string()),
        ("body_writes", v.writes.to_string()),
        ("pauses", v.pauses.to_string()),
    ];
    if v.tool == Some("httptunnel") {
        t.push(("tool_trait", "uri ?crap=<n>".to_string()));
    }
    t
}

/// The flow record's `wrapped` part.
pub fn meta(v: &Verdict) -> WrappedMeta {
    super::wrapped_meta(v.confidence, ("stream", "http"), v.tool, traits(v))
}

/// The `tunnel` alert.
pub fn finding(v: &Verdict) -> Finding {
    let md = super::alert_metadata(v.confidence, traits(v));
    super::tunnel_finding(
        sid::HTTP_WRAPPED_STREAM,
        match v.tool {
            Some(t) => format!("SPANWATCH tunnel: byte stream inside HTTP requests ({t})"),
            None => "SPANWATCH tunnel: byte stream inside a long-lived HTTP request".into(),
        },
        v.tool,
        md,
    )
}

/// The general alert, raised when both halves were seen (metadata of the later half).
pub fn finding_paired(w: &WrappedMeta) -> Finding {
    let mut md = BTreeMap::new();
    md.insert("confidence".to_string(), vec!["80".to_string()]);
    md.insert(
        "paired".to_string(),
        vec!["upstream+downstream".to_string()],
    );
    for t in &w.traits {
        if let Some((k, v)) = t.split_once('=') {
            if k != "half" {
                md.insert(k.to_string(), vec![v.to_string()]);
            }
        }
    }
    super::tunnel_finding(
        sid::HTTP_WRAPPED_STREAM,
        "SPANWATCH tunnel: byte stream inside long-lived HTTP requests (a POST and a GET that never finish)"
            .into(),
        None,
        md,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn feed(s: &mut HttpStream, to_server: bool, data: &[u8], t: u64) -> Option<Verdict> {
        s.segment(to_server, data, data.len(), t)
    }

    #[test]
    fn httptunnel_post_and_get() {
        // the POST, its header in pieces as htc writes it, then a stream in small writes
        let mut s = HttpStream::default();
        let mut t = 0;
        for piece in [
            &b"POST /index.html?crap=1795825904 HTTP/1.1\r\n"[..],
            b"Host: 10.77.0.2:8888\r\n",
            b"Content-Length: 102400\r\n",
            b"Connection: close\r\n\r\n",
        ] {
            assert_eq!(feed(&mut s, true, piece, t), None);
            t += MS;
        }
        let mut got = None;
        for i in 0..20u64 {
            t += (80 + i * 20) * MS;
            got = got.or(s.segment(true, &[0; 4], 39, t));
        }
        let v = got.expect("upstream");
        assert_eq!(v.half, Half::Upstream);
        assert_eq!(v.tool, Some("httptunnel"));
        assert_eq!(v.confidence, 85);
        assert!(v.alert);
        // without the tool's trait the worker only marks the flow
        let mut s = HttpStream::default();
        feed(
            &mut s,
            true,
            b"POST /up HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n",
            0,
        );
        let mut got = None;
        for i in 1..20u64 {
            got = got.or(s.segment(true, &[0; 4], 52, i * 150 * MS));
        }
        let v = got.expect("upstream");
        assert_eq!((v.confidence, v.alert, v.tool), (60, false, None));

        // the GET: answered 200 with 102400 declared, the stream trickling in
        let mut g = HttpStream::default();
        feed(
            &mut g,
            true,
            b"GET /index.html?crap=1795825904 HTTP/1.1\r\nHost: x\r\n\r\n",
            0,
        );
        feed(
            &mut g,
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: 102400\r\nConnection: close\r\n\r\n",
            MS,
        );
        let mut got = None;
        let mut t = MS;
        for _ in 0..12 {
            t += 300 * MS;
            got = got.or(g.segment(false, &[0; 8], 41, t));
        }
        let v = got.expect("downstream");
        assert_eq!(v.half, Half::Downstream);
        assert!(v.alert);
    }

    #[test]
    fn ordinary_http_is_not_a_stream() {
        // an upload: the declared body sent at once in full segments
        let mut s = HttpStream::default();
        feed(
            &mut s,
            true,
            b"POST /upload HTTP/1.1\r\nContent-Length: 200000\r\n\r\n",
            0,
        );
        for i in 0..150u64 {
            assert_eq!(s.segment(true, &[0; 4], 1448, i * MS), None);
        }
        assert!(s.over);
        // a slow upload on a slow link: full segments a second apart
        let mut s = HttpStream::default();
        feed(
            &mut s,
            true,
            b"PUT /f HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n",
            0,
        );
        for i in 1..30u64 {
            assert_eq!(s.segment(true, &[0; 4], 1448, i * 1000 * MS), None);
        }
        // a form post, small and complete
        let mut s = HttpStream::default();
        feed(
            &mut s,
            true,
            b"POST /login HTTP/1.1\r\nContent-Length: 30\r\n\r\nuser=a&pass=b&x=yyyyyyyyyyyyyy",
            0,
        );
        assert!(s.over);
        // long polling without the tool's traits: a downstream half raises no alert
        let mut g = HttpStream::default();
        feed(&mut g, true, b"GET /events HTTP/1.1\r\n\r\n", 0);
        feed(
            &mut g,
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",
            MS,
        );
        let mut got = None;
        for i in 1..20u64 {
            got = got.or(g.segment(false, &[0; 8], 90, i * 400 * MS));
        }
        assert!(!got.expect("downstream shape").alert);
        // server-sent events (chunked, no length) are not followed
        let mut g = HttpStream::default();
        feed(&mut g, true, b"GET /sse HTTP/1.1\r\n\r\n", 0);
        feed(
            &mut g,
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            MS,
        );
        assert!(g.over);
        // garbage never panics
        let mut s = HttpStream::default();
        for n in 0..200u64 {
            let seg: Vec<u8> = (0..(n % 40)).map(|i| (i * 7 + n) as u8).collect();
            s.segment(n % 2 == 0, &seg, seg.len() + (n as usize % 5), n * 50 * MS);
        }
    }
}
