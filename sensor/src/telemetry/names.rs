//! The catalogue: every metric family spanwatch exports, with its type, help text and
//! labels, and each label's bounded set of values. The exposition (`render.rs`) takes names,
//! help and label names from here only; `check` holds a rendered family against its entry
//! (the unit tests render every family through it), and `tests/metrics_catalogue.rs` holds
//! the README's metrics table, `tests/deploy/metrics.txt` and the Grafana dashboard
//! generator against this list.

use prometheus::proto::{MetricFamily, MetricType};

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// The values a label may take.
#[derive(Debug, Clone, Copy)]
pub enum Values {
    /// Exactly these.
    Fixed(&'static [&'static str]),
    /// The names of an enum of the crate (decode layers, encapsulations, end reasons,
    /// application protocols).
    Listed(fn() -> Vec<&'static str>),
    /// Bounded, but not by a list known here: what bounds it.
    Open(&'static str),
}

impl Values {
    /// The allowed values, where they are a list.
    pub fn allowed(&self) -> Option<Vec<&'static str>> {
        match self {
            Values::Fixed(v) => Some(v.to_vec()),
            Values::Listed(f) => Some(f()),
            Values::Open(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Label {
    pub name: &'static str,
    pub values: Values,
}

const fn label(name: &'static str, values: Values) -> Label {
    Label { name, values }
}

/// One metric family.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: &'static [Label],
}

/// The family of this name.
pub fn find(name: &str) -> Option<&'static Metric> {
    CATALOGUE.iter().copied().find(|m| m.name == name)
}

/// Whether a rendered family is what the catalogue says: name, type, help, label names in
/// order, and every label value in its set.
pub fn check(f: &MetricFamily) -> Result<(), String> {
    let name = f.name();
    let m = find(name).ok_or_else(|| format!("{name}: not in the catalogue"))?;
    let kind = match f.get_field_type() {
        MetricType::COUNTER => Kind::Counter,
        MetricType::GAUGE => Kind::Gauge,
        t => return Err(format!("{name}: type {t:?}")),
    };
    if kind != m.kind {
        return Err(format!(
            "{name}: {} in the catalogue, {} rendered",
            m.kind.as_str(),
            kind.as_str()
        ));
    }
    if f.help() != m.help {
        return Err(format!("{name}: help differs from the catalogue"));
    }
    for s in f.get_metric() {
        let names: Vec<&str> = s.get_label().iter().map(|l| l.name()).collect();
        let want: Vec<&str> = m.labels.iter().map(|l| l.name).collect();
        if names != want {
            return Err(format!(
                "{name}: labels {names:?}, the catalogue says {want:?}"
            ));
        }
        for (l, p) in m.labels.iter().zip(s.get_label()) {
            if let Some(ok) = l.values.allowed() {
                if !ok.contains(&p.value()) {
                    return Err(format!(
                        "{name}: {}={:?} is not in {ok:?}",
                        l.name,
                        p.value()
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---- label value sets kept here (the others are the crate's enums and lists named below)

/// `mode` of `spanwatch_build_info`.
pub const MODES: [&str; 2] = ["live", "replay"];
/// Alert categories: the bounded `category` label and EVE `alert.category`.
pub const ALERT_CATEGORIES: [&str; 12] = [
    "remote-access",
    "tunnel",
    "vpn",
    "proxy",
    "beacon",
    "resolver-bypass",
    "exfiltration",
    "collection",
    "calls",
    "fan-in",
    "account",
    "egress",
];
/// `severity` of `spanwatch_alerts_total` (EVE `alert.severity`, 1 to 4).
pub const SEVERITIES: [&str; 4] = ["1", "2", "3", "4"];
/// `event_type` of `spanwatch_eve_records_total`, in the order of `output::eve_file::Kind`.
pub const EVENT_TYPES: [&str; 3] = ["flow", "alert", "stats"];
/// `direction` of `spanwatch_remote_access_sessions_total`: the flow's direction relative
/// to the home networks (`HomeNet::direction`).
pub const REMOTE_ACCESS_DIRECTIONS: [&str; 4] = ["internal", "inbound", "outbound", "external"];
/// Bounded `result` label of `spanwatch_alertmanager_notifications_total`.
pub const ALERTMANAGER_RESULTS: [&str; 4] = ["sent", "failed", "rejected", "dropped"];
/// `result` of the host state file's saves and loads.
pub const STATE_RESULTS: [&str; 2] = ["success", "failure"];
/// `result` of `spanwatch_config_reloads_total`.
pub const RELOAD_RESULTS: [&str; 3] = ["success", "partial", "failure"];

fn decode_layers() -> Vec<&'static str> {
    crate::decode::ErrorLayer::ALL
        .iter()
        .map(|l| l.as_str())
        .collect()
}
fn encaps() -> Vec<&'static str> {
    crate::decode::Encap::NAMES
        .iter()
        .map(|(_, n)| *n)
        .collect()
}
fn end_reasons() -> Vec<&'static str> {
    super::EndReason::ALL.iter().map(|r| r.as_str()).collect()
}
fn app_protos() -> Vec<&'static str> {
    crate::proto::registry::AppProto::ALL
        .iter()
        .map(|a| a.as_str())
        .collect()
}

// ---- the families, in the order of the exposition (packet evidence's in `evidence`)

#[path = "names_evidence.rs"]
pub mod evidence;

pub const BUILD_INFO: Metric = Metric {
    name: "spanwatch_build_info",
    kind: Kind::Gauge,
    help: "Build information; the value is always 1.",
    labels: &[
        label(
            "version",
            Values::Open("the version of the binary (one per build)"),
        ),
        label("mode", Values::Fixed(&MODES)),
    ],
};

pub const START_TIME_SECONDS: Metric = Metric {
    name: "spanwatch_start_time_seconds",
    kind: Kind::Gauge,
    help: "Start time of the sensor since the Unix epoch.",
    labels: &[],
};

pub const PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_packets_total",
    kind: Kind::Counter,
    help: "Packets received from the capture.",
    labels: &[],
};

pub const BYTES_TOTAL: Metric = Metric {
    name: "spanwatch_bytes_total",
    kind: Kind::Counter,
    help: "Bytes received from the capture, as wire length.",
    labels: &[],
};

pub const CAPTURE_KERNEL_DROPPED_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_capture_kernel_dropped_packets_total",
    kind: Kind::Counter,
    help: "Packets the kernel dropped before the capture read them (64-bit running total of libpcap's ps_drop).",
    labels: &[],
};

pub const CAPTURE_INTERFACE_DROPPED_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_capture_interface_dropped_packets_total",
    kind: Kind::Counter,
    help: "Packets the interface or driver dropped (64-bit running total of libpcap's ps_ifdrop).",
    labels: &[],
};

pub const QUEUE_DROPPED_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_queue_dropped_packets_total",
    kind: Kind::Counter,
    help: "Packets dropped because a worker queue was full.",
    labels: &[],
};

// The capture's families by interface and ring, and the AF_PACKET hand-off.
mod capture;
pub use capture::*;

pub const OUTPUT_DROPPED_EVENTS_TOTAL: Metric = Metric {
    name: "spanwatch_output_dropped_events_total",
    kind: Kind::Counter,
    help: "Flow and alert events dropped because the output queue was full.",
    labels: &[],
};

pub const NON_IP_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_non_ip_packets_total",
    kind: Kind::Counter,
    help: "Frames that carry no IP (ARP, LLDP, STP…).",
    labels: &[],
};

pub const IP_FRAGMENTS_TOTAL: Metric = Metric {
    name: "spanwatch_ip_fragments_total",
    kind: Kind::Counter,
    help: "IP fragments seen (not reassembled).",
    labels: &[],
};

pub const DECODE_ERRORS_TOTAL: Metric = Metric {
    name: "spanwatch_decode_errors_total",
    kind: Kind::Counter,
    help: "Packets that could not be decoded, by the layer where decoding failed.",
    labels: &[label("layer", Values::Listed(decode_layers))],
};

pub const MALFORMED_FLOWS_TOTAL: Metric = Metric {
    name: "spanwatch_malformed_flows_total",
    kind: Kind::Counter,
    help: "Flows whose opening held a malformed message of an authentication protocol (bad BER/ASN.1 in Kerberos or LDAP, a bad NTLMSSP AUTHENTICATE, a bad SMB2 frame) or a datagram shaped like a QUIC Initial that did not open with the Initial keys or did not parse, once per flow and protocol.",
    labels: &[label(
        "protocol",
        Values::Fixed(&crate::proto::session::MALFORMED_PROTOCOLS),
    )],
};

pub const ENCAPSULATED_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_encapsulated_packets_total",
    kind: Kind::Counter,
    help: "Packets that crossed an encapsulation, by encapsulation.",
    labels: &[label("encap", Values::Listed(encaps))],
};

