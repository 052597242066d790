//! Packet decoding: link layer, VLANs, MPLS, PPPoE, IPv4/IPv6 (etherparse, with extension
//! headers), the tunnels a mirror port or a VPN wraps traffic in, and the transport header.
//!
//! The decoder never panics: every read is bounds-checked and a packet that is cut short or
//! malformed comes back as [`Decoded::Error`] naming the layer, which the worker counts.
//! Flows are keyed on the innermost IP tuple; the encapsulations crossed on the way are
//! recorded as a bit set.

pub mod wire;

use crate::capture::LinkType;
use etherparse::LaxIpSlice;
use wire::{be16, be32};

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

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_TEB: u16 = 0x6558; // transparent Ethernet bridging (GRE, NVGRE)
const ETH_ERSPAN_II: u16 = 0x88be;
const ETH_ERSPAN_III: u16 = 0x22eb;
const ETH_PPP: u16 = 0x880b; // PPTP's enhanced GRE
const ETH_WCCP: u16 = 0x883e; // WCCP redirection in GRE: 4-byte redirect header, then IPv4
const ETH_NSH: u16 = 0x894f; // Network Service Header (RFC 8300)

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

impl<'a> Ctx<'a> {
    fn link(&mut self, lt: LinkType, off: usize) -> Decoded {
        let d = self.data;
        match lt {
            LinkType::Ethernet => self.ethernet(off),
            LinkType::Null | LinkType::Loop => {
                let Some(fam) = d.get(off..off + 4) else {
                    return Decoded::Error(ErrorLayer::Link);
                };
                // DLT_NULL is host byte order, DLT_LOOP network order: accept both.
                let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
                let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
                let f = if le < 256 { le } else { be };
                match f {
                    2 => self.ip(off + 4, Some(4)),
                    24 | 28 | 30 => self.ip(off + 4, Some(6)),
                    _ => Decoded::NonIp,
                }
            }
            LinkType::RawIp => self.ip(off, None),
            LinkType::LinuxSll => {
                let Some(p) = be16(d, off + 14) else {
                    return Decoded::Error(ErrorLayer::Link);
                };
                self.ethertype(p, off + 16)
            }
            LinkType::LinuxSll2 => {
                let Some(p) = be16(d, off) else {
                    return Decoded::Error(ErrorLayer::Link);
                };
                if d.len() < off + 20 {
                    return Decoded::Error(ErrorLayer::Link);
                }
                self.ethertype(p, off + 20)
            }
            LinkType::Ppp => {
                // Some PPP captures hold Cisco HDLC framing (address 0x0f unicast, 0x8f broadcast).
                if matches!(d.get(off), Some(0x0f | 0x8f)) && d.get(off + 1) == Some(&0) {
                    let Some(p) = be16(d, off + 2) else {
                        return Decoded::Error(ErrorLayer::Link);
                    };
                    return self.ethertype(p, off + 4);
                }
                let mut o = off;
                if d.get(o..o + 2) == Some(&[0xff, 0x03]) {
                    o += 2;
                }
                self.ppp(o)
            }
            LinkType::CiscoHdlc => {
                let Some(p) = be16(d, off + 2) else {
                    return Decoded::Error(ErrorLayer::Link);
                };
                self.ethertype(p, off + 4)
            }
            LinkType::Ppi => {
                let (Some(hl), Some(dlt)) = (d.get(off + 2..off + 4), d.get(off + 4..off + 8))
                else {
                    return Decoded::Error(ErrorLayer::Link);
                };
                let hl = u16::from_le_bytes([hl[0], hl[1]]) as usize;
                let dlt = u32::from_le_bytes([dlt[0], dlt[1], dlt[2], dlt[3]]);
                if hl < 8 || dlt == 192 {
                    return Decoded::Error(ErrorLayer::Link);
                }
                self.link(LinkType::from_u32(dlt), off + hl)
            }
            LinkType::Other(_) => Decoded::Error(ErrorLayer::LinkTypeUnsupported),
        }
    }

    fn ethernet(&mut self, off: usize) -> Decoded {
        let Some(t) = be16(self.data, off + 12) else {
            return Decoded::Error(ErrorLayer::Link);
        };
        if t < 0x0600 {
            return Decoded::NonIp; // 802.3 length field: LLC (STP, CDP…)
        }
        self.ethertype(t, off + 14)
    }

