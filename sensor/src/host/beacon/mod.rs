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
//!
//! The parts: `config` (the `[detect.beacon]` settings and their checks), `pairs` (the
//! pairs tracked, their caps and window, long connections), `score` (the scoring maths),
//! `alert` (the beacon finding).

mod alert;
pub mod config;
mod pairs;
mod score;
#[cfg(test)]
mod tests;

pub use config::BeaconConfig;
pub use pairs::Beacons;
pub use score::Score;

use crate::flow::Ends;
use crate::model::record::Finding;
use crate::model::sid::AnomalyKind;
use std::collections::VecDeque;

const S: u64 = 1_000_000_000;

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