pub const WORKER_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_worker_packets_total",
    kind: Kind::Counter,
    help: "Packets processed, by worker.",
    labels: &[label(
        "worker",
        Values::Open("the worker's index, 0 to sensor.workers - 1"),
    )],
};

pub const FLOWS_ACTIVE: Metric = Metric {
    name: "spanwatch_flows_active",
    kind: Kind::Gauge,
    help: "Flows in the flow tables.",
    labels: &[],
};

pub const FLOWS_CREATED_TOTAL: Metric = Metric {
    name: "spanwatch_flows_created_total",
    kind: Kind::Counter,
    help: "Flows created.",
    labels: &[],
};

pub const FLOWS_ENDED_TOTAL: Metric = Metric {
    name: "spanwatch_flows_ended_total",
    kind: Kind::Counter,
    help: "Flow records written, by reason.",
    labels: &[label("reason", Values::Listed(end_reasons))],
};

pub const FLOWS_IDENTIFIED_TOTAL: Metric = Metric {
    name: "spanwatch_flows_identified_total",
    kind: Kind::Counter,
    help: "Flows by the application protocol identified on the wire (unknown counted when the flow ends).",
    labels: &[
        label("app_proto", Values::Listed(app_protos)),
    ],
};

pub const ALERTS_TOTAL: Metric = Metric {
    name: "spanwatch_alerts_total",
    kind: Kind::Counter,
    help: "Alerts raised, by category and severity.",
    labels: &[
        label("category", Values::Fixed(&ALERT_CATEGORIES)),
        label("severity", Values::Fixed(&SEVERITIES)),
    ],
};

