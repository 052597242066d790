//! QUIC (RFC 9000): the datagram that opens a connection, and its Initial packets
//! decrypted (RFC 9001 §5; QUIC v2, RFC 9369; drafts 29-32) to read the TLS ClientHello
//! and ServerHello they carry in CRYPTO frames: SNI, ALPN, JA3/JA4 (`q` prefix), and the
//! server's JA3S/JA4S.
//!
//! `initial` derives the keys and opens one packet, `crypto` reassembles the CRYPTO
//! stream, `track` follows one flow's Initial packets in both directions.

pub mod crypto;
pub mod initial;
mod track;

pub use track::{Datagram, Track};

/// QUIC v1/v2 long header (RFC 9000 §17.2): header form and fixed bits set, a known
/// version, in a datagram padded to at least 1200 bytes as an Initial is.
pub fn is_initial_like(b: &[u8]) -> bool {
    b.len() >= 1200
        && b[0] & 0xc0 == 0xc0
        && matches!(
            crate::bytes::be32(b, 1),
            Some(0x0000_0001 | 0x6b33_43cf | 0xff00_001d | 0xff00_0020)
        )
}

/// A variable-length integer (RFC 9000 §16) at `at`: (value, bytes it took).
pub fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let first = *b.get(at)?;
    let n = 1usize << (first >> 6);
    let raw = b.get(at..at.checked_add(n)?)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &raw[1..] {
        v = (v << 8) | u64::from(x);
    }
    Some((v, n))
}

#[cfg(test)]
mod tests;

/// Its probe, registered in `proto::registry`.
pub mod open;
