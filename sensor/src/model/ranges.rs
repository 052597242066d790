//! The allowed range of every numeric configuration key, in one table that the checks of
//! each section, the README's table and the example configuration's comments follow (tests
//! compare them). Sections check their values with [`check`] wherever they are defined.

/// The allowed range of one numeric configuration key. [`RANGES`] is the one table the
/// checks, the README's table and the example configuration's comments follow (a test
/// compares them).
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// Dotted key, as in the file: `sensor.workers`, `host.egress.deviations`.
    pub key: &'static str,
    pub min: f64,
    pub max: f64,
    pub unit: &'static str,
}

impl Range {
    /// `1 to 64 threads`.
    pub fn describe(&self) -> String {
        let n = |x: f64| {
            if x.fract() == 0.0 && x.abs() < 1e17 {
                format!("{}", x as i64)
            } else {
                format!("{x}")
            }
        };
        if self.unit.is_empty() {
            format!("{} to {}", n(self.min), n(self.max))
        } else {
            format!("{} to {} {}", n(self.min), n(self.max), self.unit)
        }
    }
}

macro_rules! ranges {
    ($($key:literal: $min:expr, $max:expr, $unit:literal;)*) => {
        /// Every numeric key and its allowed range (both ends included).
        pub const RANGES: &[Range] = &[$(Range { key: $key, min: $min as f64, max: $max as f64, unit: $unit }),*];
    };
}

const PIB: u64 = 1 << 50;
/// Flow timeouts go up to ~136 years: "never", for forensic replays that must not split
/// flows (still small enough that packet time plus the timeout fits in nanoseconds).
const NEVER_S: u64 = u32::MAX as u64;
const DAY: u64 = 86_400;

