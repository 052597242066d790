//! Citrix ICA and CGP (session reliability): named by their opening bytes.

use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome};
use crate::proto::vdi::{Citrix, Vdi};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    let v = crate::proto::vdi::probe_tcp(cs).or_else(|| crate::proto::vdi::probe_tcp(sc))?;
    Some(match v {
        Vdi::Citrix(Citrix::Cgp) => AppProto::CitrixCgp,
        Vdi::Citrix(_) => AppProto::CitrixIca,
    })
}

pub fn read(o: &mut Opening) -> Outcome {
    o.evidence.push(("payload", o.app_proto.as_str().into()));
    if !o.name("citrix-ica") {
        *o.tool = Some("citrix");
    }
    *o.done = true;
    Outcome::Continue
}
