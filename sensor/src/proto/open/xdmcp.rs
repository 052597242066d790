//! XDMCP (X Display Manager Control Protocol, X Consortium spec §10) on UDP 177: version
//! 1, an opcode 1–14 (BroadcastQuery … Alive), and a length equal to the rest of the
//! datagram.

use crate::decode::wire::be16;
use crate::proto::registry::AppProto;
use crate::proto::session::Opening;

pub fn probe(o: &mut Opening, b: &[u8], _dir: usize) -> Option<AppProto> {
    let hdr = matches!((be16(b, 0), be16(b, 2), be16(b, 4)), (Some(1), Some(1..=14), Some(l)) if l as usize + 6 == b.len());
    if !(o.ports.contains(&177) && hdr) {
        return None;
    }
    *o.tool = Some("xdmcp");
    o.evidence.push(("xdmcp", "header".into()));
    Some(AppProto::Xdmcp)
}
