//! Beacons and long connections, per (client, server, service port, protocol), scored in
//! the manner RITA publishes (activecm/rita `analysis/beacons.go`, default config): four
//! sub-scores between 0 and 1, weighted (0.25 each by default) into one score.
//!
//! - **timestamp** (`ts_score`): the intervals between connection starts (to the
//!   millisecond, so beacons under a second apart score too; intervals under 100 ms, a burst
//!   of parallel connections, left out as RITA leaves out the zero intervals of whole seconds). Bowley skewness `(Q1 + Q3 − 2·Q2) / (Q3 − Q1)` scores
//!   `1 − |skew|` (taken as 0 when `Q3 − Q1 < 10` or the median equals a quartile); the median
//!   absolute deviation about the median scores `(median − MAD) / median` (1 when the median
//!   is under 1). The sub-score is their mean.
//! - **data size** (`ds_score`): the same two measures over the bytes the client sent per
//!   connection (0 for the MAD part when the median is under 1).
//! - **histogram** (`hist_score`): connections counted in 24 equal bins over the data set's
//!   time span; `1 − coefficient of variation` of the bins, or, once 11 bins or more hold
//!   connections, the share of non-empty bins whose heights fall in the two commonest
//!   height classes (class width 5 % of the tallest bin; one outlier bin forgiven), whichever
//!   is higher.
//! - **duration** (`dur_score`): once 6 bins or more hold connections, the larger of the
//!   pair's first-to-last span over the data set's span and the longest run of consecutive
//!   non-empty bins (wrapping round) over 12.
//!
//! The data set is the packet time seen within the window (`window_s`, 24 h by default);
//! until it spans `min_span_s` (60 s) the histogram and duration scores are 0.
//! Each pair keeps the start time and size of its connections in the window (capped);
//! pairs are capped too, the least recently active ones evicted first (counted).
//!
//! When scored: every `check_interval_s` of packet time, the pairs that changed; and a pair
//! as its connections come in, as soon as it has `min_connections`, then again each time
//! they have doubled or `pair_rescore_s` has passed, so a live sensor raises a beacon when
//! the evidence is there rather than at the next periodic check. Scored as connections
//! come in, the data set ends at the latest connection start seen.
//!
//! Long connections (RITA: `long_connection_minimum_duration`, 1 h): a flow open longer
//! than `long_connection_s`, noticed at its active-timeout records or its end, one alert per
//! flow.

