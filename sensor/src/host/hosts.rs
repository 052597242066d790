//! The table of internal hosts: one small entry per host (baselines and this interval's
//! counters), with the rarer parts (top destinations, uploads to watched services, calls,
//! remote-access sources) boxed so that a million quiet hosts stay cheap. A hard cap on
//! entries: when full, the least recently active sixteenth goes (counted).

use super::baseline::Baseline;
use crate::model::net::to_ip;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey {
    pub v6: bool,
    pub addr: [u8; 16],
}

impl HostKey {
    pub fn ip(&self) -> std::net::IpAddr {
        to_ip(self.v6, &self.addr)
    }
}

/// An address as the host stage keys it: IPv4 in the first four bytes (the flow key's layout).
pub fn raw_of(ip: std::net::IpAddr) -> (bool, [u8; 16]) {
    match ip {
        std::net::IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (false, b)
        }
        std::net::IpAddr::V6(a) => (true, a.octets()),
    }
}

pub const EGRESS_ALERTED: u8 = 1;
pub const COLLECT_ALERTED: u8 = 2;

#[derive(Debug, Default)]
pub struct Host {
    pub last_ns: u64,
    pub egress: Baseline,
    pub collect: Baseline,
    /// This interval: bytes the host sent to external addresses, received from them, and
    /// read from internal file and code servers.
    pub cur_out: u64,
    pub cur_in: u64,
    pub cur_collect: u64,
    pub flags: u8,
    pub extra: Option<Box<Extra>>,
}

impl Host {
    pub fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }
}

/// One external destination of this interval.
#[derive(Debug, Clone, Default)]
pub struct Dest {
    pub v6: bool,
    pub addr: [u8; 16],
    pub port: u16,
    pub app: Option<String>,
    pub out: u64,
    pub inn: u64,
}

/// Uploads to one watched service (code hosting, cloud storage, file transfer, paste).
#[derive(Debug, Clone)]
pub struct Upload {
    pub app: String,
    pub category: &'static str,
    pub out: u64,
    pub inn: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub flows: u32,
    /// An SSH flow to the service carried most of the upload (a `git push` over SSH).
    pub ssh: bool,
    /// A plain-HTTP git push (`git-receive-pack`) was seen.
    pub http_push: bool,
    pub alerted: bool,
}

/// One call: the media legs between this host and one remote address.
#[derive(Debug, Clone)]
pub struct Call {
    pub v6: bool,
    pub remote: [u8; 16],
    pub legs: Vec<u64>,
    pub since_ns: u64,
    pub app: Option<String>,
    pub app_proto: &'static str,
}

/// An external address that opened a remote-access session to this host.
#[derive(Debug, Clone)]
pub struct Source {
    pub v6: bool,
    pub addr: [u8; 16],
    pub port: u16,
    pub tool: Option<String>,
    pub last_ns: u64,
}

#[derive(Debug, Default)]
pub struct Extra {
    pub dests: Vec<Dest>,
    pub uploads: Vec<Upload>,
    pub calls: Vec<Call>,
    pub calls_alerted: bool,
    pub sources: Vec<Source>,
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
            && self.uploads.is_empty()
            && self.calls.is_empty()
            && self.sources.is_empty()
    }
}

pub struct Hosts {
    pub map: HashMap<HostKey, Host, ahash::RandomState>,
    cap: usize,
    pub evicted: u64,
}

impl Hosts {
    pub fn new(cap: usize) -> Hosts {
        Hosts {
            map: HashMap::with_hasher(ahash::RandomState::with_seeds(21, 22, 23, 24)),
            cap: cap.max(16),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get_mut(&mut self, k: &HostKey) -> Option<&mut Host> {
        self.map.get_mut(k)
    }

    /// The host's entry, made (after making room) when new.
    pub fn entry(&mut self, k: HostKey, now: u64) -> &mut Host {
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            self.make_room();
        }
        let h = self.map.entry(k).or_default();
        if now > h.last_ns {
            h.last_ns = now;
        }
        h
    }

    /// Drop the least recently active sixteenth of the table.
    fn make_room(&mut self) {
        let mut ts: Vec<u64> = self.map.values().map(|h| h.last_ns).collect();
        let n = (ts.len() / 16).max(1);
        let (_, cut, _) = ts.select_nth_unstable(n - 1);
        let cut = *cut;
        let mut left = n;
        self.map.retain(|_, h| {
            if left > 0 && h.last_ns <= cut {
                left -= 1;
                false
            } else {
                true
            }
        });
        self.evicted += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> HostKey {
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&i.to_be_bytes());
        HostKey { v6: false, addr }
    }

    #[test]
    fn cap_evicts_the_least_recently_active() {
        let mut h = Hosts::new(32);
        for i in 0..32 {
            h.entry(k(i), 1000 + i as u64);
        }
        assert_eq!(h.len(), 32);
        h.entry(k(100), 5000);
        assert_eq!(h.len(), 32 - 2 + 1);
        assert_eq!(h.evicted, 2);
        assert!(h.get_mut(&k(0)).is_none() && h.get_mut(&k(1)).is_none());
        assert!(h.get_mut(&k(2)).is_some() && h.get_mut(&k(100)).is_some());
    }
}