    fn ethertype(&mut self, t: u16, off: usize) -> Decoded {
        match t {
            ETH_IPV4 => self.ip(off, Some(4)),
            ETH_IPV6 => self.ip(off, Some(6)),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let (Some(tci), Some(next)) = (be16(self.data, off), be16(self.data, off + 2))
                else {
                    return Decoded::Error(ErrorLayer::Vlan);
                };
                if self.info.encap.has(Encap::VLAN) {
                    self.info.encap.0 |= Encap::QINQ;
                } else {
                    self.info.vlan = tci & 0x0fff;
                }
                self.info.encap.0 |= Encap::VLAN;
                self.ethertype(next, off + 4)
            }
            ETH_MPLS | ETH_MPLS_MC => self.mpls(off),
            ETH_NSH => self.nsh(off),
            ETH_PPPOE_SESSION => {
                if self.data.len() < off + 6 {
                    return Decoded::Error(ErrorLayer::Ppp);
                }
                self.info.encap.0 |= Encap::PPPOE;
                self.ppp(off + 6)
            }
            _ => Decoded::NonIp,
        }
    }

    fn ppp(&mut self, off: usize) -> Decoded {
        let d = self.data;
        let Some(&b0) = d.get(off) else {
            return Decoded::Error(ErrorLayer::Ppp);
        };
        // Protocol field compression: an odd first byte is a one-byte protocol.
        let (proto, hl) = if b0 & 1 == 1 {
            (b0 as u16, 1)
        } else {
            match be16(d, off) {
                Some(p) => (p, 2),
                None => return Decoded::Error(ErrorLayer::Ppp),
            }
        };
        match proto {
            0x0021 => self.ip(off + hl, Some(4)),
            0x0057 => self.ip(off + hl, Some(6)),
            _ => Decoded::NonIp,
        }
    }

    fn mpls(&mut self, mut off: usize) -> Decoded {
        self.info.encap.0 |= Encap::MPLS;
        for _ in 0..8 {
            let Some(e) = be32(self.data, off) else {
                return Decoded::Error(ErrorLayer::Mpls);
            };
            off += 4;
            if e & 0x100 != 0 {
                // bottom of stack: the payload's first nibble tells what follows
                return match self.data.get(off).map(|b| b >> 4) {
                    Some(4) => self.ip(off, Some(4)),
                    Some(6) => self.ip(off, Some(6)),
                    // pseudowire control word then Ethernet
                    Some(0) => self.ethernet(off + 4),
                    _ => Decoded::Error(ErrorLayer::Mpls),
                };
            }
        }
        Decoded::Error(ErrorLayer::Mpls)
    }

    /// Network Service Header (RFC 8300 §2.2): length in 4-byte words, next protocol.
    fn nsh(&mut self, off: usize) -> Decoded {
        let (Some(&b1), Some(&next)) = (self.data.get(off + 1), self.data.get(off + 3)) else {
            return Decoded::Error(ErrorLayer::Tunnel);
        };
        let hl = ((b1 & 0x3f) as usize) * 4;
        if hl < 8 {
            return Decoded::Error(ErrorLayer::Tunnel);
        }
        match next {
            1 => self.ip(off + hl, Some(4)),
            2 => self.ip(off + hl, Some(6)),
            3 => self.ethernet(off + hl),
            _ => Decoded::NonIp,
        }
    }

    fn deeper(&mut self) -> bool {
        self.depth += 1;
        self.depth <= MAX_DEPTH
    }

    fn ip(&mut self, off: usize, expect: Option<u8>) -> Decoded {
        let Some(bytes) = self.data.get(off..) else {
            return Decoded::Error(ErrorLayer::Link);
        };
        let ver = bytes.first().map(|b| b >> 4);
        let layer = match (expect, ver) {
            (_, Some(6)) => ErrorLayer::Ipv6,
            (Some(6), _) => ErrorLayer::Ipv6,
            _ => ErrorLayer::Ipv4,
        };
        let ip = match LaxIpSlice::from_slice(bytes) {
            Ok((ip, _ext_err)) => ip,
            Err(_) => return Decoded::Error(layer),
        };
        let pl = ip.payload();
        let info = &mut self.info;
        match &ip {
            LaxIpSlice::Ipv4(s) => {
                let h = s.header();
                info.v6 = false;
                info.src = [0; 16];
                info.dst = [0; 16];
                info.src[..4].copy_from_slice(&h.source());
                info.dst[..4].copy_from_slice(&h.destination());
                info.ttl = h.ttl();
                info.fragment = pl.fragmented;
                info.later_fragment = pl.fragmented && h.fragments_offset().value() != 0;
                if let (None, Some(a)) = (info.ah_next, s.extensions().auth) {
                    info.ah_next = Some(a.next_header().0);
                }
            }
            LaxIpSlice::Ipv6(s) => {
                let h = s.header();
                info.v6 = true;
                info.src = h.source();
                info.dst = h.destination();
                info.ttl = h.hop_limit();
                info.fragment = pl.fragmented;
                info.later_fragment = pl.fragmented && ipv6_frag_offset(s.extensions()) != 0;
                if info.ah_next.is_none() {
                    info.ah_next = ipv6_ah_next(s.extensions());
                }
            }
        }
        info.truncated = pl.incomplete;
        info.proto = pl.ip_number.0;
        let payload = pl.payload;
        let poff = payload.as_ptr() as usize - self.data.as_ptr() as usize;
        if info.later_fragment {
            info.payload_off = poff as u32;
            info.payload_len = payload.len() as u32;
            info.sport = 0;
            info.dport = 0;
            return Decoded::Ip(*info);
        }
        self.transport(poff, payload.len(), layer)
    }

    fn transport(&mut self, off: usize, len: usize, ip_layer: ErrorLayer) -> Decoded {
        let d = &self.data[..off + len];
        let proto = self.info.proto;
        match proto {
            PROTO_TCP => {
                let (Some(sp), Some(dp), Some(seq), Some(ack), Some(&hl), Some(&fl)) = (
                    be16(d, off),
                    be16(d, off + 2),
                    be32(d, off + 4),
                    be32(d, off + 8),
                    d.get(off + 12),
                    d.get(off + 13),
                ) else {
                    return Decoded::Error(ErrorLayer::Tcp);
                };
                let hl = ((hl >> 4) as usize) * 4;
                if hl < 20 || len < hl {
                    return Decoded::Error(ErrorLayer::Tcp);
                }
                let i = &mut self.info;
                (i.sport, i.dport, i.seq, i.ack, i.tcp_flags) = (sp, dp, seq, ack, fl);
                i.payload_off = (off + hl) as u32;
                i.payload_len = (len - hl) as u32;
                Decoded::Ip(*i)
            }
            PROTO_UDP => {
                let (Some(sp), Some(dp)) = (be16(d, off), be16(d, off + 2)) else {
                    return Decoded::Error(ErrorLayer::Udp);
                };
                if len < 8 {
                    return Decoded::Error(ErrorLayer::Udp);
                }
                self.info.sport = sp;
                self.info.dport = dp;
                self.info.payload_off = (off + 8) as u32;
                self.info.payload_len = (len - 8) as u32;
                if !self.info.fragment {
                    if let Some(r) = self.udp_tunnel(sp, dp, off + 8, len - 8) {
                        return r;
                    }
                }
                Decoded::Ip(self.info)
            }
            PROTO_ICMP | PROTO_ICMPV6 => {
                let (Some(&t), Some(&c)) = (d.get(off), d.get(off + 1)) else {
                    return Decoded::Error(ErrorLayer::Icmp);
                };
                self.info.sport = t as u16;
                self.info.dport = c as u16;
                self.info.payload_off = (off + len.min(8)) as u32;
                self.info.payload_len = len.saturating_sub(8) as u32;
                Decoded::Ip(self.info)
            }
            PROTO_SCTP => {
                let (Some(sp), Some(dp)) = (be16(d, off), be16(d, off + 2)) else {
                    return Decoded::Error(ErrorLayer::Tunnel);
                };
                self.info.sport = sp;
                self.info.dport = dp;
                self.info.payload_off = (off + len.min(12)) as u32;
                self.info.payload_len = len.saturating_sub(12) as u32;
                Decoded::Ip(self.info)
            }
            4 | 41 if !self.info.fragment => {
                // IP in IP (4in4, 4in6) and IPv6 in IP (6in4, 6in6)
                if !self.deeper() {
                    return Decoded::Error(ErrorLayer::TunnelDepth);
                }
                self.info.encap.0 |= Encap::IPIP;
                let want = if proto == 4 { 4 } else { 6 };
                match self.ip(off, Some(want)) {
                    Decoded::Error(ErrorLayer::Ipv4 | ErrorLayer::Ipv6) => Decoded::Error(ip_layer),
                    r => r,
                }
            }
            47 if !self.info.fragment => self.gre(off, len),
            _ => {
                self.info.sport = 0;
                self.info.dport = 0;
                self.info.payload_off = off as u32;
                self.info.payload_len = len as u32;
                Decoded::Ip(self.info)
            }
        }
    }

    /// GRE (RFC 2784/2890) with key and sequence, ERSPAN I/II/III, NVGRE, PPTP's enhanced GRE.
    /// A GRE packet whose payload is not something we decode stays a GRE "flow" of its own.
    fn gre(&mut self, off: usize, len: usize) -> Decoded {
        let d = &self.data[..off + len];
        let (Some(flags), Some(pt)) = (be16(d, off), be16(d, off + 2)) else {
            return Decoded::Error(ErrorLayer::Tunnel);
        };
        let ver = flags & 7;
        let mut o = off + 4;
        if flags & 0x8000 != 0 || flags & 0x4000 != 0 {
            o += 4; // checksum (+ reserved), or routing offset
        }
        if flags & 0x2000 != 0 {
            o += 4; // key (PPTP: payload length + call id)
        }
        let has_seq = flags & 0x1000 != 0;
        if has_seq {
            o += 4;
        }
        if ver == 1 && flags & 0x0080 != 0 {
            o += 4; // PPTP acknowledgment number
        }
        if o > d.len() {
            return Decoded::Error(ErrorLayer::Tunnel);
        }
        // Keep the outer GRE tuple in case the inner payload is not decodable.
        let outer = self.info;
        if !self.deeper() {
            return Decoded::Error(ErrorLayer::TunnelDepth);
        }
        self.info.encap.0 |= Encap::GRE;
        let r = match pt {
            ETH_IPV4 => self.ip(o, Some(4)),
            ETH_IPV6 => self.ip(o, Some(6)),
            ETH_TEB => self.ethernet(o),
            ETH_MPLS | ETH_MPLS_MC => self.mpls(o),
            ETH_WCCP => self.ip(o + 4, Some(4)),
            ETH_NSH => self.nsh(o),
            ETH_ERSPAN_II if !has_seq => {
                // ERSPAN type I: no header, Ethernet follows GRE directly.
                self.info.encap.0 |= Encap::ERSPAN;
                self.ethernet(o)
            }
            ETH_ERSPAN_II => {
                self.info.encap.0 |= Encap::ERSPAN;
                self.ethernet(o + 8)
            }
            ETH_ERSPAN_III => {
                self.info.encap.0 |= Encap::ERSPAN;
                // 12-byte header, then an 8-byte platform sub-header when the O bit is set
                let o_bit = d.get(o + 11).map(|b| b & 1 == 1).unwrap_or(false);
                self.ethernet(o + 12 + if o_bit { 8 } else { 0 })
            }
            ETH_PPP if ver == 1 => {
                self.info.encap.0 |= Encap::PPTP;
                if o == d.len() {
                    // PPTP acknowledgment with no payload
                    Decoded::NonIp
                } else {
                    let mut p = o;
                    if d.get(p..p + 2) == Some(&[0xff, 0x03]) {
                        p += 2;
                    }
                    self.ppp(p)
                }
            }
            _ => Decoded::NonIp,
        };
        match r {
            // The inner packet is not IP (or is PPP control, compressed, encrypted): keep the GRE
            // packet itself as the flow so its bytes are still seen.
            Decoded::NonIp => {
                self.info = outer;
                self.info.sport = 0;
                self.info.dport = 0;
                self.info.payload_off = off as u32;
                self.info.payload_len = len as u32;
                Decoded::Ip(self.info)
            }
            r => r,
        }
    }

    /// UDP-carried encapsulations recognised by their port and header shape.
    fn udp_tunnel(&mut self, sp: u16, dp: u16, off: usize, len: usize) -> Option<Decoded> {
        let d = &self.data[..off + len];
        let either = |p: u16| sp == p || dp == p;
        if either(4789) || either(8472) {
            // VXLAN: flags 0x08 (I bit), 8-byte header, then Ethernet
            if len >= 8 + 14 && d[off] & 0x08 != 0 && d[off + 1..off + 4] == [0, 0, 0] {
                return Some(self.inner(Encap::VXLAN, |s| s.ethernet(off + 8)));
            }
        }
        if either(4790) && len >= 8 && d[off] & 0xf0 == 0x00 && d[off] & 0x04 != 0 {
            // VXLAN-GPE (RFC draft-ietf-nvo3-vxlan-gpe): P bit, next protocol in byte 3
            let o = off + 8;
            return match d[off + 3] {
                1 => Some(self.inner(Encap::VXLAN, |s| s.ip(o, Some(4)))),
                2 => Some(self.inner(Encap::VXLAN, |s| s.ip(o, Some(6)))),
                3 => Some(self.inner(Encap::VXLAN, |s| s.ethernet(o))),
                4 => Some(self.inner(Encap::VXLAN, |s| s.nsh(o))),
                _ => None,
            };
        }
        if either(6081) && len >= 8 {
            // Geneve: version 0, options length in 4-byte words, protocol type
            let optlen = ((d[off] & 0x3f) as usize) * 4;
            let pt = be16(d, off + 2)?;
            if d[off] >> 6 == 0 && len >= 8 + optlen {
                let o = off + 8 + optlen;
                return match pt {
                    ETH_TEB => Some(self.inner(Encap::GENEVE, |s| s.ethernet(o))),
                    ETH_IPV4 => Some(self.inner(Encap::GENEVE, |s| s.ip(o, Some(4)))),
                    ETH_IPV6 => Some(self.inner(Encap::GENEVE, |s| s.ip(o, Some(6)))),
                    _ => None,
                };
            }
        }
        if either(2152) && len >= 8 {
            // GTP-U version 1, message type 255 (G-PDU)
            let f = d[off];
            if f >> 5 == 1 && d[off + 1] == 0xff {
                let mut o = off + 8;
                if f & 0x07 != 0 {
                    o += 4;
                    // extension headers: length in 4-byte units, next type in the last byte
                    if f & 0x04 != 0 {
                        let mut next = *d.get(o - 1)?;
                        while next != 0 {
                            let l = *d.get(o)? as usize * 4;
                            if l == 0 {
                                return Some(Decoded::Error(ErrorLayer::Tunnel));
                            }
                            next = *d.get(o + l - 1)?;
                            o += l;
                        }
                    }
                }
                let v = d.get(o).map(|b| b >> 4);
                if v == Some(4) || v == Some(6) {
                    return Some(self.inner(Encap::GTPU, |s| s.ip(o, None)));
                }
            }
        }
        if either(3544) && len >= 40 {
            // Teredo: optional authentication (0x0001) and origin (0x0000) indicators, then IPv6
            let mut o = off;
            if be16(d, o) == Some(1) {
                let idl = *d.get(o + 2)? as usize;
                let aul = *d.get(o + 3)? as usize;
                o += 4 + idl + aul + 8 + 1;
            }
            if be16(d, o) == Some(0) {
                o += 8;
            }
            if d.get(o).map(|b| b >> 4) == Some(6) && d.len() >= o + 40 {
                return Some(self.inner(Encap::TEREDO, |s| s.ip(o, Some(6))));
            }
        }
        None
    }

    fn inner(&mut self, bit: u16, f: impl FnOnce(&mut Self) -> Decoded) -> Decoded {
        let outer = self.info;
        if !self.deeper() {
            return Decoded::Error(ErrorLayer::TunnelDepth);
        }
        self.info.encap.0 |= bit;
        match f(self) {
            // Not what the port promised: the outer UDP packet is the flow.
            Decoded::NonIp | Decoded::Error(_) => {
                self.info = outer;
                Decoded::Ip(outer)
            }
            r => r,
        }
    }
}

