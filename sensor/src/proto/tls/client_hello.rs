//! The ClientHello (RFC 8446 §4.1.2): SNI, ALPN, supported versions, cipher suites,
//! extensions and signature algorithms, and its JA4 fingerprint.

use super::fingerprint::ja4;
use super::record::{gather, lossy, message_at, reshape, u16_list, Rd};
use super::{
    EXT_ALPN, EXT_SIG_ALGS, EXT_SNI, EXT_SUPPORTED_VERSIONS, HS_CLIENT_HELLO, MAX_ALPN,
    MAX_HANDSHAKE,
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
    /// JA4 client fingerprint (TCP variant), e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    pub ja4: String,
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
