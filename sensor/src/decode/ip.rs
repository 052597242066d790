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
        if let Some(r) = self.ip_plain(off, bytes) {
            return r;
        }
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

impl Ctx<'_> {
    /// The common case without etherparse: a whole IPv4 header without options, or an IPv6
    /// header followed directly by TCP, UDP or ICMPv6, not a fragment, its payload all there.
    /// Gives exactly what the lax parse below gives for such a packet (the unit test
    /// `plain_ip_agrees_with_the_lax_parse` compares them); anything else returns `None`.
    #[inline]
    fn ip_plain(&mut self, off: usize, b: &[u8]) -> Option<Decoded> {
        #[cfg(test)]
        if LAX_ONLY.with(|c| c.get()) {
            return None;
        }
        let info = &mut self.info;
        let (start, end) = match b.first()? >> 4 {
            4 => {
                let h: &[u8; 20] = b.get(..20)?.try_into().ok()?;
                let total = u16::from_be_bytes([h[2], h[3]]) as usize;
                // IHL 5, no fragment (MF clear, offset 0; DF may be set), not AH, all there.
                if h[0] != 0x45 || h[6] & 0x3f != 0 || h[7] != 0 || h[9] == 51 {
                    return None;
                }
                if total < 20 || total > b.len() {
                    return None;
                }
                info.v6 = false;
                info.src = [0; 16];
                info.dst = [0; 16];
                info.src[..4].copy_from_slice(&h[12..16]);
                info.dst[..4].copy_from_slice(&h[16..20]);
                info.ttl = h[8];
                info.proto = h[9];
                (20, total)
            }
            6 => {
                let h: &[u8; 40] = b.get(..40)?.try_into().ok()?;
                let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
                if !matches!(h[6], 6 | 17 | 58) || plen == 0 || 40 + plen > b.len() {
                    return None;
                }
                info.v6 = true;
                info.src.copy_from_slice(&h[8..24]);
                info.dst.copy_from_slice(&h[24..40]);
                info.ttl = h[7];
                info.proto = h[6];
                (40, 40 + plen)
            }
            _ => return None,
        };
        info.fragment = false;
        info.later_fragment = false;
        info.truncated = false;
        let layer = if info.v6 {
            ErrorLayer::Ipv6
        } else {
            ErrorLayer::Ipv4
        };
        Some(self.transport(off + start, end - start, layer))
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: decode with the lax parse only, to compare it with the plain path.
    pub(super) static LAX_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
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
