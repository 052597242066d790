//! The one table of protocols: each line names a protocol's `app_proto` value and, where it
//! has them, its TCP probe, its UDP probe and the reader of its opening — all functions of
//! the protocol's own module. Adding a protocol is its module under `proto/` plus one line
//! here (ARCHITECTURE.md walks through it).
//!
//! Probes run in the order of their priority (lower first) until one matches, so a
//! protocol whose opening could be mistaken for another's is given a later place.

use super::session::{Opening, Outcome};
use super::{
    calls, cleartext, dhcp, dns, http, krb5, ldap, mdns, netbios, proxy, quic, rdp, rfb, rmm, smb,
    ssh, tls, vdi, vpn, websocket, xdmcp,
};
use std::sync::OnceLock;

/// A TCP probe: the opening bytes [to server, to client] and the ports [client, server];
/// the protocol when they match.
pub type TcpProbe = fn(&[u8], &[u8], [u16; 2]) -> Option<AppProto>;
/// A UDP probe: one datagram (`dir` 0 to server, 1 to client) of a flow not yet
/// identified; it may record evidence or name the product on the way.
pub type UdpProbe = fn(&mut Opening, &[u8], usize) -> Option<AppProto>;
/// The reader of a TCP flow's opening, once its protocol is known.
pub type Reader = fn(&mut Opening) -> Outcome;

macro_rules! protocols {
    ($($v:ident => $s:literal
        $(, tcp($tp:literal, $tf:expr))?
        $(, udp($up:literal, $uf:expr))?
        $(, open($of:expr))? ;)*) => {
        /// Application protocols spanwatch names on the wire: the bounded value set of the
        /// EVE `app_proto` field and of the `app_proto` metric label.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[repr(u8)]
        pub enum AppProto {
            #[default]
            Unknown,
            $($v),*
        }

        impl AppProto {
            pub const ALL: &'static [AppProto] = &[AppProto::Unknown, $(AppProto::$v),*];
            pub const COUNT: usize = AppProto::ALL.len();

            pub fn as_str(self) -> &'static str {
                match self {
                    AppProto::Unknown => "unknown",
                    $(AppProto::$v => $s),*
                }
            }

            pub fn index(self) -> usize {
                self as usize
            }

            /// The reader of this protocol's opening, if it has one.
            pub fn reader(self) -> Option<Reader> {
                match self {
                    AppProto::Unknown => None,
                    $(AppProto::$v => { None $(.or(Some($of as Reader)))? }),*
                }
            }
        }

        fn tcp_table() -> Vec<(u32, TcpProbe)> {
            vec![$($(($tp, $tf as TcpProbe),)?)*]
        }

        fn udp_table() -> Vec<(u32, UdpProbe)> {
            vec![$($(($up, $uf as UdpProbe),)?)*]
        }
    };
}

