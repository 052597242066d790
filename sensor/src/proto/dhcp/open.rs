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
    o.meta().dhcp = Some(DhcpMeta {
        assigned_ip: d.assigned_ip.map(|a| a.to_string()),
        client_id: d.client_id,
        client_mac: d.client_mac,
        dhcp_type: d.dhcp_type,
        hostname: d.hostname,
        id: d.id,
        params: d.params,
        requested_ip: d.requested_ip.map(|a| a.to_string()),
        kind: d.kind,
        vendor_class_identifier: d.vendor_class_identifier,
    });
    Some(AppProto::Dhcp)
}
