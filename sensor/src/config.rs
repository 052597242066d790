//! Configuration: a TOML file (unknown keys rejected, with the key and the file named),
//! then command-line flags on top.

use crate::flow::FlowConfig;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sensor: SensorSection,
    pub capture: CaptureSection,
    pub flow: FlowSection,
    pub output: OutputSection,
    pub http: HttpSection,
    pub rules: RulesSection,
    pub detect: DetectSection,
    /// The per-host stage: egress baselines, exfiltration, collection, calls, fan-in.
    pub host: crate::host::HostConfig,
    /// Alerts pushed to Alertmanager (off unless `urls` is set).
    pub alertmanager: crate::output::alertmanager::AlertmanagerConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorSection {
    /// The sensor's name in alerts (default: the host name).
    pub name: Option<String>,
    pub workers: usize,
    /// Internal networks (CIDR).
    pub home_net: Vec<String>,
    /// Packets a worker queue holds before the capture drops (live) or waits (replay).
    pub queue_packets: usize,
    /// User to switch to after opening the capture (live).
    pub user: Option<String>,
}

impl Default for SensorSection {
    fn default() -> Self {
        SensorSection {
            name: None,
            workers: 1,
            home_net: DEFAULT_HOME_NET.iter().map(|s| s.to_string()).collect(),
            queue_packets: 65_536,
            user: None,
        }
    }
}

pub const DEFAULT_HOME_NET: [&str; 4] =
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSection {
    pub interface: Option<String>,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub buffer_mib: i32,
    /// Hand every packet over at once (one wake-up each, costly); off, the kernel fills
    /// blocks and hands them over when full or `timeout_ms` after their first packet.
    pub immediate: bool,
    /// Milliseconds a packet may wait in the kernel's buffer before the capture is woken
    /// (with `immediate = false`): the latency batching adds.
    pub timeout_ms: i32,
    pub promisc: bool,
    /// Live clock tick (milliseconds, 10..=1000, at least `timeout_ms`): however quiet the
    /// link, the capture and every worker wake this often; flows expire, `stats` records
    /// and host-stage intervals come due, pending events reach the output thread and the
    /// drop counters in /metrics are refreshed.
    pub tick_ms: u64,
}

