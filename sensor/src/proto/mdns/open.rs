//! mDNS on UDP 5353: every message of the flow adds its names to the flow's `mdns` record
//! (lists capped at [`MAX_NAMES`](super::MAX_NAMES)). Gated on the port: the DNS header has
//! no magic of its own.

use crate::model::meta::MdnsMeta;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, MAL_MDNS};
use crate::proto::{mdns, Parsed};

pub const PORT: u16 = 5353;

pub fn probe_udp(o: &mut Opening, payload: &[u8], dir: usize) -> Option<AppProto> {
    if !o.ports.contains(&PORT) {
        return None;
    }
    let m = match mdns::parse(payload) {
        Parsed::Done { value, .. } => value,
        _ => {
            // from 5353 to 5353 (a full responder, RFC 6762 §5.2), a damaged message is
            // still mDNS (counted), and the flow's later messages may name it; a one-shot
            // query's ephemeral port to 5353 may be anything (DNSCrypt listens there too)
            if o.ports == [PORT, PORT] || *o.app_proto == AppProto::Mdns {
                *o.malformed |= MAL_MDNS;
                return Some(AppProto::Mdns);
            }
            return None;
        }
    };
    let r = o.meta().mdns.get_or_insert_with(|| MdnsMeta {
        kind: if m.is_response { "response" } else { "query" },
        ..MdnsMeta::default()
    });
    let names = !m.hostnames.is_empty() || !m.instances.is_empty();
    if m.is_response && names && !r.announced {
        r.announced = true;
        r.responder_is_server = dir == 1;
    }
    for (to, from) in [
        (&mut r.hostnames, m.hostnames),
        (&mut r.instances, m.instances),
        (&mut r.queries, m.queries),
        (&mut r.services, m.services),
    ] {
        for n in from {
            mdns::push_name(to, n);
        }
    }
    Some(AppProto::Mdns)
}
