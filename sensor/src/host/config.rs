//! The `[host]` section: the per-host stage's cap, clock, baselines and thresholds.

use super::baseline::VolumeConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Internal hosts tracked at most; when full, the least recently active sixteenth is
    /// dropped (counted in `spanwatch_hosts_evicted_total`).
    pub max_hosts: usize,
    /// Length of one accounting interval, seconds of packet time.
    pub interval_s: u64,
    /// Smoothing span of the baselines, in intervals (288 × 5 min = one day).
    pub baseline_intervals: u32,
    /// Intervals a host is watched before its own baseline is trusted; until then the
    /// absolute `new_host_bytes` thresholds apply.
    pub warmup_intervals: u32,
    /// Where baselines are saved (JSON) and loaded from at start; none: not kept.
    pub state_file: Option<PathBuf>,
    /// Seconds of packet time between saves of `state_file` (also saved at exit).
    pub snapshot_interval_s: u64,
    pub egress: EgressConfig,
    pub collection: CollectionConfig,
    pub exfiltration: ExfilConfig,
    pub calls: CallsConfig,
    pub fan_in: FanInConfig,
    pub accounts: AccountsConfig,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_hosts: 1_000_000,
            interval_s: 300,
            baseline_intervals: 288,
            warmup_intervals: 12,
            state_file: None,
            snapshot_interval_s: 300,
            egress: Default::default(),
            collection: Default::default(),
            exfiltration: Default::default(),
            calls: Default::default(),
            fan_in: Default::default(),
            accounts: Default::default(),
        }
    }
}

/// Bytes a host sends to addresses outside the home networks, per interval.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    pub floor_bytes: u64,
    pub new_host_bytes: u64,
    pub deviations: f64,
    pub peer_factor: f64,
}

impl Default for EgressConfig {
    fn default() -> Self {
        let v = VolumeConfig::egress();
        EgressConfig {
            floor_bytes: v.floor_bytes,
            new_host_bytes: v.new_host_bytes,
            deviations: v.deviations,
            peer_factor: v.peer_factor,
        }
    }
}

/// Bytes a host reads from internal file shares and code servers, per interval.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CollectionConfig {
    pub floor_bytes: u64,
    pub new_host_bytes: u64,
    pub deviations: f64,
    pub peer_factor: f64,
}

impl Default for CollectionConfig {
    fn default() -> Self {
        let v = VolumeConfig::collection();
        CollectionConfig {
            floor_bytes: v.floor_bytes,
            new_host_bytes: v.new_host_bytes,
            deviations: v.deviations,
            peer_factor: v.peer_factor,
        }
    }
}

macro_rules! volume {
    ($t:ty) => {
        impl $t {
            pub fn volume(&self) -> VolumeConfig {
                VolumeConfig {
                    floor_bytes: self.floor_bytes,
                    new_host_bytes: self.new_host_bytes,
                    deviations: self.deviations,
                    peer_factor: self.peer_factor,
                }
            }
        }
    };
}
volume!(EgressConfig);
volume!(CollectionConfig);

/// Uploads to the destinations of `rules/` that matter (category → bytes). An upload is
/// what one host sends to one service while the transfers keep coming (gaps under
/// `idle_s`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExfilConfig {
    pub code_hosting_bytes: u64,
    pub cloud_storage_bytes: u64,
    pub file_transfer_bytes: u64,
    pub paste_bytes: u64,
    pub idle_s: u64,
}

impl Default for ExfilConfig {
    fn default() -> Self {
        ExfilConfig {
            code_hosting_bytes: 20 << 20,
            cloud_storage_bytes: 100 << 20,
            file_transfer_bytes: 100 << 20,
            paste_bytes: 1 << 20,
            idle_s: 900,
        }
    }
}

impl ExfilConfig {
    /// The upload size that raises an alert for a catalogue category, if it is watched.
    pub fn limit(&self, category: &str) -> Option<u64> {
        match category {
            "code-hosting" => Some(self.code_hosting_bytes),
            "cloud-storage" => Some(self.cloud_storage_bytes),
            "file-transfer" => Some(self.file_transfer_bytes),
            "paste" => Some(self.paste_bytes),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// Concurrent calls a host may carry; one more raises a `calls` alert.
    pub max_concurrent: usize,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig { max_concurrent: 2 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FanInConfig {
    /// Seconds of packet time over which distinct sources are counted.
    pub window_s: u64,
    /// Distinct external addresses one remote-access endpoint (address and port) may be
    /// reached from in the window; one more raises a `fan-in` alert.
    pub max_sources: usize,
    /// Distinct external networks (IPv4 /24, IPv6 /48, or autonomous systems when an ASN
    /// database is given) one host's remote-access sessions may come from.
    pub max_networks: usize,
    /// MaxMind-format (GeoLite2/GeoIP2 Country or City) database: countries in alerts.
    pub geoip_country_db: Option<PathBuf>,
    /// MaxMind-format ASN database: autonomous systems in alerts.
    pub geoip_asn_db: Option<PathBuf>,
}

impl Default for FanInConfig {
    fn default() -> Self {
        FanInConfig {
            window_s: 86_400,
            max_sources: 4,
            max_networks: 3,
            geoip_country_db: None,
            geoip_asn_db: None,
        }
    }
}

/// The account view (`[host.accounts]`): the networks each account authenticates from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// Seconds of packet time over which an account's networks are counted.
    pub window_s: u64,
    /// Distinct networks (IPv4 /24, IPv6 /48, or autonomous systems with an ASN database)
    /// one account authenticating from within the window raises an `account` alert.
    pub min_networks: usize,
    /// Accounts tracked at most; when full the least recently active is dropped.
    pub max_accounts: usize,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            window_s: 86_400,
            min_networks: 4,
            max_accounts: 100_000,
        }
    }
}

impl HostConfig {
    /// Every number against its range in [`crate::model::ranges::RANGES`].
    pub fn validate(&self) -> Result<(), String> {
        use crate::model::ranges::check;
        check("host.max_hosts", self.max_hosts)?;
        check("host.interval_s", self.interval_s)?;
        check("host.baseline_intervals", self.baseline_intervals)?;
        check("host.warmup_intervals", self.warmup_intervals)?;
        check("host.accounts.window_s", self.accounts.window_s)?;
        check("host.accounts.min_networks", self.accounts.min_networks)?;
        check("host.accounts.max_accounts", self.accounts.max_accounts)?;
        check("host.snapshot_interval_s", self.snapshot_interval_s)?;
        self.egress.volume().validate("host.egress")?;
        self.collection.volume().validate("host.collection")?;
        let x = &self.exfiltration;
        check("host.exfiltration.code_hosting_bytes", x.code_hosting_bytes)?;
        check(
            "host.exfiltration.cloud_storage_bytes",
            x.cloud_storage_bytes,
        )?;
        check(
            "host.exfiltration.file_transfer_bytes",
            x.file_transfer_bytes,
        )?;
        check("host.exfiltration.paste_bytes", x.paste_bytes)?;
        check("host.exfiltration.idle_s", x.idle_s)?;
        check("host.calls.max_concurrent", self.calls.max_concurrent)?;
        check("host.fan_in.window_s", self.fan_in.window_s)?;
        check("host.fan_in.max_sources", self.fan_in.max_sources)?;
        check("host.fan_in.max_networks", self.fan_in.max_networks)?;
        Ok(())
    }
}