use crate::flow::Ends;
use crate::model::net::HomeNet;
use crate::model::record::{Finding, FlowRecord};
use crate::model::sid::{self, AnomalyKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

const S: u64 = 1_000_000_000;

/// Histogram bins over the data set (RITA looks at 24 one-hour bins of a day).
const BINS: usize = 24;
/// Non-empty bins before the duration score counts (RITA `duration_min_hours_seen`).
const DUR_MIN_BINS: usize = 6;
/// Consecutive non-empty bins that make the consistency part 1 (RITA
/// `duration_consistency_ideal_hours_seen`).
const DUR_IDEAL_RUN: usize = 12;
/// Non-empty bins before the bimodal fit counts (RITA `histogram_bimodal_min_hours_seen`).
const BIMODAL_MIN_BINS: usize = 11;
/// Height class width as a share of the tallest bin (RITA `histogram_mode_sensitivity`).
const MODE_SENSITIVITY: f64 = 0.05;
/// Bins forgiven as outliers in the bimodal fit (RITA `histogram_bimodal_outlier_removal`).
const BIMODAL_OUTLIERS: usize = 1;
/// Intervals shorter than this (seconds) are left out: connections opened together are one
/// burst (a client opening parallel connections), as RITA's whole seconds leave out the zero
/// intervals between them. Beacons 0.2 s apart still score.
const BURST_S: f64 = 0.1;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeaconConfig {
    /// Score pairs and raise `beacon` alerts.
    pub enabled: bool,
    /// Seconds of packet time a pair's connections are kept and scored over.
    pub window_s: u64,
    /// Connections of a pair in the window before it is scored (RITA's threshold is 4;
    /// an alerting sensor wants more evidence).
    pub min_connections: u32,
    /// Score (0..1) from which a pair is a beacon. RITA ranks from 0.5; 0.8 keeps alerts
    /// for clear cases.
    pub min_score: f64,
    pub ts_weight: f64,
    pub ds_weight: f64,
    pub dur_weight: f64,
    pub hist_weight: f64,
    /// Pairs whose median connection carries more client bytes than this are not beacons
    /// but regular transfers (backups, sync; the egress checks watch those). RITA 1 scored
    /// data-size "smallness" as `1 − mode / 65535`, nothing from 64 KiB.
    pub max_median_bytes: u64,
    /// Seconds of packet time between scorings of the pairs that changed.
    pub check_interval_s: u64,
    /// Seconds the data set must span before the histogram and duration scores count
    /// (over a few seconds every busy pair looks regular: a client opening a pool of
    /// connections is no beacon). 1..=86400.
    pub min_span_s: u64,
    /// Seconds of packet time after which a pair is scored again as its connections come in
    /// (from `min_connections` on, and whenever they doubled); 0: only at the periodic check.
    pub pair_rescore_s: u64,
    /// Only pairs whose client is inside the home networks and server outside (RITA filters
    /// internal-to-internal and external-to-internal the same way).
    pub outbound_only: bool,
    /// Server ports never scored (DNS, NTP, DHCP, NetBIOS, SSDP, mDNS, LLMNR: periodic by
    /// design).
    pub ignore_ports: Vec<u16>,
    /// Servers (addresses or CIDRs) never scored: update services, monitoring, NTP pools.
    pub allow: Vec<String>,
    /// Pairs tracked at most; the least recently active are evicted.
    pub max_pairs: usize,
    /// Connections kept per pair (the oldest dropped).
    pub max_connections_per_pair: usize,
    /// Connections kept over all pairs.
    pub max_connections_total: usize,
    /// A flow open at least this many seconds is a long connection (0: off).
    pub long_connection_s: u64,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            enabled: true,
            window_s: 86_400,
            min_connections: 10,
            min_score: 0.8,
            ts_weight: 0.25,
            ds_weight: 0.25,
            dur_weight: 0.25,
            hist_weight: 0.25,
            max_median_bytes: 65_535,
            check_interval_s: 300,
            pair_rescore_s: 60,
            min_span_s: 60,
            outbound_only: true,
            ignore_ports: vec![53, 67, 68, 123, 137, 138, 1900, 5353, 5355],
            allow: Vec::new(),
            max_pairs: 50_000,
            max_connections_per_pair: 4096,
            max_connections_total: 4_000_000,
            long_connection_s: 3600,
        }
    }
}

impl BeaconConfig {
    pub fn validate(&self) -> Result<(), String> {
        use crate::model::ranges::check;
        check("detect.beacon.window_s", self.window_s)?;
        check("detect.beacon.min_connections", self.min_connections)?;
        check("detect.beacon.min_score", self.min_score)?;
        check("detect.beacon.ts_weight", self.ts_weight)?;
        check("detect.beacon.ds_weight", self.ds_weight)?;
        check("detect.beacon.dur_weight", self.dur_weight)?;
        check("detect.beacon.hist_weight", self.hist_weight)?;
        check("detect.beacon.max_median_bytes", self.max_median_bytes)?;
        check("detect.beacon.check_interval_s", self.check_interval_s)?;
        check("detect.beacon.max_pairs", self.max_pairs)?;
        check(
            "detect.beacon.max_connections_per_pair",
            self.max_connections_per_pair,
        )?;
        check(
            "detect.beacon.max_connections_total",
            self.max_connections_total,
        )?;
        check("detect.beacon.long_connection_s", self.long_connection_s)?;
        let w = [
            self.ts_weight,
            self.ds_weight,
            self.dur_weight,
            self.hist_weight,
        ];
        let sum: f64 = w.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!(
                "detect.beacon.ts_weight + detect.beacon.ds_weight + detect.beacon.dur_weight + detect.beacon.hist_weight must sum to 1, not {sum}"
            ));
        }
        check("detect.beacon.min_span_s", self.min_span_s)?;
        check("detect.beacon.pair_rescore_s", self.pair_rescore_s)?;
        HomeNet::parse(&self.allow).map_err(|e| format!("detect.beacon.allow: {e}"))?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PairKey {
    v6: bool,
    client: [u8; 16],
    server: [u8; 16],
    sport: u16,
    proto: u8,
}

