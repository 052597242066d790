//! Configuration: a TOML file (unknown keys rejected, with the key and the file named),
//! then command-line flags on top.

use crate::flow::FlowConfig;
pub use crate::model::net::HomeNet;
pub use crate::model::ranges::{check, range, ConfigNum, Range, RANGES};
use serde::{Deserialize, Serialize};

use std::path::{Path, PathBuf};

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
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Deserialize, Serialize)]
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

impl CaptureSection {
    /// libpcap's options for `interface` (the values are range-checked by
    /// [`Config::validate`], so the buffer size in bytes fits libpcap's `int`).
    pub fn live_options(&self, interface: String) -> crate::capture::live::LiveOptions {
        crate::capture::live::LiveOptions {
            interface,
            bpf: self.bpf.clone(),
            snaplen: self.snaplen,
            buffer_size: self.buffer_mib.saturating_mul(1 << 20),
            immediate: self.immediate,
            timeout_ms: self.timeout_ms,
            promisc: self.promisc,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// EVE to Redis (off unless `server` is set).
    pub redis: RedisSection,
    /// EVE to syslog (off unless `target` is set).
    pub syslog: SyslogSection,
}

/// `[output.redis]`: the EVE records to Redis, in Suricata's modes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSection {
    /// `host:port`; unset: no Redis output.
    pub server: Option<String>,
    /// "list" (RPUSH or LPUSH), "channel" (PUBLISH) or "stream" (XADD).
    pub mode: String,
    /// The list, channel or stream.
    pub key: String,
    /// List mode: "rpush" (oldest first, as Logstash's `batch` reads) or "lpush".
    pub push: String,
    /// Stream mode: `XADD … MAXLEN ~ n`; 0: the stream is not trimmed.
    pub stream_maxlen: u64,
    /// Records held while Redis is slow or down; when full, new records are dropped.
    pub queue_size: usize,
    /// File with the password (`AUTH`), or `user:password` for an ACL user.
    pub password_file: Option<PathBuf>,
}

impl Default for RedisSection {
    fn default() -> Self {
        RedisSection {
            server: None,
            mode: "list".into(),
            key: "spanwatch".into(),
            push: "rpush".into(),
            stream_maxlen: 100_000,
            queue_size: 10_000,
            password_file: None,
        }
    }
}

/// `[output.syslog]`: the EVE records as RFC 5424 syslog messages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogSection {
    /// "unix:/dev/log", "udp:HOST:PORT" or "tcp:HOST:PORT"; unset: no syslog output.
    pub target: Option<String>,
    /// Facility name: kern, user, daemon, … local0 to local7.
    pub facility: String,
    /// APP-NAME of the messages (Suricata's `identity`).
    pub identity: String,
    /// Records held while the syslog server is slow or down; when full, new ones are dropped.
    pub queue_size: usize,
}

impl Default for SyslogSection {
    fn default() -> Self {
        SyslogSection {
            target: None,
            facility: "local5".into(),
            identity: "spanwatch".into(),
            queue_size: 10_000,
        }
    }
}

impl OutputSection {
    fn validate_sinks(&self) -> Result<(), String> {
        let r = &self.redis;
        check("output.redis.stream_maxlen", r.stream_maxlen)?;
        check("output.redis.queue_size", r.queue_size)?;
        if let Some(s) = &r.server {
            crate::output::sink::check_host_port("output.redis.server", s)?;
        }
        if !matches!(r.mode.as_str(), "list" | "channel" | "stream") {
            return Err(format!(
                "output.redis.mode must be \"list\", \"channel\" or \"stream\", not {:?}",
                r.mode
            ));
        }
        if !matches!(r.push.as_str(), "rpush" | "lpush") {
            return Err(format!(
                "output.redis.push must be \"rpush\" or \"lpush\", not {:?}",
                r.push
            ));
        }
        if r.key.is_empty() {
            return Err("output.redis.key must not be empty".into());
        }
        let y = &self.syslog;
        check("output.syslog.queue_size", y.queue_size)?;
        if let Some(t) = &y.target {
            crate::output::sink::syslog::Target::parse("output.syslog.target", t)?;
        }
        crate::output::sink::syslog::facility("output.syslog.facility", &y.facility)?;
        Ok(())
    }

