//! An SSH session inside TLS (stunnel on 443, `ssh -o ProxyCommand='openssl s_client …'`).
//!
//! Once the TLS handshake is over, an SSH session's opening has sizes no web client or
//! server produces together (RFC 4253 §4.2, §7, §8 and OpenSSH 9's defaults):
//! - both sides send their identification string first, alone: `SSH-2.0-…\r\n`, 10 to 100
//!   bytes in practice (255 at most);
//! - then each sends its KEXINIT (200 to 4000 bytes: OpenSSH's lists are about 1100 from
//!   the server and 1500 from the client, dropbear's a few hundred);
//! - then the client's key-exchange init (a 32-byte curve25519 key: about 48 bytes; the
//!   hybrid sntrup761x25519 and mlkem768x25519 keys: about 1230) and the server's reply
//!   (host key, its key, signature);
//! - then the client's NEWKEYS, the last unencrypted SSH packet: exactly 16 bytes (length,
//!   padding length, message 21, ten bytes of padding);
//! - every unencrypted SSH packet (KEXINIT, the exchange's messages) is a multiple of 8
//!   bytes long (RFC 4253 §6), which HTTP/2 frames and HTTP requests are not in general.
//!
//! Each SSH write becomes one TLS record (stunnel and OpenSSL write what they read), so
//! record sizes minus the TLS overhead (TLS 1.3: 16-byte AEAD tag and the content-type
//! byte; TLS 1.2 AES-GCM: 8-byte explicit nonce and 16-byte tag) are the SSH packets'
//! sizes. In TLS 1.3 the server's encrypted handshake and the client's Finished travel as
//! application data too and are skipped, as are up to three session tickets from the
//! server before its identification string (OpenSSL sends two).
//!
//! After the match, records feed the SSH session's shape ([`crate::detect::ssh_shape`]): a
//! typed session, a forward or a copy, as for SSH seen in clear.

use super::Records;
use crate::detect::ssh_shape::SshShape;
use crate::model::meta::WrappedMeta;
use crate::model::record::Finding;
use crate::model::sid;

/// Application-data records looked at per direction before giving up.
const LOOK: usize = 10;
/// Segments with application data looked at before giving up.
const MAX_SEGMENTS: u16 = 64;
/// TLS content type of application data.
const APP_DATA: u8 = 23;

/// What the opening showed, when it was SSH's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// 0–100.
    pub confidence: u8,
    /// The client's NEWKEYS was exactly 16 bytes.
    pub newkeys: bool,
    /// Banner and KEXINIT sizes (plaintext), client then server.
    pub banner: [u32; 2],
    pub kexinit: [u32; 2],
}

/// Per-flow state (TLS over TCP only).
#[derive(Debug, Default, Clone)]
pub struct TlsSsh {
    rec: [Records; 2],
    /// Plaintext sizes of the first application-data records [to server, to client].
    sizes: [Vec<u32>; 2],
    /// TLS 1.3's client Finished is behind us.
    fin_skipped: bool,
    /// The client sent ChangeCipherSpec; the server sent application data before it (TLS
    /// 1.3's encrypted handshake: the version when the capture cut the ServerHello).
    client_ccs: bool,
    early_server_app: bool,
    /// Segments with application data looked at without a verdict.
    segments: u16,
    /// Gave up, or matched (then `verdict` is set).
    pub over: bool,
    pub verdict: Option<Verdict>,
    /// The wrapped session's shape, fed after the match.
    pub shape: Option<SshShape>,
}

