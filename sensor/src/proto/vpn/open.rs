//! VPN protocols seen by their opening: OpenVPN (TCP and UDP), PPTP, WireGuard (handshake
//! messages, Tailscale's discovery packets, or a run of data packets), IKE, ESP in UDP,
//! L2TP.

use crate::proto::registry::AppProto;
use crate::proto::session::Opening;
use crate::proto::vpn;

pub fn probe_openvpn(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    (vpn::probe_openvpn_tcp(cs).is_some() || vpn::probe_openvpn_tcp(sc).is_some())
        .then_some(AppProto::OpenVpn)
}

/// SSTP ([MS-SSTP]): the `SSTP_DUPLEX_POST` request, or a control packet of either side.
pub fn probe_sstp(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    (vpn::probe_sstp(cs).is_some() || (cs.is_empty() && vpn::probe_sstp(sc).is_some()))
        .then_some(AppProto::Sstp)
}

pub fn probe_pptp(cs: &[u8], _sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    vpn::probe_pptp(cs).is_some().then_some(AppProto::Pptp)
}

fn on(o: &Opening, p: u16) -> bool {
    o.ports.contains(&p)
}

pub fn probe_wireguard(o: &mut Opening, payload: &[u8], dir: usize) -> Option<AppProto> {
    if vpn::probe_wireguard(payload).is_some_and(|m| m != vpn::WgMsg::Transport || on(o, 51820)) {
        return Some(AppProto::WireGuard);
    }
    if vpn::is_tailscale_disco(payload) {
        // tailscaled sends its discovery packets on its WireGuard socket.
        o.evidence
            .push(("tailscale.disco", "TS disco magic".into()));
        o.name("tailscale");
        return Some(AppProto::WireGuard);
    }
    if o.wg.add(dir, payload) {
        o.evidence.push((
            "wireguard",
            format!(
                "{} transport packets with one receiver index and rising counters",
                vpn::WG_RUN
            ),
        ));
        return Some(AppProto::WireGuard);
    }
    None
}

pub fn probe_openvpn_udp(_o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    vpn::probe_openvpn_udp(payload).map(|_| AppProto::OpenVpn)
}

pub fn probe_ike(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    let port = if on(o, 4500) { 4500 } else { 500 };
    ((on(o, 500) || on(o, 4500)) && vpn::probe_ike(payload, port).is_some())
        .then_some(AppProto::Ike)
}

pub fn probe_esp_in_udp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    (on(o, 4500) && vpn::probe_esp_in_udp(payload)).then_some(AppProto::Esp)
}

pub fn probe_l2tp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    (on(o, 1701) && vpn::probe_l2tp(payload).is_some()).then_some(AppProto::L2tp)
}
