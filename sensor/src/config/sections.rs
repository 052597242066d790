//! The sections of the sensor itself: `[sensor]`, `[capture]`, `[flow]`, `[http]`,
//! `[rules]` and `[detect]`, with their defaults and the checks of their values.

use super::check;
use crate::detect::DetectConfig;
use crate::flow::FlowConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorSection {
    /// The sensor's name: the `sensor` label of Alertmanager alerts and the syslog HOSTNAME
    /// (default: the host name), and, when set, the `sensor` field of every EVE record.
    pub name: Option<String>,
    /// Worker threads; 0 (the default): `run` starts one per core available
    /// (`std::thread::available_parallelism`) up to `max_workers`, `replay` one.
    pub workers: usize,
    /// The most workers `workers = 0` starts in `run`.
    pub max_workers: usize,
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
            workers: 0,
            max_workers: 8,
            home_net: DEFAULT_HOME_NET.iter().map(|s| s.to_string()).collect(),
            queue_packets: 65_536,
            user: None,
        }
    }
}

/// Longest `sensor.name` (a DNS name's limit; RFC 5424 allows 255 for HOSTNAME).
pub const SENSOR_NAME_MAX: usize = 253;

impl SensorSection {
    /// `sensor.name`: 1 to 253 printable ASCII characters without spaces (it is an RFC 5424
    /// HOSTNAME, an Alertmanager label value and an EVE field).
    pub fn validate_name(&self) -> Result<(), String> {
        let Some(n) = &self.name else { return Ok(()) };
        if n.is_empty() || n.len() > SENSOR_NAME_MAX || !n.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "sensor.name = {n:?} is not allowed (allowed: 1 to {SENSOR_NAME_MAX} printable \
                 ASCII characters, no spaces)"
            ));
        }
        Ok(())
    }

    /// The workers to start: `workers`, or for 0 one per core available up to
    /// `max_workers` (`live`) or one (a replay: its output is the same with any number, and
    /// one is what a replay needs to be byte-identical every time).
    pub fn workers_for(&self, live: bool) -> usize {
        match self.workers {
            0 if live => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, self.max_workers.max(1)),
            0 => 1,
            n => n,
        }
    }
}

pub const DEFAULT_HOME_NET: [&str; 4] =
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSection {
    /// The interface to read, or several (the two halves of a TAP, several span ports):
    /// a comma-separated string (`"eth1,eth2"`, as `--interface` takes it) or a list.
    #[serde(deserialize_with = "one_or_list")]
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
    /// How `run` reads the interface: `"af_packet"` (Linux: one socket and ring per worker
    /// in one fanout group, each worker reading its own) or `"pcap"` (libpcap, one capture
    /// thread sharding to the workers; other platforms and link types).
    pub method: String,
    /// AF_PACKET: blocks in each worker's ring.
    pub ring_blocks: u32,
    /// AF_PACKET: size of one block (KiB, a power of two): the kernel hands a block over
    /// when it is full or `block_timeout_ms` after its first packet.
    pub block_kib: u32,
    /// AF_PACKET: milliseconds a packet may wait in a block before the worker is woken (the
    /// latency batching adds, as `timeout_ms` for libpcap).
    pub block_timeout_ms: u32,
}

/// `capture.interface`: a string, or a list of strings kept as one comma-separated string.
fn one_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrList {
        One(String),
        List(Vec<String>),
    }
    Ok(Some(match OneOrList::deserialize(d)? {
        OneOrList::One(s) => s,
        OneOrList::List(v) => v.join(","),
    }))
}

/// `capture.method`'s default: AF_PACKET where there is one.
pub const DEFAULT_CAPTURE_METHOD: &str = if cfg!(target_os = "linux") {
    "af_packet"
} else {
    "pcap"
};

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
            method: DEFAULT_CAPTURE_METHOD.to_string(),
            ring_blocks: 64,
            block_kib: 1024,
            block_timeout_ms: 100,
        }
    }
}

impl CaptureSection {
    /// The interfaces `capture.interface` names, in its order.
    pub fn interfaces(&self) -> Vec<String> {
        self.interface
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

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
            method: if self.method == "pcap" {
                crate::capture::live::CaptureMethod::Pcap
            } else {
                crate::capture::live::CaptureMethod::AfPacket
            },
            ring: crate::capture::live::RingOptions {
                blocks: self.ring_blocks,
                block_kib: self.block_kib,
                block_timeout_ms: self.block_timeout_ms,
            },
        }
    }

    /// The checks of the capture keys (numeric ranges in `model::ranges`).
    pub fn validate(&self) -> Result<(), String> {
        if self.interface.is_some() {
            let list = self.interfaces();
            let max = crate::capture::live::MAX_INTERFACES;
            if list.is_empty() || list.len() > max {
                return Err(format!(
                    "capture.interface names {} interfaces (allowed: 1 to {max})",
                    list.len()
                ));
            }
            for (i, a) in list.iter().enumerate() {
                if list[..i].contains(a) {
                    return Err(format!("capture.interface names {a} twice"));
                }
            }
        }
        check("capture.snaplen", self.snaplen)?;
        check("capture.buffer_mib", self.buffer_mib)?;
        check("capture.timeout_ms", self.timeout_ms)?;
        check("capture.ring_blocks", self.ring_blocks)?;
        check("capture.block_kib", self.block_kib)?;
        check("capture.block_timeout_ms", self.block_timeout_ms)?;
        match self.method.as_str() {
            "pcap" => {}
            "af_packet" if cfg!(target_os = "linux") => {}
            "af_packet" => {
                return Err("capture.method = \"af_packet\" needs Linux: use \"pcap\"".into())
            }
            m => {
                return Err(format!(
                    "capture.method must be \"af_packet\" or \"pcap\", not {m:?}"
                ))
            }
        }
        if !self.block_kib.is_power_of_two() {
            return Err(format!(
                "capture.block_kib = {} must be a power of two (4, 8, … 65536)",
                self.block_kib
            ));
        }
        check("capture.tick_ms", self.tick_ms)?;
        if (self.tick_ms as i64) < self.timeout_ms as i64 {
            return Err(format!(
                "capture.tick_ms = {} must be at least capture.timeout_ms ({})",
                self.tick_ms, self.timeout_ms
            ));
        }
        if self.tick_ms < self.block_timeout_ms as u64 {
            return Err(format!(
                "capture.tick_ms = {} must be at least capture.block_timeout_ms ({})",
                self.tick_ms, self.block_timeout_ms
            ));
        }
        Ok(())
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

impl DetectSection {
    /// The detector's settings (the engine's part of `[detect]`; beacons, DNS tunnels and
    /// resolver bypass configure the host stage).
    pub fn engine(&self) -> DetectConfig {
        DetectConfig {
            max_inspect_packets: self.max_inspect_packets,
            max_inspect_bytes: self.max_inspect_bytes,
            ssh_alert: self.ssh_alert.clone(),
        }
    }
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
