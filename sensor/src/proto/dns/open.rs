//! DNS over TCP on port 53 (DNS over UDP is read by the engine, which keeps the answers).

use crate::proto::registry::AppProto;
use crate::proto::Parsed;

pub fn probe_tcp(cs: &[u8], _sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    (ports.contains(&53) && matches!(crate::proto::dns::parse_tcp(cs), Parsed::Done { .. }))
        .then_some(AppProto::Dns)
}