/// The fragment offset of an IPv6 packet's fragment header, walking the extension chain.
fn ipv6_frag_offset(exts: &etherparse::Ipv6ExtensionsSlice<'_>) -> u16 {
    let b = exts.slice();
    let Some(mut next) = exts.first_header().map(|n| n.0) else {
        return 0;
    };
    let mut o = 0usize;
    while o + 8 <= b.len() {
        let hl = match next {
            44 => return be16(b, o + 2).map(|v| v >> 3).unwrap_or(0),
            51 => (b[o + 1] as usize + 2) * 4,
            _ => (b[o + 1] as usize + 1) * 8,
        };
        next = b[o];
        o += hl;
    }
    0
}

/// The header after an IPsec AH in an IPv6 extension chain, walked with bounds checks
/// (etherparse's extension iterator trusts lengths that a lax parse did not check).
fn ipv6_ah_next(exts: &etherparse::Ipv6ExtensionsSlice<'_>) -> Option<u8> {
    let b = exts.slice();
    let mut next = exts.first_header()?.0;
    let mut o = 0usize;
    while o + 8 <= b.len() {
        let hl = match next {
            51 => return Some(b[o]),
            44 => 8,
            _ => (b[o + 1] as usize + 1) * 8,
        };
        next = b[o];
        o += hl;
    }
    None
}

#[cfg(test)]
mod tests;
