//! The pairs tracked (client, server, service port, protocol): their connections in the
//! window, the caps on pairs and connections (least recently active evicted first), when
//! they are scored, and long connections.

use super::alert::beacon_alert;
use super::score::score;
use super::{BeaconConfig, Conn, Pair, PairKey, Raised, S};
use crate::flow::Ends;
use crate::model::net::HomeNet;
use crate::model::record::{Finding, FlowRecord};
use crate::model::sid::{self, AnomalyKind};
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct Beacons {
    cfg: BeaconConfig,
    allow: HomeNet,
    pairs: HashMap<PairKey, Pair>,
    total: usize,
    first_ns: Option<u64>,
    /// The latest flow start seen: the end of the data set as flow records tell it.
    last_start_ns: u64,
    next_check_ns: u64,
    /// Flows already reported as long connections (bounded).
    long_done: HashSet<u64>,
    pub evicted: u64,
}

impl Beacons {
    pub fn new(cfg: BeaconConfig) -> Beacons {
        let allow = HomeNet::parse(&cfg.allow).unwrap_or_default();
        Beacons {
            cfg,
            allow,
            pairs: HashMap::new(),
            total: 0,
            first_ns: None,
            last_start_ns: 0,
            next_check_ns: 0,
            long_done: HashSet::new(),
            evicted: 0,
        }
    }

    pub fn tracked(&self) -> usize {
        self.pairs.len()
    }

    fn wanted(&self, home: &HomeNet, e: &Ends) -> bool {
        (e.proto == 6 || e.proto == 17)
            && !self.cfg.ignore_ports.contains(&e.sport)
            && !self.allow.contains(e.v6, &e.server)
            && (!self.cfg.outbound_only
                || (home.contains(e.v6, &e.client) && !home.contains(e.v6, &e.server)))
    }

    /// The data set starts at the earliest flow start seen.
    fn time(&mut self, t: u64) {
        match self.first_ns {
            None => {
                self.first_ns = Some(t);
                self.next_check_ns = t + self.cfg.check_interval_s * S;
            }
            Some(f) if t < f => self.first_ns = Some(t),
            _ => {}
        }
    }

    /// A flow record: a connection of its pair (counted once, at its final record), and
    /// maybe a long connection.
    pub fn on_flow(&mut self, home: &HomeNet, rec: &FlowRecord, out: &mut Vec<Raised>) {
        if !self.cfg.enabled {
            return;
        }
        self.time(rec.flow_start_ns.min(rec.end_ns));
        self.last_start_ns = self.last_start_ns.max(rec.flow_start_ns);
        let e = &rec.ends;
        if !self.wanted(home, e) {
            return;
        }
        self.long_connection(rec, out);
        if rec.flow.reason == "active_timeout" {
            return;
        }
        let key = PairKey {
            v6: e.v6,
            client: e.client,
            server: e.server,
            sport: e.sport,
            proto: e.proto,
        };
        if !self.pairs.contains_key(&key) && self.pairs.len() >= self.cfg.max_pairs {
            self.evict(rec.end_ns);
        }
        let p = self.pairs.entry(key).or_default();
        p.conns
            .push_back(Conn::at(rec.flow_start_ns, rec.flow.bytes_toserver));
        self.total += 1;
        if p.conns.len() > self.cfg.max_connections_per_pair {
            p.conns.pop_front();
            self.total -= 1;
        }
        p.last_seen_ns = p.last_seen_ns.max(rec.end_ns);
        p.dirty = true;
        p.last_flow_id = rec.flow_id;
        p.last_cport = e.cport;
        p.app_proto = rec.app_proto;
        p.app.clone_from(&rec.app);
        // Scored again when its connections doubled (more evidence) or after
        // `pair_rescore_s` (a longer span).
        let due = p.conns.len() >= self.cfg.min_connections as usize
            && self.cfg.pair_rescore_s > 0
            && p.scored_ns.is_none_or(|t| {
                rec.end_ns.saturating_sub(t) >= self.cfg.pair_rescore_s * S
                    || p.conns.len() >= 2 * p.scored_n
            });
        if due {
            p.scored_ns = Some(rec.end_ns);
            p.scored_n = p.conns.len();
            // The data set as the flow records tell it so far: from the first start to the
            // latest (records come a flow timeout after their start; RITA's data set too
            // ends at the latest connection's start).
            if let Some(r) = self.evaluate(&key, rec.end_ns, self.last_start_ns) {
                out.push(r);
            }
        }
        if self.total > self.cfg.max_connections_total {
            self.evict(rec.end_ns);
        }
    }

    /// Drop the least recently active pairs: an eighth of them, at least enough to get
    /// back under the caps.
    fn evict(&mut self, _now: u64) {
        let mut ages: Vec<u64> = self.pairs.values().map(|p| p.last_seen_ns).collect();
        if ages.is_empty() {
            return;
        }
        let n = (ages.len() / 8).max(1);
        let (_, cut, _) = ages.select_nth_unstable(n - 1);
        let cut = *cut;
        let before = self.pairs.len();
        let mut removed = 0;
        self.pairs.retain(|_, p| {
            if p.last_seen_ns <= cut {
                removed += p.conns.len();
                false
            } else {
                true
            }
        });
        self.total -= removed;
        self.evicted += (before - self.pairs.len()) as u64;
    }

