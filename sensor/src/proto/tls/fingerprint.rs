//! The JA4 client fingerprint (FoxIO's JA4 technical details, TCP "t" variant).

use sha2::{Digest, Sha256};

use super::client_hello::ClientHello;
use super::{is_grease, EXT_ALPN, EXT_SNI};

pub(super) fn hex12(s: &str) -> String {
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
pub(super) fn ja4(ch: &ClientHello, has_sni: bool, first_alpn: Option<&[u8]>) -> String {
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