impl Default for CaptureSection {
    fn default() -> Self {
        CaptureSection {
            interface: None,
            bpf: None,
            snaplen: 65_535,
            buffer_mib: 64,
            immediate: false,
            timeout_ms: 100,
            promisc: true,
            tick_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSection {
    /// Hard cap on flows across all workers.
    pub max_flows: usize,
    pub tcp_new_timeout_s: u64,
    pub tcp_established_timeout_s: u64,
    pub tcp_closed_timeout_s: u64,
    pub udp_timeout_s: u64,
    pub other_timeout_s: u64,
    pub active_timeout_s: u64,
}

impl Default for FlowSection {
    fn default() -> Self {
        let d = FlowConfig::default();
        const S: u64 = 1_000_000_000;
        FlowSection {
            max_flows: d.max_flows,
            tcp_new_timeout_s: d.tcp_new_ns / S,
            tcp_established_timeout_s: d.tcp_established_ns / S,
            tcp_closed_timeout_s: d.tcp_closed_ns / S,
            udp_timeout_s: d.udp_ns / S,
            other_timeout_s: d.other_ns / S,
            active_timeout_s: d.active_ns / S,
        }
    }
}

impl FlowSection {
    pub fn flow_config(&self, workers: usize) -> FlowConfig {
        const S: u64 = 1_000_000_000;
        FlowConfig {
            max_flows: (self.max_flows / workers.max(1)).max(16),
            tcp_new_ns: self.tcp_new_timeout_s * S,
            tcp_established_ns: self.tcp_established_timeout_s * S,
            tcp_closed_ns: self.tcp_closed_timeout_s * S,
            udp_ns: self.udp_timeout_s * S,
            other_ns: self.other_timeout_s * S,
            active_ns: self.active_timeout_s * S,
            sweep_ns: S,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// EVE JSON lines: a path, or "-" for standard output.
    pub eve: Option<String>,
    /// Final metrics in Prometheus text format (replay), node_exporter textfile convention.
    pub metrics_file: Option<PathBuf>,
    /// Seconds of packet time between `stats` records.
    pub stats_interval_s: u64,
    /// Seconds during which the same alert (signature, client, server) is not repeated.
    pub alert_suppress_s: u64,
    /// Log format: "text" or "json".
    pub log_format: String,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            eve: None,
            metrics_file: None,
            stats_interval_s: 60,
            alert_suppress_s: 3600,
            log_format: "text".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address of /metrics and /healthz (live mode).
    pub listen: String,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:9617".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RulesSection {
    /// Folder of rule files; the catalogue built into the binary when unset.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectSection {
    /// Packets with payload a flow is inspected for before identification gives up.
    pub max_inspect_packets: u16,
    /// Bytes per direction kept for stream reassembly while identifying.
    pub max_inspect_bytes: usize,
    /// Remote-access alerts for SSH: "inbound" (from outside the home networks), "all", "none".
    pub ssh_alert: String,
    pub dns_tunnel: crate::host::dns_tunnel::DnsTunnelConfig,
    /// Beacons and long connections (host stage).
    pub beacon: crate::host::beacon::BeaconConfig,
    /// DNS over TLS/HTTPS/QUIC to public resolvers (recorded, counted; alert on demand).
    pub resolver_bypass: crate::host::resolver::ResolverBypassConfig,
}

impl Default for DetectSection {
    fn default() -> Self {
        DetectSection {
            max_inspect_packets: 24,
            max_inspect_bytes: 16 * 1024,
            ssh_alert: "inbound".into(),
            dns_tunnel: Default::default(),
            beacon: Default::default(),
            resolver_bypass: Default::default(),
        }
    }
}

impl Config {
    /// Read a config file. Errors name the file and, for TOML errors, the line and key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().to_string();
            match line {
                Some(l) => ConfigError(format!("{name}:{l}: {msg}")),
                None => ConfigError(format!("{name}: {msg}")),
            }
        })?;
        cfg.validate()
            .map_err(|m| ConfigError(format!("{name}: {m}")))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.sensor.workers == 0 || self.sensor.workers > 64 {
            return Err(format!(
                "sensor.workers must be 1..=64, not {}",
                self.sensor.workers
            ));
        }
        HomeNet::parse(&self.sensor.home_net).map_err(|e| format!("sensor.home_net: {e}"))?;
        if self.flow.max_flows < 16 {
            return Err("flow.max_flows must be at least 16".into());
        }
        if !matches!(self.output.log_format.as_str(), "text" | "json") {
            return Err(format!(
                "output.log_format must be \"text\" or \"json\", not {:?}",
                self.output.log_format
            ));
        }
        if !matches!(self.detect.ssh_alert.as_str(), "inbound" | "all" | "none") {
            return Err(format!(
                "detect.ssh_alert must be \"inbound\", \"all\" or \"none\", not {:?}",
                self.detect.ssh_alert
            ));
        }
        if !(10..=1000).contains(&self.capture.tick_ms)
            || (self.capture.tick_ms as i64) < self.capture.timeout_ms as i64
        {
            return Err(format!(
                "capture.tick_ms must be 10..=1000 and at least capture.timeout_ms ({}), not {}",
                self.capture.timeout_ms, self.capture.tick_ms
            ));
        }
        if self.output.stats_interval_s == 0 {
            return Err("output.stats_interval_s must be at least 1".into());
        }
        self.host.validate()?;
        self.detect.beacon.validate()?;
        self.alertmanager.validate()?;
        Ok(())
    }

    pub fn home_net(&self) -> HomeNet {
        HomeNet::parse(&self.sensor.home_net).unwrap_or_default()
    }
}

/// The internal networks, for telling inbound from outbound.
#[derive(Debug, Clone, Default)]
pub struct HomeNet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl HomeNet {
    pub fn parse<S: AsRef<str>>(cidrs: &[S]) -> Result<HomeNet, String> {
        let mut h = HomeNet::default();
        for c in cidrs {
            let c = c.as_ref().trim();
            if c.is_empty() {
                continue;
            }
            let (a, l) = c.split_once('/').unwrap_or((c, ""));
            let addr: IpAddr = a
                .parse()
                .map_err(|_| format!("{c:?} is not an address or CIDR"))?;
            match addr {
                IpAddr::V4(v4) => {
                    let len: u32 = if l.is_empty() {
                        32
                    } else {
                        l.parse().map_err(|_| format!("{c:?}: bad prefix length"))?
                    };
                    if len > 32 {
                        return Err(format!("{c:?}: prefix length over 32"));
                    }
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    h.v4.push((u32::from(v4) & mask, mask));
                }
                IpAddr::V6(v6) => {
                    let len: u32 = if l.is_empty() {
                        128
                    } else {
                        l.parse().map_err(|_| format!("{c:?}: bad prefix length"))?
                    };
                    if len > 128 {
                        return Err(format!("{c:?}: prefix length over 128"));
                    }
                    let mask = if len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - len)
                    };
                    h.v6.push((u128::from(v6) & mask, mask));
                }
            }
        }
        Ok(h)
    }

