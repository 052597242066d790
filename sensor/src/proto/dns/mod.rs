//! DNS messages (RFC 1035 §4.1): header, questions and answer records, with loop-safe name
//! decompression (§4.1.4), TCP framing (RFC 1035 §4.2.2 / RFC 7766 §8), and helpers for a
//! tunnel detector (label length, Shannon entropy).

use super::Parsed;
use crate::bytes::{be16, be32};

/// Records kept per section; the rest are not decoded.
const MAX_RECORDS: usize = 64;
/// RFC 1035 §2.3.4: a name is at most 255 octets.
const MAX_NAME: usize = 255;
/// Compression pointers followed within one name before giving up.
const MAX_JUMPS: usize = 16;
const HEADER: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The message's own bytes.
    pub raw: &'a [u8],
    pub id: u16,
    pub is_response: bool,
    pub opcode: u8,
    pub rcode: u8,
    /// TC: the UDP message was truncated.
    pub truncated: bool,
    pub questions: Vec<Question>,
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Lowercase, no trailing dot; the root is "".
    pub name: String,
    pub qtype: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: AnswerData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerData {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(String),
    Txt { len: usize },
    Other { len: usize },
}

/// Decode the name at `off`: (name, offset just past the name where it starts).
fn read_name(msg: &[u8], off: usize) -> Result<(String, usize), &'static str> {
    read_name_as(msg, off, true)
}

/// Decode the name at `off`, lowercased or as sent (mDNS instance names keep their case):
/// (name, offset just past the name where it starts).
pub fn read_name_as(msg: &[u8], off: usize, lower: bool) -> Result<(String, usize), &'static str> {
    let mut out: Vec<u8> = Vec::new();
    let mut pos = off;
    let mut end: Option<usize> = None;
    let mut jumps = 0usize;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(pos).ok_or("name runs past the message")?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let after = end.unwrap_or(pos + 1);
                    return Ok((String::from_utf8_lossy(&out).into_owned(), after));
                }
                let l = usize::from(len);
                wire_len += l + 1;
                if wire_len > MAX_NAME {
                    return Err("name longer than 255");
                }
                let label = msg
                    .get(pos + 1..pos + 1 + l)
                    .ok_or("label runs past the message")?;
                if !out.is_empty() {
                    out.push(b'.');
                }
                if lower {
                    out.extend(label.iter().map(|b| b.to_ascii_lowercase()));
                } else {
                    out.extend_from_slice(label);
                }
                pos += 1 + l;
            }
            0xc0 => {
                let ptr = usize::from(be16(msg, pos).ok_or("short pointer")? & 0x3fff);
                if end.is_none() {
                    end = Some(pos + 2);
                }
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err("too many compression pointers");
                }
                pos = ptr;
            }
            _ => return Err("reserved label type"),
        }
    }
}

/// The fixed header of a DNS message (RFC 1035 §4.1.1), which mDNS (RFC 6762) and the
/// NetBIOS name service (RFC 1002 §4.2.1) share.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    /// Questions, answers, authority and additional records.
    pub qd: u16,
    pub an: u16,
    pub ns: u16,
    pub ar: u16,
}

/// The header at the start of `buf`; `None` when `buf` is shorter than one.
pub fn header(buf: &[u8]) -> Option<Header> {
    Some(Header {
        id: be16(buf, 0)?,
        flags: be16(buf, 2)?,
        qd: be16(buf, 4)?,
        an: be16(buf, 6)?,
        ns: be16(buf, 8)?,
        ar: be16(buf, 10)?,
    })
}

