//! TLS handshake metadata: ClientHello (SNI, ALPN, versions, JA4) and the server's first
//! flight (ServerHello, and in TLS ≤ 1.2 the subject/issuer of the first certificate).
//!
//! References: RFC 8446 §5.1 (record layer), §4.1.2 (ClientHello), §4.1.3 (ServerHello),
//! §4.2.1 (supported_versions); RFC 5246 §7.4.2 (Certificate); RFC 6066 §3 (server_name);
//! RFC 7301 §3.1 (ALPN); RFC 8701 (GREASE); RFC 5280 §4.1 (certificate layout);
//! RFC 4514 §2 (string form of a distinguished name); FoxIO's JA4 technical details
//! (JA4 client fingerprint, TCP "t" variant).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::{Parsed, Probe};
use crate::decode::wire::{be16, be24};

/// Content type of a handshake record (RFC 8446 §5.1).
const CT_HANDSHAKE: u8 = 0x16;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
/// TLSPlaintext.length must not exceed 2^14; ciphertext may add 2048 (RFC 8446 §5.2).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Largest handshake message (or first certificate) we reassemble.
const MAX_HANDSHAKE: usize = 64 * 1024;
/// Cap on strings taken from the wire.
const STR_CAP: usize = 256;
/// Cap on ALPN values kept.
const MAX_ALPN: usize = 16;

const EXT_SNI: u16 = 0x0000;
const EXT_SIG_ALGS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// What a ClientHello says about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    /// First host_name of the server_name extension.
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// The supported_versions extension, in wire order (GREASE included).
    pub supported_versions: Vec<u16>,
    /// Cipher suites in wire order (GREASE included).
    pub ciphers: Vec<u16>,
    /// Extension types in wire order (GREASE included).
    pub extensions: Vec<u16>,
    /// signature_algorithms, in wire order (GREASE included).
    pub sig_algs: Vec<u16>,
    /// JA4 client fingerprint (TCP variant), e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    pub ja4: String,
}

/// What the server's first flight says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The selected version: supported_versions' selected_version if present, else
    /// ServerHello.legacy_version.
    pub version: u16,
    pub cipher: u16,
    pub alpn: Option<String>,
    /// First certificate's subject, RFC 4514-like (`CN=…, O=…, C=…`); TLS ≤ 1.2 only.
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
}

/// GREASE values (RFC 8701 §2): 0x?A?A with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Does this direction open with a TLS handshake record carrying a ClientHello or
/// ServerHello? Pure, allocation-free.
pub fn probe(buf: &[u8]) -> Probe {
    let Some(&ct) = buf.first() else {
        return Probe::NeedMore;
    };
    if ct != CT_HANDSHAKE {
        return Probe::NoMatch;
    }
    let Some(ver) = be16(buf, 1) else {
        return match buf.get(1) {
            Some(3) | None => Probe::NeedMore,
            Some(_) => Probe::NoMatch,
        };
    };
    if !(0x0300..=0x0304).contains(&ver) {
        return Probe::NoMatch;
    }
    let Some(len) = be16(buf, 3) else {
        return Probe::NeedMore;
    };
    if len == 0 || usize::from(len) > MAX_RECORD {
        return Probe::NoMatch;
    }
    match buf.get(5) {
        None => Probe::NeedMore,
        Some(&HS_CLIENT_HELLO) | Some(&HS_SERVER_HELLO) => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

/// Handshake bytes gathered from consecutive handshake records at the start of a buffer.
struct Gathered<'a> {
    data: Cow<'a, [u8]>,
    /// For each record: (handshake bytes up to its end, buffer offset of its end).
    ends: Vec<(usize, usize)>,
    stop: Stop,
}

enum Stop {
    /// The buffer ended on a record boundary.
    End,
    /// The last record is incomplete: this many more bytes finish it.
    Partial(usize),
    /// A record of another content type follows (e.g. ChangeCipherSpec).
    Other,
    /// MAX_HANDSHAKE bytes were gathered.
    Cap,
}

fn gather(buf: &[u8]) -> Result<Gathered<'_>, &'static str> {
    let mut data: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    let mut ends = Vec::new();
    let mut off = 0usize;
    loop {
        if data.len() >= MAX_HANDSHAKE {
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Cap,
            });
        }
        let avail = buf.len().saturating_sub(off);
        if avail == 0 {
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::End,
            });
        }
        let Some(hdr) = buf.get(off..off + 5) else {
            // Peek what we can of the header to reject non-handshake early.
            if buf.get(off).is_some_and(|&t| t != CT_HANDSHAKE) {
                return if ends.is_empty() {
                    Err("not a handshake record")
                } else {
                    Ok(Gathered {
                        data,
                        ends,
                        stop: Stop::Other,
                    })
                };
            }
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Partial(5 - avail),
            });
        };
        if hdr.first() != Some(&CT_HANDSHAKE) {
            if ends.is_empty() {
                return Err("not a handshake record");
            }
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Other,
            });
        }
        if hdr.get(1) != Some(&3) {
            return Err("record version is not 3.x");
        }
        let len = usize::from(be16(hdr, 3).unwrap_or(0));
        if len > MAX_RECORD {
            return Err("record longer than 2^14+2048");
        }
        let start = off + 5;
        let end = start + len;
        let Some(frag) = buf.get(start..end) else {
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Partial(end - buf.len()),
            });
        };
        if ends.is_empty() {
            data = Cow::Borrowed(frag);
        } else {
            data.to_mut().extend_from_slice(frag);
        }
        ends.push((data.len(), end));
        off = end;
    }
}