    /// The Redis sink's settings (the password read from its file), when configured.
    pub fn redis_settings(&self) -> Result<Option<crate::output::sink::redis::Settings>, String> {
        use crate::output::sink::redis::{Mode, Settings};
        let r = &self.redis;
        let Some(server) = &r.server else {
            return Ok(None);
        };
        let password = match &r.password_file {
            None => None,
            Some(p) => {
                let t = std::fs::read_to_string(p).map_err(|e| {
                    format!(
                        "output.redis.password_file: cannot read {}: {e}",
                        p.display()
                    )
                })?;
                let t = t.trim_end_matches(['\n', '\r']);
                Some(match t.split_once(':') {
                    Some((u, pw)) if !u.is_empty() => (Some(u.to_string()), pw.to_string()),
                    _ => (None, t.to_string()),
                })
            }
        };
        let mode = match r.mode.as_str() {
            "channel" => Mode::Channel,
            "stream" => Mode::Stream,
            _ => Mode::List {
                lpush: r.push == "lpush",
            },
        };
        Ok(Some(Settings {
            server: server.clone(),
            mode,
            key: r.key.clone(),
            stream_maxlen: r.stream_maxlen,
            password,
        }))
    }
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            eve: None,
            metrics_file: None,
            stats_interval_s: 60,
            alert_suppress_s: 3600,
            log_format: "text".into(),
            redis: RedisSection::default(),
            syslog: SyslogSection::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address of /metrics and /healthz (live mode).
    pub listen: String,
    /// Connections open at once (1..=65536). At the cap a new connection closes the one idle
    /// the longest; when every connection is in a request, the new one is closed at once.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers, TLS handshake included (1..=300).
    pub header_read_timeout_s: u64,
    /// Seconds a connection may stay open without a new request (1..=86400).
    pub idle_timeout_s: u64,
    /// TLS and basic authentication: a web configuration file in the format of Prometheus's
    /// exporter-toolkit (node_exporter's `--web.config.file`). Unset: plain HTTP, no auth.
    pub web_config_file: Option<PathBuf>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:9617".into(),
            max_connections: 128,
            header_read_timeout_s: 10,
            idle_timeout_s: 60,
            web_config_file: None,
        }
    }
}

