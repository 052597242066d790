//! The transport header: TCP, UDP, ICMP, SCTP ports and payload bounds; IP in IP and GRE
//! handed on to the tunnels.

use super::{
    Ctx, Decoded, Encap, ErrorLayer, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP,
};
use crate::bytes::{be16, be32};

impl Ctx<'_> {
    pub(super) fn transport(&mut self, off: usize, len: usize, ip_layer: ErrorLayer) -> Decoded {
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
}