    pub fn contains(&self, v6: bool, a: &[u8; 16]) -> bool {
        if v6 {
            let x = u128::from_be_bytes(*a);
            self.v6.iter().any(|(n, m)| x & m == *n)
        } else {
            let x = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
            self.v4.iter().any(|(n, m)| x & m == *n)
        }
    }

    /// Direction of a client → server flow relative to the home networks.
    pub fn direction(&self, v6: bool, client: &[u8; 16], server: &[u8; 16]) -> &'static str {
        match (self.contains(v6, client), self.contains(v6, server)) {
            (true, true) => "internal",
            (false, true) => "inbound",
            (true, false) => "outbound",
            (false, false) => "external",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named_with_file_and_line() {
        let e = Config::parse("[sensor]\nworkers = 2\nwrokers = 3\n", "x.toml").unwrap_err();
        assert!(e.0.starts_with("x.toml:3:"), "{e}");
        assert!(e.0.contains("wrokers"), "{e}");
    }

    #[test]
    fn bad_value_is_named() {
        let e = Config::parse("[sensor]\nhome_net = [\"10.0.0.0/33\"]\n", "y.toml").unwrap_err();
        assert!(
            e.0.contains("y.toml") && e.0.contains("prefix length"),
            "{e}"
        );
    }

    #[test]
    fn tick_ms_is_range_checked() {
        assert_eq!(Config::default().capture.tick_ms, 250);
        assert!(!Config::default().capture.immediate);
        for bad in [
            "tick_ms = 5",
            "tick_ms = 1001",
            "timeout_ms = 300\ntick_ms = 200",
        ] {
            let e = Config::parse(&format!("[capture]\n{bad}\n"), "t.toml").unwrap_err();
            assert!(
                e.0.contains("capture.tick_ms must be 10..=1000"),
                "{bad}: {e}"
            );
        }
        let c = Config::parse("[capture]\ntick_ms = 100\ntimeout_ms = 100\n", "t.toml").unwrap();
        assert_eq!(c.capture.tick_ms, 100);
    }

    #[test]
    fn home_net_direction() {
        let h = HomeNet::parse(&DEFAULT_HOME_NET).unwrap();
        let a = |x: [u8; 4]| {
            let mut v = [0u8; 16];
            v[..4].copy_from_slice(&x);
            v
        };
        assert_eq!(
            h.direction(false, &a([8, 8, 8, 8]), &a([10, 1, 1, 1])),
            "inbound"
        );
        assert_eq!(
            h.direction(false, &a([192, 168, 1, 1]), &a([1, 1, 1, 1])),
            "outbound"
        );
        let mut ula = [0u8; 16];
        ula[0] = 0xfd;
        assert!(h.contains(true, &ula));
    }
}
