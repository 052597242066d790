//! Packet decoding: link layer, VLANs, MPLS, PPPoE, IPv4/IPv6 (etherparse, with extension
//! headers), the tunnels a mirror port or a VPN wraps traffic in, and the transport header.
//!
//! The decoder never panics: every read is bounds-checked and a packet that is cut short or
//! malformed comes back as [`Decoded::Error`] naming the layer, which the worker counts.
//! Flows are keyed on the innermost IP tuple; the encapsulations crossed on the way are
//! recorded as a bit set.
//!
//! The layers, outermost first: `link` (framings, EtherTypes, VLAN, PPPoE, PPP, MPLS,
//! NSH), `ip`, `transport`, and `tunnel` (GRE and the UDP-carried encapsulations),
//! which hands the inner packet back to the link or IP layer.

mod ip;
mod link;
mod transport;
mod tunnel;

use crate::capture::LinkType;

/// Layers at which decoding can fail: the bounded label of `spanwatch_decode_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorLayer {
    Link = 0,
    Vlan,
    Mpls,
    Ppp,
    Ipv4,
    Ipv6,
    Tcp,
    Udp,
    Icmp,
    Tunnel,
    LinkTypeUnsupported,
    TunnelDepth,
}

impl ErrorLayer {
    pub const ALL: [ErrorLayer; 12] = [
        ErrorLayer::Link,
        ErrorLayer::Vlan,
        ErrorLayer::Mpls,
        ErrorLayer::Ppp,
        ErrorLayer::Ipv4,
        ErrorLayer::Ipv6,
        ErrorLayer::Tcp,
        ErrorLayer::Udp,
        ErrorLayer::Icmp,
        ErrorLayer::Tunnel,
        ErrorLayer::LinkTypeUnsupported,
        ErrorLayer::TunnelDepth,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorLayer::Link => "link",
            ErrorLayer::Vlan => "vlan",
            ErrorLayer::Mpls => "mpls",
            ErrorLayer::Ppp => "ppp",
            ErrorLayer::Ipv4 => "ipv4",
            ErrorLayer::Ipv6 => "ipv6",
            ErrorLayer::Tcp => "tcp",
            ErrorLayer::Udp => "udp",
            ErrorLayer::Icmp => "icmp",
            ErrorLayer::Tunnel => "tunnel",
            ErrorLayer::LinkTypeUnsupported => "linktype_unsupported",
            ErrorLayer::TunnelDepth => "tunnel_depth",
        }
    }
}

/// Encapsulations crossed before the innermost IP header, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Encap(pub u16);

impl Encap {
    pub const VLAN: u16 = 1 << 0;
    pub const QINQ: u16 = 1 << 1;
    pub const MPLS: u16 = 1 << 2;
    pub const PPPOE: u16 = 1 << 3;
    pub const GRE: u16 = 1 << 4;
    pub const ERSPAN: u16 = 1 << 5;
    pub const VXLAN: u16 = 1 << 6;
    pub const GENEVE: u16 = 1 << 7;
    pub const IPIP: u16 = 1 << 8;
    pub const TEREDO: u16 = 1 << 9;
    pub const GTPU: u16 = 1 << 10;
    pub const PPTP: u16 = 1 << 11;
    pub const NAMES: [(u16, &'static str); 12] = [
        (Self::VLAN, "vlan"),
        (Self::QINQ, "qinq"),
        (Self::MPLS, "mpls"),
        (Self::PPPOE, "pppoe"),
        (Self::GRE, "gre"),
        (Self::ERSPAN, "erspan"),
        (Self::VXLAN, "vxlan"),
        (Self::GENEVE, "geneve"),
        (Self::IPIP, "ipip"),
        (Self::TEREDO, "teredo"),
        (Self::GTPU, "gtpu"),
        (Self::PPTP, "pptp"),
    ];
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Names of the encapsulations present, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Encap::NAMES
            .into_iter()
            .filter(move |(b, _)| self.0 & b != 0)
            .map(|(_, n)| n)
    }
}

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_SCTP: u8 = 132;

/// TCP flag bits.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// An IP address as 16 bytes; IPv4 is stored in the first four with `v6 == false`.
pub type Addr = [u8; 16];

/// What the decoder learned of one packet. Offsets are into the packet's captured bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketInfo {
    pub v6: bool,
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    /// Ports for TCP/UDP/SCTP; ICMP type and code for ICMP (as Community ID wants them).
    pub sport: u16,
    pub dport: u16,
    pub tcp_flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub payload_off: u32,
    pub payload_len: u32,
    /// Outer VLAN id (0 when untagged).
    pub vlan: u16,
    pub encap: Encap,
    pub ttl: u8,
    /// The packet is an IP fragment (the first fragment still carries ports).
    pub fragment: bool,
    /// A fragment past the first: no transport header, not attributed to a flow.
    pub later_fragment: bool,
    /// The IP payload is shorter than the IP header says (snap length).
    pub truncated: bool,
    /// An IPsec Authentication Header (RFC 4302) was crossed: its Next Header (4 or 41 in
    /// tunnel mode, the transport protocol in transport mode). The outermost one is kept.
    pub ah_next: Option<u8>,
}

impl PacketInfo {
    pub fn payload<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let s = self.payload_off as usize;
        data.get(s..s + self.payload_len as usize).unwrap_or(&[])
    }
}

/// Result of decoding one packet.
#[derive(Debug, Clone, Copy)]
pub enum Decoded {
    Ip(PacketInfo),
    /// A frame that carries no IP (ARP, LLDP, STP, CDP…): counted, not an error.
    NonIp,
    Error(ErrorLayer),
}

/// How deep tunnels may nest before the packet is counted under `tunnel_depth`.
pub const MAX_DEPTH: u8 = 4;

struct Ctx<'a> {
    data: &'a [u8],
    info: PacketInfo,
    depth: u8,
}

/// Decode one packet of the given link type.
pub fn decode(linktype: LinkType, data: &[u8]) -> Decoded {
    let mut cx = Ctx {
        data,
        info: PacketInfo::default(),
        depth: 0,
    };
    cx.link(linktype, 0)
}

impl Ctx<'_> {
    fn deeper(&mut self) -> bool {
        self.depth += 1;
        self.depth <= MAX_DEPTH
    }
}

#[cfg(test)]
mod tests;
