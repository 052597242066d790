//! NetBIOS over TCP/IP (RFC 1001/1002): the name service on UDP 137 (queries, name
//! registration, release and refresh, node status — NBSTAT) and the datagram service on UDP
//! 138, whose broadcasts carry the Windows/Samba browser announcements (MS-BRWS §2.2: host,
//! domain and local master announcements with the server's name, OS version and comment).
//! Names are first-level encoded (RFC 1001 §14.1: each half-byte as a letter `A`..`P`),
//! 15 characters space-padded and a suffix byte naming the service (`<00>` workstation,
//! `<20>` file server, `<1d>` master browser …).

use super::dns::{header, Header};
use super::mdns::push_name;
use super::Parsed;
use crate::bytes::{be16, le32};

/// Names kept per message.
pub const MAX_NAMES: usize = super::mdns::MAX_NAMES;
/// Records read per name service message.
const MAX_RECORDS: usize = 32;

/// What one NetBIOS message names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Netbios {
    /// `ns` (UDP 137) or `dgm` (UDP 138).
    pub service: &'static str,
    /// Name service: `query`, `registration`, `release`, `wack`, `refresh`,
    /// `multihomed_registration`; datagram service: `direct_unique`, `direct_group`,
    /// `broadcast`, `error`, `query_request`, `positive_response`, `negative_response`.
    pub op: &'static str,
    pub is_response: bool,
    /// Every name of the message as `NAME<xx>` (the suffix in hex).
    pub names: Vec<String>,
    /// The message's first name without its suffix, lowercase (what nDPI prints as the
    /// flow's host name).
    pub name: Option<String>,
    /// Names the sender claims as its own (registered, refreshed, released, announced, the
    /// source of a datagram, a node status answer), lowercase, without suffix.
    pub claimed: Vec<String>,
    pub browser: Option<Browser>,
}

/// A browser announcement (MS-BRWS §2.2.1, §2.2.6, §2.2.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Browser {
    /// `host_announcement`, `domain_announcement`, `local_master_announcement`.
    pub command: &'static str,
    pub server_name: String,
    pub os_version: String,
    pub comment: String,
}

/// One decoded NetBIOS name: the name without padding, and its suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbName {
    pub name: String,
    pub suffix: u8,
}

impl NbName {
    pub fn tagged(&self) -> String {
        format!("{}<{:02x}>", self.name, self.suffix)
    }
}

/// 16 raw name bytes (15 padded + suffix) → name. The wildcard `*` is followed by NULs.
fn from_raw(b: &[u8]) -> Option<NbName> {
    if b.len() != 16 {
        return None;
    }
    let n = &b[..15];
    let n = match n.iter().position(|c| *c == 0) {
        Some(0) | None => n,
        Some(i) => &n[..i],
    };
    let name = String::from_utf8_lossy(n)
        .trim_end_matches([' ', '\0'])
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    Some(NbName {
        name,
        suffix: b[15],
    })
}

/// First-level decoding of 32 letters `A`..`P`.
pub fn decode_first_level(enc: &[u8]) -> Option<NbName> {
    if enc.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (i, pair) in enc.chunks_exact(2).enumerate() {
        let hi = pair[0].wrapping_sub(b'A');
        let lo = pair[1].wrapping_sub(b'A');
        if hi > 15 || lo > 15 {
            return None;
        }
        raw[i] = (hi << 4) | lo;
    }
    from_raw(&raw)
}

/// An encoded name at `off` (a 32-byte label and scope labels, or a pointer to one):
/// (name, offset past it).
fn read_name(msg: &[u8], off: usize) -> Result<(NbName, usize), &'static str> {
    let first = *msg.get(off).ok_or("name runs past the message")?;
    if first & 0xc0 == 0xc0 {
        let ptr = usize::from(be16(msg, off).ok_or("short pointer")? & 0x3fff);
        if ptr >= off {
            return Err("name pointer points forward");
        }
        let (n, _) = read_plain(msg, ptr)?;
        return Ok((n, off + 2));
    }
    read_plain(msg, off)
}