impl Gathered<'_> {
    /// Buffer offset of the end of the record holding handshake byte `hs_end - 1`.
    fn consumed_for(&self, hs_end: usize) -> usize {
        self.ends
            .iter()
            .find(|(h, _)| *h >= hs_end)
            .map(|(_, b)| *b)
            .unwrap_or(0)
    }

    /// What to say when `want` handshake bytes are not all there.
    fn short(&self, want: usize) -> Parsed<()> {
        let missing = want.saturating_sub(self.data.len());
        match self.stop {
            Stop::Partial(n) => Parsed::NeedMore { needed: n.max(1) },
            // A further record needs at least its 5-byte header plus the missing bytes.
            Stop::End => Parsed::NeedMore {
                needed: 5 + missing.max(1),
            },
            Stop::Other => Parsed::Malformed("handshake message cut by another record type"),
            Stop::Cap => Parsed::Malformed("handshake message too long"),
        }
    }
}

/// One handshake message at `at` in the gathered bytes: Ok(Some((type, body, end))),
/// Ok(None) when it is not complete (Err(want) gives how many bytes would complete it).
fn message_at(data: &[u8], at: usize) -> Result<(u8, &[u8], usize), usize> {
    let (Some(&t), Some(len)) = (data.get(at), be24(data, at + 1)) else {
        return Err(at + 4);
    };
    let end = at + 4 + len as usize;
    match data.get(at + 4..end) {
        Some(body) => Ok((t, body, end)),
        None => Err(end),
    }
}

fn reshape<T>(p: Parsed<()>) -> Parsed<T> {
    match p {
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
        Parsed::Done { .. } => Parsed::Malformed("internal"),
    }
}

/// Parse the ClientHello from the client's bytes, starting at its first TLS record. The
/// message may span several records; `consumed` is the end of the record that finishes it.
pub fn parse_client_hello(buf: &[u8]) -> Parsed<ClientHello> {
    let g = match gather(buf) {
        Ok(g) => g,
        Err(m) => return Parsed::Malformed(m),
    };
    if let Some(&t) = g.data.first() {
        if t != HS_CLIENT_HELLO {
            return Parsed::Malformed("first handshake message is not a ClientHello");
        }
    }
    if be24(&g.data, 1).is_some_and(|l| l as usize > MAX_HANDSHAKE) {
        return Parsed::Malformed("ClientHello too long");
    }
    match message_at(&g.data, 0) {
        Ok((_, body, end)) => match client_hello_body(body) {
            Ok(value) => Parsed::Done {
                value,
                consumed: g.consumed_for(end),
            },
            Err(m) => Parsed::Malformed(m),
        },
        Err(want) => reshape(g.short(want)),
    }
}

/// A bounds-checked forward reader.
struct Rd<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Self {
        Rd { b, off: 0 }
    }
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.off)?;
        self.off += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let v = be16(self.b, self.off)?;
        self.off += 2;
        Some(v)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.off..self.off.checked_add(n)?)?;
        self.off += n;
        Some(s)
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn rest(&self) -> usize {
        self.b.len().saturating_sub(self.off)
    }
}

fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