pub const ALERTS_SUPPRESSED_TOTAL: Metric = Metric {
    name: "spanwatch_alerts_suppressed_total",
    kind: Kind::Counter,
    help: "Alerts not written because the same one was raised within the suppression window.",
    labels: &[],
};

pub const EVE_RECORDS_TOTAL: Metric = Metric {
    name: "spanwatch_eve_records_total",
    kind: Kind::Counter,
    help: "EVE records written, by event type.",
    labels: &[label("event_type", Values::Fixed(&EVENT_TYPES))],
};

pub const EVE_WRITE_ERRORS_TOTAL: Metric = Metric {
    name: "spanwatch_eve_write_errors_total",
    kind: Kind::Counter,
    help: "EVE records that could not be written.",
    labels: &[],
};

pub const EVE_OUTPUT_RECORDS_TOTAL: Metric = Metric {
    name: "spanwatch_eve_output_records_total",
    kind: Kind::Counter,
    help: "EVE records delivered, by output (file: written; redis: acknowledged by the server; syslog: taken by the socket).",
    labels: &[
        label("output", Values::Fixed(&super::OUTPUTS)),
    ],
};

pub const EVE_OUTPUT_DROPPED_RECORDS_TOTAL: Metric = Metric {
    name: "spanwatch_eve_output_dropped_records_total",
    kind: Kind::Counter,
    help: "EVE records lost, by output (file: write failed; redis, syslog: queue full, refused by the server, or still queued when the sensor stopped).",
    labels: &[
        label("output", Values::Fixed(&super::OUTPUTS)),
    ],
};

pub const EVE_OUTPUT_ERRORS_TOTAL: Metric = Metric {
    name: "spanwatch_eve_output_errors_total",
    kind: Kind::Counter,
    help: "Failed writes, connection attempts and sends, by output (each failure is retried with back-off).",
    labels: &[
        label("output", Values::Fixed(&super::OUTPUTS)),
    ],
};

pub const REMOTE_ACCESS_SESSIONS_TOTAL: Metric = Metric {
    name: "spanwatch_remote_access_sessions_total",
    kind: Kind::Counter,
    help: "Remote-access sessions seen, by tool (from the rules catalogue) and direction relative to the home network.",
    labels: &[
        label("tool", Values::Open("a tool of the loaded rules catalogue")),
        label("direction", Values::Fixed(&REMOTE_ACCESS_DIRECTIONS)),
    ],
};

pub const REMOTE_ACCESS_SESSIONS_ACTIVE: Metric = Metric {
    name: "spanwatch_remote_access_sessions_active",
    kind: Kind::Gauge,
    help: "Remote-access sessions whose flow is still open.",
    labels: &[],
};

