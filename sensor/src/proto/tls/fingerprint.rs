//! TLS fingerprints: JA4 (FoxIO's JA4 technical details; "t" over TCP, "q" over QUIC) and
//! JA4S (FoxIO's JA4S technical details), JA3 and JA3S (Salesforce's JA3 README: the
//! decimal values of each list joined by '-', the lists by ',', GREASE values of RFC 8701
//! left out; the hash is the MD5 of that string).

use md5::Md5;
use sha2::{Digest, Sha256};

use super::client_hello::ClientHello;
use super::{is_grease, EXT_ALPN, EXT_SNI};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`, appended to `out` (these strings are built for every TLS
/// and QUIC handshake: no `format!` per byte).
fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0x0f) as usize] as char);
    }
}

/// Lower-case hex MD5 of a JA3/JA3S string.
pub fn md5_hex(s: &str) -> String {
    let mut out = String::with_capacity(32);
    push_hex(&mut out, &Md5::digest(s.as_bytes()));
    out
}

/// The values in decimal joined by '-'.
fn dec_list<T: itoa::Integer>(v: impl Iterator<Item = T>) -> String {
    let mut out = String::new();
    let mut buf = itoa::Buffer::new();
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(buf.format(x));
    }
    out
}

fn no_grease(v: &[u16]) -> impl Iterator<Item = u16> + '_ {
    v.iter().copied().filter(|x| !is_grease(*x))
}

/// The JA3 string: `SSLVersion,Cipher,SSLExtension,EllipticCurve,EllipticCurvePointFormat`
/// (legacy_version; ciphers, extensions and groups without GREASE, in wire order).
pub(super) fn ja3(ch: &ClientHello) -> String {
    format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        dec_list(no_grease(&ch.ciphers)),
        dec_list(no_grease(&ch.extensions)),
        dec_list(no_grease(&ch.groups)),
        dec_list(ch.point_formats.iter().copied()),
    )
}

/// The JA3S string: `SSLVersion,Cipher,SSLExtension` of the ServerHello.
pub(super) fn ja3s(legacy_version: u16, cipher: u16, extensions: &[u16]) -> String {
    format!(
        "{legacy_version},{cipher},{}",
        dec_list(no_grease(extensions))
    )
}

/// The JA4S server fingerprint (FoxIO publishes JA4S under the FoxIO License 1.1, not
/// the BSD licence of JA4: a deployment should check its terms) `a_b_c`: transport ("t"/"q"), the selected version, the
/// 2-digit extension count and the chosen ALPN's first and last characters ("00" if
/// none); the selected cipher in 4 hex digits; the truncated SHA-256 of the extensions
/// in the order sent (twelve zeros if none).
pub(super) fn ja4s(
    transport: char,
    version: u16,
    cipher: u16,
    extensions: &[u16],
    alpn: Option<&[u8]>,
) -> String {
    let exts: Vec<u16> = no_grease(extensions).collect();
    let c = if exts.is_empty() {
        "000000000000".to_string()
    } else {
        hex12(&hex_list(&exts))
    };
    format!(
        "{transport}{}{:02}{}_{cipher:04x}_{c}",
        version_code(version),
        exts.len().min(99),
        alpn_code(alpn)
    )
}

/// First and last character of an ALPN value ("00" if none; hex nibbles if either is
/// not alphanumeric).
fn alpn_code(v: Option<&[u8]>) -> String {
    match v.map(|v| (v.first(), v.last())) {
        Some((Some(&f), Some(&l))) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            format!("{}{}", f as char, l as char)
        }
        Some((Some(&f), Some(&l))) => format!("{:x}{:x}", f >> 4, l & 0x0f),
        _ => "00".to_string(),
    }
}

pub(super) fn hex12(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(12);
    push_hex(&mut out, &d[..6]);
    out
}

/// Each value in 4 hex digits, joined by ','.
fn hex_list(v: &[u16]) -> String {
    let mut out = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_hex(&mut out, &x.to_be_bytes());
    }
    out
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
pub(super) fn ja4(
    ch: &ClientHello,
    transport: char,
    has_sni: bool,
    first_alpn: Option<&[u8]>,
) -> String {
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
    let alpn = alpn_code(first_alpn);
    let a = format!(
        "{transport}{}{}{:02}{:02}{}",
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