ranges! {
    "sensor.workers": 0, 64, "threads (0: one per core, up to max_workers)";
    "sensor.max_workers": 1, 64, "threads";
    "sensor.queue_packets": 256, 1 << 20, "packets";
    "capture.snaplen": 64, 262_144, "bytes";
    "capture.buffer_mib": 1, 2047, "MiB";
    "capture.timeout_ms": 1, 1000, "ms";
    "capture.tick_ms": 10, 1000, "ms";
    "capture.ring_blocks": 2, 65_536, "blocks";
    "capture.block_kib": 4, 65_536, "KiB";
    "capture.block_timeout_ms": 1, 1000, "ms";
    "flow.max_flows": 16, 100_000_000, "flows";
    "flow.tcp_new_timeout_s": 1, NEVER_S, "s";
    "flow.tcp_established_timeout_s": 1, NEVER_S, "s";
    "flow.tcp_closed_timeout_s": 1, NEVER_S, "s";
    "flow.udp_timeout_s": 1, NEVER_S, "s";
    "flow.other_timeout_s": 1, NEVER_S, "s";
    "flow.active_timeout_s": 1, NEVER_S, "s";
    "output.stats_interval_s": 1, DAY, "s";
    "output.alert_suppress_s": 0, 7 * DAY, "s";
    "output.redis.stream_maxlen": 0, 1_000_000_000, "entries (0: no trimming)";
    "output.redis.queue_size": 1, 1_000_000, "records";
    "output.syslog.queue_size": 1, 1_000_000, "records";
    "http.max_connections": 1, 65_536, "connections";
    "http.header_read_timeout_s": 1, 300, "s";
    "http.idle_timeout_s": 1, DAY, "s";
    "detect.max_inspect_packets": 1, 1000, "packets";
    "detect.max_inspect_bytes": 64, 1 << 20, "bytes";
    "detect.dns_tunnel.window_s": 1, DAY, "s";
    "detect.dns_tunnel.min_queries": 1, 1_000_000, "queries";
    "detect.dns_tunnel.min_unique_subdomains": 0, 1_000_000, "names";
    "detect.dns_tunnel.min_mean_subdomain_len": 0, 253, "characters";
    "detect.dns_tunnel.min_mean_entropy": 0, 8, "bits per character";
    "detect.dns_tunnel.unusual_type_share": 0, 1, "";
    "detect.beacon.window_s": 60, 30 * DAY, "s";
    "detect.beacon.min_connections": 4, 100_000, "connections";
    "detect.beacon.min_score": 0, 1, "";
    "detect.beacon.ts_weight": 0, 1, "";
    "detect.beacon.ds_weight": 0, 1, "";
    "detect.beacon.dur_weight": 0, 1, "";
    "detect.beacon.hist_weight": 0, 1, "";
    "detect.beacon.max_median_bytes": 0, u32::MAX, "bytes";
    "detect.beacon.check_interval_s": 1, DAY, "s";
    "detect.beacon.max_pairs": 1, 10_000_000, "pairs";
    "detect.beacon.max_connections_per_pair": 4, 1_000_000, "connections";
    "detect.beacon.max_connections_total": 4, 100_000_000, "connections";
    "detect.beacon.long_connection_s": 0, 30 * DAY, "s (0: off)";
    "detect.beacon.min_span_s": 1, DAY, "s";
    "detect.beacon.pair_rescore_s": 0, DAY, "s";
    "detect.resolver_bypass.max_hosts": 0, 10_000_000, "hosts";
    "host.max_hosts": 1, 10_000_000, "hosts";
    "host.interval_s": 1, DAY, "s";
    "host.baseline_intervals": 1, 100_000, "intervals";
    "host.warmup_intervals": 0, 100_000, "intervals";
    "host.snapshot_interval_s": 1, DAY, "s";
    "host.egress.floor_bytes": 1, PIB, "bytes";
    "host.egress.new_host_bytes": 1, PIB, "bytes";
    "host.egress.deviations": 0.1, 100, "";
    "host.egress.peer_factor": 0, 1000, "";
    "host.collection.floor_bytes": 1, PIB, "bytes";
    "host.collection.new_host_bytes": 1, PIB, "bytes";
    "host.collection.deviations": 0.1, 100, "";
    "host.collection.peer_factor": 0, 1000, "";
    "host.exfiltration.code_hosting_bytes": 1, PIB, "bytes";
    "host.exfiltration.cloud_storage_bytes": 1, PIB, "bytes";
    "host.exfiltration.file_transfer_bytes": 1, PIB, "bytes";
    "host.exfiltration.paste_bytes": 1, PIB, "bytes";
    "host.exfiltration.idle_s": 1, DAY, "s";
    "host.calls.max_concurrent": 0, 10_000, "calls";
    "host.fan_in.window_s": 1, 30 * DAY, "s";
    "host.fan_in.max_sources": 0, 1_000_000, "addresses";
    "host.fan_in.max_networks": 0, 1_000_000, "networks";
    "host.accounts.window_s": 1, 30 * DAY, "s";
    "host.accounts.min_networks": 2, 1_000_000, "networks";
    "host.accounts.min_countries": 2, 16, "countries";
    "host.accounts.max_accounts": 1, 10_000_000, "accounts";
    "host.accounts.travel_speed_kmh": 1, 100_000, "km/h";
    "host.accounts.travel_min_km": 0, 20_000, "km";
    "host.accounts.travel_window_s": 0, DAY, "s";
    "host.accounts.device_warmup_s": 0, 365 * DAY, "s";
    "host.accounts.failed_logins": 1, 1_000_000, "failures";
    "host.accounts.failed_sources": 1, 1_000_000, "addresses";
    "host.accounts.failed_window_s": 1, DAY, "s";
    "host.novelty.warmup_s": 0, 365 * DAY, "s";
    "host.novelty.vendor_window_s": 1, 30 * DAY, "s";
    "host.novelty.max_hosts": 1, 10_000_000, "hosts";
    "alertmanager.timeout_s": 1, 300, "s";
    "alertmanager.resend_interval_s": 1, DAY, "s";
    "alertmanager.resolve_timeout_s": 1, 7 * DAY, "s";
    "alertmanager.queue_size": 1, 1_000_000, "alerts";
    "alertmanager.max_active_alerts": 1, 1_000_000, "alerts";
    "alertmanager.max_retries": 0, 100, "retries";
    "alertmanager.retry_backoff_max_s": 1, 3600, "s";
    "evidence.max_packets_before": 1, 10_000, "packets";
    "evidence.max_packets_after": 0, 1_000_000, "packets";
    "evidence.max_bytes": 1024, 1 << 30, "bytes";
    "evidence.disk_budget_mb": 1, 1 << 30, "MiB";
    "evidence.queue_size": 1, 1_000_000, "messages";
    "evidence.memory_mb": 1, 1 << 20, "MiB";
}

/// The range of a key in [`RANGES`].
pub fn range(key: &str) -> Option<&'static Range> {
    RANGES.iter().find(|r| r.key == key)
}

/// A configuration number: its value for the range check and as written.
pub trait ConfigNum: Copy + std::fmt::Display {
    fn as_f64(self) -> f64;
}
macro_rules! config_num {
    ($($t:ty),*) => { $(impl ConfigNum for $t { fn as_f64(self) -> f64 { self as f64 } })* };
}
config_num!(u16, u32, u64, usize, i32, i64, f32, f64);

/// Check one value against its key's range: `sensor.workers = 100 is out of range (allowed:
/// 1 to 64 threads)`. A key missing from [`RANGES`] is a bug the tests catch.
pub fn check<T: ConfigNum>(key: &str, v: T) -> Result<(), String> {
    let Some(r) = range(key) else {
        panic!("configuration key {key} has no entry in model::ranges::RANGES");
    };
    let x = v.as_f64();
    if x.is_nan() || x < r.min || x > r.max {
        return Err(format!(
            "{key} = {v} is out of range (allowed: {})",
            r.describe()
        ));
    }
    Ok(())
}
