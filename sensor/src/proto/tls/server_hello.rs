//! The server's first flight: ServerHello (RFC 8446 §4.1.3, selected_version §4.2.1, ALPN
//! RFC 7301 §3.1) and, in TLS ≤ 1.2, the first Certificate (RFC 5246 §7.4.2).

use super::certificate::cert_names;
use super::fingerprint::{ja3s, ja4s};
use super::record::{gather, lossy, message_at, reshape, Rd, Stop};
use super::{EXT_ALPN, EXT_SUPPORTED_VERSIONS, HS_CERTIFICATE, HS_SERVER_HELLO, MAX_HANDSHAKE};
use crate::bytes::{be16, be24};
use crate::proto::Parsed;

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
    /// The first certificate's subjectAltName DNS names (lowercase); TLS ≤ 1.2 only.
    pub cert_dns: Vec<String>,
    /// The JA3S string (Salesforce): `version,cipher,extensions`.
    pub ja3s: String,
    /// JA4S server fingerprint, e.g. `t130200_1301_234ea6891581` (`q…` over QUIC).
    pub ja4s: String,
}

/// Parse a ServerHello handshake message with no record layer around it, as QUIC carries
/// it in CRYPTO frames; `quic` gives the JA4S its `q` prefix.
pub fn parse_server_hello_message(data: &[u8], quic: bool) -> Parsed<ServerHello> {
    if let Some(&t) = data.first() {
        if t != HS_SERVER_HELLO {
            return Parsed::Malformed("first handshake message is not a ServerHello");
        }
    }
    match message_at(data, 0) {
        Ok((_, body, end)) => match server_hello_body(body, if quic { 'q' } else { 't' }) {
            Ok(value) => Parsed::Done {
                value,
                consumed: end,
            },
            Err(m) => Parsed::Malformed(m),
        },
        Err(want) if want > MAX_HANDSHAKE => Parsed::Malformed("ServerHello too long"),
        Err(want) => Parsed::NeedMore {
            needed: want.saturating_sub(data.len()).max(1),
        },
    }
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
    let mut sh = match server_hello_body(body, 't') {
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
    if let Some(n) = cert_names(der) {
        sh.cert_subject = Some(n.subject);
        sh.cert_issuer = Some(n.issuer);
        sh.cert_dns = n.dns;
    }
    let consumed = g.consumed_for(cert_end);
    Parsed::Done {
        value: sh,
        consumed,
    }
}

fn server_hello_body(body: &[u8], transport: char) -> Result<ServerHello, &'static str> {
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
        cert_dns: Vec::new(),
        ja3s: String::new(),
        ja4s: String::new(),
    };
    let mut extensions = Vec::new();
    let mut alpn_raw: Option<&[u8]> = None;
    if r.rest() > 0 {
        let exts = r.vec16().ok_or("ServerHello: short extensions")?;
        let mut e = Rd::new(exts);
        while e.rest() > 0 {
            let t = e.u16().ok_or("ServerHello: short extension header")?;
            let d = e.vec16().ok_or("ServerHello: short extension")?;
            extensions.push(t);
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
                        alpn_raw = Rd::new(list).vec8();
                        sh.alpn = alpn_raw.map(lossy);
                    }
                }
                _ => {}
            }
        }
    }
    sh.ja3s = ja3s(legacy, cipher, &extensions);
    sh.ja4s = ja4s(transport, sh.version, cipher, &extensions, alpn_raw);
    Ok(sh)
}
