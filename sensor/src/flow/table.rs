//! A worker's flow table: a hash map on the canonical key, with idle and active timeouts
//! driven by packet time and a hard cap on entries.

use super::{Flow, FlowKey, TcpState};
use crate::decode::{PROTO_TCP, PROTO_UDP};
use crate::model::record::EndReason;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct FlowConfig {
    pub max_flows: usize,
    pub tcp_new_ns: u64,
    pub tcp_established_ns: u64,
    pub tcp_closed_ns: u64,
    pub udp_ns: u64,
    pub other_ns: u64,
    pub active_ns: u64,
    /// How often (packet time) the table is swept for expired flows.
    pub sweep_ns: u64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        const S: u64 = 1_000_000_000;
        FlowConfig {
            max_flows: 1_000_000,
            tcp_new_ns: 60 * S,
            tcp_established_ns: 600 * S,
            tcp_closed_ns: 10 * S,
            udp_ns: 180 * S,
            other_ns: 60 * S,
            active_ns: 1800 * S,
            sweep_ns: S,
        }
    }
}

impl FlowConfig {
    fn idle_timeout<D>(&self, key: &FlowKey, f: &Flow<D>) -> (u64, EndReason) {
        match key.proto {
            PROTO_TCP => match f.tcp {
                TcpState::Closed => (self.tcp_closed_ns, EndReason::Closed),
                TcpState::Established | TcpState::Closing => {
                    (self.tcp_established_ns, EndReason::Timeout)
                }
                _ => (self.tcp_new_ns, EndReason::Timeout),
            },
            PROTO_UDP => (self.udp_ns, EndReason::Timeout),
            _ => (self.other_ns, EndReason::Timeout),
        }
    }
}

/// Generic over the per-flow state `D` of the stages above (detection keeps its
/// `detect::FlowDetect` here), so the table knows nothing of them.
pub struct FlowTable<D> {
    map: HashMap<FlowKey, Flow<D>, ahash::RandomState>,
    cfg: FlowConfig,
    next_sweep_ns: u64,
    /// make_room's buffer of last-seen times, kept between calls.
    times: Vec<u64>,
}

