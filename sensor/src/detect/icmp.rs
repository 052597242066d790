//! ICMP tunnels: echo payloads that ordinary ping does not carry.
//!
//! Ordinary ping sends a small payload that repeats from packet to packet (Linux iputils:
//! an 8- or 16-byte timestamp then the bytes 0x10, 0x11, …; FreeBSD/macOS ping: an 8-byte
//! timestamp then 0x08, 0x09, …; Windows: "abcdefghijklmnopqrstuvwabcdefghi"; BusyBox:
//! zeros).
//! Tunnels (ptunnel-ng, icmptunnel, hans, pingtunnel) carry other traffic: payloads that are
//! large, high in entropy, different in every packet, and many. The tunnel tools' own
//! markers are recognised outright.

use std::collections::HashSet;

/// ptunnel / ptunnel-ng magic at the start of the echo payload (ptunnel's packet header,
/// `0xD5200880`, as documented in its source and man page).
const PTUNNEL_MAGIC: [u8; 4] = [0xd5, 0x20, 0x08, 0x80];

/// Random-looking, distinct echo payloads that make a covert channel even when each is of
/// the size ordinary ping sends.
const COVERT_PAYLOADS: u32 = 20;

#[derive(Debug, Default)]
pub struct IcmpStats {
    pub packets: u32,
    pub payload_bytes: u64,
    pub big: u32,
    pub high_entropy: u32,
    distinct: HashSet<u64>,
    pub marker: Option<&'static str>,
}

pub use crate::bytes::entropy;

/// Whether a payload is what ping programs send.
fn ordinary(p: &[u8]) -> bool {
    {
        // iputils, BSD: bytes after the timestamp count up from 0x08/0x10 (at any size)
        let tail = if p.len() > 16 { &p[16..] } else { &[][..] };
        if tail.windows(2).all(|w| w[1] == w[0].wrapping_add(1)) {
            return true;
        }
        if p.starts_with(b"abcdefghijklmnopqrstuvw")
            || (p.len() < 23 && b"abcdefghijklmnopqrstuvw".starts_with(p) && !p.is_empty())
        {
            return true;
        }
    }
    // a payload of one repeated byte (padding, `ping -p`)
    p.iter().all(|b| *b == p[0])
}

impl IcmpStats {
    /// One echo payload (type 8/0, 128/129).
    pub fn add(&mut self, p: &[u8]) {
        self.packets += 1;
        self.payload_bytes += p.len() as u64;
        if p.starts_with(&PTUNNEL_MAGIC) {
            self.marker = Some("ptunnel");
        }
        if ordinary(p) {
            return;
        }
        if p.len() > 128 {
            self.big += 1;
        }
        let sample = &p[..p.len().min(512)];
        // Near the entropy random bytes of this length reach (short payloads cannot reach 8).
        let max = (sample.len().min(256) as f32).log2();
        if p.len() >= 32 && entropy(sample) > 5.0_f32.min(0.85 * max) {
            self.high_entropy += 1;
        }
        if self.distinct.len() < 4096 {
            let h = sample.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
            });
            self.distinct.insert(h);
        }
    }

    pub fn distinct(&self) -> usize {
        self.distinct.len()
    }

    /// The figures that cross the tunnel thresholds, if they do.
    pub fn verdict(&self) -> Option<Vec<(String, String)>> {
        let mut why = Vec::new();
        if let Some(m) = self.marker {
            why.push(("marker".into(), m.into()));
        }
        let odd = self.big.max(self.high_entropy);
        // Echo payloads of ordinary size that no ping program sends — random-looking and
        // different each time — carry data however small they are.
        let covert =
            self.high_entropy >= COVERT_PAYLOADS && self.distinct() >= COVERT_PAYLOADS as usize;
        if covert || (odd >= 10 && self.distinct() >= 10 && self.payload_bytes >= 8 * 1024) {
            why.push(("unusual_payloads".into(), odd.to_string()));
            why.push(("distinct_payloads".into(), self.distinct().to_string()));
            why.push(("payload_bytes".into(), self.payload_bytes.to_string()));
            why.push((
                "high_entropy_payloads".into(),
                self.high_entropy.to_string(),
            ));
        }
        (!why.is_empty()).then_some(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ping_is_quiet() {
        let mut s = IcmpStats::default();
        for i in 0..100u8 {
            let mut p = vec![i, 0, 0, 0, 0, 0, 0, 0];
            p.extend((0x08u8..0x38).collect::<Vec<_>>());
            s.add(&p);
            s.add(b"abcdefghijklmnopqrstuvwabcdefghi");
        }
        assert!(s.verdict().is_none());
    }

    #[test]
    fn ordinary_sized_random_payloads_are_a_covert_channel() {
        let mut s = IcmpStats::default();
        for i in 0..(COVERT_PAYLOADS as u64 - 1) {
            s.add(&spanwatch_testkit::noise(48, i));
        }
        assert!(s.verdict().is_none(), "too few yet");
        s.add(&spanwatch_testkit::noise(48, 99));
        assert!(s.verdict().is_some());
        // BSD/macOS ping (8-byte timestamp, then 0x08, 0x09 …) and the same payload again
        let mut b = IcmpStats::default();
        for i in 0..100u8 {
            let mut p = vec![i, 1, 2, 3, 4, 5, 6, 7];
            p.extend(8u8..56);
            b.add(&p);
            b.add(&[0x42; 48]);
        }
        assert!(b.verdict().is_none());
    }

    #[test]
    fn random_payloads_and_magic_alert() {
        let mut s = IcmpStats::default();
        for i in 0..20u64 {
            s.add(&spanwatch_testkit::noise(1000, i));
        }
        assert!(s.verdict().is_some());
        let mut m = IcmpStats::default();
        m.add(&[0xd5, 0x20, 0x08, 0x80, 0, 0, 0, 1]);
        assert_eq!(m.verdict().unwrap()[0].1, "ptunnel");
    }
}
