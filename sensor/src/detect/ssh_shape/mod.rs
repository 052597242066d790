//! The shape of an SSH session once the handshake is over: someone typing, a file copy
//! (scp, sftp, rsync over SSH, git push/fetch over SSH), or programs talking through it
//! (port forwarding `-L`/`-R`/`-D`).
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
//!   answers in full-sized segments. Each connection through a forward is its own channel:
//!   a request from one side (an HTTP request, a SOCKS target: more than a keystroke), then
//!   the answer in full-sized segments, then the channel's EOF and close, then the next.
//!   So a forward in use shows several *exchanges*: runs of full-sized data, each started
//!   by a request from the side that receives it, or data both ways.
//! - A copy (scp and sftp — OpenSSH 9's scp speaks SFTP — rsync, git-receive-pack and
//!   git-upload-pack) is one run of full-sized data one way after a few small set-up
//!   exchanges; what goes back meanwhile is keystroke-sized (SFTP status replies, pipelined
//!   SFTP read requests, window adjustments: recordings of OpenSSH 9.2, rsync 3.2 and git
//!   2.39 in `tests/fixtures/live-ssh_transfer.pcap`). A forward carrying exactly one
//!   download and nothing else has the same shape, and is reported as a transfer.
//!
//! Per packet the worker only adds to a few counters (SSH flows only, state boxed); the
//! verdict is made when the flow record is written.

pub mod alert;

use crate::model::meta::{FlowMeta, SshTransfer};

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
/// Payload bytes one way that make a forwarding or typed session bulk.
pub const BULK_BYTES: u64 = 5 * 1024 * 1024;
/// Full-sized segments that show data moved through a session nobody types in.
const FORWARD_BIG: u32 = 16;
/// A run of data is counted as an exchange once it has this many full-sized segments.
const RUN_BIG: u32 = 4;
/// A side that sent nothing for this long after its data has finished its answer.
const ANSWERED_NS: u64 = 200_000_000;
/// Client packets larger than a keystroke (requests) that show a program speaking.
const FORWARD_REQUESTS: u32 = 4;

/// Counters of one SSH flow after its handshake.
#[derive(Debug, Clone)]
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
    /// Exchanges: runs of at least [`RUN_BIG`] full-sized segments one way, each begun by a
    /// request from the receiving side or by a change of direction.
    exchanges: u32,
    /// Counted exchanges by direction [to server, to client].
    exchange_dirs: [u32; 2],
    /// The current run: its direction (0 to server, 1 to client, 2 none yet) and its
    /// full-sized segments so far.
    run_dir: u8,
    run_big: u32,
    /// Size and time of each side's last packet [to server, to client].
    last_size: [u32; 2],
    last_ns: [u64; 2],
}

/// What the counters say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Interactive,
    Forwarding,
    /// One run of data one way: a file copy (or a forward that carried one download).
    Transfer,
    /// Too little after the handshake, or neither typing nor data moving (an idle forward,
    /// a short command).
    Other,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Interactive => "interactive",
            Shape::Forwarding => "forwarding",
            Shape::Transfer => "transfer",
            Shape::Other => "other",
        }
    }
}

impl Default for SshShape {
    fn default() -> SshShape {
        SshShape {
            seen: 0,
            last_client_ns: 0,
            pkts: [0; 2],
            bytes: [0; 2],
            big: [0; 2],
            client_requests: 0,
            keystrokes: 0,
            keystroke_gap_sum_ms: 0,
            keystroke_gaps: 0,
            client_fast: 0,
            run: 0,
            run_gap_ms: 0,
            big_since_client: false,
            exchanges: 0,
            exchange_dirs: [0; 2],
            run_dir: 2,
            run_big: 0,
            last_size: [0; 2],
            last_ns: [0; 2],
        }
    }
}