pub const ALERTMANAGER_NOTIFICATIONS_TOTAL: Metric = Metric {
    name: "spanwatch_alertmanager_notifications_total",
    kind: Kind::Counter,
    help: "Alerts pushed to Alertmanager, by result (sent and failed count once per Alertmanager; dropped: a queue or the active-alert table was full).",
    labels: &[
        label("result", Values::Fixed(&ALERTMANAGER_RESULTS)),
    ],
};

pub const ALERTMANAGER_ACTIVE_ALERTS: Metric = Metric {
    name: "spanwatch_alertmanager_active_alerts",
    kind: Kind::Gauge,
    help: "Alerts the Alertmanager sink keeps firing (re-sent until their session ends or they time out).",
    labels: &[],
};

pub const HOSTS_TRACKED: Metric = Metric {
    name: "spanwatch_hosts_tracked",
    kind: Kind::Gauge,
    help: "Internal hosts the host stage tracks (egress baselines, calls, fan-in).",
    labels: &[],
};

pub const HOSTS_EVICTED_TOTAL: Metric = Metric {
    name: "spanwatch_hosts_evicted_total",
    kind: Kind::Counter,
    help: "Internal hosts dropped from the host stage because it held host.max_hosts.",
    labels: &[],
};

pub const ACCOUNTS_TRACKED: Metric = Metric {
    name: "spanwatch_accounts_tracked",
    kind: Kind::Gauge,
    help:
        "Accounts (names seen in clear-text authentication) the host stage's account view tracks.",
    labels: &[],
};

pub const ACCOUNT_ANOMALIES_TOTAL: Metric = Metric {
    name: "spanwatch_account_anomalies_total",
    kind: Kind::Counter,
    help: "Anomalies the account view found, by kind (networks: one account from many networks within a window; travel: two countries closer in time than travel allows; new-device: a device fingerprint the account never used; failed-logins: many failed logins from several sources).",
    labels: &[label(
        "kind",
        Values::Fixed(&crate::model::sid::ACCOUNT_ANOMALY_KINDS),
    )],
};

pub const EGRESS_BYTES_TOTAL: Metric = Metric {
    name: "spanwatch_egress_bytes_total",
    kind: Kind::Counter,
    help: "Bytes of flows with an internal end, by direction class: outbound leaves the home networks, inbound enters them, internal stays inside.",
    labels: &[
        label("direction", Values::Fixed(&crate::model::net::DIRECTION_CLASSES)),
    ],
};

pub const HOST_ANOMALIES_TOTAL: Metric = Metric {
    name: "spanwatch_host_anomalies_total",
    kind: Kind::Counter,
    help: "Anomalies the host stage found, by kind.",
    labels: &[label(
        "kind",
        Values::Fixed(&crate::model::sid::ANOMALY_KINDS),
    )],
};

pub const CALLS_ACTIVE: Metric = Metric {
    name: "spanwatch_calls_active",
    kind: Kind::Gauge,
    help: "Audio/video calls (media legs grouped per host and remote address) in progress.",
    labels: &[],
};

pub const HOST_STATE_WRITES_TOTAL: Metric = Metric {
    name: "spanwatch_host_state_writes_total",
    kind: Kind::Counter,
    help: "Saves of the host state file, by result.",
    labels: &[label("result", Values::Fixed(&STATE_RESULTS))],
};

pub const HOST_STATE_LOADS_TOTAL: Metric = Metric {
    name: "spanwatch_host_state_loads_total",
    kind: Kind::Counter,
    help: "Loads of the host state file at start, by result.",
    labels: &[label("result", Values::Fixed(&STATE_RESULTS))],
};

pub const RESOLVER_BYPASS_FLOWS_TOTAL: Metric = Metric {
    name: "spanwatch_resolver_bypass_flows_total",
    kind: Kind::Counter,
    help: "Flows of encrypted DNS to public resolvers (DNS over TLS, HTTPS, QUIC), by kind; counted when the flow's first record is written.",
    labels: &[
        label("kind", Values::Fixed(&crate::model::meta::RESOLVER_KINDS)),
    ],
};

pub const BEACON_PAIRS_TRACKED: Metric = Metric {
    name: "spanwatch_beacon_pairs_tracked",
    kind: Kind::Gauge,
    help: "Client/server/port pairs whose connections the beacon scoring keeps.",
    labels: &[],
};

pub const BEACON_PAIRS_EVICTED_TOTAL: Metric = Metric {
    name: "spanwatch_beacon_pairs_evicted_total",
    kind: Kind::Counter,
    help: "Pairs dropped from the beacon scoring because of detect.beacon.max_pairs or max_connections_total (least recently active first).",
    labels: &[],
};