fn lossy(b: &[u8]) -> String {
    let b = b.get(..b.len().min(STR_CAP)).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

fn client_hello_body(body: &[u8]) -> Result<ClientHello, &'static str> {
    let mut r = Rd::new(body);
    let legacy_version = r.u16().ok_or("ClientHello: short version")?;
    r.take(32).ok_or("ClientHello: short random")?;
    let sid = r.vec8().ok_or("ClientHello: short session id")?;
    if sid.len() > 32 {
        return Err("ClientHello: session id longer than 32");
    }
    let cs = r.vec16().ok_or("ClientHello: short cipher suites")?;
    if cs.len() % 2 != 0 {
        return Err("ClientHello: odd cipher suites length");
    }
    let ciphers = u16_list(cs);
    r.vec8().ok_or("ClientHello: short compression methods")?;

    let mut ch = ClientHello {
        legacy_version,
        sni: None,
        alpn: Vec::new(),
        supported_versions: Vec::new(),
        ciphers,
        extensions: Vec::new(),
        sig_algs: Vec::new(),
        ja4: String::new(),
    };
    let mut has_sni = false;
    let mut first_alpn: Option<&[u8]> = None;
    // Extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2).
    if r.rest() > 0 {
        let exts = r.vec16().ok_or("ClientHello: short extensions")?;
        let mut e = Rd::new(exts);
        while e.rest() > 0 {
            let t = e.u16().ok_or("ClientHello: short extension header")?;
            let d = e.vec16().ok_or("ClientHello: short extension")?;
            ch.extensions.push(t);
            match t {
                EXT_SNI => {
                    has_sni = true;
                    ch.sni = sni_host(d);
                }
                EXT_ALPN => {
                    let mut a = Rd::new(d);
                    if let Some(list) = a.vec16() {
                        let mut l = Rd::new(list);
                        while let Some(name) = l.vec8() {
                            if first_alpn.is_none() {
                                first_alpn = Some(name);
                            }
                            if ch.alpn.len() < MAX_ALPN {
                                ch.alpn.push(lossy(name));
                            }
                        }
                    }
                }
                EXT_SUPPORTED_VERSIONS => {
                    let mut a = Rd::new(d);
                    if let Some(list) = a.vec8() {
                        ch.supported_versions = u16_list(list);
                    }
                }
                EXT_SIG_ALGS => {
                    let mut a = Rd::new(d);
                    if let Some(list) = a.vec16() {
                        ch.sig_algs = u16_list(list);
                    }
                }
                _ => {}
            }
        }
    }
    ch.ja4 = ja4(&ch, has_sni, first_alpn);
    Ok(ch)
}

/// First host_name (name_type 0) of a server_name extension (RFC 6066 §3).
fn sni_host(d: &[u8]) -> Option<String> {
    let mut r = Rd::new(d);
    let list = r.vec16()?;
    let mut l = Rd::new(list);
    while l.rest() > 0 {
        let ty = l.u8()?;
        let name = l.vec16()?;
        if ty == 0 {
            return Some(lossy(name));
        }
    }
    None
}

fn hex12(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(12);
    for b in d.iter().take(6) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn hex_list(v: &[u16]) -> String {
    v.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0200 => "s2",
        0x0100 => "s1",
        _ => "00",
    }
}

/// JA4 `a_b_c` for TLS over TCP, per FoxIO's JA4 technical details: GREASE ignored
/// everywhere; version from supported_versions (highest) else legacy_version; "d"/"i" by
/// presence of the SNI extension; 2-digit cipher and extension counts (capped at 99;
/// extensions include SNI and ALPN); first and last character of the first ALPN value
/// ("00" if none; hex nibbles if not alphanumeric); b = sha256 of the sorted cipher list;
/// c = sha256 of the sorted extension list without SNI/ALPN, then `_` and the signature
/// algorithms in wire order (no `_` if there are none). Empty lists hash to twelve zeros.
fn ja4(ch: &ClientHello, has_sni: bool, first_alpn: Option<&[u8]>) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.legacy_version);
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let alpn = match first_alpn {
        Some(v) => match (v.first(), v.last()) {
            (Some(&f), Some(&l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
                format!("{}{}", f as char, l as char)
            }
            // Not alphanumeric: first hex digit of the first byte, last of the last.
            (Some(&f), Some(&l)) => format!("{:x}{:x}", f >> 4, l & 0x0f),
            _ => "00".to_string(),
        },
        None => "00".to_string(),
    };
    let a = format!(
        "t{}{}{:02}{:02}{}",
        version_code(version),
        if has_sni { 'd' } else { 'i' },
        ciphers.len().min(99),
        exts.len().min(99),
        alpn
    );
    ciphers.sort_unstable();
    let b = if ciphers.is_empty() {
        "000000000000".to_string()
    } else {
        hex12(&hex_list(&ciphers))
    };
    let mut sorted: Vec<u16> = exts
        .into_iter()
        .filter(|&t| t != EXT_SNI && t != EXT_ALPN)
        .collect();
    sorted.sort_unstable();
    let sigs: Vec<u16> = ch
        .sig_algs
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let c = if sorted.is_empty() {
        "000000000000".to_string()
    } else if sigs.is_empty() {
        hex12(&hex_list(&sorted))
    } else {
        hex12(&format!("{}_{}", hex_list(&sorted), hex_list(&sigs)))
    };
    format!("{a}_{b}_{c}")
}

