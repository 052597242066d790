//! `[detect.beacon]`: the settings of the beacon and long-connection checks, their
//! defaults and the checks of their ranges.

use crate::model::net::HomeNet;
use serde::{Deserialize, Serialize};

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
