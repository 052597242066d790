//! A bounded cache of DNS answers (address → the name it was looked up as), so a flow to an
//! address that was resolved as `relay-….net.anydesk.com` just before is attributed to
//! AnyDesk even when its TLS carries no SNI.
//!
//! Shared by all workers: a DNS answer and the flow it announces may hash to different
//! workers. It is touched only when a DNS response is parsed and when a flow is created,
//! never per packet, and it is split into shards so workers rarely meet on one lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Arc<str>,
    pub expires_ns: u64,
    /// Insertion order, for evicting the oldest when a shard is full.
    seq: u64,
}

pub struct DnsCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    map: HashMap<IpAddr, Entry>,
    seq: u64,
}

impl DnsCache {
    pub fn new(capacity: usize) -> DnsCache {
        DnsCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: (capacity / SHARDS).max(8),
        }
    }

    fn shard(&self, a: &IpAddr) -> &Mutex<Shard> {
        let h = match a {
            IpAddr::V4(v) => u32::from(*v) as usize,
            IpAddr::V6(v) => (u128::from(*v) as usize) ^ ((u128::from(*v) >> 64) as usize),
        };
        &self.shards[h.wrapping_mul(0x9e37_79b9) >> 7 & (SHARDS - 1)]
    }

    /// Remember that `addr` was the answer for `name` at packet time `now` (TTL capped to
    /// [`MIN_TTL_S`, `MAX_TTL_S`] so short TTLs still cover the connection that follows).
    pub fn insert(&self, addr: IpAddr, name: &str, ttl_s: u32, now_ns: u64) {
        let ttl = (ttl_s as u64).clamp(MIN_TTL_S, MAX_TTL_S);
        let mut s = self.shard(&addr).lock().unwrap_or_else(|e| e.into_inner());
        s.seq += 1;
        let seq = s.seq;
        if s.map.len() >= self.per_shard && !s.map.contains_key(&addr) {
            // Full: drop expired entries, else the oldest eighth.
            s.map.retain(|_, e| e.expires_ns > now_ns);
            if s.map.len() >= self.per_shard {
                let cut = seq.saturating_sub((self.per_shard as u64 * 7) / 8);
                s.map.retain(|_, e| e.seq > cut);
            }
        }
        s.map.insert(
            addr,
            Entry {
                name: Arc::from(name),
                expires_ns: now_ns + ttl * 1_000_000_000,
                seq,
            },
        );
    }

    pub fn lookup(&self, addr: &IpAddr, now_ns: u64) -> Option<Arc<str>> {
        let s = self.shard(addr).lock().unwrap_or_else(|e| e.into_inner());
        s.map
            .get(addr)
            .filter(|e| e.expires_ns >= now_ns)
            .map(|e| e.name.clone())
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.map.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub const MIN_TTL_S: u64 = 300;
pub const MAX_TTL_S: u64 = 6 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_lookup_expire_and_bound() {
        let c = DnsCache::new(16 * 8);
        let a: IpAddr = "203.0.113.5".parse().unwrap();
        c.insert(a, "relay-1.net.anydesk.com", 60, 0);
        assert_eq!(
            c.lookup(&a, 1_000_000_000).as_deref(),
            Some("relay-1.net.anydesk.com")
        );
        assert!(c.lookup(&a, (MIN_TTL_S + 1) * 1_000_000_000).is_none());
        for i in 0..10_000u32 {
            c.insert(IpAddr::from(i.to_be_bytes()), "x.example", 60, 0);
        }
        assert!(c.len() <= 16 * 8, "{}", c.len());
    }
}
