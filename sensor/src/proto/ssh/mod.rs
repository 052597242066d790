//! SSH: the identification banner (RFC 4253 §4.2) and the first binary packet's
//! SSH_MSG_KEXINIT (RFC 4253 §6, §7.1), with HASSH / HASSHServer strings and MD5s as
//! Salesforce defines them (`kex;enc;mac;comp` of the client's c2s or the server's s2c lists).

use super::tls::md5_hex;
use super::{Parsed, Probe};
use crate::bytes::be32;

/// RFC 4253 §4.2: the identification line is at most 255 characters, CR LF included.
const MAX_BANNER: usize = 255;
/// Lines a server may send before its identification line: at most this many bytes.
const MAX_PREAMBLE: usize = 8 * 1024;
/// RFC 4253 §6.1: implementations must accept packets of 35000 bytes in total.
const MAX_PACKET: usize = 35_000;
/// Cap on each name-list kept.
const LIST_CAP: usize = 4096;
const SSH_MSG_KEXINIT: u8 = 20;

/// `SSH-protoversion-softwareversion SP comments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub proto_version: String,
    pub software: String,
    pub comments: Option<String>,
}

/// SSH_MSG_KEXINIT's algorithm lists (RFC 4253 §7.1), comma-separated as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInit {
    pub cookie: [u8; 16],
    pub kex_algorithms: String,
    pub server_host_key_algorithms: String,
    pub encryption_c2s: String,
    pub encryption_s2c: String,
    pub mac_c2s: String,
    pub mac_s2c: String,
    pub compression_c2s: String,
    pub compression_s2c: String,
    pub languages_c2s: String,
    pub languages_s2c: String,
    pub first_kex_packet_follows: bool,
}

impl KexInit {
    /// HASSH (client): `kex;enc_c2s;mac_c2s;comp_c2s` and its MD5 in lowercase hex.
    pub fn hassh(&self) -> (String, String) {
        let s = format!(
            "{};{};{};{}",
            self.kex_algorithms, self.encryption_c2s, self.mac_c2s, self.compression_c2s
        );
        let h = md5_hex(&s);
        (s, h)
    }

    /// HASSHServer: `kex;enc_s2c;mac_s2c;comp_s2c` and its MD5 in lowercase hex.
    pub fn hassh_server(&self) -> (String, String) {
        let s = format!(
            "{};{};{};{}",
            self.kex_algorithms, self.encryption_s2c, self.mac_s2c, self.compression_s2c
        );
        let h = md5_hex(&s);
        (s, h)
    }
}

/// Does this direction start with `SSH-`? Pure, allocation-free. (A server may send other
/// lines first; those flows are not matched by the probe.)
pub fn probe(buf: &[u8]) -> Probe {
    const P: &[u8] = b"SSH-";
    let n = buf.len().min(P.len());
    match (buf.get(..n), P.get(..n)) {
        (Some(a), Some(b)) if a == b => {
            if n == P.len() {
                Probe::Match
            } else {
                Probe::NeedMore
            }
        }
        _ => Probe::NoMatch,
    }
}

