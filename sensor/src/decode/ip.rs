//! The IP layer: IPv4 and IPv6 (etherparse, lax, with extension headers), fragments and
//! IPsec AH.

use super::{Ctx, Decoded, ErrorLayer};
use crate::bytes::be16;
use etherparse::LaxIpSlice;

impl Ctx<'_> {
    pub(super) fn ip(&mut self, off: usize, expect: Option<u8>) -> Decoded {
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
pub(super) fn ipv6_ah_next(exts: &etherparse::Ipv6ExtensionsSlice<'_>) -> Option<u8> {
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
