//! The shape of an SSH session once the handshake is over: someone typing, or programs
//! moving data through it (port forwarding `-L`/`-R`/`-D`, scripted copies).
//!
//! Facts this rests on:
//! - In interactive mode every keystroke leaves in its own packet as soon as it is typed,
//!   and the gaps between keystrokes are human-scale (Song, Wagner and Tian, "Timing Analysis
//!   of Keystrokes and Timing Attacks on SSH", USENIX Security 2001: tens to hundreds of
//!   milliseconds). With today's ciphers a keystroke packet is 36 bytes of TCP payload
//!   (chacha20-poly1305 or AES-GCM); MACs up to SHA-512 keep it under 100 bytes.
//! - OpenSSH 9.5 and later hide keystroke timing by sending chaff packets of the same size
//!   every 20 ms while typing (`ObscureKeystrokeTiming`): still small packets at human-scale
//!   (not machine-speed) gaps, which is what is counted here.
//! - Programs behind a forward neither type nor wait: requests larger than a keystroke and
//!   answers in full-sized segments, or one-way bulk.
//!
//! Per packet the worker only adds to a few counters (SSH flows only, state boxed); the
//! verdict is made when the flow record is written.

use serde_json::{json, Map, Value};

/// Payload packets at the start of an SSH flow that belong to the handshake and login
/// (banners, key exchange, NEWKEYS, service request, authentication, channel set-up).
const SKIP_PACKETS: u32 = 16;
/// A payload no larger than this is keystroke-sized (one encrypted SSH packet carrying one
/// character, or a window adjust, or chaff).
pub const KEYSTROKE_MAX: u32 = 100;
/// A payload at least this large is a full-sized data segment.
pub const BIG_MIN: u32 = 1000;
/// Gaps between client packets that a typing human makes: at least this …
const HUMAN_GAP_MIN_NS: u64 = 15_000_000;
/// … and less than this (keep-alives every few seconds are not typing).
const HUMAN_GAP_MAX_NS: u64 = 1_000_000_000;
/// A client packet sooner than this after the previous one is machine-paced.
const FAST_GAP_NS: u64 = 5_000_000;
/// Keystroke-sized client packets count as typing only in runs of at least this many (a
/// word), with no full-sized server segment in between: a forward's lone end-of-channel
/// messages and window adjustments during a download do not make runs.
const KEY_RUN: u32 = 3;
/// Keystroke-sized packets at human gaps that make a session interactive.
pub const MIN_KEYSTROKES: u32 = 8;
/// Payload bytes one way that make a session bulk, whatever else it shows.
pub const BULK_BYTES: u64 = 5 * 1024 * 1024;
/// Full-sized segments that show data moved through a session nobody types in.
const FORWARD_BIG: u32 = 16;
/// Client packets larger than a keystroke (requests) that show a program speaking.
const FORWARD_REQUESTS: u32 = 4;

/// Counters of one SSH flow after its handshake.
#[derive(Debug, Default, Clone)]
pub struct SshShape {
    seen: u32,
    last_client_ns: u64,
    /// [to server, to client]
    pkts: [u32; 2],
    bytes: [u64; 2],
    big: [u32; 2],
    /// Client packets larger than a keystroke.
    client_requests: u32,
    /// Keystroke-sized client packets at a human-scale gap.
    keystrokes: u32,
    keystroke_gap_sum_ms: u64,
    keystroke_gaps: u32,
    /// Client packets at machine pace.
    client_fast: u32,
    /// The current run of keystroke-sized client packets, and its gaps (ms).
    run: u32,
    run_gap_ms: u64,
    /// The server sent a full-sized segment since the client's last packet.
    big_since_client: bool,
}

/// What the counters say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Interactive,
    Forwarding,
    Bulk,
    /// Too little after the handshake, or neither typing nor data moving (an idle forward,
    /// a short command).
    Other,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Interactive => "interactive",
            Shape::Forwarding => "forwarding",
            Shape::Bulk => "bulk",
            Shape::Other => "other",
        }
    }
}

impl SshShape {
    /// One packet with payload. `size` is the TCP payload as sent (from the wire length when
    /// the capture cut the packet short).
    #[inline]
    pub fn observe(&mut self, to_server: bool, size: u32, ts: u64) {
        self.seen = self.seen.saturating_add(1);
        if self.seen <= SKIP_PACKETS {
            if to_server {
                self.last_client_ns = ts;
            }
            return;
        }
        let d = if to_server { 0 } else { 1 };
        self.pkts[d] = self.pkts[d].saturating_add(1);
        self.bytes[d] += size as u64;
        if size >= BIG_MIN {
            self.big[d] = self.big[d].saturating_add(1);
        }
        if !to_server {
            if size >= BIG_MIN {
                self.big_since_client = true;
            }
            return;
        }
        let gap = ts.saturating_sub(self.last_client_ns);
        self.last_client_ns = ts;
        let small = size <= KEYSTROKE_MAX && !self.big_since_client && gap >= HUMAN_GAP_MIN_NS;
        self.big_since_client = false;
        if size > KEYSTROKE_MAX {
            self.client_requests = self.client_requests.saturating_add(1);
        }
        if gap < FAST_GAP_NS {
            self.client_fast = self.client_fast.saturating_add(1);
        }
        if !small {
            self.run = 0;
            self.run_gap_ms = 0;
            return;
        }
        // A run starts after any pause; it goes on while the gaps stay human-scale.
        if self.run > 0 && gap >= HUMAN_GAP_MAX_NS {
            self.run = 0;
            self.run_gap_ms = 0;
        }
        self.run += 1;
        if self.run > 1 {
            self.run_gap_ms += gap / 1_000_000;
        }
        if self.run == KEY_RUN {
            self.keystrokes = self.keystrokes.saturating_add(KEY_RUN);
            self.keystroke_gap_sum_ms += self.run_gap_ms;
            self.keystroke_gaps += KEY_RUN - 1;
        } else if self.run > KEY_RUN {
            self.keystrokes = self.keystrokes.saturating_add(1);
            self.keystroke_gap_sum_ms += gap / 1_000_000;
            self.keystroke_gaps += 1;
        }
    }

