//! Remote-monitoring and remote-desktop products with their own wire protocols
//! (TeamViewer, Radmin, NoMachine, RustDesk): named by their opening bytes.

use crate::proto::registry::AppProto;
use crate::proto::rmm::Rmm;
use crate::proto::session::{Opening, Outcome};
use crate::proto::{self, Direction};

fn app_proto(r: Rmm) -> AppProto {
    match r {
        Rmm::TeamViewer => AppProto::TeamViewer,
        Rmm::Radmin => AppProto::Radmin,
        Rmm::NoMachine => AppProto::NoMachine,
        Rmm::RustDesk => AppProto::RustDesk,
    }
}

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    proto::rmm::probe_tcp(Direction::ToServer, cs)
        .or_else(|| proto::rmm::probe_tcp(Direction::ToClient, sc))
        .map(app_proto)
}

pub fn probe_udp(o: &mut Opening, payload: &[u8], dir: usize) -> Option<AppProto> {
    let d = if dir == 0 {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    let r = proto::rmm::probe_udp(d, payload)?;
    let id = r.id();
    o.evidence.push(("payload", id.into()));
    o.name(id);
    Some(app_proto(r))
}

/// The product is the protocol: name it from the catalogue, or by the protocol alone.
pub fn read(o: &mut Opening) -> Outcome {
    let id = match *o.app_proto {
        AppProto::TeamViewer => "teamviewer",
        AppProto::Radmin => "radmin",
        AppProto::NoMachine => "nomachine",
        _ => "rustdesk",
    };
    o.evidence.push(("payload", id.into()));
    if !o.name(id) {
        *o.tool = Some(o.app_proto.as_str());
    }
    *o.done = true;
    Outcome::Continue
}