impl HttpSection {
    pub fn validate(&self) -> Result<(), String> {
        check("http.max_connections", self.max_connections)?;
        check("http.header_read_timeout_s", self.header_read_timeout_s)?;
        check("http.idle_timeout_s", self.idle_timeout_s)?;
        if self
            .web_config_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(
                "http.web_config_file must not be empty (leave it out for no TLS/auth)".into(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RulesSection {
    /// Folder of rule files; the catalogue built into the binary when unset.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

/// The dotted key whose value starts at byte `at` of a TOML text, found from the nearest
/// `[table]` header and `key =` before it (for deserialization errors, which name only
/// the line).
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at.min(text.len()))?;
    let mut key = None;
    for line in before.lines().rev() {
        let l = line.trim();
        if l.starts_with('[') {
            let table = l.trim_matches(|c| c == '[' || c == ']').trim();
            return key.map(|k| format!("{table}.{k}"));
        }
        if key.is_none() && !l.starts_with('#') {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim().trim_matches('"');
                if !k.is_empty() {
                    key = Some(k.to_string());
                }
            }
        }
    }
    key
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
            let mut msg = e.message().trim_end().to_string();
            // Type errors (a negative number, a float for an integer, a string) name the
            // key and its range as well.
            if let Some(k) = e.span().and_then(|s| key_at(text, s.start)) {
                if !msg.contains(&k) {
                    msg = format!("{k}: {msg}");
                }
                if let Some(r) = range(&k) {
                    msg = format!("{msg} (allowed: {})", r.describe());
                }
            }
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
        let s = &self.sensor;
        check("sensor.workers", s.workers)?;
        check("sensor.queue_packets", s.queue_packets)?;
        HomeNet::parse(&s.home_net).map_err(|e| format!("sensor.home_net: {e}"))?;
        if let Some(u) = &s.user {
            if u.is_empty() || u.contains('\0') {
                return Err(format!("sensor.user: {u:?} is not a user name"));
            }
        }
        let c = &self.capture;
        check("capture.snaplen", c.snaplen)?;
        check("capture.buffer_mib", c.buffer_mib)?;
        check("capture.timeout_ms", c.timeout_ms)?;
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
        check("capture.tick_ms", self.capture.tick_ms)?;
        if (self.capture.tick_ms as i64) < self.capture.timeout_ms as i64 {
            return Err(format!(
                "capture.tick_ms = {} must be at least capture.timeout_ms ({})",
                self.capture.tick_ms, self.capture.timeout_ms
            ));
        }
        self.host.validate()?;
        d.beacon.validate()?;
        self.alertmanager.validate()?;
        Ok(())
    }

    /// Keys whose value in `new` differs from this (running) configuration and that a
    /// reload does not apply: everything but `rules.dir` is read once at start (workers,
    /// queues, home networks, the capture, the HTTP listener, thresholds, the sink …).
    /// Dotted keys, sorted: `["capture.snaplen", "sensor.workers"]`.
    pub fn restart_keys(&self, new: &Config) -> Vec<String> {
        const RELOADED: &[&str] = &["rules.dir"];
        fn walk(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
            use serde_json::Value::Object;
            match (a, b) {
                (Object(x), Object(y)) => {
                    let keys: std::collections::BTreeSet<&String> =
                        x.keys().chain(y.keys()).collect();
                    for k in keys {
                        let p = if at.is_empty() {
                            k.clone()
                        } else {
                            format!("{at}.{k}")
                        };
                        let null = serde_json::Value::Null;
                        walk(
                            x.get(k).unwrap_or(&null),
                            y.get(k).unwrap_or(&null),
                            &p,
                            out,
                        );
                    }
                }
                _ if a != b => out.push(at.to_string()),
                _ => {}
            }
        }
        let (Ok(a), Ok(b)) = (serde_json::to_value(self), serde_json::to_value(new)) else {
            return vec!["(configuration)".into()];
        };
        let mut out = Vec::new();
        walk(&a, &b, "", &mut out);
        out.retain(|k| !RELOADED.contains(&k.as_str()));
        out
    }

    pub fn home_net(&self) -> HomeNet {
        HomeNet::parse(&self.sensor.home_net).unwrap_or_default()
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

    /// `[a.b]\nkey = v` for the dotted key `a.b.key`.
    pub(crate) fn toml_for(key: &str, v: &str) -> String {
        let (table, k) = key.rsplit_once('.').unwrap();
        format!("[{table}]\n{k} = {v}\n")
    }

    #[test]
    fn defaults_are_in_range_and_every_range_is_checked() {
        Config::default().validate().unwrap();
        for r in RANGES {
            // every key of the table is read by validate(): one past each end is refused
            let mut bad = vec![format!("{}", r.max * 2.0 + 1.0)];
            if r.min > 0.0 {
                bad.push(format!("{}", r.min / 2.0 - 0.01));
            }
            bad.push("nan".into());
            for v in bad {
                let e = Config::parse(&toml_for(r.key, &v), "t.toml").unwrap_err();
                assert!(e.0.contains(r.key), "{} = {v}: {e}", r.key);
                assert!(e.0.contains(&r.describe()), "{} = {v}: {e}", r.key);
            }
            // both ends are accepted (the beacon weights must also sum to 1; the tick may not be
            // shorter than the capture timeout)
            for v in [r.min, r.max] {
                let text = toml_for(r.key, &format!("{v}"));
                match Config::parse(&text, "t.toml") {
                    Ok(_) => {}
                    Err(e) => assert!(
                        (r.key.ends_with("_weight") && e.0.contains("sum to 1"))
                            || (matches!(r.key, "capture.tick_ms" | "capture.timeout_ms")
                                && e.0.contains("at least capture.timeout_ms")),
                        "{text}: {e}"
                    ),
                }
            }
        }
    }

    #[test]
    fn every_numeric_key_has_a_range() {
        // a key added later without a range fails here
        fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(o) => {
                    for (k, v) in o {
                        let p = if at.is_empty() {
                            k.clone()
                        } else {
                            format!("{at}.{k}")
                        };
                        walk(v, &p, out);
                    }
                }
                serde_json::Value::Number(_) => out.push(at.to_string()),
                _ => {}
            }
        }
        let mut keys = Vec::new();
        walk(
            &serde_json::to_value(Config::default()).unwrap(),
            "",
            &mut keys,
        );
        for k in &keys {
            assert!(range(k).is_some(), "{k} has no entry in RANGES");
        }
        for r in RANGES {
            assert!(
                keys.iter().any(|k| k == r.key),
                "RANGES names {}, which is not a key",
                r.key
            );
        }
    }

