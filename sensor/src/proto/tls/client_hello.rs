//! The ClientHello (RFC 8446 §4.1.2): SNI, ALPN, supported versions, cipher suites,
//! extensions and signature algorithms, supported groups and point formats, and its JA3
//! and JA4 fingerprints.

use super::fingerprint::{ja3, ja4};
use super::record::{gather, lossy, message_at, reshape, u16_list, Rd};
use super::{
    EXT_ALPN, EXT_EC_POINT_FORMATS, EXT_SIG_ALGS, EXT_SNI, EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS, HS_CLIENT_HELLO, MAX_ALPN, MAX_HANDSHAKE,
};
use crate::bytes::be24;
use crate::proto::Parsed;

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
    /// supported_groups (formerly elliptic_curves), in wire order (GREASE included).
    pub groups: Vec<u16>,
    /// ec_point_formats, in wire order.
    pub point_formats: Vec<u8>,
    /// JA4 client fingerprint, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1` (`q…` when the
    /// ClientHello came in QUIC CRYPTO frames).
    pub ja4: String,
    /// The JA3 string (Salesforce): `version,ciphers,extensions,groups,point_formats`.
    pub ja3: String,
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
        Ok((_, body, end)) => match client_hello_body(body, 't') {
            Ok(value) => Parsed::Done {
                value,
                consumed: g.consumed_for(end),
            },
            Err(m) => Parsed::Malformed(m),
        },
        Err(want) => reshape(g.short(want)),
    }
}

/// Parse a ClientHello handshake message with no record layer around it, as QUIC carries
/// it in CRYPTO frames (RFC 9001 §4.1.3); `quic` gives the JA4 its `q` prefix.
/// `consumed` is the end of the message.
pub fn parse_client_hello_message(data: &[u8], quic: bool) -> Parsed<ClientHello> {
    if let Some(&t) = data.first() {
        if t != HS_CLIENT_HELLO {
            return Parsed::Malformed("first handshake message is not a ClientHello");
        }
    }
    if be24(data, 1).is_some_and(|l| l as usize > MAX_HANDSHAKE) {
        return Parsed::Malformed("ClientHello too long");
    }
    match message_at(data, 0) {
        Ok((_, body, end)) => match client_hello_body(body, if quic { 'q' } else { 't' }) {
            Ok(value) => Parsed::Done {
                value,
                consumed: end,
            },
            Err(m) => Parsed::Malformed(m),
        },
        Err(want) => Parsed::NeedMore {
            needed: want.saturating_sub(data.len()).max(1),
        },
    }
}

fn client_hello_body(body: &[u8], transport: char) -> Result<ClientHello, &'static str> {
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
        groups: Vec::new(),
        point_formats: Vec::new(),
        ja4: String::new(),
        ja3: String::new(),
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
                EXT_SUPPORTED_GROUPS => {
                    let mut a = Rd::new(d);
                    if let Some(list) = a.vec16() {
                        ch.groups = u16_list(list);
                    }
                }
                EXT_EC_POINT_FORMATS => {
                    let mut a = Rd::new(d);
                    if let Some(list) = a.vec8() {
                        ch.point_formats = list.to_vec();
                    }
                }
                _ => {}
            }
        }
    }
    ch.ja4 = ja4(&ch, transport, has_sni, first_alpn);
    ch.ja3 = ja3(&ch);
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