/// One connection of a pair: its start (second and millisecond) and the bytes the client
/// sent (12 bytes: millions are kept).
#[derive(Debug, Clone, Copy)]
struct Conn {
    s: u32,
    ms: u16,
    bytes: u32,
}

impl Conn {
    fn at(ns: u64, bytes: u64) -> Conn {
        Conn {
            s: (ns / S) as u32,
            ms: ((ns % S) / 1_000_000) as u16,
            bytes: bytes.min(u32::MAX as u64) as u32,
        }
    }
    /// Start time in seconds.
    fn t(&self) -> f64 {
        self.s as f64 + self.ms as f64 / 1000.0
    }
}

#[derive(Debug, Default)]
struct Pair {
    /// Connections in arrival order.
    conns: VecDeque<Conn>,
    last_seen_ns: u64,
    dirty: bool,
    alerted_ns: Option<u64>,
    /// Packet time of the last scoring as connections came in, and how many it had.
    scored_ns: Option<u64>,
    scored_n: usize,
    last_flow_id: u64,
    last_cport: u16,
    app_proto: &'static str,
    app: Option<String>,
}

/// A beacon's score and its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    pub ts_score: f64,
    pub ds_score: f64,
    pub hist_score: f64,
    pub dur_score: f64,
    pub connections: usize,
    pub ts_skew: f64,
    pub ts_mad_s: f64,
    pub ts_median_s: f64,
    /// The commonest interval: whole seconds (rounded) from a median of 1 s, else
    /// hundredths of a second.
    pub ts_mode_s: f64,
    pub ds_skew: f64,
    pub ds_mad_bytes: f64,
    pub ds_median_bytes: f64,
    pub ds_mode_bytes: u64,
    pub bins_seen: usize,
    pub span_s: u64,
}

/// What the stage raises: the finding and where it belongs.
pub struct Raised {
    pub kind: AnomalyKind,
    pub ends: Ends,
    pub flow_id: u64,
    pub ts_ns: u64,
    pub app_proto: &'static str,
    pub dedup: String,
    pub finding: Finding,
}

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

/// An interval for the signature and the metadata: whole seconds from 1 s, else hundredths.
fn fmt_interval(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.2}")
    }
}

fn beacon_alert(cfg: &BeaconConfig, ends: &Ends, p: &Pair, sc: &Score, now: u64) -> Raised {
    let mut md = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), vec![v]);
    };
    put("score", format!("{:.3}", sc.score));
    put("ts_score", format!("{:.3}", sc.ts_score));
    put("ds_score", format!("{:.3}", sc.ds_score));
    put("hist_score", format!("{:.3}", sc.hist_score));
    put("dur_score", format!("{:.3}", sc.dur_score));
    put("connections", sc.connections.to_string());
    put("ts_skew", format!("{:.3}", sc.ts_skew));
    put("ts_median_s", format!("{:.1}", sc.ts_median_s));
    put("ts_mad_s", format!("{:.1}", sc.ts_mad_s));
    put("ts_mode_s", fmt_interval(sc.ts_mode_s));
    put("ds_skew", format!("{:.3}", sc.ds_skew));
    put("ds_median_bytes", format!("{:.0}", sc.ds_median_bytes));
    put("ds_mad_bytes", format!("{:.1}", sc.ds_mad_bytes));
    put("ds_mode_bytes", sc.ds_mode_bytes.to_string());
    put("bins_seen", format!("{}/{BINS}", sc.bins_seen));
    put("span_s", sc.span_s.to_string());
    put("window_s", cfg.window_s.to_string());
    let what = p.app.as_deref().unwrap_or(p.app_proto);
    Raised {
        kind: AnomalyKind::Beacon,
        ends: *ends,
        flow_id: p.last_flow_id,
        ts_ns: now,
        app_proto: p.app_proto,
        dedup: format!(
            "{}|{}|{}|{}",
            crate::model::net::to_ip(ends.v6, &ends.client),
            crate::model::net::to_ip(ends.v6, &ends.server),
            ends.sport,
            ends.proto
        ),
        finding: Finding {
            signature_id: sid::BEACON,
            signature: format!(
                "SPANWATCH beacon: regular connections every ~{} s ({what}), score {:.2}",
                fmt_interval(sc.ts_mode_s),
                sc.score
            ),
            category: "beacon",
            severity: if sc.score >= 0.9 { 2 } else { 3 },
            app: p.app.clone(),
            metadata: md,
        },
    }
}

