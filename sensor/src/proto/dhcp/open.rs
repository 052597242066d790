//! DHCP on UDP ports 67 and 68: the device's host name, vendor class and parameter
//! request list (its fingerprint). Gated on the ports: the BOOTP header has no magic of
//! its own before byte 236.

use crate::model::meta::DhcpMeta;
use crate::proto::dhcp;
use crate::proto::registry::AppProto;
use crate::proto::session::Opening;

pub fn probe_udp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    if !o.ports.iter().any(|p| *p == 67 || *p == 68) {
        return None;
    }
    let d = dhcp::parse(payload).done()?;
    let m = o.meta().dhcp.get_or_insert_with(|| DhcpMeta {
        client_mac: d.client_mac,
        dhcp_type: d.dhcp_type,
        id: d.id,
        kind: d.kind,
        ..DhcpMeta::default()
    });
    // The first message names the record; later ones of the flow (a request after a
    // discover) fill in what it lacked.
    fn fill<T>(slot: &mut Option<T>, v: Option<T>) {
        if slot.is_none() {
            *slot = v;
        }
    }
    fill(&mut m.assigned_ip, d.assigned_ip.map(|a| a.to_string()));
    fill(&mut m.client_id, d.client_id);
    fill(&mut m.hostname, d.hostname);
    fill(&mut m.params, d.params);
    fill(&mut m.requested_ip, d.requested_ip.map(|a| a.to_string()));
    fill(&mut m.vendor_class_identifier, d.vendor_class_identifier);
    Some(AppProto::Dhcp)
}