/// An encoded name at `off` that is not a pointer.
fn read_plain(msg: &[u8], off: usize) -> Result<(NbName, usize), &'static str> {
    let first = *msg.get(off).ok_or("name runs past the message")?;
    if first != 32 {
        return Err("NetBIOS name label is not 32 bytes");
    }
    let enc = msg
        .get(off + 1..off + 33)
        .ok_or("name runs past the message")?;
    let n = decode_first_level(enc).ok_or("name is not first-level encoded")?;
    // scope labels, to the root
    let mut pos = off + 33;
    loop {
        let l = *msg.get(pos).ok_or("scope runs past the message")?;
        if l == 0 {
            return Ok((n, pos + 1));
        }
        if l & 0xc0 != 0 {
            return Err("bad scope label");
        }
        pos += 1 + usize::from(l);
    }
}

fn note(m: &mut Netbios, n: &NbName, claimed: bool) {
    if m.name.is_none() {
        m.name = Some(n.name.to_ascii_lowercase());
    }
    push_name(&mut m.names, n.tagged());
    if claimed && n.name != "*" {
        push_name(&mut m.claimed, n.name.to_ascii_lowercase());
    }
}

/// One name service message (UDP 137).
pub fn parse_ns(buf: &[u8]) -> Parsed<Netbios> {
    let Some(Header {
        flags,
        qd,
        an,
        ns,
        ar,
        ..
    }) = header(buf)
    else {
        return Parsed::Malformed("shorter than a name service header");
    };
    let op = match (flags >> 11) & 0x0f {
        0 => "query",
        5 => "registration",
        6 => "release",
        7 => "wack",
        8 | 9 => "refresh",
        15 => "multihomed_registration",
        _ => return Parsed::Malformed("unknown name service opcode"),
    };
    if qd == 0 && an == 0 {
        return Parsed::Malformed("name service message with neither question nor answer");
    }
    let is_response = flags & 0x8000 != 0;
    let mut m = Netbios {
        service: "ns",
        op,
        is_response,
        ..Netbios::default()
    };
    let claims = !is_response && op != "query" && op != "wack";
    let mut off = 12;
    for _ in 0..qd.min(4) {
        let (n, next) = match read_name(buf, off) {
            Ok(x) => x,
            Err(e) => return Parsed::Malformed(e),
        };
        if buf.len() < next + 4 {
            return Parsed::Malformed("question runs past the message");
        }
        // the name is claimed by its resource record below (unique or group)
        note(&mut m, &n, false);
        off = next + 4;
    }
    if qd > 4 {
        return Parsed::Malformed("more questions than a name service message has");
    }
    let records = usize::from(an) + usize::from(ns) + usize::from(ar);
    for _ in 0..records.min(MAX_RECORDS) {
        let (n, next) = match read_name(buf, off) {
            Ok(x) => x,
            Err(e) => return Parsed::Malformed(e),
        };
        let (Some(rtype), Some(rdlen)) = (be16(buf, next), be16(buf, next + 8)) else {
            return Parsed::Malformed("record runs past the message");
        };
        let rd = next + 10;
        let end = rd + usize::from(rdlen);
        let Some(rdata) = buf.get(rd..end) else {
            return Parsed::Malformed("rdata runs past the message");
        };
        // NB record (RFC 1002 §4.2.1.3): NB_FLAGS' G bit marks a group name (a workgroup),
        // which names no device
        let group = rdata.first().is_some_and(|f| f & 0x80 != 0);
        note(&mut m, &n, claims && rtype == 0x20 && !group);
        if rtype == 0x21 && is_response {
            // NBSTAT (RFC 1002 §4.2.18): the names the answering node holds.
            let count = usize::from(*rdata.first().unwrap_or(&0));
            for i in 0..count.min(MAX_NAMES) {
                let Some(e) = rdata.get(1 + i * 18..1 + i * 18 + 16) else {
                    return Parsed::Malformed("node status name table runs past the record");
                };
                // NAME_FLAGS (RFC 1002 §4.2.18): G bit, a group name
                let group = rdata.get(1 + i * 18 + 16).is_some_and(|f| f & 0x80 != 0);
                if let Some(x) = from_raw(e) {
                    note(&mut m, &x, !group);
                }
            }
        }
        off = end;
    }
    Parsed::Done {
        value: m,
        consumed: buf.len(),
    }
}

