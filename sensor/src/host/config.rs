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
    pub novelty: NoveltyConfig,
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
            novelty: Default::default(),
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
    /// ... or from at least this many countries (with a MaxMind database) within the
    /// window; at most 16, the countries kept per account.
    pub min_countries: usize,
    /// Accounts tracked at most; when full the least recently active is dropped.
    pub max_accounts: usize,
    /// Impossible travel: the fastest believable speed between two authentications of one
    /// account placed by a MaxMind City database (great-circle distance over the time
    /// between them), km/h.
    pub travel_speed_kmh: u64,
    /// Impossible travel: distances under this are never impossible (GeoIP places an
    /// address only roughly), km.
    pub travel_min_km: u64,
    /// Impossible travel without coordinates (a Country database): one account in two
    /// countries less than this many seconds apart.
    pub travel_window_s: u64,
    /// New device: an account known for at least this long (packet time since first seen)
    /// that shows a device fingerprint it never used raises an alert; 0 turns it off.
    pub device_warmup_s: u64,
    /// Failed logins: this many failures for one account ...
    pub failed_logins: usize,
    /// ... from at least this many source addresses ...
    pub failed_sources: usize,
    /// ... within this many seconds raise an alert.
    pub failed_window_s: u64,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            window_s: 86_400,
            min_networks: 4,
            min_countries: 3,
            max_accounts: 100_000,
            travel_speed_kmh: 1_000,
            travel_min_km: 500,
            travel_window_s: 3_600,
            device_warmup_s: 604_800,
            failed_logins: 10,
            failed_sources: 3,
            failed_window_s: 3_600,
        }
    }
}

/// First use of a remote-access, VPN or tunnel service by a host (`[host.novelty]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NoveltyConfig {
    /// Packet time the sensor watches (gaps between flows over an hour count as an hour;
    /// kept across restarts in the state file) before a
    /// host's first use of a tool raises an alert; until then uses are only learnt.
    pub warmup_s: u64,
    /// Two or more remote-access tools on one host within this many seconds raise an alert.
    pub vendor_window_s: u64,
    /// Hosts whose tools are remembered at most (least recently active dropped).
    pub max_hosts: usize,
}

impl Default for NoveltyConfig {
    fn default() -> Self {
        NoveltyConfig {
            warmup_s: 604_800,
            vendor_window_s: 86_400,
            max_hosts: 100_000,
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
        check("host.accounts.min_countries", self.accounts.min_countries)?;
        check("host.accounts.max_accounts", self.accounts.max_accounts)?;
        let a = &self.accounts;
        check("host.accounts.travel_speed_kmh", a.travel_speed_kmh)?;
        check("host.accounts.travel_min_km", a.travel_min_km)?;
        check("host.accounts.travel_window_s", a.travel_window_s)?;
        check("host.accounts.device_warmup_s", a.device_warmup_s)?;
        check("host.accounts.failed_logins", a.failed_logins)?;
        check("host.accounts.failed_sources", a.failed_sources)?;
        check("host.accounts.failed_window_s", a.failed_window_s)?;
        check("host.novelty.warmup_s", self.novelty.warmup_s)?;
        check("host.novelty.vendor_window_s", self.novelty.vendor_window_s)?;
        check("host.novelty.max_hosts", self.novelty.max_hosts)?;
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
