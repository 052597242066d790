//! Configuration: a TOML file (unknown keys rejected, with the key and the file named),
//! then command-line flags on top.
//!
//! The parts: `sections` (`[sensor]`, `[capture]`, `[flow]`, `[http]`, `[rules]`,
//! `[detect]`), `output` (`[output]` and its Redis and syslog sinks), `load` (reading a
//! file, errors naming the file, line, key and allowed range), `reload` (which changed keys
//! need a restart). The sections of the other stages (`[host]`, `[alertmanager]`,
//! `[detect.beacon]` …) are defined beside the code they configure and assembled here.

mod load;
mod output;
mod reload;
mod sections;
#[cfg(test)]
mod tests;

pub use crate::model::net::HomeNet;
pub use crate::model::ranges::{check, range, ConfigNum, Range, RANGES};
pub use output::{OutputSection, RedisSection, SyslogSection};
pub use sections::{
    CaptureSection, DetectSection, FlowSection, HttpSection, RulesSection, SensorSection,
    DEFAULT_HOME_NET,
};
use serde::{Deserialize, Serialize};

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
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
    /// Account names pseudonymized (`pseudonymize_accounts`, `key_file`).
    pub privacy: crate::host::privacy::PrivacyConfig,
    /// Packet evidence: a pcap file per alerting flow (off unless `enabled`).
    pub evidence: crate::output::evidence::EvidenceConfig,
}

impl Config {
    pub fn validate(&self) -> Result<(), String> {
        let s = &self.sensor;
        s.validate_name()?;
        check("sensor.workers", s.workers)?;
        check("sensor.max_workers", s.max_workers)?;
        check("sensor.queue_packets", s.queue_packets)?;
        HomeNet::parse(&s.home_net).map_err(|e| format!("sensor.home_net: {e}"))?;
        crate::host::privacy::Privacy::load(&self.privacy)?;
        if let Some(u) = &s.user {
            if u.is_empty() || u.contains('\0') {
                return Err(format!("sensor.user: {u:?} is not a user name"));
            }
        }
        self.capture.validate()?;
        let f = &self.flow;
        check("flow.max_flows", f.max_flows)?;
        check("flow.tcp_new_timeout_s", f.tcp_new_timeout_s)?;
        check(
            "flow.tcp_established_timeout_s",
            f.tcp_established_timeout_s,
        )?;
        check("flow.tcp_closed_timeout_s", f.tcp_closed_timeout_s)?;
        check("flow.udp_timeout_s", f.udp_timeout_s)?;
        check("flow.other_timeout_s", f.other_timeout_s)?;
        check("flow.active_timeout_s", f.active_timeout_s)?;
        if !matches!(self.output.log_format.as_str(), "text" | "json") {
            return Err(format!(
                "output.log_format must be \"text\" or \"json\", not {:?}",
                self.output.log_format
            ));
        }
        check("output.stats_interval_s", self.output.stats_interval_s)?;
        check("output.alert_suppress_s", self.output.alert_suppress_s)?;
        self.output.validate_sinks()?;
        let d = &self.detect;
        if !matches!(d.ssh_alert.as_str(), "inbound" | "all" | "none") {
            return Err(format!(
                "detect.ssh_alert must be \"inbound\", \"all\" or \"none\", not {:?}",
                d.ssh_alert
            ));
        }
        check("detect.max_inspect_packets", d.max_inspect_packets)?;
        check("detect.max_inspect_bytes", d.max_inspect_bytes)?;
        d.dns_tunnel.validate()?;
        check(
            "detect.resolver_bypass.max_hosts",
            d.resolver_bypass.max_hosts,
        )?;
        self.http.validate()?;
        self.host.validate()?;
        d.beacon.validate()?;
        self.alertmanager.validate()?;
        self.evidence.validate()?;
        Ok(())
    }

    pub fn home_net(&self) -> HomeNet {
        HomeNet::parse(&self.sensor.home_net).unwrap_or_default()
    }
}
