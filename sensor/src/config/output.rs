//! `[output]`: EVE, metrics file, stats and alert suppression, log format, and the Redis
//! and syslog sinks.

use super::check;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    pub(super) fn validate_sinks(&self) -> Result<(), String> {
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
