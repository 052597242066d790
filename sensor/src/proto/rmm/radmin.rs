//! Radmin's opening message on TCP.

use crate::bytes::{be16, be32};
use crate::proto::Direction;

/// Radmin handshake. Facts (nDPI src/lib/protocols/radmin.c):
/// * client → server, 10 bytes: `01 00 00 00` at 0, byte 4 = 0x01, bytes 8..10 = 08 08;
/// * server → client, 46 bytes: `01 00 00 00` at 0, byte 4 = 0x25, bytes 7..11 =
///   02 12 08 02, byte 13 = 0x0a;
/// * either way, 14 bytes: `01 00 00 00` at 0, byte 4 = 0x05, bytes 8..10 = 27 27.
///
/// In all three, byte 4 equals the total length minus 9, which we check too.
pub(super) fn radmin_tcp(dir: Direction, buf: &[u8]) -> bool {
    if be32(buf, 0) != Some(0x0100_0000) {
        return false;
    }
    let Some(&len_byte) = buf.get(4) else {
        return false;
    };
    if usize::from(len_byte) + 9 != buf.len() {
        return false;
    }
    match (buf.len(), dir) {
        (10, Direction::ToServer) => len_byte == 0x01 && be16(buf, 8) == Some(0x0808),
        (46, Direction::ToClient) => {
            len_byte == 0x25 && be32(buf, 7) == Some(0x0212_0802) && buf.get(13) == Some(&0x0a)
        }
        (14, _) => len_byte == 0x05 && be16(buf, 8) == Some(0x2727),
        _ => false,
    }
}
