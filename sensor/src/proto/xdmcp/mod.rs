//! XDMCP (X Display Manager Control Protocol, X Consortium spec §10).

use crate::bytes::be16;

/// An XDMCP header: version 1, an opcode 1–14 (BroadcastQuery … Alive), and a length equal
/// to the rest of the datagram.
pub fn is_header(b: &[u8]) -> bool {
    matches!((be16(b, 0), be16(b, 2), be16(b, 4)), (Some(1), Some(1..=14), Some(l)) if l as usize + 6 == b.len())
}

/// Its probe, registered in `proto::registry`.
pub mod open;