    fn long_connection(&mut self, rec: &FlowRecord, out: &mut Vec<Raised>) {
        let min = self.cfg.long_connection_s;
        if min == 0 {
            return;
        }
        let dur = rec.end_ns.saturating_sub(rec.flow_start_ns) / S;
        let ended = rec.flow.reason != "active_timeout";
        if dur < min {
            return;
        }
        let first = self.long_done.insert(rec.flow_id);
        if ended {
            self.long_done.remove(&rec.flow_id);
        }
        if self.long_done.len() > 100_000 {
            self.long_done.clear();
        }
        if !first {
            return;
        }
        let f = &rec.flow;
        let mut md = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            md.insert(k.to_string(), vec![v]);
        };
        put("duration_s", dur.to_string());
        put("threshold_s", min.to_string());
        put("open", (!ended).to_string());
        // (bytes since the flow's last active-timeout record)
        put("bytes_toserver", f.bytes_toserver.to_string());
        put("bytes_toclient", f.bytes_toclient.to_string());
        let hours = dur as f64 / 3600.0;
        out.push(Raised {
            kind: AnomalyKind::LongConnection,
            ends: rec.ends,
            flow_id: rec.flow_id,
            ts_ns: rec.end_ns,
            app_proto: rec.app_proto,
            dedup: format!("{}", rec.flow_id),
            finding: Finding {
                signature_id: sid::LONG_CONNECTION,
                signature: format!(
                    "SPANWATCH beacon: long connection ({hours:.1} h, {})",
                    rec.app.as_deref().unwrap_or(rec.app_proto)
                ),
                category: "beacon",
                severity: 3,
                app: rec.app.clone(),
                metadata: md,
            },
        });
    }

    /// Packet time advanced: score the pairs that changed, when a check is due.
    pub fn on_tick(&mut self, now: u64, out: &mut Vec<Raised>) {
        if !self.cfg.enabled || self.first_ns.is_none() || now < self.next_check_ns {
            return;
        }
        self.next_check_ns = now + self.cfg.check_interval_s * S;
        self.check(now, out);
    }

    /// End of the capture: score what changed since the last check.
    pub fn finish(&mut self, now: u64, out: &mut Vec<Raised>) {
        if self.cfg.enabled && self.first_ns.is_some() {
            self.check(now, out);
        }
    }

    fn check(&mut self, now: u64, out: &mut Vec<Raised>) {
        let horizon_s = self.horizon_s(now);
        let mut dropped = 0;
        let mut keys: Vec<PairKey> = Vec::new();
        self.pairs.retain(|k, p| {
            let before = p.conns.len();
            p.conns.retain(|c| c.s >= horizon_s);
            dropped += before - p.conns.len();
            if p.conns.is_empty() {
                return false;
            }
            if p.dirty {
                keys.push(*k);
            }
            true
        });
        self.total -= dropped;
        // deterministic order of alerts
        keys.sort_by_key(|k| (k.client, k.server, k.sport));
        for k in keys {
            if let Some(p) = self.pairs.get_mut(&k) {
                p.dirty = false;
            }
            if let Some(r) = self.evaluate(&k, now, now) {
                out.push(r);
            }
        }
    }

    /// The first second still in the window at `now`.
    fn horizon_s(&self, now: u64) -> u32 {
        (now.saturating_sub(self.cfg.window_s * S) / S) as u32
    }

    /// Score one pair at `now` over the data set ending at `end` (its connections past the
    /// window dropped first): the alert, if it is a beacon not raised within the window.
    fn evaluate(&mut self, k: &PairKey, now: u64, end: u64) -> Option<Raised> {
        let window_ns = self.cfg.window_s * S;
        let horizon_s = self.horizon_s(now);
        let dmin = self.first_ns.unwrap_or(now).max(horizon_s as u64 * S) as f64 / 1e9;
        let dmax = end as f64 / 1e9;
        let p = self.pairs.get_mut(k)?;
        let before = p.conns.len();
        p.conns.retain(|c| c.s >= horizon_s);
        self.total -= before - p.conns.len();
        if p.conns.len() < self.cfg.min_connections as usize {
            return None;
        }
        if p.alerted_ns
            .is_some_and(|t| now.saturating_sub(t) < window_ns)
        {
            return None;
        }
        let sc = score(&self.cfg, &p.conns, dmin, dmax)?;
        if sc.score < self.cfg.min_score || sc.ds_median_bytes > self.cfg.max_median_bytes as f64 {
            return None;
        }
        p.alerted_ns = Some(now);
        let ends = Ends {
            v6: k.v6,
            client: k.client,
            server: k.server,
            cport: p.last_cport,
            sport: k.sport,
            proto: k.proto,
        };
        Some(beacon_alert(&self.cfg, &ends, p, &sc, now))
    }
}
