//! Fully encrypted first payloads: the opening of Shadowsocks, VMess, obfs4 and their kin,
//! which show no protocol in clear from the first byte.
//!
//! The test is the one Wu et al. measured the Great Firewall of China applying ("How the
//! Great Firewall of China Detects and Blocks Fully Encrypted Traffic", USENIX Security
//! 2023, §4): a client's first data packet is *exempt* (not fully encrypted) when
//! 1. its bits set per byte average ≤ 3.4 or ≥ 4.6 (random bytes average 4),
//! 2. its first six bytes are printable ASCII,
//! 3. more than half of its bytes are printable,
//! 4. it holds more than 20 contiguous printable bytes, or
//! 5. it matches a known protocol's fingerprint (here: any probe of the registry named it).
//!
//! A lone random-looking packet is weak evidence, so spanwatch asks more than the firewall
//! does: the client speaks first, its first packet is as long as these tools' openings are
//! (a salt or nonce, an encrypted length and a tag: at least [`MIN_FIRST`] bytes), and the
//! server's first answer is fully encrypted too. The confidence in the alert's metadata grows
//! with the entropy of the client's opening and with sizes these tools produce.

/// Fewest bytes of a client opening considered: Shadowsocks AEAD sends a 16..32-byte salt,
/// a 2-byte encrypted length with its 16-byte tag, then the first chunk with its tag;
/// VMess AEAD a 16-byte authenticated id and an 18-byte encrypted length; obfs4 a 32-byte
/// representative, padding, a mark and a MAC.
pub const MIN_FIRST: usize = 48;

/// Printable ASCII as the paper counts it (0x20..=0x7e).
fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Why a first packet is exempt from the fully-encrypted test, if it is (exemptions 1–4).
pub fn exemption(p: &[u8]) -> Option<&'static str> {
    if p.is_empty() {
        return Some("empty");
    }
    let bits: u32 = p.iter().map(|b| b.count_ones()).sum();
    let avg = bits as f32 / p.len() as f32;
    if avg <= 3.4 || avg >= 4.6 {
        return Some("popcount");
    }
    if p.len() >= 6 && p[..6].iter().all(|b| printable(*b)) {
        return Some("printable-prefix");
    }
    let n = p.iter().filter(|b| printable(**b)).count();
    if n * 2 > p.len() {
        return Some("printable-fraction");
    }
    let mut run = 0;
    for b in p {
        run = if printable(*b) { run + 1 } else { 0 };
        if run > 20 {
            return Some("printable-run");
        }
    }
    None
}

/// Whether `p` passes the test: no exemption applies.
pub fn fully_encrypted(p: &[u8]) -> bool {
    exemption(p).is_none()
}

pub use crate::bytes::entropy;

/// How far the packet's byte entropy is from what random bytes of its length reach
/// (1.0: as random as possible).
fn randomness(p: &[u8]) -> f32 {
    let max = (p.len().min(256) as f32).log2();
    if max <= 0.0 {
        return 0.0;
    }
    // random bytes fall a little short of the maximum for short packets
    entropy(p) / max
}

/// Exemption 5, protocol fingerprints, made general: the structure that binary protocols
/// put in their first bytes and a cipher's output lacks. A TLS record header (RFC 8446
/// §5.1: type 20..=24, version 3.x — a capture that starts mid-session), a length field at
/// the start of both openings that counts the packet (RLPx, XMPP-over-binary …), two zero bytes
/// among the first eight (header fields; random bytes hold two zeros there once in
/// ~2,500), or a prefix both sides share (a magic such as Zabbix's `ZBXD`).
pub fn framed(client_first: &[u8], server_first: &[u8]) -> Option<&'static str> {
    for p in [client_first, server_first] {
        if matches!(p, [0x14..=0x18, 3, 0..=4, ..]) {
            return Some("tls-record");
        }
        if p.iter().take(8).filter(|b| **b == 0).count() >= 2 {
            return Some("zero-header");
        }
    }
    // A length field in both openings: one side alone matches by chance once in ~13,000
    // random packets (a Shadowsocks salt starting 00 bd in a 189-byte packet).
    if length_prefixed(client_first) && length_prefixed(server_first) {
        return Some("length-prefix");
    }
    if client_first.len() >= 2 && client_first[..2] == server_first[..server_first.len().min(2)] {
        return Some("shared-prefix");
    }
    None
}

/// The packet starts with (or has after one type byte) a 16- or 32-bit length that counts
/// the packet, give or take its own header.
fn length_prefixed(p: &[u8]) -> bool {
    let n = p.len();
    [
        crate::bytes::be16(p, 0).map(usize::from),
        crate::bytes::le16(p, 0).map(usize::from),
        crate::bytes::be16(p, 1).map(usize::from),
        crate::bytes::be32(p, 0).and_then(|v| usize::try_from(v).ok()),
        crate::bytes::le32(p, 0).and_then(|v| usize::try_from(v).ok()),
    ]
    .iter()
    .flatten()
    .any(|&l| l > 0 && l <= n && n - l <= 4)
}

/// Server ports of protocols that are encrypted from their first byte by design and are
/// no proxy: WhatsApp's and Threema's chat (5222, 5223, 443), Telegram's MTProto (443,
/// 80), the web ports where such apps fall back (80, 443, 8080), BitTorrent's message
/// stream encryption (6881-6889), Ethereum's RLPx (30303), Spotify's access points (4070),
/// RTMP (1935). A Shadowsocks server on one of these is missed — the price of no alarm on
/// those apps, whose openings the paper's test cannot tell from a proxy's.
pub fn exempt_port(port: u16) -> bool {
    matches!(
        port,
        80 | 443 | 1935 | 4070 | 5222 | 5223 | 6881..=6889 | 8080 | 30303
    )
}

/// The verdict on a flow's openings: the confidence (0..=100) and what raised it, or None.
pub fn judge(client_first: &[u8], server_first: &[u8]) -> Option<(u8, Vec<String>)> {
    if client_first.len() < MIN_FIRST
        || server_first.is_empty()
        || !fully_encrypted(client_first)
        || !fully_encrypted(server_first)
        || framed(client_first, server_first).is_some()
    {
        return None;
    }
    let mut conf = 60u8;
    let mut why = vec![
        format!("client_first_bytes={}", client_first.len()),
        format!("server_first_bytes={}", server_first.len()),
    ];
    let r = randomness(client_first);
    if r >= 0.85 {
        conf += 20;
        why.push(format!("client_entropy_ratio={:.2}", r));
    }
    // The tools' openings are not block-aligned (stream ciphers and AEAD tags), unlike
    // the fixed-size records of many binary protocols, and fit in one segment.
    if client_first.len() % 16 != 0 && client_first.len() <= 1460 {
        conf += 10;
        why.push("size=tool-like".into());
    }
    Some((conf, why))
}

#[cfg(test)]
mod tests;
