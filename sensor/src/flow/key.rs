//! The canonical flow key: both directions of a flow map to the same key, and a bit says
//! which way a given packet travels.

use crate::decode::{Addr, PacketInfo, PROTO_ICMP, PROTO_ICMPV6};
use crate::model::community_id::icmp_counterpart;
use crate::model::net::Ends;
use std::hash::Hash;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The lower (address, port) endpoint.
    pub lo: Addr,
    pub hi: Addr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
    pub v6: bool,
}

impl FlowKey {
    /// The key of a decoded packet, and whether the packet travels lo → hi.
    #[inline]
    pub fn of(p: &PacketInfo) -> (FlowKey, bool) {
        let (mut sp, mut dp) = (p.sport, p.dport);
        if p.proto == PROTO_ICMP || p.proto == PROTO_ICMPV6 {
            // Request and reply of one exchange are one flow (Community ID's mapping).
            let t = p.sport as u8;
            match icmp_counterpart(p.proto == PROTO_ICMPV6, t) {
                Some(c) => {
                    sp = t as u16;
                    dp = c as u16;
                }
                None => {
                    sp = t as u16;
                    dp = p.dport;
                }
            }
        }
        let fwd = (p.src, sp) <= (p.dst, dp);
        let key = if fwd {
            FlowKey {
                lo: p.src,
                hi: p.dst,
                lo_port: sp,
                hi_port: dp,
                proto: p.proto,
                v6: p.v6,
            }
        } else {
            FlowKey {
                lo: p.dst,
                hi: p.src,
                lo_port: dp,
                hi_port: sp,
                proto: p.proto,
                v6: p.v6,
            }
        };
        (key, fwd)
    }

    /// A hash that is the same for both directions (the key is already canonical) and the
    /// same from run to run, used to shard packets to workers.
    #[inline]
    pub fn shard_hash(&self) -> u64 {
        SHARD_HASHER.hash_one(self)
    }
}

static SHARD_HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x5350_414e_5741_5443,
    0x4848_4153_4831_3233,
    0x0123_4567_89ab_cdef,
    0xfedc_ba98_7654_3210,
);

/// A fixed-seed hasher for flow maps: the same iteration order on every replay.
pub fn fixed_state() -> ahash::RandomState {
    ahash::RandomState::with_seeds(1, 2, 3, 4)
}

pub use crate::model::net::to_ip;

// The constructor from a key lives with the key (model/ knows no flows).
impl Ends {
    pub fn of(key: &FlowKey, client_is_lo: bool) -> Ends {
        let (client, cport, server, sport) = if client_is_lo {
            (key.lo, key.lo_port, key.hi, key.hi_port)
        } else {
            (key.hi, key.hi_port, key.lo, key.lo_port)
        };
        Ends {
            v6: key.v6,
            client,
            server,
            cport,
            sport,
            proto: key.proto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_one_key() {
        let mut p = PacketInfo {
            proto: 6,
            sport: 40000,
            dport: 443,
            ..Default::default()
        };
        p.src[..4].copy_from_slice(&[10, 0, 0, 9]);
        p.dst[..4].copy_from_slice(&[1, 1, 1, 1]);
        let (k1, f1) = FlowKey::of(&p);
        std::mem::swap(&mut p.src, &mut p.dst);
        std::mem::swap(&mut p.sport, &mut p.dport);
        let (k2, f2) = FlowKey::of(&p);
        assert_eq!(k1, k2);
        assert_ne!(f1, f2);
        assert_eq!(k1.shard_hash(), k2.shard_hash());
    }

    #[test]
    fn echo_request_and_reply_share_a_key() {
        let mut p = PacketInfo {
            proto: 1,
            sport: 8,
            dport: 0,
            ..Default::default()
        };
        p.src[..4].copy_from_slice(&[10, 0, 0, 1]);
        p.dst[..4].copy_from_slice(&[10, 0, 0, 2]);
        let (k1, _) = FlowKey::of(&p);
        let mut r = p;
        (r.src, r.dst, r.sport) = (p.dst, p.src, 0);
        let (k2, _) = FlowKey::of(&r);
        assert_eq!(k1, k2);
    }
}
