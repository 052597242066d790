//! Subject and issuer of an X.509 certificate (RFC 5280 §4.1) as RFC 4514 strings, read with
//! a small DER walker (X.690 §8.1).

use std::borrow::Cow;

use super::STR_CAP;

/// One TLV: (tag, content, total length of the TLV). Single-byte tags, definite lengths
/// of up to four length octets.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let tag = *b.first()?;
    if tag & 0x1f == 0x1f {
        return None; // high-tag-number form: not used in the fields we read
    }
    let l0 = *b.get(1)?;
    let (len, hdr) = if l0 < 0x80 {
        (usize::from(l0), 2)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None; // indefinite length is not DER
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, end))
}

/// Iterate the TLVs inside a constructed value.
fn der_children(mut b: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (t, c, n) = der_tlv(b)?;
        b = b.get(n..)?;
        Some((t, c))
    })
}

/// The names an X.509 certificate holds: subject and issuer (RFC 4514-like), and the DNS
/// names of its subjectAltName extension (RFC 5280 §4.2.1.6), at most [`MAX_DNS_NAMES`].
pub(super) struct CertNames {
    pub subject: String,
    pub issuer: String,
    pub dns: Vec<String>,
}

/// subjectAltName DNS names kept per certificate (a CDN's shared certificate lists dozens).
const MAX_DNS_NAMES: usize = 64;
/// Longest DNS name (RFC 1035 §2.3.4).
const MAX_NAME: usize = 253;

/// Read a certificate's names. None when the DER is not a certificate's shape.
pub(super) fn cert_names(der: &[u8]) -> Option<CertNames> {
    let (t, cert, _) = der_tlv(der)?;
    if t != 0x30 {
        return None;
    }
    let (t, tbs) = der_children(cert).next()?;
    if t != 0x30 {
        return None;
    }
    let mut it = der_children(tbs).peekable();
    // version [0] EXPLICIT, optional
    if it.peek().is_some_and(|(t, _)| *t == 0xa0) {
        it.next();
    }
    let _serial = it.next()?;
    let _sig_alg = it.next()?;
    let (ti, issuer) = it.next()?;
    let _validity = it.next()?;
    let (ts, subject) = it.next()?;
    if ti != 0x30 || ts != 0x30 {
        return None;
    }
    let _spki = it.next();
    // issuerUniqueID [1], subjectUniqueID [2], extensions [3] EXPLICIT
    let dns = it
        .find(|(t, _)| *t == 0xa3)
        .map(|(_, ext)| alt_dns_names(ext))
        .unwrap_or_default();
    Some(CertNames {
        subject: dn_string(subject),
        issuer: dn_string(issuer),
        dns,
    })
}

/// The dNSName entries ([2] IA5String) of the subjectAltName extension (OID 2.5.29.17) in
/// `[3] { SEQUENCE OF Extension { extnID, critical BOOLEAN DEFAULT FALSE, extnValue } }`.
fn alt_dns_names(exts: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some((0x30, list)) = der_children(exts).next() else {
        return out;
    };
    for (t, ext) in der_children(list).take(64) {
        if t != 0x30 {
            continue;
        }
        let mut f = der_children(ext);
        if f.next() != Some((0x06, &[0x55, 0x1d, 0x11][..])) {
            continue;
        }
        let Some(value) = f.find(|(t, _)| *t == 0x04).map(|(_, v)| v) else {
            continue;
        };
        let Some((0x30, names)) = der_children(value).next() else {
            continue;
        };
        for (t, name) in der_children(names) {
            if out.len() == MAX_DNS_NAMES {
                break;
            }
            if t == 0x82 && (1..=MAX_NAME).contains(&name.len()) && name.is_ascii() {
                out.push(String::from_utf8_lossy(name).to_ascii_lowercase());
            }
        }
    }
    out
}

fn oid_text(oid: &[u8]) -> Cow<'static, str> {
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        _ => "",
    };
    if !short.is_empty() {
        return Cow::Borrowed(short);
    }
    // Dotted decimal (X.690 §8.19), as RFC 4514 §2.3 asks for unknown types.
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = acc.saturating_mul(128) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (acc / 40).min(2);
                parts.push(first);
                parts.push(acc - first * 40);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    Cow::Owned(
        parts
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("."),
    )
}

fn value_text(tag: u8, content: &[u8]) -> String {
    match tag {
        // UTF8String, PrintableString, T61String, IA5String, VisibleString
        0x0c | 0x13 | 0x14 | 0x16 | 0x1a => escape_4514(&String::from_utf8_lossy(content)),
        // BMPString: UCS-2 big-endian
        0x1e => {
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            escape_4514(&String::from_utf16_lossy(&units))
        }
        _ => {
            // RFC 4514 §2.4: '#' and the hex of the BER encoding (here: the content).
            let mut s = String::from("#");
            for b in content.iter().take(STR_CAP / 2) {
                s.push_str(&format!("{b:02x}"));
            }
            s
        }
    }
}

/// RFC 4514 §2.4 escaping.
fn escape_4514(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

/// Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue);
/// RFC 4514 §2.1 writes the RDNs last-first, joined with ",", multi-valued ones with "+".
fn dn_string(name: &[u8]) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for (t, set) in der_children(name).take(32) {
        if t != 0x31 {
            continue;
        }
        let mut avas: Vec<String> = Vec::new();
        for (t, atv) in der_children(set).take(8) {
            if t != 0x30 {
                continue;
            }
            let mut it = der_children(atv);
            let (Some((0x06, oid)), Some((vt, val))) = (it.next(), it.next()) else {
                continue;
            };
            avas.push(format!("{}={}", oid_text(oid), value_text(vt, val)));
        }
        if !avas.is_empty() {
            rdns.push(avas.join("+"));
        }
    }
    rdns.reverse();
    let s = rdns.join(", ");
    cap_str(s, STR_CAP)
}

/// Truncate to at most `cap` bytes on a char boundary.
fn cap_str(mut s: String, cap: usize) -> String {
    if s.len() > cap {
        let mut n = cap;
        while n > 0 && !s.is_char_boundary(n) {
            n -= 1;
        }
        s.truncate(n);
    }
    s
}
