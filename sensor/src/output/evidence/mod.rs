//! Packet evidence (`[evidence]`, off by default): for each alert a worker raises, a pcap
//! file of that flow — its opening packets, kept from the flow's first packet, and the
//! packets after the alert up to a limit — in a directory held to a disk budget (oldest
//! files deleted first). Files are named by the flow's Community ID ([`file_name`]) and
//! referenced from the alert's EVE record (`evidence.pcap`) and Alertmanager annotations.
//!
//! Workers never write: they hand records to the writer thread ([`start`]) through a
//! bounded queue (a replay blocks, so nothing is lost and every replay writes the same
//! files; live, a full queue drops the packets, counted and logged). Time stamps in the
//! files are the packets' own.

#[cfg(test)]
mod tests;
mod writer;

use crate::config::check;
use crate::telemetry::EvidenceStats;
use crossbeam_channel::{bounded, Sender};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

/// `[evidence]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Write a pcap file for each alert.
    pub enabled: bool,
    /// Where the files go (made at start when missing; it must be writable).
    pub directory: PathBuf,
    /// Opening packets kept per flow, from its first packet (the alert's packet included).
    pub max_packets_before: u32,
    /// Packets written after the alert's packet.
    pub max_packets_after: u32,
    /// Bytes of one flow's file (records with their headers, before and after the alert);
    /// packets are cut short to fit.
    pub max_bytes: u32,
    /// The directory's budget: when its pcap files pass it, the oldest are deleted.
    pub disk_budget_mb: u64,
    /// Messages (a flow's opening, or a chunk of packets after an alert) waiting for the
    /// writer; live, a full queue drops the packets.
    pub queue_size: usize,
    /// Memory for the opening packets of flows not yet classified, shared by the workers;
    /// when it is full, new packets are not kept.
    pub memory_mb: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            enabled: false,
            directory: PathBuf::from("/var/lib/spanwatch/evidence"),
            max_packets_before: 16,
            max_packets_after: 64,
            max_bytes: 1 << 20,
            disk_budget_mb: 1024,
            queue_size: 4096,
            memory_mb: 64,
        }
    }
}

impl EvidenceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check("evidence.max_packets_before", self.max_packets_before)?;
        check("evidence.max_packets_after", self.max_packets_after)?;
        check("evidence.max_bytes", self.max_bytes)?;
        check("evidence.disk_budget_mb", self.disk_budget_mb)?;
        check("evidence.queue_size", self.queue_size)?;
        check("evidence.memory_mb", self.memory_mb)?;
        if self.max_bytes as u64 > self.disk_budget_mb << 20 {
            return Err(format!(
                "evidence.max_bytes = {} is more than evidence.disk_budget_mb = {} MiB",
                self.max_bytes, self.disk_budget_mb
            ));
        }
        if self.enabled {
            let d = &self.directory;
            if d.as_os_str().is_empty() {
                return Err("evidence.directory must not be empty".into());
            }
            if d.exists() && !d.is_dir() {
                return Err(format!(
                    "evidence.directory: {} is not a directory",
                    d.display()
                ));
            }
        }
        Ok(())
    }
}

/// A file name for a Community ID (`1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=`): `:` and `/` become
/// `_`, `+` becomes `-` (base64's URL-safe alphabet), then `.pcap`:
/// `1_hO-sN4H-MG5MY_8hIrXPqc4ZQz0=.pcap`.
pub fn file_name(community_id: &str) -> String {
    let mut s: String = community_id
        .chars()
        .map(|c| match c {
            ':' | '/' => '_',
            '+' => '-',
            c if c.is_ascii_alphanumeric() || c == '=' || c == '-' || c == '_' => c,
            _ => '_',
        })
        .collect();
    s.push_str(".pcap");
    s
}

/// What a worker hands the writer.
#[derive(Debug)]
pub enum Msg {
    /// A flow alerted: its file starts with these records (the opening packets and the
    /// alert's). A second flow with the same Community ID in one run appends to it.
    Start {
        name: Box<str>,
        link: u16,
        records: Vec<u8>,
        packets: u32,
    },
    /// Packets after the alert, for the file `name`.
    More {
        name: Box<str>,
        records: Vec<u8>,
        packets: u32,
    },
    /// Every worker is done (sent by the output thread as it ends).
    Finish,
}

/// The writer thread, with the sender workers clone.
pub struct Handle {
    pub tx: Sender<Msg>,
    join: JoinHandle<()>,
}

impl Handle {
    /// Wait for the writer to write what it was handed (after every worker finished).
    pub fn finish(self) {
        let _ = self.tx.send(Msg::Finish);
        let _ = self.join.join();
    }
}

/// Open the directory (made when missing; a file is written and removed to prove it is
/// writable), count what it holds against the budget, and start the writer thread.
pub fn start(cfg: &EvidenceConfig, stats: Arc<EvidenceStats>) -> Result<Handle, String> {
    let w = writer::Writer::open(cfg, stats)?;
    let (tx, rx) = bounded::<Msg>(cfg.queue_size.max(1));
    let join = std::thread::Builder::new()
        .name("evidence".into())
        .spawn(move || w.run(rx))
        .map_err(|e| format!("cannot start the evidence thread: {e}"))?;
    Ok(Handle { tx, join })
}