impl SshShape {
    /// Exchanges: a full-sized segment continues the current run when it goes the same way
    /// and the receiving side has asked for nothing since; otherwise it starts a new run. A
    /// run counts once it reaches [`RUN_BIG`] segments.
    ///
    /// A request ends the run only once the sending side has finished its answer: its last
    /// packet keystroke-sized (a channel's EOF and close, which end each connection through
    /// a forward), or nothing from it for [`ANSWERED_NS`]. A message from the receiving side
    /// while data still streams (git's progress and status, a rekey) is not a new request.
    #[inline]
    fn exchange(&mut self, d: usize, size: u32, ts: u64) {
        if size >= BIG_MIN {
            if self.run_dir as usize != d {
                self.run_dir = d as u8;
                self.run_big = 0;
            }
            self.run_big = self.run_big.saturating_add(1);
            if self.run_big == RUN_BIG {
                self.exchanges = self.exchanges.saturating_add(1);
                self.exchange_dirs[d] = self.exchange_dirs[d].saturating_add(1);
            }
        } else if size > KEYSTROKE_MAX
            && self.run_dir as usize == 1 - d
            && (self.last_size[1 - d] <= KEYSTROKE_MAX
                || ts.saturating_sub(self.last_ns[1 - d]) >= ANSWERED_NS)
        {
            // a request from the side receiving the run: what comes next is another answer
            self.run_dir = 2;
            self.run_big = 0;
        }
        self.last_size[d] = size;
        self.last_ns[d] = ts;
    }

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
        self.exchange(d, size, ts);
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
        // Several answers the same way, each asked for: a forward used again and again, also
        // beside a typed shell (typing asks for nothing larger than a keystroke). One run
        // each way is still a copy (git's reference advertisement, then the pack).
        if self.exchange_dirs[0] >= 2 || self.exchange_dirs[1] >= 2 {
            return Shape::Forwarding;
        }
        if self.keystrokes >= MIN_KEYSTROKES {
            return Shape::Interactive;
        }
        let moved = self.big[0] + self.big[1] >= FORWARD_BIG;
        if moved && self.exchanges >= 1 {
            return Shape::Transfer;
        }
        let data = moved && self.pkts[0] >= 2;
        let talk = self.client_requests >= FORWARD_REQUESTS && self.keystrokes == 0;
        if data || talk {
            Shape::Forwarding
        } else {
            Shape::Other
        }
    }

    /// The way the one run of a transfer went (0 to server, 1 to client) and its payload
    /// bytes.
    pub fn transfer(&self) -> Option<(usize, u64)> {
        if self.shape() != Shape::Transfer {
            return None;
        }
        let d = if self.bytes[0] >= self.bytes[1] { 0 } else { 1 };
        Some((d, self.bytes[d]))
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
            ("exchanges", self.exchanges as u64),
            ("pkts_toserver", self.pkts[0] as u64),
            ("pkts_toclient", self.pkts[1] as u64),
            ("payload_bytes_toserver", self.bytes[0]),
            ("payload_bytes_toclient", self.bytes[1]),
            ("big_pkts_toserver", self.big[0] as u64),
            ("big_pkts_toclient", self.big[1] as u64),
        ]
    }

    /// Put `ssh.shape` and `ssh.timing` into a flow record's metadata.
    pub fn annotate(&self, meta: &mut FlowMeta) {
        let s = meta.ssh.get_or_insert_with(Default::default);
        s.shape = Some(self.shape().as_str());
        s.timing = Some(self.figures().into_iter().collect());
        s.transfer = self.transfer().map(|(d, bytes)| SshTransfer {
            direction: if d == 0 { "to_server" } else { "to_client" },
            payload_bytes: bytes,
        });
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

    /// One connection through a forward: channel open, request, the answer, EOF and close.
    fn forwarded_download(s: &mut SshShape, t: &mut u64, segments: u64) {
        s.observe(true, 92, *t); // channel open
        s.observe(false, 44, *t + MS); // confirmation
        s.observe(true, 116, *t + 2 * MS); // the request
        for i in 0..segments {
            s.observe(false, 1448, *t + 3 * MS + i * 100_000);
        }
        *t += 10 * MS + segments * 100_000;
        s.observe(false, 36, *t); // EOF, close both ways
        s.observe(true, 36, *t + MS);
        s.observe(false, 36, *t + 2 * MS);
        *t += 3 * MS;
    }

    #[test]
    fn downloads_through_a_forward_are_forwarding() {
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        for _ in 0..3 {
            forwarded_download(&mut s, &mut t, 14);
        }
        assert_eq!(s.shape(), Shape::Forwarding, "{:?}", s.figures());
        assert!(s.figures().contains(&("exchanges", 3)));
        assert_eq!(s.transfer(), None);
    }

    #[test]
    fn a_forward_beside_typing_is_forwarding() {
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        for k in 0..3 {
            for i in 0..10u64 {
                t += (90 + i * 13) * MS;
                s.observe(true, 36, t);
                s.observe(false, 36, t + 2 * MS);
            }
            if k < 2 {
                forwarded_download(&mut s, &mut t, 14);
            }
        }
        assert_eq!(s.shape(), Shape::Forwarding, "{:?}", s.figures());
        assert!(s.figures().contains(&("keystrokes", 30)));
    }

    #[test]
    fn one_download_through_a_forward_looks_like_a_copy() {
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        forwarded_download(&mut s, &mut t, 70);
        assert_eq!(s.shape(), Shape::Transfer, "{:?}", s.figures());
        assert_eq!(s.transfer(), Some((1, 70 * 1448 + 44 + 36 * 2)));
    }

    #[test]
    fn copies_are_transfers() {
        // sftp upload: set-up exchanges, then 32 KiB writes (22 full segments and a tail),
        // small status replies and window adjustments back, a rekey message mid-stream
        let mut s = SshShape::default();
        let mut t = 0;
        handshake(&mut s, &mut t);
        for (to_server, size) in [
            (true, 112),
            (false, 288),
            (false, 216),
            (true, 68),
            (false, 76),
        ] {
            t += MS;
            s.observe(to_server, size, t);
        }
        for w in 0..40 {
            for _ in 0..22 {
                t += 50_000;
                s.observe(true, 1448, t);
            }
            s.observe(true, 948, t);
            if w % 4 == 3 {
                s.observe(false, 60, t + 10_000);
            }
            if w == 20 {
                s.observe(false, 288, t + 20_000);
            }
        }
        assert_eq!(s.shape(), Shape::Transfer, "{:?}", s.figures());
        assert_eq!(s.transfer().map(|x| x.0), Some(0));

        // git push to a repository with many references: the advertisement comes first
        // (a run to the client), then the pack (one to the server)
        let mut g = SshShape::default();
        let mut t = 0;
        handshake(&mut g, &mut t);
        g.observe(true, 116, t);
        for _ in 0..8 {
            t += 100_000;
            g.observe(false, 1448, t);
        }
        g.observe(true, 220, t + MS);
        for _ in 0..300 {
            t += 50_000;
            g.observe(true, 1448, t);
        }
        assert_eq!(g.shape(), Shape::Transfer, "{:?}", g.figures());
        assert_eq!(g.transfer().map(|x| x.0), Some(0));
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
        assert_eq!(s.shape(), Shape::Transfer);

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
