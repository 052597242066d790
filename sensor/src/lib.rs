//! # spanwatch
//!
//! A passive network sensor: it reads packets from a mirror port or capture files, keeps
//! bidirectional flows, identifies remote-access tools, tunnels and data leaving, and
//! exposes it all as Suricata-shaped EVE JSON and Prometheus metrics.
//!
//! The packet's way: [`capture`] (mmap'd files, libpcap live) → [`decode`] (link, VLAN,
//! tunnels, IP, transport) → [`pipeline`] (symmetric-hash sharding to workers) →
//! [`worker`] (a lock-free [`flow`] table per worker, [`detect`] on a flow's opening
//! packets with the [`proto`] parsers and the [`rules`] catalogue) → [`output`] (alert
//! dedup, the [`host`] stage, EVE) — with [`telemetry`] summed at scrape time and served
//! by the control plane in [`control`]. Packet time is the clock on the whole path.

pub mod bytes;
pub mod capture;
pub mod config;
pub mod control;
pub mod decode;
pub mod detect;
pub mod flow;
pub mod host;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod proto;
pub mod rules;
pub mod telemetry;
pub use pipeline::worker;