/// One datagram service message (UDP 138).
pub fn parse_dgm(buf: &[u8]) -> Parsed<Netbios> {
    let Some(&t) = buf.first() else {
        return Parsed::Malformed("empty datagram");
    };
    let op = match t {
        0x10 => "direct_unique",
        0x11 => "direct_group",
        0x12 => "broadcast",
        0x13 => "error",
        0x14 => "query_request",
        0x15 => "positive_response",
        0x16 => "negative_response",
        _ => return Parsed::Malformed("unknown datagram message type"),
    };
    if buf.len() < 11 {
        return Parsed::Malformed("shorter than a datagram header");
    }
    let mut m = Netbios {
        service: "dgm",
        op,
        is_response: t >= 0x15,
        ..Netbios::default()
    };
    match t {
        0x10..=0x12 => {
            if buf.len() < 14 {
                return Parsed::Malformed("shorter than a datagram header");
            }
            let (src, next) = match read_name(buf, 14) {
                Ok(x) => x,
                Err(e) => return Parsed::Malformed(e),
            };
            let (dst, data) = match read_name(buf, next) {
                Ok(x) => x,
                Err(e) => return Parsed::Malformed(e),
            };
            note(&mut m, &src, true);
            note(&mut m, &dst, false);
            m.browser = browser(&buf[data..]);
            if let Some(b) = &m.browser {
                if !b.server_name.is_empty() && b.command != "domain_announcement" {
                    push_name(&mut m.claimed, b.server_name.to_ascii_lowercase());
                }
            }
        }
        0x13 => {}
        _ => {
            let (dst, _) = match read_name(buf, 10) {
                Ok(x) => x,
                Err(e) => return Parsed::Malformed(e),
            };
            note(&mut m, &dst, false);
        }
    }
    Parsed::Done {
        value: m,
        consumed: buf.len(),
    }
}

const MAILSLOT: &[u8] = b"\\MAILSLOT\\BROWSE\0";

/// A browser announcement in a datagram's user data: an SMB_COM_TRANSACTION to the
/// `\MAILSLOT\BROWSE` mailslot, whose data (at the transaction's DataOffset from the SMB
/// header, MS-CIFS §2.2.4.33.1) is the browser frame.
fn browser(smb: &[u8]) -> Option<Browser> {
    if smb.get(..5)? != b"\xffSMB\x25" {
        return None;
    }
    smb.windows(MAILSLOT.len()).position(|w| w == MAILSLOT)?;
    // words start at 33 (after the 32-byte header and the word count); DataOffset is
    // word 12 (counting from 0)
    let data_off = usize::from(u16::from_le_bytes([*smb.get(57)?, *smb.get(58)?]));
    let f = smb.get(data_off..)?;
    let command = match *f.first()? {
        1 => "host_announcement",
        12 => "domain_announcement",
        15 => "local_master_announcement",
        _ => return None,
    };
    let cstr = |b: &[u8]| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        let mut s: String = String::from_utf8_lossy(&b[..end.min(256)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        s.truncate(s.trim_end().len());
        s
    };
    let _server_type = le32(f, 24)?;
    Some(Browser {
        command,
        server_name: cstr(f.get(6..22)?),
        os_version: format!("{}.{}", f.get(22)?, f.get(23)?),
        comment: cstr(f.get(32..).unwrap_or(&[])),
    })
}

#[cfg(test)]
pub(crate) mod tests;

pub mod open;
