//! The tunnels a mirror port or a VPN wraps traffic in: GRE (ERSPAN, NVGRE, PPTP, WCCP) and
//! the UDP-carried ones (VXLAN, VXLAN-GPE, Geneve, GTP-U, Teredo).

use super::link::{
    ETH_ERSPAN_II, ETH_ERSPAN_III, ETH_IPV4, ETH_IPV6, ETH_MPLS, ETH_MPLS_MC, ETH_NSH, ETH_PPP,
    ETH_TEB, ETH_WCCP,
};
use super::{Ctx, Decoded, Encap, ErrorLayer};
use crate::bytes::be16;

impl Ctx<'_> {
    /// GRE (RFC 2784/2890) with key and sequence, ERSPAN I/II/III, NVGRE, PPTP's enhanced GRE.
    /// A GRE packet whose payload is not something we decode stays a GRE "flow" of its own.
    pub(super) fn gre(&mut self, off: usize, len: usize) -> Decoded {
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
    pub(super) fn udp_tunnel(
        &mut self,
        sp: u16,
        dp: u16,
        off: usize,
        len: usize,
    ) -> Option<Decoded> {
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
