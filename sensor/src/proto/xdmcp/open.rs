//! The XDMCP probe of the registry: a header on UDP 177.

use crate::proto::registry::AppProto;
use crate::proto::session::Opening;

pub fn probe(o: &mut Opening, b: &[u8], _dir: usize) -> Option<AppProto> {
    if !(o.ports.contains(&177) && super::is_header(b)) {
        return None;
    }
    *o.tool = Some("xdmcp");
    o.evidence.push(("xdmcp", "header".into()));
    Some(AppProto::Xdmcp)
}
