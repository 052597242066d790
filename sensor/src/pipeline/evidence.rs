//! A worker's side of packet evidence (`[evidence]`): each flow's opening packets kept in
//! a [`Keep`] from its first packet, freed when its opening is classified without an
//! alert; on an alert the kept packets go to the writer and the packets after it follow,
//! in chunks, up to the limits. Nothing here blocks live: a full queue drops (counted).
//!
//! The keeps live in the worker's own table by flow key, not in the flows: a flow only
//! carries the flag `kept` (in its padding), so with evidence off flows are no bigger, and
//! with it on only the flows being kept cost anything.

use crate::detect::Flow;
use crate::flow::keep::{Keep, KeepState};
use crate::flow::FlowKey;
use crate::output::evidence::{file_name, EvidenceConfig, Msg};
use crate::telemetry::{EvidenceStats, EVIDENCE_MEMORY, EVIDENCE_QUEUE_FULL};
use crossbeam_channel::{Sender, TrySendError};
use std::collections::HashMap;
use std::sync::Arc;

/// Packets after an alert gathered before they go to the writer (also sent at each sweep
/// and when the flow ends).
const CHUNK_PACKETS: u32 = 16;

pub struct Tap {
    /// The flows whose packets are kept (the flows with `detect.kept`).
    keeps: HashMap<FlowKey, Box<Keep>, ahash::RandomState>,
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
            keeps: HashMap::with_hasher(ahash::RandomState::with_seeds(21, 22, 23, 24)),
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
    pub fn packet(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        new: bool,
        (ts, wire_len, data): (u64, u32, &[u8]),
    ) {
        self.kept_current = false;
        if new {
            let k = match self.pool.pop() {
                Some(mut k) => {
                    k.reset(self.link);
                    k
                }
                None => Box::new(Keep::new(self.link)),
            };
            if let Some(old) = self.keeps.insert(*key, k) {
                self.mem = self.mem.saturating_sub(old.buf.len());
            }
            flow.detect.kept = true;
        } else if !flow.detect.kept {
            return;
        }
        let Some(k) = self.keeps.get_mut(key) else {
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
                }
                if k.state == KeepState::Done || k.pending >= CHUNK_PACKETS {
                    flush(
                        &self.tx,
                        self.lossless,
                        &self.stats,
                        &mut self.dropping,
                        &mut self.mem,
                        k,
                    );
                }
            }
            KeepState::Full | KeepState::Done => {}
        }
    }

    /// The flow's opening is classified: without an alert, its packets are let go.
    #[inline]
    pub fn classified(&mut self, key: &FlowKey, flow: &mut Flow) {
        if flow.detect.kept && !flow.detect.alerted {
            self.end(key, flow);
        }
    }

    /// The flow alerted: its file starts with the packets kept (or the flow's earlier alert
    /// started it). The reference for the alert's EVE record, when there is a file.
    pub fn alert(
        &mut self,
        community_id: &str,
        key: &FlowKey,
        flow: &Flow,
        (ts, wire_len, data): (u64, u32, &[u8]),
    ) -> Option<(String, u32)> {
        if !flow.detect.kept {
            return None;
        }
        let k = self.keeps.get_mut(key)?;
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
        self.mem = self.mem.saturating_sub(records.len());
        let sent = send(
            &self.tx,
            self.lossless,
            &self.stats,
            &mut self.dropping,
            Msg::Start {
                name: name.clone(),
                link: k.link,
                records,
                packets,
            },
        );
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
    pub fn sweep(&mut self, key: &FlowKey, flow: &Flow) {
        if !flow.detect.kept {
            return;
        }
        if let Some(k) = self.keeps.get_mut(key) {
            if k.pending > 0 && k.name.is_some() {
                flush(
                    &self.tx,
                    self.lossless,
                    &self.stats,
                    &mut self.dropping,
                    &mut self.mem,
                    k,
                );
            }
        }
    }

    /// The flow ends (`going_on`: an active-timeout record, the flow stays): what waits is
    /// written, and the flow's memory is let go.
    pub fn end(&mut self, key: &FlowKey, flow: &mut Flow) {
        if !std::mem::take(&mut flow.detect.kept) {
            return;
        }
        let Some(mut k) = self.keeps.remove(key) else {
            return;
        };
        if k.name.is_some() && k.pending > 0 {
            flush(
                &self.tx,
                self.lossless,
                &self.stats,
                &mut self.dropping,
                &mut self.mem,
                &mut k,
            );
        }
        self.mem = self.mem.saturating_sub(k.buf.len());
        if self.pool.len() < POOL {
            if k.buf.capacity() > POOL_BUF {
                k.buf = Vec::new();
            }
            self.pool.push(k);
        }
    }
}

/// The packets after an alert waiting in `k` go to the writer.
fn flush(
    tx: &Sender<Msg>,
    lossless: bool,
    stats: &EvidenceStats,
    dropping: &mut bool,
    mem: &mut usize,
    k: &mut Keep,
) {
    let Some(name) = k.name.clone() else {
        return;
    };
    let (records, packets) = k.take();
    *mem = mem.saturating_sub(records.len());
    send(
        tx,
        lossless,
        stats,
        dropping,
        Msg::More {
            name,
            records,
            packets,
        },
    );
}