/// Whether a datagram that did not parse can still be a DNS message cut short (by the
/// capture's snap length, or damaged in its records): a 12-byte header with an assigned
/// opcode (RFC 6895 §2: 0-2, 4-6) and a handful of questions (RFC 9619: QDCOUNT is 1;
/// malformed answers with two or three are still DNS, as nDPI's `malformed_dns.pcap`). A
/// tool that left the DNS format for raw datagrams on the same flow (iodine's raw UDP mode:
/// `10 d1 9e …`, opcode 3) fails it, as random bytes nearly always do (6/16 opcodes, then
/// a 16-bit count under 16).
pub fn plausible_header(buf: &[u8]) -> bool {
    header(buf).is_some_and(|h| matches!((h.flags >> 11) & 0x0f, 0..=2 | 4..=6) && h.qd < 16)
}

/// Parse one DNS message (as carried in one UDP datagram).
pub fn parse(buf: &[u8]) -> Result<Message<'_>, &'static str> {
    let Header {
        id, flags, qd, an, ..
    } = header(buf).ok_or("shorter than a DNS header")?;
    let (qd, an) = (usize::from(qd), usize::from(an));
    let mut msg = Message {
        raw: buf,
        id,
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0x0f) as u8,
        rcode: (flags & 0x000f) as u8,
        truncated: flags & 0x0200 != 0,
        questions: Vec::new(),
        answers: Vec::new(),
    };
    let mut off = HEADER;
    for i in 0..qd {
        let (name, next) = read_name(buf, off)?;
        let qtype = be16(buf, next).ok_or("question runs past the message")?;
        be16(buf, next + 2).ok_or("question runs past the message")?;
        off = next + 4;
        if i < MAX_RECORDS {
            msg.questions.push(Question { name, qtype });
        }
    }
    for _ in 0..an.min(MAX_RECORDS) {
        let (name, next) = read_name(buf, off)?;
        let rtype = be16(buf, next).ok_or("record runs past the message")?;
        let ttl = be32(buf, next + 4).ok_or("record runs past the message")?;
        let rdlen = usize::from(be16(buf, next + 8).ok_or("record runs past the message")?);
        let rd_off = next + 10;
        let rdata = buf
            .get(rd_off..rd_off + rdlen)
            .ok_or("rdata runs past the message")?;
        let data = match (rtype, rdlen) {
            (1, 4) => {
                let mut a = [0u8; 4];
                a.copy_from_slice(rdata);
                AnswerData::A(a)
            }
            (28, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rdata);
                AnswerData::Aaaa(a)
            }
            (5, _) => AnswerData::Cname(read_name(buf, rd_off)?.0),
            (16, _) => AnswerData::Txt { len: rdlen },
            _ => AnswerData::Other { len: rdlen },
        };
        msg.answers.push(Answer {
            name,
            rtype,
            ttl,
            data,
        });
        off = rd_off + rdlen;
    }
    Ok(msg)
}

/// Parse one DNS message over TCP: a 2-byte length prefix, then the message.
pub fn parse_tcp(buf: &[u8]) -> Parsed<Message<'_>> {
    let Some(len) = be16(buf, 0) else {
        return Parsed::NeedMore {
            needed: 2 - buf.len(),
        };
    };
    let end = 2 + usize::from(len);
    let Some(body) = buf.get(2..end) else {
        return Parsed::NeedMore {
            needed: end - buf.len(),
        };
    };
    match parse(body) {
        Ok(value) => Parsed::Done {
            value,
            consumed: end,
        },
        Err(m) => Parsed::Malformed(m),
    }
}

/// Mnemonic of a QTYPE / TYPE (IANA DNS parameters).
pub fn qtype_name(t: u16) -> &'static str {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        52 => "TLSA",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        252 => "AXFR",
        251 => "IXFR",
        255 => "ANY",
        257 => "CAA",
        _ => "UNKNOWN",
    }
}

/// Longest label of a dotted name, in bytes.
pub fn max_label_len(name: &str) -> usize {
    name.split('.').map(str::len).max().unwrap_or(0)
}

/// Shannon entropy of a label's bytes, in bits per character (0 for an empty label).
pub fn label_entropy(label: &str) -> f32 {
    crate::bytes::entropy(label.as_bytes())
}

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
