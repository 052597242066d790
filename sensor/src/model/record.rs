//! The records passed between stages and written as EVE lines, shaped like Suricata's
//! (`etc/schema.json`): a flow record, an alert, and the finding a detector raises before
//! it becomes an alert. They are built from flows in `output::eve`.

use super::community_id::community_id;
use super::meta::FlowMeta;
use super::net::to_ip;
use super::net::Ends;
use serde::Serialize;
use std::net::IpAddr;

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
    pub ends: Ends,
    /// Category of the catalogue entry in `app` (`code-hosting`, `calls` …), not serialised.
    #[serde(skip)]
    pub app_category: Option<&'static str>,
    /// Bytes [to server, to client] of this record already sent in progress events.
    #[serde(skip)]
    pub reported: [u64; 2],
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

/// Where an alert's packets are: a pcap file in `evidence.directory`, named by the flow's
/// Community ID, with `packets` packets of the flow up to and including the alert's (more
/// are appended after it, up to `evidence.max_packets_after`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EvidenceRef {
    pub pcap: String,
    pub packets: u32,
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
    /// The flow's packets written for this alert (`[evidence]`; absent when it is off or
    /// the flow's packets could not be kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceRef>,
    #[serde(skip)]
    pub ts_ns: u64,
    /// Deduplication identity (not serialised): signature, client and server.
    #[serde(skip)]
    pub dedup_key: String,
}

/// A finding that a detector raises; turned into an [`AlertRecord`] by `output::eve::alert_from`.
#[derive(Debug, Clone)]
pub struct Finding {
    pub signature_id: u32,
    pub signature: String,
    pub category: &'static str,
    pub severity: u8,
    pub app: Option<String>,
    pub metadata: std::collections::BTreeMap<String, Vec<String>>,
}

/// Why a flow record was written: the bounded `reason` label and EVE `flow.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EndReason {
    /// Idle longer than its protocol's timeout.
    Timeout = 0,
    /// TCP closed by FIN in both directions or RST, then the closed timeout.
    Closed,
    /// Open longer than the active timeout: a record is written and the flow goes on.
    ActiveTimeout,
    /// Pushed out because the flow table was full.
    Evicted,
    /// A new TCP connection reused the tuple of a closed one.
    Reuse,
    /// Still open when the capture ended or the sensor stopped.
    Shutdown,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::Timeout,
        EndReason::Closed,
        EndReason::ActiveTimeout,
        EndReason::Evicted,
        EndReason::Reuse,
        EndReason::Shutdown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Closed => "closed",
            EndReason::ActiveTimeout => "active_timeout",
            EndReason::Evicted => "evicted",
            EndReason::Reuse => "reuse",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// One DNS message seen by a worker.
#[derive(Debug, Clone)]
pub struct DnsObs {
    pub ts_ns: u64,
    pub flow_id: u64,
    pub v6: bool,
    pub client: [u8; 16],
    pub client_port: u16,
    pub server: [u8; 16],
    pub server_port: u16,
    pub qname: String,
    pub qtype: u16,
    pub is_response: bool,
    pub size: u32,
}

/// Suricata's timestamp format: `2024-05-01T12:00:00.123456+0000` (UTC).
pub fn timestamp(ts_ns: u64) -> String {
    // (ASCII digits and punctuation only: the check cannot fail)
    String::from_utf8(timestamp_bytes(ts_ns).to_vec()).unwrap_or_default()
}

/// [`timestamp`] appended to `out`, without a `String` on the way.
pub fn push_timestamp(out: &mut Vec<u8>, ts_ns: u64) {
    out.extend_from_slice(&timestamp_bytes(ts_ns));
}

/// The 31 bytes of [`timestamp`], written digit by digit (no `format!`: a flow record has
/// three of them, and the formatting machinery cost more than the rest of the record).
/// Packet times up to `u64::MAX` ns (the year 2554) have four-digit years.
fn timestamp_bytes(ts_ns: u64) -> [u8; 31] {
    let secs = (ts_ns / 1_000_000_000) as i64;
    let micros = ((ts_ns % 1_000_000_000) / 1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00.000000+0000";
    fn put(b: &mut [u8], mut v: u32) {
        for c in b.iter_mut().rev() {
            *c = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(&mut b[0..4], y as u32);
    put(&mut b[5..7], m);
    put(&mut b[8..10], d);
    put(&mut b[11..13], sod / 3600);
    put(&mut b[14..16], (sod % 3600) / 60);
    put(&mut b[17..19], sod % 60);
    put(&mut b[20..26], micros);
    b
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

impl FlowRecord {
    /// The record's text fields from its raw ones: the workers build a record with
    /// `timestamp`, `flow.start`, `flow.end`, `tuple.proto` and `tuple.community_id` empty
    /// (formatting and SHA-1 were most of a short flow's cost on the packet path), and the
    /// output thread calls this before anything reads them. Fields already set are kept.
    pub fn fill_text(&mut self) {
        if self.timestamp.is_empty() {
            self.timestamp = timestamp(self.end_ns);
        }
        if self.flow.end.is_empty() {
            self.flow.end = self.timestamp.clone();
        }
        if self.flow.start.is_empty() {
            self.flow.start = if self.start_ns == self.end_ns {
                self.flow.end.clone()
            } else {
                timestamp(self.start_ns)
            };
        }
        let e = &self.ends;
        if self.tuple.proto.is_empty() {
            self.tuple.proto = proto_name(e.proto);
        }
        if self.tuple.community_id.is_empty() {
            self.tuple.community_id =
                community_id(0, e.v6, &e.client, &e.server, e.proto, e.cport, e.sport);
        }
    }
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
        evidence: None,
        ts_ns,
        dedup_key: format!("{}|{dedup}", f.signature_id),
    }
}