/// To the writer: blocking in a replay; live, a full queue drops (counted, logged once
/// each time drops start).
fn send(
    tx: &Sender<Msg>,
    lossless: bool,
    stats: &EvidenceStats,
    dropping: &mut bool,
    m: Msg,
) -> bool {
    if lossless {
        return tx.send(m).is_ok();
    }
    match tx.try_send(m) {
        Ok(()) => {
            *dropping = false;
            true
        }
        Err(TrySendError::Full(m) | TrySendError::Disconnected(m)) => {
            let n = match m {
                Msg::Start { packets, .. } | Msg::More { packets, .. } => packets,
                Msg::Finish => 0,
            };
            stats.dropped[EVIDENCE_QUEUE_FULL].add(n as u64);
            if !*dropping {
                *dropping = true;
                tracing::warn!(
                    "the evidence writer is behind: packets dropped (evidence.queue_size; counted in spanwatch_evidence_dropped_packets_total{{reason=\"queue_full\"}})"
                );
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::FlowDetect;
    use crossbeam_channel::bounded;

    fn flow() -> Flow {
        Flow::new(1, 0, true, FlowDetect::default())
    }

    fn key(port: u16) -> FlowKey {
        FlowKey {
            lo: Default::default(),
            hi: Default::default(),
            lo_port: port,
            hi_port: 80,
            proto: 6,
            v6: false,
        }
    }

    const CID: &str = "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=";

    #[test]
    fn live_a_full_queue_drops_and_counts_and_never_blocks() {
        let (tx, rx) = bounded(1);
        let stats = Arc::new(EvidenceStats::default());
        let cfg = EvidenceConfig::default();
        let mut tap = Tap::new(&cfg, 1, tx, false, stats.clone());
        let pkt = [0u8; 60];
        let mut a = flow();
        let mut b = flow();
        for (i, f) in [&mut a, &mut b].into_iter().enumerate() {
            let k = key(i as u16);
            tap.packet(&k, f, true, (1, 60, &pkt));
            tap.packet(&k, f, false, (2, 60, &pkt));
            let r = tap.alert(CID, &k, f, (2, 60, &pkt));
            // the first fills the queue; the second is dropped, not waited for
            assert_eq!(r.is_some(), i == 0);
        }
        assert_eq!(stats.dropped[EVIDENCE_QUEUE_FULL].get(), 2);
        assert!(matches!(rx.try_recv(), Ok(Msg::Start { packets: 2, .. })));
        // the flow whose file was dropped keeps nothing more
        tap.packet(&key(1), &mut b, false, (3, 60, &pkt));
        assert_eq!(tap.keeps[&key(1)].state, KeepState::Done);
        tap.end(&key(0), &mut a);
        tap.end(&key(1), &mut b);
        assert!(tap.keeps.is_empty() && !a.detect.kept && !b.detect.kept);
    }

    #[test]
    fn a_flow_classified_without_an_alert_lets_its_packets_go() {
        let (tx, _rx) = bounded(4);
        let mut tap = Tap::new(&EvidenceConfig::default(), 1, tx, true, Arc::default());
        let mut f = flow();
        tap.packet(&key(1), &mut f, true, (1, 1500, &[0u8; 1500]));
        assert!(tap.mem > 1500);
        tap.classified(&key(1), &mut f);
        assert!(!f.detect.kept && tap.keeps.is_empty());
        assert_eq!(tap.mem, 0);
        assert_eq!(tap.pool.len(), 1, "its box goes to the pool");
        let mut g = flow();
        tap.packet(&key(2), &mut g, true, (1, 60, &[0u8; 60]));
        assert!(tap.pool.is_empty(), "the next flow reuses it");
    }

    #[test]
    fn the_opening_stops_at_max_packets_before_but_the_alert_packet_goes_in() {
        let (tx, rx) = bounded(4);
        let cfg = EvidenceConfig {
            max_packets_before: 3,
            max_packets_after: 2,
            ..Default::default()
        };
        let mut tap = Tap::new(&cfg, 1, tx, true, Arc::default());
        let mut f = flow();
        for ts in 1..=6 {
            tap.packet(&key(1), &mut f, ts == 1, (ts, 60, &[ts as u8; 60]));
        }
        let (name, n) = tap.alert(CID, &key(1), &f, (6, 60, &[6u8; 60])).unwrap();
        assert_eq!(name, "1_hO-sN4H-MG5MY_8hIrXPqc4ZQz0=.pcap");
        assert_eq!(n, 4, "three opening packets and the alert's");
        for ts in 7..=9 {
            tap.packet(&key(1), &mut f, false, (ts, 60, &[ts as u8; 60]));
        }
        let Ok(Msg::Start { records, .. }) = rx.try_recv() else {
            panic!("no start")
        };
        assert_eq!(records.len(), 4 * (16 + 60));
        assert_eq!(records[3 * 76 + 16], 6, "the alert's packet is the fourth");
        let Ok(Msg::More {
            packets, records, ..
        }) = rx.try_recv()
        else {
            panic!("no packets after the alert")
        };
        assert_eq!(
            (packets, records[16]),
            (2, 7),
            "two packets after, from the next"
        );
        assert!(rx.try_recv().is_err());
    }
}
