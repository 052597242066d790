//! A worker's side of packet evidence (`[evidence]`): each flow's opening packets kept in
//! its [`Keep`] from its first packet, freed when its opening is classified without an
//! alert; on an alert the kept packets go to the writer and the packets after it follow,
//! in chunks, up to the limits. Nothing here blocks live: a full queue drops (counted).

use crate::detect::Flow;
use crate::flow::keep::{Keep, KeepState};
use crate::output::evidence::{file_name, EvidenceConfig, Msg};
use crate::telemetry::{EvidenceStats, EVIDENCE_MEMORY, EVIDENCE_QUEUE_FULL};
use crossbeam_channel::{Sender, TrySendError};
use std::sync::Arc;

/// Packets after an alert gathered before they go to the writer (also sent at each sweep
/// and when the flow ends).
const CHUNK_PACKETS: u32 = 16;

pub struct Tap {
    tx: Sender<Msg>,
    lossless: bool,
    before: u32,
    after: u32,
    max_bytes: usize,
    /// Bytes of records this worker holds, and its share of `evidence.memory_mb`.
    mem: usize,
    mem_cap: usize,
    /// Link type of the packets being handed in (`LINKTYPE_`).
    pub link: u16,
    stats: Arc<EvidenceStats>,
    dropping: bool,
    /// Whether the packet last handed in was kept (an alert on a packet past the opening
    /// limits adds it).
    kept_current: bool,
    /// Boxes of flows that ended, for new flows (no allocation per flow once warm): the
    /// boxes themselves are what is reused, so they stay boxed.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Keep>>,
}

/// Boxes a worker keeps for reuse, and the buffer each may keep.
const POOL: usize = 1024;
const POOL_BUF: usize = 4096;

impl Tap {
    pub fn new(
        cfg: &EvidenceConfig,
        workers: usize,
        tx: Sender<Msg>,
        lossless: bool,
        stats: Arc<EvidenceStats>,
    ) -> Tap {
        Tap {
            tx,
            lossless,
            before: cfg.max_packets_before,
            after: cfg.max_packets_after,
            max_bytes: cfg.max_bytes as usize,
            mem: 0,
            mem_cap: ((cfg.memory_mb << 20) / workers.max(1) as u64) as usize,
            link: 1,
            stats,
            dropping: false,
            kept_current: false,
            pool: Vec::new(),
        }
    }

    /// One packet of `flow` (`new`: its first).
    #[inline]
    pub fn packet(&mut self, flow: &mut Flow, new: bool, ts: u64, wire_len: u32, data: &[u8]) {
        self.kept_current = false;
        if new {
            let k = match self.pool.pop() {
                Some(mut k) => {
                    k.reset(self.link);
                    k
                }
                None => Box::new(Keep::new(self.link)),
            };
            flow.detect.keep = Some(k);
        }
        let Some(k) = flow.detect.keep.as_deref_mut() else {
            return;
        };
        match k.state {
            KeepState::Opening => {
                if k.packets >= self.before {
                    k.state = KeepState::Full;
                    return;
                }
                let room = self.max_bytes.saturating_sub(k.bytes as usize);
                if self.mem + room.min(data.len() + 16) > self.mem_cap {
                    self.stats.dropped[EVIDENCE_MEMORY].add(1);
                    k.state = KeepState::Full;
                    return;
                }
                let n = k.push(ts, wire_len, data, room);
                if n == 0 {
                    k.state = KeepState::Full;
                }
                self.mem += n;
                self.kept_current = n > 0;
            }
            KeepState::Alerted => {
                let room = self.max_bytes.saturating_sub(k.bytes as usize);
                let n = k.push(ts, wire_len, data, room);
                self.mem += n;
                if n > 0 {
                    k.after_left -= 1;
                }
                if n == 0 || k.after_left == 0 {
                    k.state = KeepState::Done;
                    self.flush(k);
                } else if k.pending >= CHUNK_PACKETS {
                    self.flush(k);
                }
            }
            KeepState::Full | KeepState::Done => {}
        }
    }