    #[test]
    fn issue_cases_are_refused_with_the_key() {
        for (text, key) in [
            (
                "[sensor]\nqueue_packets = 1099511627776\n",
                "sensor.queue_packets",
            ),
            ("[sensor]\nqueue_packets = -1\n", "sensor.queue_packets"),
            (
                "[alertmanager]\nqueue_size = 4611686018427387904\n",
                "alertmanager.queue_size",
            ),
            (
                "[alertmanager]\ntimeout_s = 9223372036854775807\n",
                "alertmanager.timeout_s",
            ),
            ("[capture]\ntimeout_ms = -5\n", "capture.timeout_ms"),
            ("[capture]\nbuffer_mib = 2147483647\n", "capture.buffer_mib"),
            ("[sensor]\nhome_net = [\"10.0.0.0/\"]\n", "sensor.home_net"),
            (
                "[sensor]\nhome_net = [\"10.0.0.0/+8\"]\n",
                "sensor.home_net",
            ),
            (
                "[detect.beacon]\nmin_score = nan\n",
                "detect.beacon.min_score",
            ),
            ("sensor.workers = \"two\"\n", "sensor.workers"),
            (
                "[detect.dns_tunnel]\nwindow_s = 1.5\n",
                "detect.dns_tunnel.window_s",
            ),
        ] {
            let e = Config::parse(text, "c.toml").unwrap_err();
            assert!(
                e.0.starts_with("c.toml") && e.0.contains(key),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn restart_keys_name_what_a_reload_does_not_apply() {
        let old = Config::default();
        let same = Config::parse("[rules]\ndir = \"/tmp/r\"\n", "n").unwrap();
        assert!(old.restart_keys(&same).is_empty(), "rules.dir reloads");
        let new = Config::parse(
            "[sensor]\nworkers = 4\nhome_net = [\"10.0.0.0/8\"]\n[capture]\nsnaplen = 1500\n\
             [http]\nlisten = \"127.0.0.1:9700\"\n[detect.beacon]\nmin_score = 0.9\n\
             [host.egress]\ndeviations = 4.0\n[alertmanager]\nlabels = { site = \"dc1\" }\n",
            "n",
        )
        .unwrap();
        assert_eq!(
            old.restart_keys(&new),
            [
                "alertmanager.labels.site",
                "capture.snaplen",
                "detect.beacon.min_score",
                "host.egress.deviations",
                "http.listen",
                "sensor.home_net",
                "sensor.workers",
            ]
        );
        assert!(new.restart_keys(&new.clone()).is_empty());
    }

    /// The README's table of ranges, as [`RANGES`] makes it.
    fn ranges_markdown() -> String {
        let mut t = String::from("| key | allowed values |\n| --- | --- |\n");
        for r in RANGES {
            t.push_str(&format!("| `{}` | {} |\n", r.key, r.describe()));
        }
        t
    }

    #[test]
    fn readme_and_example_config_state_the_ranges() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let want = ranges_markdown();
        assert!(
            readme.contains(&want),
            "README.md's table of configuration ranges differs from config::RANGES; it should read:\n{want}"
        );
        // every number the example configuration sets (or shows commented out) carries its
        // range in a comment on the same line
        let example = std::fs::read_to_string(root.join("deploy/spanwatch.toml")).unwrap();
        let mut table = String::new();
        let mut seen = 0;
        for line in example.lines() {
            let l = line.trim_start_matches(['#', ' ']);
            if l.starts_with('[') {
                table = l.trim_matches(|c| c == '[' || c == ']').to_string();
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            let Some(r) = range(&format!("{table}.{k}")) else {
                continue;
            };
            seen += 1;
            let value = v.split('#').next().unwrap().trim();
            let n: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("{line}: not a number"));
            assert!(n >= r.min && n <= r.max, "{line}: outside {}", r.describe());
            assert!(
                line.contains(&format!("# {}", r.describe())),
                "deploy/spanwatch.toml: `{line}` should end with `# {}`",
                r.describe()
            );
        }
        assert!(
            seen >= 20,
            "only {seen} numeric keys found in deploy/spanwatch.toml"
        );
    }

    #[test]
    fn bad_sink_configuration_names_the_key() {
        for (text, key) in [
            ("[output.redis]\nmode = \"queue\"\n", "output.redis.mode"),
            ("[output.redis]\npush = \"push\"\n", "output.redis.push"),
            (
                "[output.redis]\nserver = \"127.0.0.1\"\n",
                "output.redis.server",
            ),
            ("[output.redis]\nkey = \"\"\n", "output.redis.key"),
            (
                "[output.syslog]\ntarget = \"10.0.0.1:514\"\n",
                "output.syslog.target",
            ),
            (
                "[output.syslog]\nfacility = \"local8\"\n",
                "output.syslog.facility",
            ),
            (
                "[output.syslog]\nqueue_size = 0\n",
                "output.syslog.queue_size",
            ),
        ] {
            let e = Config::parse(text, "s.toml").unwrap_err();
            assert!(e.0.contains(key), "{text}: {e}");
        }
        let c = Config::parse(
            "[output.redis]\nserver = \"127.0.0.1:6379\"\nmode = \"stream\"\n\
             [output.syslog]\ntarget = \"unix:/dev/log\"\n",
            "s.toml",
        )
        .unwrap();
        let r = c.output.redis_settings().unwrap().unwrap();
        assert_eq!(r.mode, crate::output::sink::redis::Mode::Stream);
        assert_eq!(r.stream_maxlen, 100_000);
    }

    #[test]
    fn http_limits_are_range_checked() {
        for (text, key) in [
            (
                "[http]\nmax_connections = 0\n",
                "http.max_connections = 0 is out of range (allowed: 1 to 65536 connections)",
            ),
            (
                "[http]\nmax_connections = 1000000\n",
                "http.max_connections",
            ),
            (
                "[http]\nheader_read_timeout_s = 0\n",
                "http.header_read_timeout_s = 0 is out of range (allowed: 1 to 300 s)",
            ),
            (
                "[http]\nidle_timeout_s = 100000\n",
                "http.idle_timeout_s = 100000 is out of range (allowed: 1 to 86400 s)",
            ),
            ("[http]\nweb_config_file = \"\"\n", "http.web_config_file"),
        ] {
            let e = Config::parse(text, "h.toml").unwrap_err();
            assert!(
                e.0.starts_with("h.toml: ") && e.0.contains(key),
                "{text}: {e}"
            );
        }
        let e = Config::parse("[http]\nmax_connections = -1\n", "h.toml").unwrap_err();
        assert!(e.0.contains("h.toml:2"), "{e}");
        let c = Config::parse(
            "[http]\nmax_connections = 64\nweb_config_file = \"web.yml\"\n",
            "h.toml",
        )
        .unwrap();
        assert_eq!(c.http.max_connections, 64);
        assert_eq!(c.http.idle_timeout_s, 60);
    }

    #[test]
    fn tick_ms_is_range_checked() {
        assert_eq!(Config::default().capture.tick_ms, 250);
        assert!(!Config::default().capture.immediate);
        for (bad, msg) in [
            (
                "tick_ms = 5",
                "capture.tick_ms = 5 is out of range (allowed: 10 to 1000 ms)",
            ),
            (
                "tick_ms = 1001",
                "capture.tick_ms = 1001 is out of range (allowed: 10 to 1000 ms)",
            ),
            (
                "timeout_ms = 300\ntick_ms = 200",
                "capture.tick_ms = 200 must be at least capture.timeout_ms (300)",
            ),
        ] {
            let e = Config::parse(&format!("[capture]\n{bad}\n"), "t.toml").unwrap_err();
            assert!(e.0.contains(msg), "{bad}: {e}");
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