impl TlsSsh {
    /// One TCP segment of the TLS flow. `tls13`: the server chose TLS 1.3 (None: not seen,
    /// judged from the records). Returns the
    /// verdict on the segment that completed the match.
    pub fn segment(
        &mut self,
        to_server: bool,
        tls13: Option<bool>,
        seg: &[u8],
        sent: usize,
        ts: u64,
    ) -> Option<Verdict> {
        let d = if to_server { 0 } else { 1 };
        let mut new = [(0u8, 0u16); 8];
        let mut n = 0;
        self.rec[d].feed(seg, sent, |t, len| {
            if n < new.len() {
                new[n] = (t, len);
                n += 1;
            }
        });
        let mut app = 0;
        for &(t, len) in &new[..n] {
            if t == 20 && to_server {
                self.client_ccs = true;
            }
            if t != APP_DATA {
                continue;
            }
            app += 1;
            if !to_server && !self.client_ccs && !self.fin_skipped {
                // the server's encrypted handshake: TLS 1.3 (a cut capture hid its version)
                self.early_server_app = true;
            }
            let v13 = tls13.unwrap_or(self.early_server_app);
            let plain = (len as u32).saturating_sub(if v13 { 17 } else { 24 });
            if let Some(s) = &mut self.shape {
                s.observe(to_server, plain, ts);
                continue;
            }
            if self.over {
                return None;
            }
            if v13 && !self.fin_skipped {
                // the server's encrypted handshake, then the client's Finished
                if to_server {
                    self.fin_skipped = true;
                }
                continue;
            }
            if self.sizes[d].len() < LOOK {
                self.sizes[d].push(plain);
            }
        }
        let n = app;
        if self.over || self.shape.is_some() || n == 0 {
            return None;
        }
        match judge(&self.sizes[0], &self.sizes[1]) {
            Judged::Ssh(v) => {
                self.over = true;
                self.verdict = Some(v);
                let mut shape = SshShape::default();
                // the records so far were the handshake: the shape skips its opening packets
                for (dir, sizes) in self.sizes.iter().enumerate() {
                    for &p in sizes {
                        shape.observe(dir == 0, p, ts);
                    }
                }
                self.shape = Some(shape);
                self.sizes = Default::default();
                Some(v)
            }
            Judged::No => {
                self.over = true;
                self.sizes = Default::default();
                None
            }
            Judged::Wait => {
                // one side silent (a capture of one direction) or the other far ahead
                self.segments = self.segments.saturating_add(1);
                if self.sizes.iter().any(|v| v.len() >= LOOK) || self.segments >= MAX_SEGMENTS {
                    self.over = true;
                    self.sizes = Default::default();
                }
                None
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Judged {
    Ssh(Verdict),
    No,
    Wait,
}

fn banner(x: u32) -> bool {
    (10..=100).contains(&x)
}
/// A whole unencrypted SSH binary packet: its length field plus 4 is a multiple of 8
/// (RFC 4253 §6: the cipher block size or 8, whichever is larger).
fn packet(x: u32) -> bool {
    x % 8 == 0
}
fn kexinit(x: u32) -> bool {
    (200..=4000).contains(&x) && packet(x)
}
/// SSH_MSG_NEWKEYS in an unencrypted binary packet.
const NEWKEYS: u32 = 16;
/// NEWKEYS under TLS 1.2 with ChaCha20-Poly1305 (16 bytes of overhead, not AES-GCM's 24).
const NEWKEYS_CHACHA: u32 = 8;

/// The plaintext sizes of the first application-data records of each side (client `c`,
/// server `s`) against an SSH opening.
pub fn judge(c: &[u32], s: &[u32]) -> Judged {
    // the client: banner, KEXINIT, key-exchange init, NEWKEYS alone
    let steps_c: [fn(u32) -> bool; 4] = [
        banner,
        kexinit,
        |x| (24..=2600).contains(&x) && packet(x),
        |x| x == NEWKEYS || x == NEWKEYS_CHACHA,
    ];
    for (i, step) in steps_c.iter().enumerate() {
        match c.get(i) {
            Some(&x) if step(x) => {}
            Some(_) => return Judged::No,
            None => return Judged::Wait,
        }
    }
    // the server: up to three session tickets, then banner, KEXINIT, the exchange's reply
    let Some(start) = s.iter().take(4).position(|&x| banner(x)) else {
        return if s.len() >= 4 || s.iter().any(|&x| x <= 100 || x > 1000) {
            Judged::No
        } else {
            Judged::Wait
        };
    };
    if s[..start].iter().any(|&x| !(101..=1000).contains(&x)) {
        return Judged::No;
    }
    let steps_s: [fn(u32) -> bool; 2] = [kexinit, |x| (100..=6000).contains(&x)];
    for (i, step) in steps_s.iter().enumerate() {
        match s.get(start + 1 + i) {
            Some(&x) if step(x) => {}
            Some(_) => return Judged::No,
            None => return Judged::Wait,
        }
    }
    // identification strings of the usual length (OpenSSH, PuTTY, dropbear: 20 to 60)
    let usual = [c[0], s[start]].iter().all(|x| (20..=60).contains(x));
    Judged::Ssh(Verdict {
        confidence: if usual { 90 } else { 80 },
        newkeys: true,
        banner: [c[0], s[start]],
        kexinit: [c[1], s[start + 1]],
    })
}

fn traits(v: &Verdict) -> super::Traits {
    let mut t = vec![
        (
            "ssh_banner_bytes",
            format!("{}/{}", v.banner[0], v.banner[1]),
        ),
        (
            "ssh_kexinit_bytes",
            format!("{}/{}", v.kexinit[0], v.kexinit[1]),
        ),
    ];
    if v.newkeys {
        t.push(("ssh_newkeys_bytes", NEWKEYS.to_string()));
    }
    t
}

/// The flow record's `wrapped` part.
pub fn meta(v: &Verdict) -> WrappedMeta {
    super::wrapped_meta(v.confidence, ("ssh", "tls"), None, traits(v))
}

/// The `tunnel` alert.
pub fn finding(v: &Verdict) -> Finding {
    let mut md = super::alert_metadata(v.confidence, traits(v));
    md.insert("inner".to_string(), vec!["ssh".to_string()]);
    super::tunnel_finding(
        sid::TLS_WRAPPED_SSH,
        "SPANWATCH tunnel: SSH session inside TLS (stunnel-style wrapper)".into(),
        Some("ssh"),
        md,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_through_stunnel() {
        // OpenSSH 9.2 through stunnel 5.68, TLS 1.3 (tests/fixtures/live-stunnel_ssh.pcap)
        let c = [41, 1560, 1208, 16, 44];
        let s = [254, 254, 41, 1088, 1564];
        match judge(&c, &s) {
            Judged::Ssh(v) => {
                assert!(v.newkeys);
                assert_eq!(v.confidence, 90);
                assert_eq!(v.banner, [41, 41]);
            }
            other => panic!("{other:?}"),
        }
        // curve25519 key exchange, no tickets, TLS 1.2 with ChaCha20 (8 bytes less overhead
        // than the AES-GCM assumed), a short server banner
        let Judged::Ssh(v) = judge(&[20, 1096, 40, 8], &[14, 600, 300]) else {
            panic!()
        };
        assert_eq!(v.confidence, 80);
        // NEWKEYS sent with the next packet, or KEXINITs that are not whole SSH packets
        assert_eq!(judge(&[41, 1560, 1208, 60], &[41, 1088, 1564]), Judged::No);
        assert_eq!(judge(&[41, 1561, 1208, 16], &[41, 1088, 1564]), Judged::No);
        assert_eq!(judge(&[41, 1560, 1208, 16], &[41, 1090, 1564]), Judged::No);
        // not enough yet
        assert_eq!(judge(&[41, 1560], &[254, 41]), Judged::Wait);
        assert_eq!(judge(&[41, 1560, 1208, 16], &[254, 254]), Judged::Wait);
    }

    #[test]
    fn one_side_only_gives_up() {
        // the client's side of a TLS 1.2 session only: its records never get an answer
        let mut t = TlsSsh::default();
        let rec = |n: u16| {
            let mut r = vec![23, 3, 3];
            r.extend_from_slice(&n.to_be_bytes());
            r
        };
        let sizes = [41u16 + 24, 1560 + 24, 1208 + 24, 16 + 24];
        for (i, n) in sizes.iter().chain([60u16; 20].iter()).enumerate() {
            assert_eq!(
                t.segment(true, Some(false), &rec(*n), *n as usize + 5, i as u64),
                None
            );
        }
        assert!(t.over);
        assert!(t.verdict.is_none());
    }

    #[test]
    fn web_traffic_is_not_ssh() {
        // HTTP/1.1: a request, then a response of full records
        assert_eq!(judge(&[78], &[160, 16384]), Judged::Wait);
        assert_eq!(judge(&[78, 80, 80, 80], &[160, 16384]), Judged::No);
        // HTTP/2: preface with SETTINGS, HEADERS, SETTINGS ack; the server's SETTINGS,
        // its ack, HEADERS and DATA
        assert_eq!(judge(&[63, 240, 9, 9], &[27, 9, 120, 16384]), Judged::No);
        // a JSON API polled: small requests, small answers
        assert_eq!(judge(&[90, 92, 91, 90], &[95, 97, 99, 96]), Judged::No);
        // HTTP/2 in TLS 1.3 from the shared corpus (pinterest.pcap, reddit.pcap): preface
        // and SETTINGS, HEADERS …; the server's tickets, SETTINGS, HEADERS and DATA
        let c = [70, 262, 57, 106, 61, 72, 56, 63, 56, 56];
        assert_eq!(judge(&c, &[37, 1371, 1371]), Judged::No);
        assert_eq!(
            judge(&[70, 248, 57, 59, 58, 55, 9], &[496, 40, 968, 1186]),
            Judged::No
        );
        // a download with session tickets first
        assert_eq!(judge(&[70, 300, 300, 16], &[254, 254, 16384]), Judged::No);
    }
}