    pub fn shape(&self) -> Shape {
        if self.bytes[0].max(self.bytes[1]) >= BULK_BYTES {
            return Shape::Bulk;
        }
        if self.keystrokes >= MIN_KEYSTROKES {
            return Shape::Interactive;
        }
        let data = self.big[0] + self.big[1] >= FORWARD_BIG && self.pkts[0] >= 2;
        let talk = self.client_requests >= FORWARD_REQUESTS && self.keystrokes == 0;
        if data || talk {
            Shape::Forwarding
        } else {
            Shape::Other
        }
    }

    /// The figures, for the flow record and the alert.
    pub fn figures(&self) -> Vec<(&'static str, u64)> {
        let mean_gap = self
            .keystroke_gap_sum_ms
            .checked_div(self.keystroke_gaps as u64)
            .unwrap_or(0);
        vec![
            ("keystrokes", self.keystrokes as u64),
            ("mean_keystroke_gap_ms", mean_gap),
            ("client_requests", self.client_requests as u64),
            ("client_fast_pkts", self.client_fast as u64),
            ("pkts_toserver", self.pkts[0] as u64),
            ("pkts_toclient", self.pkts[1] as u64),
            ("payload_bytes_toserver", self.bytes[0]),
            ("payload_bytes_toclient", self.bytes[1]),
            ("big_pkts_toserver", self.big[0] as u64),
            ("big_pkts_toclient", self.big[1] as u64),
        ]
    }

    /// Put `ssh.shape` and `ssh.timing` into a flow record's metadata.
    pub fn annotate(&self, meta: &mut Map<String, Value>) {
        let s = meta.entry("ssh").or_insert_with(|| json!({}));
        let Value::Object(s) = s else { return };
        s.insert("shape".into(), json!(self.shape().as_str()));
        let t: Map<String, Value> = self
            .figures()
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        s.insert("timing".into(), Value::Object(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn handshake(s: &mut SshShape, t: &mut u64) {
        for i in 0..SKIP_PACKETS {
            s.observe(i % 2 == 0, 600, *t);
            *t += MS;
        }
    }

    #[test]
    fn typing_is_interactive() {
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        // 30 keystrokes 80–230 ms apart, each echoed; one screenful of output
        for i in 0..30u64 {
            t += (80 + (i * 37) % 150) * MS;
            s.observe(true, 36, t);
            s.observe(false, 36, t + 2 * MS);
        }
        for _ in 0..6 {
            s.observe(false, 1448, t + 3 * MS);
        }
        assert_eq!(s.shape(), Shape::Interactive, "{:?}", s.figures());
        let f = s.figures();
        assert_eq!(f[0], ("keystrokes", 30));
        assert!((80..=230).contains(&f[1].1));
    }

    #[test]
    fn chaffed_typing_is_interactive() {
        // OpenSSH ≥ 9.5: keystrokes and chaff every 20 ms while typing
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        for burst in 0..5 {
            t += 2_000 * MS;
            for _ in 0..(20 + burst) {
                t += 20 * MS;
                s.observe(true, 36, t);
            }
        }
        assert_eq!(s.shape(), Shape::Interactive);
    }

    #[test]
    fn a_download_through_a_forward_is_forwarding() {
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        s.observe(true, 120, t); // channel open
        s.observe(false, 36, t + MS);
        s.observe(true, 140, t + 2 * MS); // the request
        for i in 0..70 {
            s.observe(false, 1448, t + 3 * MS + i * 100_000);
        }
        s.observe(true, 36, t + 20 * MS); // EOF, close
        s.observe(true, 36, t + 21 * MS);
        assert_eq!(s.shape(), Shape::Forwarding, "{:?}", s.figures());
    }

    #[test]
    fn bulk_and_quiet_sessions() {
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        for _ in 0..4000 {
            t += 10_000;
            s.observe(false, 1448, t);
        }
        assert_eq!(s.shape(), Shape::Bulk);

        let mut q = SshShape::default();
        let mut t = 0;
        handshake(&mut q, &mut t);
        // keep-alives every 15 s: neither typing nor data
        for _ in 0..20 {
            t += 15_000 * MS;
            q.observe(true, 36, t);
            q.observe(false, 36, t + MS);
        }
        assert_eq!(q.shape(), Shape::Other);
    }
}
