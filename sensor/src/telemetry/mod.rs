//! Every metric spanwatch exposes is named here, and only here (`names`: the catalogue of
//! names, types, help and label value sets; Vector's instrumentation spec, Prometheus
//! naming): `spanwatch_` prefix, base units, `_total` on counters, label values from fixed
//! sets only — never an address, port or host name.
//!
//! Hot-path counters live in per-thread blocks that only their own thread writes
//! ([`Ctr::add`] is a plain load+store, no lock prefix); a scrape sums them.

pub use crate::capture::live::MAX_INTERFACES;
use crate::decode::{Encap, ErrorLayer};
use crate::proto::registry::AppProto;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A counter written by exactly one thread and read by any.
#[derive(Debug, Default)]
pub struct Ctr(AtomicU64);

impl Ctr {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }
    #[inline]
    pub fn inc(&self) {
        self.add(1)
    }
    #[inline]
    pub fn set(&self, n: u64) {
        self.0.store(n, Relaxed)
    }
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A counter that several threads may add to.
#[derive(Debug, Default)]
pub struct SharedCtr(AtomicU64);

impl SharedCtr {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
    pub fn set(&self, n: u64) {
        self.0.store(n, Relaxed)
    }
}

pub use crate::model::record::EndReason;

pub use names::{ALERTMANAGER_RESULTS, ALERT_CATEGORIES};

pub fn category_index(c: &str) -> usize {
    ALERT_CATEGORIES
        .iter()
        .position(|x| *x == c)
        .unwrap_or(ALERT_CATEGORIES.len() - 1)
}

/// Written by the capture/dispatch thread (AF_PACKET: each worker writes a block of its own
/// and adds it to the sensor's with [`CaptureStats::drain_into`] at every tick).
#[derive(Debug, Default)]
pub struct CaptureStats {
    pub packets: Ctr,
    pub bytes: Ctr,
    pub non_ip: Ctr,
    pub fragments: Ctr,
    pub decode_errors: [Ctr; ErrorLayer::ALL.len()],
    pub encap: [Ctr; Encap::NAMES.len()],
    pub kernel_drops: Ctr,
    pub iface_drops: Ctr,
    /// Packets dropped because a worker's queue was full (live capture only): the libpcap
    /// path's queues to the workers, and the AF_PACKET workers' hand-off queues.
    pub queue_drops: Ctr,
    /// By interface (index in the configured list): packets read, and the kernel's drops.
    pub iface_packets: [Ctr; MAX_INTERFACES],
    pub iface_kernel_drops: [Ctr; MAX_INTERFACES],
    /// AF_PACKET: times a ring froze because it was full (`tp_freeze_q_cnt`).
    pub ring_freezes: Ctr,
    /// AF_PACKET: encapsulated packets handed to the worker that owns their inner flow.
    pub handoff: Ctr,
    /// Latest packet time seen, in nanoseconds.
    pub last_packet_ns: Ctr,
    pub files_read: Ctr,
    pub file_errors: Ctr,
}

impl CaptureStats {
    /// Add these counts to `to` and zero them (the latest packet time: the later of the
    /// two). A reading thread that counts into a block of its own (AF_PACKET: one per
    /// worker) hands its counts over this way; writers of `to` must take turns.
    pub fn drain_into(&self, to: &CaptureStats) {
        let mv = |a: &Ctr, b: &Ctr| {
            b.add(a.get());
            a.set(0);
        };
        mv(&self.packets, &to.packets);
        mv(&self.bytes, &to.bytes);
        mv(&self.non_ip, &to.non_ip);
        mv(&self.fragments, &to.fragments);
        for (a, b) in self.decode_errors.iter().zip(&to.decode_errors) {
            mv(a, b);
        }
        for (a, b) in self.encap.iter().zip(&to.encap) {
            mv(a, b);
        }
        mv(&self.kernel_drops, &to.kernel_drops);
        mv(&self.iface_drops, &to.iface_drops);
        mv(&self.queue_drops, &to.queue_drops);
        for (a, b) in self.iface_packets.iter().zip(&to.iface_packets) {
            mv(a, b);
        }
        for (a, b) in self.iface_kernel_drops.iter().zip(&to.iface_kernel_drops) {
            mv(a, b);
        }
        mv(&self.ring_freezes, &to.ring_freezes);
        mv(&self.handoff, &to.handoff);
        mv(&self.files_read, &to.files_read);
        mv(&self.file_errors, &to.file_errors);
        if self.last_packet_ns.get() > to.last_packet_ns.get() {
            to.last_packet_ns.set(self.last_packet_ns.get());
        }
    }
}

