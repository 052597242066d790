//! SSDP on UDP 1900: the flow's `ssdp` record from its first message that names something,
//! later messages filling what it lacked. Gated on the port.

use crate::model::meta::SsdpMeta;
use crate::proto::registry::AppProto;
use crate::proto::session::Opening;
use crate::proto::ssdp;

pub const PORT: u16 = 1900;

pub fn probe_udp(o: &mut Opening, payload: &[u8], dir: usize) -> Option<AppProto> {
    if !o.ports.contains(&PORT) {
        return None;
    }
    let m = ssdp::parse(payload).done()?;
    let r = o.meta().ssdp.get_or_insert_with(|| SsdpMeta {
        kind: m.kind,
        ..SsdpMeta::default()
    });
    // what a device says of itself: its notify (the sender) or its answer to a search
    if m.kind != "m-search" && r.server.is_none() && r.usn.is_none() {
        r.from_server = dir == 1;
    }
    fn fill(slot: &mut Option<String>, v: Option<String>) {
        if slot.is_none() {
            *slot = v;
        }
    }
    if m.kind != "m-search" {
        fill(&mut r.location, m.location);
        fill(&mut r.server, m.server);
        fill(&mut r.usn, m.usn);
        fill(&mut r.nts, m.nts);
    }
    fill(&mut r.target, m.target);
    Some(AppProto::Ssdp)
}
