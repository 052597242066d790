//! VPN and tunnel openings: OpenVPN, WireGuard, IKE / IPsec NAT-T, L2TP, PPTP, SSTP, and
//! Tor relay link certificates.
//!
//! All probes are pure and allocation-free; each asks for fixed values *and* lengths that
//! agree with the header before it says yes.
//!
//! SoftEther is covered only by its small UDP address message; its main sessions are
//! HTTPS and the TLS/HTTP layers have to name them.
//!
//! One file per protocol; callers use the items re-exported here (`proto::vpn::probe_ike`).

mod ike;
mod l2tp;
mod openvpn;
mod pptp;
mod softether;
mod sstp;
mod tinc;
mod tor;
mod wireguard;

pub use ike::{is_nat_t_keepalive, probe_esp, probe_esp_in_udp, probe_ike, Ike};
pub use l2tp::{probe_l2tp, L2tp};
pub use openvpn::{probe_openvpn_tcp, probe_openvpn_udp, OpenVpn, OpenVpnWrap};
pub use pptp::{probe_pptp, PptpCtrl};
pub use softether::probe_softether_udp;
pub use sstp::{probe_sstp, Sstp};
pub use tinc::probe_tinc_id;
pub use tor::{probe_tor_cert, probe_tor_sni};
pub use wireguard::{
    is_tailscale_disco, probe_wireguard, wireguard_transport, WgMsg, WgTrack, WG_RUN,
};

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
