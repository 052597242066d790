//! The link layer: DLT framings (Ethernet, loopback, Linux SLL/SLL2, PPP, Cisco HDLC, PPI),
//! EtherTypes, VLAN and QinQ tags, PPPoE, PPP, MPLS label stacks and NSH.

use super::{Ctx, Decoded, Encap, ErrorLayer};
use crate::bytes::{be16, be32};
use crate::capture::LinkType;

pub(super) const ETH_IPV4: u16 = 0x0800;
pub(super) const ETH_IPV6: u16 = 0x86dd;
pub(super) const ETH_VLAN: u16 = 0x8100;
pub(super) const ETH_QINQ: u16 = 0x88a8;
pub(super) const ETH_QINQ_OLD: u16 = 0x9100;
pub(super) const ETH_MPLS: u16 = 0x8847;
pub(super) const ETH_MPLS_MC: u16 = 0x8848;
pub(super) const ETH_PPPOE_SESSION: u16 = 0x8864;
pub(super) const ETH_TEB: u16 = 0x6558; // transparent Ethernet bridging (GRE, NVGRE)
pub(super) const ETH_ERSPAN_II: u16 = 0x88be;
pub(super) const ETH_ERSPAN_III: u16 = 0x22eb;
pub(super) const ETH_PPP: u16 = 0x880b; // PPTP's enhanced GRE
pub(super) const ETH_WCCP: u16 = 0x883e; // WCCP redirection in GRE: 4-byte redirect header, then IPv4
pub(super) const ETH_NSH: u16 = 0x894f; // Network Service Header (RFC 8300)

impl Ctx<'_> {
    pub(super) fn link(&mut self, lt: LinkType, off: usize) -> Decoded {
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

    pub(super) fn ethernet(&mut self, off: usize) -> Decoded {
        let Some(t) = be16(self.data, off + 12) else {
            return Decoded::Error(ErrorLayer::Link);
        };
        if t < 0x0600 {
            return Decoded::NonIp; // 802.3 length field: LLC (STP, CDP…)
        }
        self.ethertype(t, off + 14)
    }

    pub(super) fn ethertype(&mut self, t: u16, off: usize) -> Decoded {
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

    pub(super) fn ppp(&mut self, off: usize) -> Decoded {
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

    pub(super) fn mpls(&mut self, mut off: usize) -> Decoded {
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
    pub(super) fn nsh(&mut self, off: usize) -> Decoded {
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
}