/// Parse the server's first flight: ServerHello, and when the selected version is TLS 1.2
/// or older and a Certificate message follows in clear, the first certificate's subject
/// and issuer. TLS 1.3 returns after ServerHello (its Certificate is encrypted). When the
/// buffer ends right after a TLS ≤ 1.2 ServerHello the answer is NeedMore, since a
/// Certificate may follow; a resumed session (ChangeCipherSpec next) is Done without one.
pub fn parse_server_flight(buf: &[u8]) -> Parsed<ServerHello> {
    let g = match gather(buf) {
        Ok(g) => g,
        Err(m) => return Parsed::Malformed(m),
    };
    if let Some(&t) = g.data.first() {
        if t != HS_SERVER_HELLO {
            return Parsed::Malformed("first handshake message is not a ServerHello");
        }
    }
    let (body, sh_end) = match message_at(&g.data, 0) {
        Ok((_, body, end)) => (body, end),
        Err(want) => {
            if want > MAX_HANDSHAKE {
                return Parsed::Malformed("ServerHello too long");
            }
            return reshape(g.short(want));
        }
    };
    let mut sh = match server_hello_body(body) {
        Ok(sh) => sh,
        Err(m) => return Parsed::Malformed(m),
    };
    let done_sh = |sh: ServerHello| Parsed::Done {
        value: sh,
        consumed: g.consumed_for(sh_end),
    };
    if sh.version >= 0x0304 {
        return done_sh(sh);
    }
    // TLS ≤ 1.2: is the next handshake message a Certificate (RFC 5246 §7.4.2)?
    let Some(&next) = g.data.get(sh_end) else {
        return match g.stop {
            Stop::Other | Stop::Cap => done_sh(sh),
            _ => reshape(g.short(sh_end + 4)),
        };
    };
    if next != HS_CERTIFICATE {
        return done_sh(sh);
    }
    // certificate_list<0..2^24-1>, then the first ASN.1Cert<1..2^24-1>: we need only that.
    let first = sh_end + 4 + 3;
    let Some(cert_len) = be24(&g.data, first) else {
        return match g.stop {
            Stop::Other | Stop::Cap => done_sh(sh),
            _ => reshape(g.short(first + 3)),
        };
    };
    let cert_start = first + 3;
    let cert_end = cert_start + cert_len as usize;
    if cert_len as usize > MAX_HANDSHAKE {
        return Parsed::Malformed("first certificate too long");
    }
    let Some(der) = g.data.get(cert_start..cert_end) else {
        return match g.stop {
            Stop::Other | Stop::Cap => done_sh(sh),
            _ => reshape(g.short(cert_end)),
        };
    };
    if let Some((subject, issuer)) = cert_names(der) {
        sh.cert_subject = Some(subject);
        sh.cert_issuer = Some(issuer);
    }
    let consumed = g.consumed_for(cert_end);
    Parsed::Done {
        value: sh,
        consumed,
    }
}

fn server_hello_body(body: &[u8]) -> Result<ServerHello, &'static str> {
    let mut r = Rd::new(body);
    let legacy = r.u16().ok_or("ServerHello: short version")?;
    r.take(32).ok_or("ServerHello: short random")?;
    let sid = r.vec8().ok_or("ServerHello: short session id")?;
    if sid.len() > 32 {
        return Err("ServerHello: session id longer than 32");
    }
    let cipher = r.u16().ok_or("ServerHello: short cipher suite")?;
    r.u8().ok_or("ServerHello: short compression method")?;
    let mut sh = ServerHello {
        version: legacy,
        cipher,
        alpn: None,
        cert_subject: None,
        cert_issuer: None,
    };
    if r.rest() > 0 {
        let exts = r.vec16().ok_or("ServerHello: short extensions")?;
        let mut e = Rd::new(exts);
        while e.rest() > 0 {
            let t = e.u16().ok_or("ServerHello: short extension header")?;
            let d = e.vec16().ok_or("ServerHello: short extension")?;
            match t {
                // RFC 8446 §4.2.1: ServerHello carries selected_version only.
                EXT_SUPPORTED_VERSIONS => {
                    if let Some(v) = be16(d, 0) {
                        sh.version = v;
                    }
                }
                // RFC 7301 §3.1: exactly one protocol name in the server's list.
                EXT_ALPN => {
                    let mut a = Rd::new(d);
                    if let Some(list) = a.vec16() {
                        sh.alpn = Rd::new(list).vec8().map(lossy);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(sh)
}

// ---- A small DER walker (X.690 §8.1), enough for RFC 5280 §4.1's Name fields. ----

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

/// Subject and issuer of an X.509 certificate, RFC 4514-like.
fn cert_names(der: &[u8]) -> Option<(String, String)> {
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
    Some((dn_string(subject), dn_string(issuer)))
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

#[cfg(test)]
mod tests;
