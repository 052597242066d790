//! The evidence writer thread: pcap files in one directory, held to its budget.

use super::{EvidenceConfig, Msg};
use crate::telemetry::{EvidenceStats, EVIDENCE_BUDGET, EVIDENCE_WRITE_ERROR};
use crossbeam_channel::Receiver;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// pcap's global header, nanosecond time stamps (magic 0xa1b23c4d, version 2.4; the
/// format as tcpdump.org's pcap-savefile(5) and the IETF pcap draft describe it).
pub fn pcap_header(link: u16) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone, sigfigs: 0
    h[16..20].copy_from_slice(&262_144u32.to_le_bytes());
    h[20..24].copy_from_slice(&(link as u32).to_le_bytes());
    h
}

struct Entry {
    size: u64,
    /// Which of the name's files in `order` this is.
    gen: u64,
    /// Written in this run (a second flow with the name appends); files found at start
    /// are rewritten instead.
    this_run: bool,
}

pub(super) struct Writer {
    dir: PathBuf,
    budget: u64,
    files: HashMap<Box<str>, Entry>,
    /// Oldest first.
    order: VecDeque<(Box<str>, u64)>,
    total: u64,
    next_gen: u64,
    stats: Arc<EvidenceStats>,
    last_warn: Option<Instant>,
}

impl Writer {
    pub(super) fn open(cfg: &EvidenceConfig, stats: Arc<EvidenceStats>) -> Result<Writer, String> {
        let dir = cfg.directory.clone();
        let err = |what: &str, e: std::io::Error| {
            format!("evidence.directory: {}: {what}: {e}", dir.display())
        };
        std::fs::create_dir_all(&dir).map_err(|e| err("cannot make it", e))?;
        let probe = dir.join(".spanwatch-write-test");
        std::fs::write(&probe, b"").map_err(|e| err("cannot write in it", e))?;
        let _ = std::fs::remove_file(&probe);
        let mut found = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| err("cannot read it", e))? {
            let Ok(e) = e else { continue };
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(md) = e.metadata() else { continue };
            if !md.is_file() || !name.ends_with(".pcap") {
                continue;
            }
            let mtime = md.modified().unwrap_or(std::time::UNIX_EPOCH);
            found.push((mtime, name.to_string(), md.len()));
        }
        found.sort();
        let mut w = Writer {
            dir,
            budget: cfg.disk_budget_mb << 20,
            files: HashMap::new(),
            order: VecDeque::new(),
            total: 0,
            next_gen: 0,
            stats,
            last_warn: None,
        };
        for (_, name, size) in found {
            w.add(name.into(), size, false);
        }
        w.hold_budget(None);
        Ok(w)
    }

    fn add(&mut self, name: Box<str>, size: u64, this_run: bool) {
        let gen = self.next_gen;
        self.next_gen += 1;
        if let Some(old) = self.files.insert(
            name.clone(),
            Entry {
                size,
                gen,
                this_run,
            },
        ) {
            self.total -= old.size;
        }
        self.order.push_back((name, gen));
        self.total += size;
    }

    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        for m in rx {
            match m {
                Msg::Start {
                    name,
                    link,
                    records,
                    packets,
                } => self.start(name, link, &records, packets),
                Msg::More {
                    name,
                    records,
                    packets,
                } => self.more(name, &records, packets),
                Msg::Finish => break,
            }
        }
    }

    fn start(&mut self, name: Box<str>, link: u16, records: &[u8], packets: u32) {
        if self.files.get(&name).is_some_and(|e| e.this_run) {
            // another flow with the same Community ID: one file for the conversation
            return self.more(name, records, packets);
        }
        let path = self.dir.join(&*name);
        let r = std::fs::File::create(&path).and_then(|mut f| {
            f.write_all(&pcap_header(link))?;
            f.write_all(records)
        });
        match r {
            Ok(()) => {
                self.stats.files.add(1);
                self.stats.packets.add(packets as u64);
                self.add(name.clone(), 24 + records.len() as u64, true);
                self.hold_budget(Some(&name));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                self.failed(&path, e, packets);
            }
        }
    }

    fn more(&mut self, name: Box<str>, records: &[u8], packets: u32) {
        if !self.files.get(&name).is_some_and(|e| e.this_run) {
            // the file was deleted to hold the budget (or never written)
            self.stats.dropped[EVIDENCE_BUDGET].add(packets as u64);
            return;
        }
        let path = self.dir.join(&*name);
        let r = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(records));
        match r {
            Ok(()) => {
                self.stats.packets.add(packets as u64);
                if let Some(e) = self.files.get_mut(&name) {
                    e.size += records.len() as u64;
                }
                self.total += records.len() as u64;
                self.hold_budget(Some(&name));
            }
            Err(e) => self.failed(&path, e, packets),
        }
    }

    fn failed(&mut self, path: &Path, e: std::io::Error, packets: u32) {
        self.stats.dropped[EVIDENCE_WRITE_ERROR].add(packets as u64);
        if self
            .last_warn
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            self.last_warn = Some(Instant::now());
            tracing::warn!(file = %path.display(), error = %e, "cannot write evidence: packets dropped (counted in spanwatch_evidence_dropped_packets_total{{reason=\"write_error\"}})");
        }
    }

    /// Delete the oldest files until the directory is within its budget (never `keep`, the
    /// file just written).
    fn hold_budget(&mut self, keep: Option<&str>) {
        let mut skipped = None;
        while self.total > self.budget {
            let Some((name, gen)) = self.order.pop_front() else {
                break;
            };
            if self.files.get(&name).is_none_or(|e| e.gen != gen) {
                continue;
            }
            if Some(&*name) == keep {
                skipped = Some((name, gen));
                continue;
            }
            let e = self.files.remove(&name).expect("present");
            self.total -= e.size;
            match std::fs::remove_file(self.dir.join(&*name)) {
                Ok(()) => self.stats.deleted.add(1),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => self.stats.deleted.add(1),
                Err(err) => {
                    tracing::warn!(file = %name, error = %err, "cannot delete an evidence file to hold evidence.disk_budget_mb");
                }
            }
        }
        if let Some(s) = skipped {
            self.order.push_front(s);
        }
        self.stats.disk_bytes.set(self.total);
    }
}