protocols! {
    Tls => "tls", tcp(10, tls::open::probe), open(tls::open::read);
    Dns => "dns", tcp(120, dns::open::probe_tcp);
    Http => "http", tcp(60, http::open::probe), open(http::open::read);
    Ssh => "ssh", tcp(30, ssh::open::probe), open(ssh::open::read);
    Rdp => "rdp", tcp(20, rdp::open::probe), udp(10, rdp::open::probe_udp), open(rdp::open::read);
    Vnc => "vnc", tcp(40, rfb::open::probe), open(rfb::open::read);
    TeamViewer => "teamviewer", tcp(80, rmm::open::probe), udp(110, rmm::open::probe_udp), open(rmm::open::read);
    AnyDesk => "anydesk";
    RustDesk => "rustdesk", open(rmm::open::read);
    Radmin => "radmin", open(rmm::open::read);
    NoMachine => "nomachine", open(rmm::open::read);
    CitrixIca => "citrix-ica", tcp(90, vdi::open::probe), open(vdi::open::read);
    CitrixCgp => "citrix-cgp", open(vdi::open::read);
    Pcoip => "pcoip", tcp(9, vdi::open::probe_pcoip_tcp), udp(67, vdi::open::probe_pcoip_udp), open(vdi::open::read_pcoip);
    OpenVpn => "openvpn", tcp(100, vpn::open::probe_openvpn), udp(50, vpn::open::probe_openvpn_udp);
    WireGuard => "wireguard", udp(20, vpn::open::probe_wireguard);
    Ike => "ike", udp(60, vpn::open::probe_ike);
    Esp => "esp", udp(70, vpn::open::probe_esp_in_udp);
    L2tp => "l2tp", udp(80, vpn::open::probe_l2tp);
    Pptp => "pptp", tcp(110, vpn::open::probe_pptp);
    Gre => "gre";
    Socks => "socks", tcp(70, proxy::open::probe_socks), open(proxy::open::read);
    HttpConnect => "http-connect", tcp(50, proxy::open::probe_connect), open(proxy::open::read);
    Tor => "tor", open(tls::open::read);
    Stun => "stun", udp(90, calls::open::probe_stun);
    Rtp => "rtp", udp(130, calls::open::probe_rtp);
    Rtcp => "rtcp", udp(120, calls::open::probe_rtcp);
    Dtls => "dtls", udp(100, calls::open::probe_dtls);
    Quic => "quic", udp(150, quic::open::probe);
    Smb => "smb", tcp(3, smb::open::probe), open(smb::open::read);
    Nfs => "nfs";
    Xdmcp => "xdmcp", udp(140, xdmcp::open::probe);
    // Identity protocols: gated on their ports (or a 4-byte magic for SMB), and early, so
    // that no looser probe claims their flows first.
    Krb5 => "krb5", tcp(1, krb5::open::probe), udp(1, krb5::open::probe_udp), open(krb5::open::read);
    Ldap => "ldap", tcp(2, ldap::open::probe), open(ldap::open::read);
    Dhcp => "dhcp", udp(2, dhcp::open::probe_udp);
    Ftp => "ftp", tcp(4, cleartext::open::probe_ftp), open(cleartext::open::read);
    Pop3 => "pop3", tcp(5, cleartext::open::probe_pop3), open(cleartext::open::read);
    Imap => "imap", tcp(6, cleartext::open::probe_imap), open(cleartext::open::read);
    Smtp => "smtp", tcp(7, cleartext::open::probe_smtp), open(cleartext::open::read);
    Dcerpc => "dcerpc", tcp(8, super::dcerpc::open::probe), open(super::dcerpc::open::read);
    // Named by the HTTP reader once the server agreed to the upgrade; its reader probes
    // the frames' payload.
    WebSocket => "websocket", open(websocket::open::read);
    // SSTP's opening request in clear (TLS terminated or inspected) or a control packet.
    Sstp => "sstp", tcp(55, vpn::open::probe_sstp);
    // Device names: mDNS/DNS-SD on UDP 5353, NetBIOS name and datagram services on 137/138.
    Mdns => "mdns", udp(3, mdns::open::probe_udp);
    Netbios => "netbios", udp(4, netbios::open::probe_udp);
    Ssdp => "ssdp", udp(5, super::ssdp::open::probe_udp);
}

fn sorted<T: Copy>(mut v: Vec<(u32, T)>) -> Vec<T> {
    v.sort_by_key(|(p, _)| *p);
    v.into_iter().map(|(_, f)| f).collect()
}

/// The TCP probes in the order they run.
pub fn tcp_probes() -> &'static [TcpProbe] {
    static T: OnceLock<Vec<TcpProbe>> = OnceLock::new();
    T.get_or_init(|| sorted(tcp_table()))
}

/// The UDP probes in the order they run.
pub fn udp_probes() -> &'static [UdpProbe] {
    static T: OnceLock<Vec<UdpProbe>> = OnceLock::new();
    T.get_or_init(|| sorted(udp_table()))
}

/// What the first bytes of a TCP stream are, if anything we know.
pub fn classify_tcp(cs: &[u8], sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    tcp_probes().iter().find_map(|p| p(cs, sc, ports))
}

/// What one datagram of a UDP flow is, if anything we know.
pub fn classify_udp(o: &mut Opening, payload: &[u8], dir: usize) -> Option<AppProto> {
    udp_probes().iter().find_map(|p| p(o, payload, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_are_distinct() {
        for t in [
            tcp_table().iter().map(|x| x.0).collect::<Vec<_>>(),
            udp_table().iter().map(|x| x.0).collect(),
        ] {
            let mut s = t.clone();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), t.len(), "two probes share a priority: {t:?}");
        }
    }

    #[test]
    fn names_are_distinct() {
        let mut n: Vec<_> = AppProto::ALL.iter().map(|a| a.as_str()).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), AppProto::COUNT);
    }
}
