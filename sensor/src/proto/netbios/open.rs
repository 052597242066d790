//! NetBIOS on UDP 137 (name service) and 138 (datagram service): every message of the flow
//! adds its names to the flow's `netbios` record. Gated on the ports: the name service's
//! header is DNS's, with no magic of its own.

use crate::model::meta::{NetbiosBrowserMeta, NetbiosMeta};
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, MAL_NETBIOS};
use crate::proto::{mdns::push_name, netbios, Parsed};

pub const NS_PORT: u16 = 137;
pub const DGM_PORT: u16 = 138;

pub fn probe_udp(o: &mut Opening, payload: &[u8], dir: usize) -> Option<AppProto> {
    let parsed = if o.ports.contains(&NS_PORT) {
        netbios::parse_ns(payload)
    } else if o.ports.contains(&DGM_PORT) {
        netbios::parse_dgm(payload)
    } else {
        return None;
    };
    let m = match parsed {
        Parsed::Done { value, .. } => value,
        _ => {
            // between two of the service's own ports (as nodes send), a damaged message is
            // still NetBIOS (counted), and the flow's later messages may name it; from an
            // ephemeral port it may be anything
            if o.ports[0] == o.ports[1] || *o.app_proto == AppProto::Netbios {
                *o.malformed |= MAL_NETBIOS;
                return Some(AppProto::Netbios);
            }
            return None;
        }
    };
    let r = o.meta().netbios.get_or_insert_with(|| NetbiosMeta {
        kind: if m.is_response { "response" } else { "request" },
        name: m.name.clone(),
        op: m.op,
        service: m.service,
        ..NetbiosMeta::default()
    });
    if !m.claimed.is_empty() && r.hostnames.is_empty() {
        r.claimed_by_server = dir == 1;
    }
    for n in m.claimed {
        push_name(&mut r.hostnames, n);
    }
    for n in m.names {
        push_name(&mut r.names, n);
    }
    if r.browser.is_none() {
        r.browser = m.browser.map(|b| NetbiosBrowserMeta {
            command: b.command,
            comment: (!b.comment.is_empty()).then_some(b.comment),
            os_version: b.os_version,
            server_name: b.server_name,
        });
    }
    Some(AppProto::Netbios)
}
