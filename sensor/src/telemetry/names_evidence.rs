//! The packet evidence families of the catalogue (`[evidence]`, output/evidence), listed
//! in `names::CATALOGUE` with the others.

use super::{label, Kind, Metric, Values};

pub const FILES_TOTAL: Metric = Metric {
    name: "spanwatch_evidence_files_total",
    kind: Kind::Counter,
    help: "Packet evidence: pcap files written for alerts (evidence.directory).",
    labels: &[],
};

pub const PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_evidence_packets_total",
    kind: Kind::Counter,
    help: "Packet evidence: packets written to pcap files.",
    labels: &[],
};

pub const DROPPED_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_evidence_dropped_packets_total",
    kind: Kind::Counter,
    help: "Packet evidence: packets not written, by reason (queue_full: the writer's queue was full; memory: evidence.memory_mb was full; budget: the flow's file had been deleted to hold the disk budget; write_error: the file could not be written).",
    labels: &[
        label("reason", Values::Fixed(&crate::telemetry::EVIDENCE_DROP_REASONS)),
    ],
};

pub const FILES_DELETED_TOTAL: Metric = Metric {
    name: "spanwatch_evidence_files_deleted_total",
    kind: Kind::Counter,
    help: "Packet evidence: pcap files deleted, oldest first, to hold evidence.disk_budget_mb.",
    labels: &[],
};

pub const DISK_BYTES: Metric = Metric {
    name: "spanwatch_evidence_disk_bytes",
    kind: Kind::Gauge,
    help: "Packet evidence: bytes of the pcap files in evidence.directory.",
    labels: &[],
};