    /// The flow's opening is classified: without an alert, its packets are let go.
    #[inline]
    pub fn classified(&mut self, flow: &mut Flow) {
        if flow.detect.keep.is_some() && !flow.detect.alerted {
            self.end(flow);
        }
    }

    /// The flow alerted: its file starts with the packets kept (or the flow's earlier alert
    /// started it). The reference for the alert's EVE record, when there is a file.
    pub fn alert(
        &mut self,
        community_id: &str,
        flow: &mut Flow,
        (ts, wire_len, data): (u64, u32, &[u8]),
    ) -> Option<(String, u32)> {
        let k = flow.detect.keep.as_deref_mut()?;
        if let Some(name) = &k.name {
            return Some((name.to_string(), k.packets));
        }
        if !self.kept_current && k.state == KeepState::Full {
            // past the opening limits: the alert's own packet still goes in
            let room = self.max_bytes.saturating_sub(k.bytes as usize);
            self.mem += k.push(ts, wire_len, data, room);
            self.kept_current = true;
        }
        if k.packets == 0 {
            return None;
        }
        let name: Box<str> = file_name(community_id).into();
        let (records, packets) = k.take();
        self.mem -= records.len();
        let sent = self.send(Msg::Start {
            name: name.clone(),
            link: k.link,
            records,
            packets,
        });
        if !sent {
            k.state = KeepState::Done;
            return None;
        }
        k.name = Some(name.clone());
        k.after_left = self.after;
        k.state = if self.after > 0 {
            KeepState::Alerted
        } else {
            KeepState::Done
        };
        Some((name.into(), k.packets))
    }

    /// A sweep: packets after an alert waiting in a chunk go to the writer now.
    #[inline]
    pub fn sweep(&mut self, flow: &mut Flow) {
        if let Some(k) = flow.detect.keep.as_deref_mut() {
            if k.pending > 0 && k.name.is_some() {
                self.flush(k);
            }
        }
    }

    /// The flow ends (`going_on`: an active-timeout record, the flow stays): what waits is
    /// written, and the flow's memory is let go.
    pub fn end(&mut self, flow: &mut Flow) {
        let Some(mut k) = flow.detect.keep.take() else {
            return;
        };
        if k.name.is_some() && k.pending > 0 {
            self.flush(&mut k);
        }
        self.mem -= k.buf.len();
        if self.pool.len() < POOL {
            if k.buf.capacity() > POOL_BUF {
                k.buf = Vec::new();
            }
            self.pool.push(k);
        }
    }

    fn flush(&mut self, k: &mut Keep) {
        let Some(name) = k.name.clone() else {
            return;
        };
        let (records, packets) = k.take();
        self.mem -= records.len();
        self.send(Msg::More {
            name,
            records,
            packets,
        });
    }

    /// To the writer: blocking in a replay; live, a full queue drops (counted, logged once
    /// each time drops start).
    fn send(&mut self, m: Msg) -> bool {
        if self.lossless {
            return self.tx.send(m).is_ok();
        }
        match self.tx.try_send(m) {
            Ok(()) => {
                self.dropping = false;
                true
            }
            Err(TrySendError::Full(m) | TrySendError::Disconnected(m)) => {
                let n = match m {
                    Msg::Start { packets, .. } | Msg::More { packets, .. } => packets,
                    Msg::Finish => 0,
                };
                self.stats.dropped[EVIDENCE_QUEUE_FULL].add(n as u64);
                if !self.dropping {
                    self.dropping = true;
                    tracing::warn!(
                        "the evidence writer is behind: packets dropped (evidence.queue_size; counted in spanwatch_evidence_dropped_packets_total{{reason=\"queue_full\"}})"
                    );
                }
                false
            }
        }
    }
}