impl<D> FlowTable<D> {
    pub fn new(cfg: FlowConfig) -> FlowTable<D> {
        FlowTable {
            map: HashMap::with_hasher(super::key::fixed_state()),
            cfg,
            next_sweep_ns: 0,
            times: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<D>> {
        self.map.get_mut(key)
    }

    /// Remove a flow (e.g. a closed TCP flow whose tuple a new SYN reuses).
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow<D>> {
        self.map.remove(key)
    }

    /// Insert a new flow, making room first when the table is at its cap. Flows pushed out
    /// go to `emit` with [`EndReason::Evicted`].
    pub fn insert(
        &mut self,
        key: FlowKey,
        flow: Flow<D>,
        now: u64,
        mut emit: impl FnMut(&FlowKey, &mut Flow<D>, EndReason),
    ) -> &mut Flow<D> {
        if self.map.len() >= self.cfg.max_flows {
            self.make_room(now, &mut emit);
        }
        self.map.entry(key).or_insert(flow)
    }

    /// The flow of `key`, made by `make` when there is none (after making room when the
    /// table is at its cap, as [`FlowTable::insert`]); true when it is new. One hash and
    /// one probe for a packet of a known flow.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        key: &FlowKey,
        now: u64,
        make: impl FnOnce() -> Flow<D>,
        mut emit: impl FnMut(&FlowKey, &mut Flow<D>, EndReason),
    ) -> (&mut Flow<D>, bool) {
        if self.map.len() >= self.cfg.max_flows && !self.map.contains_key(key) {
            self.make_room(now, &mut emit);
        }
        match self.map.entry(*key) {
            std::collections::hash_map::Entry::Occupied(o) => (o.into_mut(), false),
            std::collections::hash_map::Entry::Vacant(v) => (v.insert(make()), true),
        }
    }

    /// Whether a sweep is due at packet time `now`.
    #[inline]
    pub fn sweep_due(&self, now: u64) -> bool {
        now >= self.next_sweep_ns
    }

    /// Write out flows idle past their timeout (removed) and flows open past the active
    /// timeout (a record, then their counters start again); every other flow, which stays,
    /// is shown to `emit` with no reason (progress reports for the host stage).
    pub fn expire(
        &mut self,
        now: u64,
        mut emit: impl FnMut(&FlowKey, &mut Flow<D>, Option<EndReason>),
    ) {
        self.next_sweep_ns = now.saturating_add(self.cfg.sweep_ns);
        let cfg = &self.cfg;
        self.map.retain(|k, f| {
            let (idle, reason) = cfg.idle_timeout(k, f);
            if now.saturating_sub(f.last_ns) > idle {
                emit(k, f, Some(reason));
                return false;
            }
            if now.saturating_sub(f.period_start_ns) > cfg.active_ns {
                emit(k, f, Some(EndReason::ActiveTimeout));
                f.period_start_ns = now;
                f.pkts = [0; 2];
                f.bytes = [0; 2];
                f.reported = [0; 2];
            } else {
                emit(k, f, None);
            }
            true
        });
    }

    /// Write out every flow (end of capture, shutdown).
    pub fn drain(&mut self, mut emit: impl FnMut(&FlowKey, &mut Flow<D>, EndReason)) {
        for (k, mut f) in self.map.drain() {
            emit(&k, &mut f, EndReason::Shutdown);
        }
    }

    /// Emergency: first flows idle for an eighth of their timeout, then the least recently
    /// seen sixteenth of the table. When no flow is that idle (a flood of new flows), one
    /// read-only pass gathers the times for the cut and one pass evicts: two scans of the
    /// table, not three, and the times' buffer is kept from one call to the next.
    fn make_room(&mut self, now: u64, emit: &mut impl FnMut(&FlowKey, &mut Flow<D>, EndReason)) {
        let cfg = &self.cfg;
        let idle_out = |k: &FlowKey, f: &Flow<D>| {
            let (idle, _) = cfg.idle_timeout(k, f);
            now.saturating_sub(f.last_ns) > idle / 8
        };
        let ts = &mut self.times;
        ts.clear();
        let mut any_idle = false;
        for (k, f) in self.map.iter() {
            if idle_out(k, f) {
                any_idle = true;
                break;
            }
            ts.push(f.last_ns);
        }
        if any_idle {
            self.map.retain(|k, f| {
                if idle_out(k, f) {
                    emit(k, f, EndReason::Evicted);
                    false
                } else {
                    true
                }
            });
            if self.map.len() < self.cfg.max_flows {
                return;
            }
            ts.clear();
            ts.extend(self.map.values().map(|f| f.last_ns));
        }
        let n = (ts.len() / 16).max(1);
        let (_, cut, _) = ts.select_nth_unstable(n - 1);
        let cut = *cut;
        let mut left = n;
        self.map.retain(|k, f| {
            if left > 0 && f.last_ns <= cut {
                left -= 1;
                emit(k, f, EndReason::Evicted);
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn key(i: u16) -> FlowKey {
        FlowKey {
            lo: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            hi: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            lo_port: i,
            hi_port: 443,
            proto: PROTO_TCP,
            v6: false,
        }
    }

    fn flow(ts: u64) -> Flow<()> {
        Flow {
            pkts: [1, 0],
            bytes: [60, 0],
            tcp: TcpState::SynSent,
            ..Flow::new(ts, ts, true, ())
        }
    }

    /// A full table first gives up flows idle for an eighth of their timeout, else the
    /// least recently seen sixteenth, and keeps the rest.
    #[test]
    fn a_full_table_evicts_the_idle_then_the_oldest_sixteenth() {
        let cfg = FlowConfig {
            max_flows: 32,
            ..Default::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        // 32 flows 100 ms apart (none idle for 60 s / 8): the 2 oldest go
        const D: u64 = S / 10;
        for i in 0..32u16 {
            t.get_or_insert(&key(i), i as u64 * D, || flow(i as u64 * D), |_, _, _| {});
        }
        let now = 32 * D;
        let (_, new) = t.get_or_insert(
            &key(100),
            now,
            || flow(now),
            |k, _, r| out.push((k.lo_port, r)),
        );
        assert!(new);
        out.sort_by_key(|x| x.0);
        assert_eq!(out, [(0, EndReason::Evicted), (1, EndReason::Evicted)]);
        assert_eq!(t.len(), 31);
        // a known flow makes no room
        t.get_or_insert(&key(5), now, || flow(now), |_, _, _| panic!("evicted"));
        // fill up again, then at 10.2 s: the flows idle for more than 7.5 s go, only they
        t.get_or_insert(&key(101), now, || flow(now), |_, _, _| {});
        assert_eq!(t.len(), 32);
        out.clear();
        let later = 102 * D;
        t.get_or_insert(
            &key(200),
            later,
            || flow(later),
            |k, f, r| {
                assert!(later - f.last_ns > 60 * S / 8);
                out.push((k.lo_port, r))
            },
        );
        // flows 2..=26 were last seen at 0.2..=2.6 s, more than 7.5 s before 10.2 s
        out.sort_by_key(|x| x.0);
        let ports: Vec<u16> = out.iter().map(|x| x.0).collect();
        assert_eq!(ports, (2..=26).collect::<Vec<u16>>());
        assert_eq!(t.len(), 32 - 25 + 1);
    }
}
