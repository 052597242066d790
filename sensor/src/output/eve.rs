//! EVE JSON records shaped like Suricata's (`etc/schema.json`), so existing tooling (jq,
//! Filebeat's Suricata module, SIEM parsers) reads them. One object per line.

use crate::decode::Encap;
use crate::flow::{community_id::community_id, key::to_ip, Flow, FlowKey, TO_CLIENT, TO_SERVER};
use crate::model::meta::FlowMeta;
use crate::telemetry::EndReason;
use serde::Serialize;
use std::net::IpAddr;

/// Suricata's timestamp format: `2024-05-01T12:00:00.123456+0000` (UTC).
/// RFC 3339 in UTC with a `Z` (`2026-11-27T16:20:00.123456Z`), as Alertmanager's API and
/// syslog (RFC 5424) want it.
pub fn rfc3339(ns: u64) -> String {
    let t = timestamp(ns);
    match t.strip_suffix("+0000") {
        Some(x) => format!("{x}Z"),
        None => t,
    }
}

/// Wall time now, in nanoseconds since the epoch (the live plane and the sinks only; packet
/// time is the clock of detection).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub fn timestamp(ts_ns: u64) -> String {
    let secs = (ts_ns / 1_000_000_000) as i64;
    let micros = (ts_ns % 1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+0000",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

pub fn proto_name(p: u8) -> String {
    match p {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        51 => "AH".into(),
        58 => "IPv6-ICMP".into(),
        132 => "SCTP".into(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowStats {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: String,
    pub end: String,
    pub age: u64,
    pub state: &'static str,
    pub reason: &'static str,
    pub alerted: bool,
}

/// The fields every record about a flow carries.
#[derive(Debug, Clone, Serialize)]
pub struct Tuple {
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    pub proto: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<[u16; 1]>,
    pub community_id: String,
}

impl Tuple {
    /// A tuple from raw endpoints (host-stage alerts that span flows).
    pub fn from_parts(
        v6: bool,
        src: &[u8; 16],
        sport: u16,
        dst: &[u8; 16],
        dport: u16,
        proto: u8,
    ) -> Tuple {
        Tuple {
            src_ip: to_ip(v6, src),
            src_port: sport,
            dest_ip: to_ip(v6, dst),
            dest_port: dport,
            proto: proto_name(proto),
            icmp_type: None,
            icmp_code: None,
            vlan: None,
            community_id: community_id(0, v6, src, dst, proto, sport, dport),
        }
    }

    /// Oriented client → server.
    pub fn of(key: &FlowKey, flow: &Flow) -> Tuple {
        let (s, sp, d, dp) = if flow.client_is_lo {
            (&key.lo, key.lo_port, &key.hi, key.hi_port)
        } else {
            (&key.hi, key.hi_port, &key.lo, key.lo_port)
        };
        let icmp = key.proto == 1 || key.proto == 58;
        let (src_port, dest_port, icmp_type, icmp_code) = if icmp {
            (0, 0, Some(sp as u8), Some(dp as u8))
        } else {
            (sp, dp, None, None)
        };
        Tuple {
            src_ip: to_ip(key.v6, s),
            src_port,
            dest_ip: to_ip(key.v6, d),
            dest_port,
            proto: proto_name(key.proto),
            icmp_type,
            icmp_code,
            vlan: if flow.vlan != 0 {
                Some([flow.vlan])
            } else {
                None
            },
            community_id: community_id(0, key.v6, s, d, key.proto, sp, dp),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowRecord {
    pub timestamp: String,
    pub flow_id: u64,
    pub event_type: &'static str,
    #[serde(flatten)]
    pub tuple: Tuple,
    pub app_proto: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encapsulation: Vec<&'static str>,
    pub flow: FlowStats,
    /// What the protocol parsers learned (tls, ssh, rdp, rfb, http, dns …), Suricata-named.
    #[serde(flatten)]
    pub meta: FlowMeta,
    /// Raw end time, for consumers in the process (not serialised).
    #[serde(skip)]
    pub end_ns: u64,
    /// Raw start time of the period the record covers (not serialised).
    #[serde(skip)]
    pub start_ns: u64,
    /// Raw time of the flow's first packet, whatever period the record covers (not serialised).
    #[serde(skip)]
    pub flow_start_ns: u64,
    /// Raw endpoints, client first (not serialised).
    #[serde(skip)]
    pub ends: crate::flow::Ends,
    /// Category of the catalogue entry in `app` (`code-hosting`, `calls` …), not serialised.
    #[serde(skip)]
    pub app_category: Option<&'static str>,
    /// Bytes [to server, to client] of this record already sent in progress events.
    #[serde(skip)]
    pub reported: [u64; 2],
}

impl FlowRecord {
    pub fn new(
        key: &FlowKey,
        flow: &Flow,
        reason: EndReason,
        app: Option<String>,
        app_category: Option<&'static str>,
    ) -> FlowRecord {
        let start = flow.period_start_ns;
        FlowRecord {
            timestamp: timestamp(flow.last_ns),
            flow_id: flow.id,
            event_type: "flow",
            tuple: Tuple::of(key, flow),
            app_proto: flow.app_proto.as_str(),
            app,
            encapsulation: flow_encap(flow.encap),
            flow: FlowStats {
                pkts_toserver: flow.pkts[TO_SERVER],
                pkts_toclient: flow.pkts[TO_CLIENT],
                bytes_toserver: flow.bytes[TO_SERVER],
                bytes_toclient: flow.bytes[TO_CLIENT],
                start: timestamp(start),
                end: timestamp(flow.last_ns),
                age: flow.last_ns.saturating_sub(start) / 1_000_000_000,
                state: flow.state_name(key.proto),
                reason: reason.as_str(),
                alerted: flow.detect.alerted,
            },
            meta: flow.detect.meta.as_deref().cloned().unwrap_or_default(),
            end_ns: flow.last_ns,
            start_ns: start,
            flow_start_ns: flow.start_ns,
            ends: crate::flow::Ends::of(key, flow.client_is_lo),
            app_category,
            reported: flow.reported,
        }
    }
}

fn flow_encap(e: Encap) -> Vec<&'static str> {
    e.names().collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertBody {
    pub action: &'static str,
    pub gid: u32,
    pub signature_id: u32,
    pub rev: u32,
    pub signature: String,
    pub category: &'static str,
    pub severity: u8,
    /// Suricata's shape: every value is a list of strings.
    pub metadata: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRecord {
    pub timestamp: String,
    pub flow_id: u64,
    pub event_type: &'static str,
    #[serde(flatten)]
    pub tuple: Tuple,
    pub app_proto: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// inbound, outbound, internal or external, relative to the home networks.
    pub direction: &'static str,
    pub alert: AlertBody,
    #[serde(skip)]
    pub ts_ns: u64,
    /// Deduplication identity (not serialised): signature, client and server.
    #[serde(skip)]
    pub dedup_key: String,
}

/// A finding that a detector raises; turned into an [`AlertRecord`] by [`alert_from`].
#[derive(Debug, Clone)]
pub struct Finding {
    pub signature_id: u32,
    pub signature: String,
    pub category: &'static str,
    pub severity: u8,
    pub app: Option<String>,
    pub metadata: std::collections::BTreeMap<String, Vec<String>>,
}

pub fn alert_from(
    key: &FlowKey,
    flow: &Flow,
    ts_ns: u64,
    direction: &'static str,
    f: Finding,
) -> AlertRecord {
    let tuple = Tuple::of(key, flow);
    // Zeek's notice identifier: the signature, client and server (and service port and any
    // proxy target), so one session is one alert within the suppression window.
    let target = f
        .metadata
        .get("target")
        .and_then(|t| t.first())
        .map(String::as_str)
        .unwrap_or("");
    let dedup = format!(
        "{}|{}|{}|{target}",
        tuple.src_ip, tuple.dest_ip, tuple.dest_port
    );
    alert_from_tuple(
        tuple,
        flow.id,
        ts_ns,
        flow.app_proto.as_str(),
        direction,
        dedup,
        f,
    )
}

/// An alert about something seen across flows (the host stage), keyed by `dedup` rather
/// than by one flow's endpoints.
#[allow(clippy::too_many_arguments)]
pub fn alert_from_tuple(
    tuple: Tuple,
    flow_id: u64,
    ts_ns: u64,
    app_proto: &'static str,
    direction: &'static str,
    dedup: String,
    f: Finding,
) -> AlertRecord {
    AlertRecord {
        timestamp: timestamp(ts_ns),
        flow_id,
        event_type: "alert",
        tuple,
        app_proto,
        app: f.app,
        direction,
        alert: AlertBody {
            action: "allowed",
            gid: 1,
            signature_id: f.signature_id,
            rev: 1,
            signature: f.signature,
            category: f.category,
            severity: f.severity,
            metadata: f.metadata,
        },
        ts_ns,
        dedup_key: format!("{}|{dedup}", f.signature_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000000+0000");
        assert_eq!(
            timestamp(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456+0000"
        );
        assert_eq!(
            timestamp(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000+0000"
        );
    }
}
