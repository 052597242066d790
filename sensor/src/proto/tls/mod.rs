//! TLS handshake metadata: ClientHello (SNI, ALPN, versions, JA4) and the server's first
//! flight (ServerHello, and in TLS ≤ 1.2 the subject/issuer of the first certificate).
//!
//! References: RFC 8446 §5.1 (record layer), §4.1.2 (ClientHello), §4.1.3 (ServerHello),
//! §4.2.1 (supported_versions); RFC 5246 §7.4.2 (Certificate); RFC 6066 §3 (server_name);
//! RFC 7301 §3.1 (ALPN); RFC 8701 (GREASE); RFC 5280 §4.1 (certificate layout);
//! RFC 4514 §2 (string form of a distinguished name); FoxIO's JA4 technical details
//! (JA4 client fingerprint, "t" for TCP and "q" for QUIC; JA4S server fingerprint);
//! Salesforce's JA3/JA3S (MD5 of the decimal field lists, GREASE left out).
//!
//! This file holds the probe and the constants the parts share; the record layer is in
//! `record`, each message in its own file, JA4 in `fingerprint`. Callers use the items
//! re-exported here (`proto::tls::parse_client_hello`).

mod certificate;
mod client_hello;
mod fingerprint;
mod record;
mod server_hello;

pub use client_hello::{parse_client_hello, parse_client_hello_message, ClientHello};
pub use fingerprint::md5_hex;
pub use server_hello::{parse_server_flight, parse_server_hello_message, ServerHello};

use super::Probe;
use crate::bytes::be16;

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
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_EC_POINT_FORMATS: u16 = 0x000b;
const EXT_SIG_ALGS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

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

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
