//! `[alertmanager]` in the configuration file, its checks, and the [`Settings`] the sink
//! runs with (one [`Endpoint`] per Alertmanager).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[alertmanager]` in the configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    /// Alertmanager base URLs (`http://host:9093`, with any `--web.route-prefix` path).
    /// Empty: no alerts are pushed. Several: each gets every alert (an Alertmanager cluster).
    pub urls: Vec<String>,
    /// Seconds one POST (connect, send, answer) may take.
    pub timeout_s: u64,
    /// Seconds between re-sends of a firing alert.
    pub resend_interval_s: u64,
    /// Seconds after which an alert not bound to one flow (host stage) resolves when it is
    /// not raised again.
    pub resolve_timeout_s: u64,
    /// Alerts and flow-end notices waiting between the output thread and the sink.
    pub queue_size: usize,
    /// Alerts the sink keeps firing at most; the oldest is let go (counted as dropped).
    pub max_active_alerts: usize,
    /// Retries of a failed POST (connection error, timeout, 5xx) before it is given up.
    pub max_retries: u32,
    /// Longest wait between retries; waits start at 0.5 s and double, with jitter.
    pub retry_backoff_max_s: u64,
    /// Labels added to every alert (e.g. `site = "dc1"`).
    pub labels: BTreeMap<String, String>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            urls: Vec::new(),
            timeout_s: 10,
            resend_interval_s: 60,
            resolve_timeout_s: 300,
            queue_size: 16384,
            max_active_alerts: 10_000,
            max_retries: 5,
            retry_backoff_max_s: 30,
            labels: BTreeMap::new(),
        }
    }
}

/// The label names the sink sets itself; `labels` may not reuse them.
pub const OWN_LABELS: [&str; 14] = [
    "alertname",
    "category",
    "severity",
    "sensor",
    "signature_id",
    "src_ip",
    "dest_ip",
    "dest_port",
    "proto",
    "direction",
    "app",
    "app_proto",
    "target",
    "domain",
];

impl AlertmanagerConfig {
    pub fn enabled(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Errors name the key (`alertmanager.urls[1]: …`).
    pub fn validate(&self) -> Result<(), String> {
        for (i, u) in self.urls.iter().enumerate() {
            Endpoint::parse(u).map_err(|e| format!("alertmanager.urls[{i}]: {e}"))?;
        }
        use crate::model::ranges::check;
        check("alertmanager.timeout_s", self.timeout_s)?;
        check("alertmanager.resend_interval_s", self.resend_interval_s)?;
        check("alertmanager.resolve_timeout_s", self.resolve_timeout_s)?;
        check("alertmanager.queue_size", self.queue_size)?;
        check("alertmanager.max_active_alerts", self.max_active_alerts)?;
        check("alertmanager.max_retries", self.max_retries)?;
        check("alertmanager.retry_backoff_max_s", self.retry_backoff_max_s)?;
        for (k, v) in &self.labels {
            let ok =
                k.chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                }) && !k.is_empty()
                    && !k.starts_with("__");
            if !ok {
                return Err(format!(
                    "alertmanager.labels: {k:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                ));
            }
            if OWN_LABELS.contains(&k.as_str()) {
                return Err(format!(
                    "alertmanager.labels: {k:?} is set by spanwatch itself"
                ));
            }
            if v.is_empty() {
                return Err(format!("alertmanager.labels.{k}: empty value"));
            }
        }
        Ok(())
    }
}

/// One Alertmanager: where to connect and what to ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `host:port` for the connection and the Host header.
    pub authority: String,
    /// `/prefix/api/v2/alerts`.
    pub path: String,
    /// The URL as configured (for logs).
    pub url: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url:?}: https is not supported; use http:// to an Alertmanager on a trusted network or a local TLS proxy"
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        let (auth, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if auth.is_empty() || auth.contains('@') || path.contains(['?', '#']) {
            return Err(format!(
                "{url:?}: expected http://host:port[/path] (no user, query or fragment)"
            ));
        }
        // host:port, [v6]:port, or a host alone (port 80).
        let has_port = match auth.rfind(':') {
            Some(i) => !auth[i..].contains(']'),
            None => false,
        };
        let authority = if has_port {
            let (h, p) = auth.rsplit_once(':').unwrap_or((auth, ""));
            if h.is_empty() || p.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(format!("{url:?}: bad host or port"));
            }
            auth.to_string()
        } else {
            format!("{auth}:80")
        };
        let prefix = path.trim_end_matches('/');
        Ok(Endpoint {
            authority,
            path: format!("{prefix}/api/v2/alerts"),
            url: url.to_string(),
        })
    }
}

/// What the sink runs with (durations rather than the file's seconds, so tests can be quick).
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoints: Vec<Endpoint>,
    pub timeout: Duration,
    pub resend: Duration,
    pub resolve_timeout: Duration,
    /// A flow-bound alert that hears nothing of its flows for this long resolves anyway (a
    /// lost flow-end notice must not keep it firing for ever). Long flows write a record
    /// every active timeout, which counts as hearing of them.
    pub stale_after: Duration,
    pub queue_size: usize,
    pub max_active: usize,
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub sensor: String,
    pub labels: BTreeMap<String, String>,
}

impl Settings {
    /// From the config file's section; `active_timeout_s` is `flow.active_timeout_s`.
    pub fn from_config(
        c: &AlertmanagerConfig,
        sensor: String,
        active_timeout_s: u64,
    ) -> Result<Settings, String> {
        c.validate()?;
        let endpoints = c
            .urls
            .iter()
            .map(|u| Endpoint::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Settings {
            endpoints,
            timeout: Duration::from_secs(c.timeout_s),
            resend: Duration::from_secs(c.resend_interval_s),
            resolve_timeout: Duration::from_secs(c.resolve_timeout_s),
            stale_after: Duration::from_secs(
                active_timeout_s.saturating_mul(2) + c.resolve_timeout_s,
            ),
            queue_size: c.queue_size,
            max_active: c.max_active_alerts,
            max_retries: c.max_retries,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(c.retry_backoff_max_s),
            sensor,
            labels: c.labels.clone(),
        })
    }
}
