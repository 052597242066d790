//! QUIC v1/v2 long header (RFC 9000 §17.2): header form and fixed bits set, a known
//! version, in a datagram padded to at least 1200 bytes as an Initial is.

use crate::decode::wire::be32;
use crate::proto::registry::AppProto;
use crate::proto::session::Opening;

pub fn probe(_o: &mut Opening, b: &[u8], _dir: usize) -> Option<AppProto> {
    (b.len() >= 1200
        && b[0] & 0xc0 == 0xc0
        && matches!(
            be32(b, 1),
            Some(0x0000_0001 | 0x6b33_43cf | 0xff00_001d | 0xff00_0020)
        ))
    .then_some(AppProto::Quic)
}