/// Written by one worker.
#[derive(Debug)]
pub struct WorkerStats {
    pub packets: Ctr,
    pub bytes: Ctr,
    pub flows_created: Ctr,
    pub flows_active: Ctr,
    pub flows_ended: [Ctr; EndReason::ALL.len()],
    pub flows_by_app_proto: Vec<Ctr>,
    /// Flow and alert events dropped because the output queue was full.
    pub event_drops: Ctr,
    pub remote_access_active: Ctr,
    /// AF_PACKET: the share of the worker's ring waiting to be read at the last tick, in
    /// millionths (the fullest ring, with several interfaces).
    pub ring_fill_ppm: Ctr,
    /// Flows with a malformed message, by protocol (`proto::session::MALFORMED_PROTOCOLS`).
    pub malformed: [Ctr; crate::proto::session::MALFORMED_PROTOCOLS.len()],
}

impl Default for WorkerStats {
    fn default() -> Self {
        WorkerStats {
            packets: Ctr::default(),
            bytes: Ctr::default(),
            flows_created: Ctr::default(),
            flows_active: Ctr::default(),
            flows_ended: Default::default(),
            flows_by_app_proto: (0..AppProto::COUNT).map(|_| Ctr::default()).collect(),
            event_drops: Ctr::default(),
            remote_access_active: Ctr::default(),
            ring_fill_ppm: Ctr::default(),
            malformed: Default::default(),
        }
    }
}

/// Written by the output thread (EVE writer, alert dedup, host stage).
#[derive(Debug, Default)]
pub struct OutputStats {
    pub eve_flow: Ctr,
    pub eve_alert: Ctr,
    pub eve_stats: Ctr,
    pub eve_write_errors: Ctr,
    /// alerts[category][severity-1]
    pub alerts: [[Ctr; 4]; ALERT_CATEGORIES.len()],
    pub alerts_suppressed: Ctr,
    /// Remote-access sessions by (tool index in the catalogue, direction index).
    pub ra_sessions: std::sync::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
    /// Host stage: internal hosts tracked, and dropped because the table was full.
    pub hosts_tracked: Ctr,
    pub hosts_evicted: Ctr,
    /// Account view: accounts tracked, anomalies by kind (`model::sid::ACCOUNT_ANOMALY_KINDS`).
    pub accounts_tracked: Ctr,
    pub account_anomalies: [Ctr; crate::model::sid::ACCOUNT_ANOMALY_KINDS.len()],
    /// Bytes by direction class (`model::net::DIRECTION_CLASSES`).
    pub egress_bytes: [Ctr; crate::model::net::DIRECTION_CLASSES.len()],
    /// Host anomalies by kind (`model::sid::ANOMALY_KINDS`).
    pub host_anomalies: [Ctr; crate::model::sid::ANOMALY_KINDS.len()],
    pub calls_active: Ctr,
    /// Host state file saves and loads: [success, failure].
    pub host_state_saves: [Ctr; 2],
    pub host_state_loads: [Ctr; 2],
    /// Flows to public resolvers by kind (`model::meta::RESOLVER_KINDS`).
    pub resolver_bypass_flows: [Ctr; crate::model::meta::RESOLVER_KINDS.len()],
    /// Beacon scoring: pairs tracked, and evicted because of the caps.
    pub beacon_pairs_tracked: Ctr,
    pub beacon_pairs_evicted: Ctr,
}

