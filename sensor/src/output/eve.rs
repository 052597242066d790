//! EVE JSON records shaped like Suricata's (`etc/schema.json`), so existing tooling (jq,
//! Filebeat's Suricata module, SIEM parsers) reads them. One object per line.

use crate::decode::Encap;
use crate::detect::Flow;
use crate::flow::{Ends, FlowKey, TO_CLIENT, TO_SERVER};
use crate::model::community_id::community_id;
use crate::model::meta::FlowMeta;
use crate::model::net::to_ip;
pub use crate::model::record::{
    alert_from_tuple, proto_name, timestamp, AlertBody, AlertRecord, Finding, FlowRecord,
    FlowStats, Tuple,
};
use crate::telemetry::EndReason;

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

impl Tuple {
    /// Oriented client → server.
    pub fn of(key: &FlowKey, flow: &Flow) -> Tuple {
        let e = Ends::of(key, flow.client_is_lo);
        let (s, sp, d, dp) = (&e.client, e.cport, &e.server, e.sport);
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

impl FlowRecord {
    /// A flow's record, built on the worker with its text fields left empty: the output
    /// thread fills them ([`FlowRecord::fill_text`]) before anything reads them. `meta` is
    /// the flow's metadata, moved out of a flow that ends, cloned from one that goes on.
    pub fn new(
        key: &FlowKey,
        flow: &Flow,
        reason: EndReason,
        app: Option<String>,
        app_category: Option<&'static str>,
        meta: FlowMeta,
    ) -> FlowRecord {
        let start = flow.period_start_ns;
        let ends = Ends::of(key, flow.client_is_lo);
        let icmp = key.proto == 1 || key.proto == 58;
        let (src_port, dest_port, icmp_type, icmp_code) = if icmp {
            (0, 0, Some(ends.cport as u8), Some(ends.sport as u8))
        } else {
            (ends.cport, ends.sport, None, None)
        };
        FlowRecord {
            timestamp: String::new(),
            flow_id: flow.id,
            event_type: "flow",
            tuple: Tuple {
                src_ip: to_ip(key.v6, &ends.client),
                src_port,
                dest_ip: to_ip(key.v6, &ends.server),
                dest_port,
                proto: String::new(),
                icmp_type,
                icmp_code,
                vlan: if flow.vlan != 0 {
                    Some([flow.vlan])
                } else {
                    None
                },
                community_id: String::new(),
            },
            app_proto: flow.app_proto.as_str(),
            app,
            encapsulation: flow_encap(flow.encap),
            flow: FlowStats {
                pkts_toserver: flow.pkts[TO_SERVER],
                pkts_toclient: flow.pkts[TO_CLIENT],
                bytes_toserver: flow.bytes[TO_SERVER],
                bytes_toclient: flow.bytes[TO_CLIENT],
                start: String::new(),
                end: String::new(),
                age: flow.last_ns.saturating_sub(start) / 1_000_000_000,
                state: flow.state_name(key.proto),
                reason: reason.as_str(),
                alerted: flow.detect.alerted,
            },
            meta,
            end_ns: flow.last_ns,
            start_ns: start,
            flow_start_ns: flow.start_ns,
            ends,
            app_category,
            reported: flow.reported,
        }
    }
}

fn flow_encap(e: Encap) -> Vec<&'static str> {
    if e.is_empty() {
        return Vec::new();
    }
    e.names().collect()
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
