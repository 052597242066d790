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
}

impl<D> FlowTable<D> {
    pub fn new(cfg: FlowConfig) -> FlowTable<D> {
        FlowTable {
            map: HashMap::with_hasher(super::key::fixed_state()),
            cfg,
            next_sweep_ns: 0,
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
    /// seen sixteenth of the table.
    fn make_room(&mut self, now: u64, emit: &mut impl FnMut(&FlowKey, &mut Flow<D>, EndReason)) {
        let cfg = &self.cfg;
        self.map.retain(|k, f| {
            let (idle, _) = cfg.idle_timeout(k, f);
            if now.saturating_sub(f.last_ns) > idle / 8 {
                emit(k, f, EndReason::Evicted);
                false
            } else {
                true
            }
        });
        if self.map.len() >= self.cfg.max_flows {
            let mut ts: Vec<u64> = self.map.values().map(|f| f.last_ns).collect();
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
}