/// Q1, Q2, Q3 of sorted data: the median and the medians of the halves below and above it
/// (the median itself left out when the count is odd).
fn quartiles(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len();
    let q2 = median(v);
    let (lo, hi) = if n % 2 == 0 {
        (&v[..n / 2], &v[n / 2..])
    } else {
        (&v[..n / 2], &v[n / 2 + 1..])
    };
    (median(lo), q2, median(hi))
}

fn median(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Bowley skewness and its score; sorted input of at least 3 values.
fn bowley(v: &[f64]) -> (f64, f64) {
    let (q1, q2, q3) = quartiles(v);
    let den = q3 - q1;
    let skew = if den >= 10.0 && q2 != q1 && q2 != q3 {
        (q1 + q3 - 2.0 * q2) / den
    } else {
        0.0
    };
    (skew, 1.0 - skew.abs())
}

/// Median absolute deviation about the median, and its score; sorted input.
fn mad(v: &[f64], default_score: f64) -> (f64, f64, f64) {
    let m = median(v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = median(&dev);
    let score = if m >= 1.0 {
        (m - mad) / m
    } else {
        default_score
    };
    (m, mad, if score.is_nan() { 0.0 } else { score.max(0.0) })
}

/// The most frequent value in steps of `unit` (each value rounded to one; the smallest on
/// ties), in those units; sorted input.
fn mode_in(v: &[f64], unit: f64) -> u64 {
    let q = |x: f64| (x / unit).round() as u64;
    let mut best = (0usize, 0u64);
    let mut i = 0;
    while i < v.len() {
        let x = q(v[i]);
        let mut j = i;
        while j < v.len() && q(v[j]) == x {
            j += 1;
        }
        if j - i > best.0 {
            best = (j - i, x);
        }
        i = j;
    }
    best.1
}

/// The most frequent value, in whole units (sizes in bytes); sorted input.
fn mode(v: &[f64]) -> u64 {
    mode_in(v, 1.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Score a pair's connections over the data set `[dmin, dmax]` (seconds); `None` when
/// there is too little to score (fewer than 3 non-zero intervals, or no span).
fn score(cfg: &BeaconConfig, conns: &VecDeque<Conn>, dmin: f64, dmax: f64) -> Option<Score> {
    if conns.len() < 4 || dmax <= dmin {
        return None;
    }
    let mut ts: Vec<f64> = conns.iter().map(Conn::t).collect();
    ts.sort_by(f64::total_cmp);
    let mut deltas: Vec<f64> = ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d >= BURST_S)
        .collect();
    if deltas.len() < 3 {
        return None;
    }
    deltas.sort_by(f64::total_cmp);
    let (ts_skew, ts_skew_score) = bowley(&deltas);
    let (ts_median, ts_mad, ts_mad_score) = mad(&deltas, 1.0);
    let ts_score = round3((ts_skew_score + ts_mad_score) / 2.0);

    let mut sizes: Vec<f64> = conns.iter().map(|c| c.bytes as f64).collect();
    sizes.sort_by(f64::total_cmp);
    let (ds_skew, ds_skew_score) = bowley(&sizes);
    let (ds_median, ds_mad, ds_mad_score) = mad(&sizes, 0.0);
    let ds_score = round3((ds_skew_score + ds_mad_score) / 2.0);

    // histogram of connection starts over the data set
    let mut bins = [0u32; BINS];
    let step = (dmax - dmin) / BINS as f64;
    let lo = dmin;
    for &t in &ts {
        if t < lo {
            continue;
        }
        let i = (((t - lo) / step) as usize).min(BINS - 1);
        bins[i] += 1;
    }
    let seen = bins.iter().filter(|b| **b > 0).count();
    let total: u32 = bins.iter().sum();
    let cv_score = if total == 0 {
        0.0
    } else {
        let mean = total as f64 / BINS as f64;
        let var = bins.iter().map(|b| (*b as f64 - mean).powi(2)).sum::<f64>() / BINS as f64;
        let cv = var.sqrt() / mean;
        if cv > 1.0 {
            0.0
        } else {
            round3(1.0 - cv)
        }
    };
    let bimodal = if seen >= BIMODAL_MIN_BINS {
        let tallest = *bins.iter().max().unwrap_or(&0) as f64;
        let width = (tallest * MODE_SENSITIVITY).ceil().max(1.0);
        let mut classes: BTreeMap<u64, u32> = BTreeMap::new();
        for b in bins.iter().filter(|b| **b > 0) {
            *classes
                .entry(((*b as f64 / width).floor() * width) as u64)
                .or_default() += 1;
        }
        let mut counts: Vec<u32> = classes.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = counts.first().copied().unwrap_or(0) + counts.get(1).copied().unwrap_or(0);
        let denom = (seen.saturating_sub(BIMODAL_OUTLIERS)).max(1) as f64;
        round3(top as f64 / denom).min(1.0)
    } else {
        0.0
    };
    // a data set too short to tell regular from busy: no histogram or duration evidence
    let long_enough = dmax - dmin >= cfg.min_span_s as f64;
    let hist_score = if long_enough {
        cv_score.max(bimodal)
    } else {
        0.0
    };

    let dur_score = if long_enough && seen >= DUR_MIN_BINS {
        let first = ts.first().copied().unwrap_or(0.0);
        let last = ts.last().copied().unwrap_or(0.0);
        let coverage = ((last - first).max(0.0) / (dmax - dmin) * 1000.0).ceil() / 1000.0;
        let mut run = 0;
        let mut longest = 0;
        for i in 0..2 * BINS {
            if bins[i % BINS] > 0 {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
        let longest = longest.min(BINS);
        let consistency = ((longest as f64 / DUR_IDEAL_RUN as f64) * 1000.0).ceil() / 1000.0;
        coverage.min(1.0).max(consistency.min(1.0))
    } else {
        0.0
    };

    let s = ts_score * cfg.ts_weight
        + ds_score * cfg.ds_weight
        + dur_score * cfg.dur_weight
        + hist_score * cfg.hist_weight;
    Some(Score {
        score: round3(s),
        ts_score,
        ds_score,
        hist_score,
        dur_score,
        connections: conns.len(),
        ts_skew,
        ts_mad_s: ts_mad,
        ts_median_s: ts_median,
        ts_mode_s: if ts_median >= 1.0 {
            mode_in(&deltas, 1.0) as f64
        } else {
            mode_in(&deltas, 0.01) as f64 / 100.0
        },
        ds_skew,
        ds_mad_bytes: ds_mad,
        ds_median_bytes: ds_median,
        ds_mode_bytes: mode(&sizes),
        bins_seen: seen,
        span_s: (ts.last().copied().unwrap_or(0.0) - ts.first().copied().unwrap_or(0.0)) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conns(v: &[(u32, u32)]) -> VecDeque<Conn> {
        v.iter()
            .map(|&(s, bytes)| Conn { s, ms: 0, bytes })
            .collect()
    }

    #[test]
    fn a_perfect_beacon_scores_one() {
        let cfg = BeaconConfig::default();
        let c: Vec<(u32, u32)> = (0..120).map(|i| (1_000_000 + i * 60, 312)).collect();
        let s = score(&cfg, &conns(&c), 1e6, 1e6 + 119.0 * 60.0).unwrap();
        assert_eq!(
            (s.ts_score, s.ds_score, s.hist_score, s.dur_score, s.score),
            (1.0, 1.0, 1.0, 1.0, 1.0),
            "{s:?}"
        );
        assert_eq!((s.ts_mode_s, s.ds_mode_bytes, s.bins_seen), (60.0, 312, 24));
    }

    #[test]
    fn jitter_lowers_the_timestamp_score_a_little() {
        let cfg = BeaconConfig::default();
        // 300 s ± up to 30 s, sizes 400 ± 20
        let c: Vec<(u32, u32)> = (0..100u32)
            .scan(5_000_000u32, |t, i| {
                *t += 270 + (i * 7919) % 61;
                Some((*t, 380 + (i * 31) % 41))
            })
            .collect();
        let (a, b) = (c[0].0 as u64, c[99].0 as u64);
        let s = score(&cfg, &conns(&c), a as f64, b as f64).unwrap();
        assert!(s.ts_score > 0.8 && s.ts_score < 1.0, "{s:?}");
        assert!(s.score >= 0.8, "{s:?}");
    }

    #[test]
    fn beacons_under_a_second_apart_score() {
        let cfg = BeaconConfig::default();
        // every 200 ms (± 3 ms) for a minute: whole seconds would make most intervals zero
        let t0 = 1_700_000_000 * S;
        let c: VecDeque<Conn> = (0..300u64)
            .map(|i| Conn::at(t0 + i * 200_000_000 + (i * 7 % 7) * 1_000_000, 310))
            .collect();
        let s = score(&cfg, &c, (t0 / S) as f64, (t0 / S) as f64 + 60.0).unwrap();
        assert!(s.ts_score > 0.95, "{s:?}");
        assert!(s.score >= 0.9, "{s:?}");
        assert_eq!(s.ts_mode_s, 0.2);
        assert_eq!(fmt_interval(s.ts_mode_s), "0.20");
        assert_eq!(fmt_interval(53.0), "53");
    }

    #[test]
    fn a_burst_of_parallel_connections_is_not_a_beacon() {
        let cfg = BeaconConfig::default();
        // 62 connections 20 ms apart, within 1.3 s (a VPN client opening its pool)
        let t0 = 1_700_000_000 * S;
        let c: VecDeque<Conn> = (0..62u64)
            .map(|i| Conn::at(t0 + i * 20_000_000, 4000 + (i * 37 % 600)))
            .collect();
        assert!(score(&cfg, &c, (t0 / S) as f64, (t0 / S) as f64 + 7.0).is_none());
        // spread over 7 s at 100 ms and more: a data set that short gives no histogram or
        // duration evidence
        let c: VecDeque<Conn> = (0..62u64)
            .map(|i| Conn::at(t0 + i * 110_000_000 + (i * 7 % 5) * 30_000_000, 4000))
            .collect();
        let s = score(&cfg, &c, (t0 / S) as f64, (t0 / S) as f64 + 7.0).unwrap();
        assert_eq!((s.hist_score, s.dur_score), (0.0, 0.0), "{s:?}");
        assert!(s.score < cfg.min_score, "{s:?}");
    }

    #[test]
    fn browsing_is_not_a_beacon() {
        let cfg = BeaconConfig::default();
        // bursts of page loads at irregular times, sizes all over the place
        let starts = [
            0u32, 1, 1, 2, 40, 41, 300, 302, 303, 1500, 1501, 1530, 3300, 3301, 3302, 3600, 7000,
        ];
        let c: Vec<(u32, u32)> = starts
            .iter()
            .enumerate()
            .map(|(i, t)| (2_000_000 + t, 500 + (i as u32 * 7717) % 40_000))
            .collect();
        let s = score(&cfg, &conns(&c), 2e6, 2e6 + 7200.0).unwrap();
        assert!(s.score < 0.6, "{s:?}");
    }

    #[test]
    fn statistics_match_their_definitions() {
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(quartiles(&v), (1.5, 3.0, 52.0));
        let (m, d, sc) = mad(&v, 1.0);
        assert_eq!((m, d), (3.0, 1.0));
        assert!((sc - 2.0 / 3.0).abs() < 1e-9);
        let (sk, _) = bowley(&v);
        assert!((sk - (1.5 + 52.0 - 6.0) / 50.5).abs() < 1e-9);
        assert_eq!(mode(&[1.0, 2.0, 2.0, 3.0, 3.0]), 2);
    }
}