/// The Alertmanager sink (output/alertmanager.rs): written by the output thread (queue
/// full) and the sink's own thread, so shared counters.
#[derive(Debug, Default)]
pub struct AlertmanagerStats {
    /// Alerts an Alertmanager accepted (2xx), counted once per Alertmanager.
    pub sent: SharedCtr,
    /// Alerts given up on after the retries (connection errors, timeouts, 5xx).
    pub failed: SharedCtr,
    /// Alerts an Alertmanager refused with a 4xx (not retried).
    pub rejected: SharedCtr,
    /// Alerts and flow-end notices not queued: a queue or the active-alert table was full.
    pub dropped: SharedCtr,
    /// Alerts the sink keeps firing (re-sent until their session ends).
    pub active: SharedCtr,
}

/// Bounded `reason` label of `spanwatch_evidence_dropped_packets_total` (listed in [`names`]).
pub const EVIDENCE_DROP_REASONS: [&str; 4] = ["queue_full", "memory", "budget", "write_error"];
pub const EVIDENCE_QUEUE_FULL: usize = 0;
pub const EVIDENCE_MEMORY: usize = 1;
pub const EVIDENCE_BUDGET: usize = 2;
pub const EVIDENCE_WRITE_ERROR: usize = 3;

/// Packet evidence (output/evidence): written by the workers (drops) and the writer.
#[derive(Debug, Default)]
pub struct EvidenceStats {
    /// pcap files started.
    pub files: SharedCtr,
    /// Packets written to files.
    pub packets: SharedCtr,
    /// Files deleted to hold the disk budget.
    pub deleted: SharedCtr,
    /// Bytes of the directory's pcap files.
    pub disk_bytes: SharedCtr,
    /// Packets not written, by [`EVIDENCE_DROP_REASONS`].
    pub dropped: [SharedCtr; 4],
}

/// Everything a scrape reads.
pub struct Telemetry {
    pub capture: Arc<CaptureStats>,
    pub workers: Vec<Arc<WorkerStats>>,
    pub output: Arc<OutputStats>,
    pub alertmanager: Arc<AlertmanagerStats>,
    /// The Redis and syslog sinks (output/sink).
    pub sinks: Arc<SinkStats>,
    /// Packet evidence (`[evidence]`).
    pub evidence: Arc<EvidenceStats>,
    pub rules_loaded: SharedCtr,
    pub reloads_ok: SharedCtr,
    pub reloads_failed: SharedCtr,
    /// Reloads that applied the rules while changed keys wait for a restart.
    pub reloads_partial: SharedCtr,
    pub last_reload_ok: SharedCtr,
    pub start_time_s: f64,
    pub mode: &'static str,
    /// The interfaces a live capture reads, in the configured order (the `interface` label;
    /// none in a replay). Set once, before the capture starts.
    pub interfaces: std::sync::OnceLock<Vec<String>>,
}

impl Telemetry {
    pub fn new(workers: usize, mode: &'static str) -> Arc<Telemetry> {
        Arc::new(Telemetry {
            capture: Arc::default(),
            workers: (0..workers).map(|_| Arc::default()).collect(),
            output: Arc::default(),
            alertmanager: Arc::default(),
            sinks: Arc::default(),
            evidence: Arc::default(),
            rules_loaded: SharedCtr::default(),
            reloads_ok: SharedCtr::default(),
            reloads_failed: SharedCtr::default(),
            reloads_partial: SharedCtr::default(),
            last_reload_ok: SharedCtr::default(),
            start_time_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            mode,
            interfaces: std::sync::OnceLock::new(),
        })
    }
}

/// Exactly what Prometheus 3 expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

pub mod names;
mod render;
#[cfg(test)]
mod tests;

/// Bounded `output` label of the `spanwatch_eve_output_*` families (listed in [`names`]).
pub const OUTPUTS: [&str; 3] = ["file", "redis", "syslog"];
pub const REDIS: usize = 1;
pub const SYSLOG: usize = 2;

/// Counters of the sinks, by index in [`OUTPUTS`] (the file's come from the EVE writer).
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Records the sink delivered (the server acknowledged, or the socket took them).
    pub records: [SharedCtr; 3],
    /// Records lost: the queue was full, the server refused them, or the sink was still
    /// down when the sensor stopped.
    pub dropped: [SharedCtr; 3],
    /// Connection attempts and sends that failed.
    pub errors: [SharedCtr; 3],
}
