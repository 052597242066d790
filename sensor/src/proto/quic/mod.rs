//! QUIC (RFC 9000): a datagram that opens a connection.

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

/// Its probe, registered in `proto::registry`.
pub mod open;