pub const RULES_LOADED: Metric = Metric {
    name: "spanwatch_rules_loaded",
    kind: Kind::Gauge,
    help: "Tools in the loaded rules catalogue.",
    labels: &[],
};

pub const CONFIG_RELOADS_TOTAL: Metric = Metric {
    name: "spanwatch_config_reloads_total",
    kind: Kind::Counter,
    help: "Configuration and rules reloads, by result (partial: the rules were reloaded, but changed keys need a restart; the log names them).",
    labels: &[
        label("result", Values::Fixed(&RELOAD_RESULTS)),
    ],
};

pub const CONFIG_LAST_RELOAD_SUCCESSFUL: Metric = Metric {
    name: "spanwatch_config_last_reload_successful",
    kind: Kind::Gauge,
    help: "Whether the last reload succeeded (1) or kept the old rules (0).",
    labels: &[],
};

pub const LAST_PACKET_TIMESTAMP_SECONDS: Metric = Metric {
    name: "spanwatch_last_packet_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Capture time of the latest packet seen.",
    labels: &[],
};

/// Every family, in the order of the exposition.
pub static CATALOGUE: &[&Metric] = &[
    &BUILD_INFO,
    &START_TIME_SECONDS,
    &PACKETS_TOTAL,
    &BYTES_TOTAL,
    &CAPTURE_KERNEL_DROPPED_PACKETS_TOTAL,
    &CAPTURE_INTERFACE_DROPPED_PACKETS_TOTAL,
    &QUEUE_DROPPED_PACKETS_TOTAL,
    &CAPTURE_INTERFACE_PACKETS_TOTAL,
    &CAPTURE_INTERFACE_KERNEL_DROPPED_PACKETS_TOTAL,
    &CAPTURE_RING_FREEZES_TOTAL,
    &CAPTURE_RING_FILL_RATIO,
    &CAPTURE_HANDOFF_PACKETS_TOTAL,
    &OUTPUT_DROPPED_EVENTS_TOTAL,
    &NON_IP_PACKETS_TOTAL,
    &IP_FRAGMENTS_TOTAL,
    &DECODE_ERRORS_TOTAL,
    &ENCAPSULATED_PACKETS_TOTAL,
    &WORKER_PACKETS_TOTAL,
    &FLOWS_ACTIVE,
    &FLOWS_CREATED_TOTAL,
    &FLOWS_ENDED_TOTAL,
    &FLOWS_IDENTIFIED_TOTAL,
    &ALERTS_TOTAL,
    &ALERTS_SUPPRESSED_TOTAL,
    &EVE_RECORDS_TOTAL,
    &EVE_WRITE_ERRORS_TOTAL,
    &EVE_OUTPUT_RECORDS_TOTAL,
    &EVE_OUTPUT_DROPPED_RECORDS_TOTAL,
    &EVE_OUTPUT_ERRORS_TOTAL,
    &evidence::FILES_TOTAL,
    &evidence::PACKETS_TOTAL,
    &evidence::DROPPED_PACKETS_TOTAL,
    &evidence::FILES_DELETED_TOTAL,
    &evidence::DISK_BYTES,
    &REMOTE_ACCESS_SESSIONS_TOTAL,
    &REMOTE_ACCESS_SESSIONS_ACTIVE,
    &ALERTMANAGER_NOTIFICATIONS_TOTAL,
    &ALERTMANAGER_ACTIVE_ALERTS,
    &HOSTS_TRACKED,
    &HOSTS_EVICTED_TOTAL,
    &ACCOUNTS_TRACKED,
    &ACCOUNT_ANOMALIES_TOTAL,
    &MALFORMED_FLOWS_TOTAL,
    &EGRESS_BYTES_TOTAL,
    &HOST_ANOMALIES_TOTAL,
    &CALLS_ACTIVE,
    &HOST_STATE_WRITES_TOTAL,
    &HOST_STATE_LOADS_TOTAL,
    &RESOLVER_BYPASS_FLOWS_TOTAL,
    &BEACON_PAIRS_TRACKED,
    &BEACON_PAIRS_EVICTED_TOTAL,
    &RULES_LOADED,
    &CONFIG_RELOADS_TOTAL,
    &CONFIG_LAST_RELOAD_SUCCESSFUL,
    &LAST_PACKET_TIMESTAMP_SECONDS,
];