/// Parse the identification line, skipping lines before it that do not start with `SSH-`
/// (RFC 4253 §4.2 lets a server send them). Lines end in CR LF or LF. `consumed` covers
/// everything through the banner's line end.
pub fn parse_banner(buf: &[u8]) -> Parsed<Banner> {
    let mut off = 0usize;
    loop {
        let rest = buf.get(off..).unwrap_or(&[]);
        let nl = rest.iter().position(|&b| b == b'\n');
        let is_ssh = rest.starts_with(b"SSH-");
        let Some(nl) = nl else {
            if rest.len() >= MAX_BANNER || off + rest.len() > MAX_PREAMBLE + MAX_BANNER {
                return Parsed::Malformed("SSH identification line too long");
            }
            return Parsed::NeedMore { needed: 1 };
        };
        let line = rest.get(..nl).unwrap_or(&[]);
        if is_ssh {
            // 255 includes CR LF.
            if nl + 1 > MAX_BANNER {
                return Parsed::Malformed("SSH identification line too long");
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            return match banner_fields(line) {
                Some(value) => Parsed::Done {
                    value,
                    consumed: off + nl + 1,
                },
                None => Parsed::Malformed("SSH identification line without software version"),
            };
        }
        off += nl + 1;
        if off > MAX_PREAMBLE {
            return Parsed::Malformed("too many lines before the SSH identification");
        }
    }
}

fn lossy(b: &[u8], cap: usize) -> String {
    let b = b.get(..b.len().min(cap)).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

fn banner_fields(line: &[u8]) -> Option<Banner> {
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    let proto = rest.get(..dash)?;
    let after = rest.get(dash + 1..)?;
    let (software, comments) = match after.iter().position(|&b| b == b' ') {
        Some(sp) => (after.get(..sp)?, Some(after.get(sp + 1..)?)),
        None => (after, None),
    };
    if proto.is_empty() || software.is_empty() {
        return None;
    }
    Some(Banner {
        proto_version: lossy(proto, MAX_BANNER),
        software: lossy(software, MAX_BANNER),
        comments: comments.map(|c| lossy(c, MAX_BANNER)),
    })
}

/// Parse the unencrypted binary packet (RFC 4253 §6: uint32 packet_length, byte
/// padding_length, payload, padding; no MAC yet) holding SSH_MSG_KEXINIT (§7.1).
pub fn parse_kexinit(buf: &[u8]) -> Parsed<KexInit> {
    let Some(plen) = be32(buf, 0) else {
        return Parsed::NeedMore {
            needed: 4 - buf.len(),
        };
    };
    let plen = plen as usize;
    if !(1 + 1 + 16 + 40 + 5..=MAX_PACKET).contains(&plen) {
        return Parsed::Malformed("SSH packet length out of range");
    }
    if let Some(&t) = buf.get(5) {
        if t != SSH_MSG_KEXINIT {
            return Parsed::Malformed("not SSH_MSG_KEXINIT");
        }
    }
    let total = 4 + plen;
    let Some(pkt) = buf.get(4..total) else {
        return Parsed::NeedMore {
            needed: total - buf.len(),
        };
    };
    let Some(&pad) = pkt.first() else {
        return Parsed::Malformed("SSH packet empty");
    };
    let pad = usize::from(pad);
    if pad < 4 || pad + 1 >= plen {
        return Parsed::Malformed("SSH padding length out of range");
    }
    let Some(payload) = pkt.get(1..plen - pad) else {
        return Parsed::Malformed("SSH padding longer than packet");
    };
    match kexinit_payload(payload) {
        Some(value) => Parsed::Done {
            value,
            consumed: total,
        },
        None => Parsed::Malformed("SSH_MSG_KEXINIT truncated"),
    }
}

fn kexinit_payload(p: &[u8]) -> Option<KexInit> {
    if *p.first()? != SSH_MSG_KEXINIT {
        return None;
    }
    let mut cookie = [0u8; 16];
    cookie.copy_from_slice(p.get(1..17)?);
    let mut off = 17usize;
    let mut next = || -> Option<String> {
        let n = be32(p, off)? as usize;
        let s = p.get(off + 4..(off + 4).checked_add(n)?)?;
        off += 4 + n;
        Some(lossy(s, LIST_CAP))
    };
    let kex_algorithms = next()?;
    let server_host_key_algorithms = next()?;
    let encryption_c2s = next()?;
    let encryption_s2c = next()?;
    let mac_c2s = next()?;
    let mac_s2c = next()?;
    let compression_c2s = next()?;
    let compression_s2c = next()?;
    let languages_c2s = next()?;
    let languages_s2c = next()?;
    let first_kex_packet_follows = *p.get(off)? != 0;
    Some(KexInit {
        cookie,
        kex_algorithms,
        server_host_key_algorithms,
        encryption_c2s,
        encryption_s2c,
        mac_c2s,
        mac_s2c,
        compression_c2s,
        compression_s2c,
        languages_c2s,
        languages_s2c,
        first_kex_packet_follows,
    })
}

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
