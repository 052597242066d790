//! The live capture's families: by interface, the AF_PACKET rings, the workers' hand-off.

use super::{label, Kind, Metric, Values};

const INTERFACE_VALUES: Values =
    Values::Open("the configured interface names (capture.interface, at most 8); none in a replay");

pub const CAPTURE_INTERFACE_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_capture_packets_per_interface_total",
    kind: Kind::Counter,
    help: "Packets read from the capture, by interface (live).",
    labels: &[label("interface", INTERFACE_VALUES)],
};

pub const CAPTURE_INTERFACE_KERNEL_DROPPED_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_capture_kernel_dropped_packets_per_interface_total",
    kind: Kind::Counter,
    help: "Packets the kernel dropped before the capture read them, by interface (live).",
    labels: &[label("interface", INTERFACE_VALUES)],
};

pub const CAPTURE_RING_FREEZES_TOTAL: Metric = Metric {
    name: "spanwatch_capture_ring_freezes_total",
    kind: Kind::Counter,
    help: "Times an AF_PACKET ring was full and the kernel froze it (tp_freeze_q_cnt, summed over the sockets); the packets lost meanwhile are in the kernel drop counter.",
    labels: &[],
};

pub const CAPTURE_RING_FILL_RATIO: Metric = Metric {
    name: "spanwatch_capture_ring_fill_ratio",
    kind: Kind::Gauge,
    help: "Share of the worker's AF_PACKET ring waiting to be read at the last tick (its fullest ring with several interfaces; 0 with libpcap).",
    labels: &[label(
        "worker",
        Values::Open("the worker's index, 0 to sensor.workers - 1"),
    )],
};

pub const CAPTURE_HANDOFF_PACKETS_TOTAL: Metric = Metric {
    name: "spanwatch_capture_handoff_packets_total",
    kind: Kind::Counter,
    help: "Tunnelled packets an AF_PACKET worker handed to the worker that owns their inner flow.",
    labels: &[],
};
