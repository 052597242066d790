//! Dispatch: decoded packets to the worker on the capture thread, or sharded by the
//! symmetric flow hash into per-worker batches on bounded queues (blocking in a replay,
//! dropping and counting live), with the time and the live tick carried along.

use super::worker::{EventSink, Worker};
use super::{Sensor, BATCH, TICK_NS};
use crate::capture::file::FileBytes;
use crate::capture::{LinkType, RawPacket};
use crate::decode::{decode, Decoded, Encap, PacketInfo};
use crate::flow::FlowKey;
use crate::telemetry::CaptureStats;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One packet as a worker receives it across a queue (32 bytes: the reader writes one per
/// packet).
struct Item {
    ts: u64,
    /// Offset into the batch's bytes: 64-bit, as a capture file may exceed 4 GiB.
    off: u64,
    len: u32,
    wire_len: u32,
    /// Index of the packet's decoded headers in the batch's `decoded`, or [`RAW`]: a plain
    /// Ethernet TCP packet that the reader sharded from its raw headers ([`raw_shard`]),
    /// which the worker decodes.
    decoded: u32,
    /// The packet's link type (`LINKTYPE_`, for evidence files), in the struct's padding.
    link: u16,
}

const _: () = assert!(std::mem::size_of::<Item>() == 32);

/// A link type as a pcap file's header field (the link types spanwatch reads fit 16 bits).
#[inline]
fn link_of(p: &RawPacket<'_>) -> u16 {
    p.linktype.as_u32() as u16
}

const RAW: u32 = u32::MAX;

/// A run of packets for one worker, with the bytes they point into.
pub(super) struct Batch {
    map: Option<Arc<FileBytes>>,
    owned: Vec<u8>,
    items: Vec<Item>,
    /// Headers decoded by the reader, with the flow key and direction it worked out.
    decoded: Vec<(PacketInfo, FlowKey, bool)>,
    /// Packet time at the dispatcher when the batch was sent.
    now: u64,
    /// A live tick: the worker hands its pending events over too.
    tick: bool,
}

pub(super) enum Msg {
    Batch(Batch),
    Finish,
}

impl Batch {
    fn new(map: Option<Arc<FileBytes>>) -> Batch {
        Batch {
            map,
            owned: Vec::new(),
            items: Vec::with_capacity(BATCH),
            decoded: Vec::new(),
            now: 0,
            tick: false,
        }
    }
    fn bytes(&self) -> &[u8] {
        match &self.map {
            Some(m) => m,
            None => &self.owned,
        }
    }
}

fn worker_loop(mut w: Worker, rx: Receiver<Msg>) {
    for m in rx {
        match m {
            Msg::Batch(b) => {
                let bytes = b.bytes();
                for it in &b.items {
                    w.set_link(it.link);
                    let data = bytes
                        .get(it.off as usize..it.off as usize + it.len as usize)
                        .unwrap_or(&[]);
                    if it.decoded == RAW {
                        // Decodes to IP with nothing to count ([`raw_shard`]'s checks).
                        if let Decoded::Ip(info) = decode(LinkType::Ethernet, data) {
                            w.packet_unkeyed(it.ts, it.wire_len, data, &info);
                        }
                    } else if let Some((info, key, fwd)) = b.decoded.get(it.decoded as usize) {
                        w.packet(it.ts, it.wire_len, data, info, key, *fwd);
                    }
                }
                if b.tick {
                    w.tick(b.now);
                } else {
                    w.advance(b.now);
                }
            }
            Msg::Finish => break,
        }
    }
    w.finish();
}

/// Count one packet read (before it is decoded).
#[inline]
fn count_read(stats: &CaptureStats, p: &RawPacket<'_>) {
    stats.packets.inc();
    stats.bytes.add(p.wire_len as u64);
    if p.ts_ns > stats.last_packet_ns.get() {
        stats.last_packet_ns.set(p.ts_ns);
    }
}

/// The shard hash (`FlowKey::shard_hash`, as for a decoded packet) of a plain Ethernet frame (no VLAN tag) carrying TCP in
/// IPv4 (not a fragment, whole) or IPv6 (TCP the first next header, whole), read straight
/// off its headers; `None` for anything else, or anything these checks are not sure of. A
/// packet with a hash here decodes (`decode`) as IP to the same flow key, with no
/// encapsulation, no fragment and no error: nothing for the capture counters beyond the
/// packet itself, so its worker may decode it (the reader's counters have one writer).
/// Checked against `decode` on every packet of the recorded fixtures
/// (`raw_shards_agree_with_decode`).
#[inline]
pub(super) fn raw_shard(data: &[u8]) -> Option<u64> {
    let be16 = |o: usize| -> Option<u16> {
        Some(u16::from_be_bytes(data.get(o..o + 2)?.try_into().ok()?))
    };
    let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
    let (v6, l4, l4_end) = match be16(12)? {
        0x0800 => {
            let vihl = *data.get(14)?;
            let hl = ((vihl & 0x0f) as usize) * 4;
            let total = be16(16)? as usize;
            let frag = be16(20)?;
            if vihl >> 4 != 4 || hl < 20 || *data.get(23)? != 6 || frag & 0x3fff != 0 {
                return None;
            }
            if total < hl + 20 || 14 + total > data.len() {
                return None;
            }
            src[..4].copy_from_slice(data.get(26..30)?);
            dst[..4].copy_from_slice(data.get(30..34)?);
            (false, 14 + hl, 14 + total)
        }
        0x86dd => {
            let plen = be16(18)? as usize;
            if *data.get(14)? >> 4 != 6
                || *data.get(20)? != 6
                || plen < 20
                || 54 + plen > data.len()
            {
                return None;
            }
            src.copy_from_slice(data.get(22..38)?);
            dst.copy_from_slice(data.get(38..54)?);
            (true, 54, 54 + plen)
        }
        _ => return None,
    };
    let thl = ((*data.get(l4 + 12)? >> 4) as usize) * 4;
    if thl < 20 || l4 + thl > l4_end {
        return None;
    }
    let (sp, dp) = (be16(l4)?, be16(l4 + 2)?);
    // FlowKey::of's order of the ends, (address, port) compared as one big-endian number
    let fwd = (u128::from_be_bytes(src), sp) <= (u128::from_be_bytes(dst), dp);
    let (lo, lo_port, hi, hi_port) = if fwd {
        (src, sp, dst, dp)
    } else {
        (dst, dp, src, sp)
    };
    let key = FlowKey {
        lo,
        hi,
        lo_port,
        hi_port,
        proto: 6,
        v6,
    };
    Some(key.shard_hash())
}

/// Decode one raw packet and count what the decoder saw.
#[inline]
pub(super) fn decode_counted(stats: &CaptureStats, p: &RawPacket<'_>) -> Option<PacketInfo> {
    count_read(stats, p);
    count_decoded(stats, p)
}

/// Decode a packet already counted as read, and count what the decoder saw.
#[inline]
fn count_decoded(stats: &CaptureStats, p: &RawPacket<'_>) -> Option<PacketInfo> {
    match decode(p.linktype, p.data) {
        Decoded::Ip(info) => {
            if !info.encap.is_empty() {
                for (i, (bit, _)) in Encap::NAMES.iter().enumerate() {
                    if info.encap.has(*bit) {
                        stats.encap[i].inc();
                    }
                }
            }
            if info.fragment {
                stats.fragments.inc();
                if info.later_fragment {
                    return None;
                }
            }
            Some(info)
        }
        Decoded::NonIp => {
            stats.non_ip.inc();
            None
        }
        Decoded::Error(l) => {
            stats.decode_errors[l as usize].inc();
            None
        }
    }
}

/// Where decoded packets go: the worker on this thread, or N worker threads.
pub(super) enum Dispatch {
    Inline(Box<Worker>),
    Threads {
        txs: Vec<Sender<Msg>>,
        batches: Vec<Batch>,
        handles: Vec<JoinHandle<()>>,
        lossless: bool,
        last_tick: u64,
    },
}

impl Dispatch {
    /// `tick_ns`: live, the tick (see [`Sensor::make_worker`]).
    pub(super) fn new(
        sensor: &Sensor,
        sink: EventSink,
        lossless: bool,
        tick_ns: Option<u64>,
    ) -> Dispatch {
        let n = sensor.cfg.sensor.workers;
        if n == 1 {
            return Dispatch::Inline(Box::new(sensor.make_worker(0, sink, tick_ns)));
        }
        let qcap = (sensor.cfg.sensor.queue_packets / BATCH).max(4);
        let mut txs = Vec::new();
        let mut handles = Vec::new();
        for i in 0..n {
            let (tx, rx) = bounded::<Msg>(qcap);
            let w = sensor.make_worker(i, sink.clone(), tick_ns);
            handles.push(
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || worker_loop(w, rx))
                    .expect("spawn worker"),
            );
            txs.push(tx);
        }
        Dispatch::Threads {
            txs,
            batches: (0..n).map(|_| Batch::new(None)).collect(),
            handles,
            lossless,
            last_tick: 0,
        }
    }

    /// Start a new source (file): batches point into its map.
    pub(super) fn set_source(&mut self, stats: &CaptureStats, map: Option<Arc<FileBytes>>) {
        // Pending packets point into the previous source: send them before switching.
        self.flush_all(stats, 0);
        if let Dispatch::Threads { batches, .. } = self {
            for b in batches.iter_mut() {
                b.map = map.clone();
            }
        }
    }

    /// A packet of a capture file at offset `off` of its map. With worker threads, a plain
    /// Ethernet TCP packet is keyed from its raw headers and decoded by its worker; anything
    /// else is decoded here.
    #[inline]
    pub(super) fn file_packet(&mut self, stats: &CaptureStats, p: &RawPacket<'_>, off: usize) {
        if let Dispatch::Threads { .. } = self {
            if p.linktype == LinkType::Ethernet {
                if let Some(h) = raw_shard(p.data) {
                    count_read(stats, p);
                    self.push(stats, p, h, None, Some(off));
                    return;
                }
            }
        }
        if let Some(info) = decode_counted(stats, p) {
            self.packet(stats, p, &info, Some(off));
        }
    }

    #[inline]
    pub(super) fn packet(
        &mut self,
        stats: &CaptureStats,
        p: &RawPacket<'_>,
        info: &PacketInfo,
        off: Option<usize>,
    ) {
        match self {
            // One worker: no sharding, the worker works the key out.
            Dispatch::Inline(w) => {
                w.set_link(link_of(p));
                w.packet_unkeyed(p.ts_ns, p.wire_len, p.data, info)
            }
            Dispatch::Threads { .. } => {
                let (key, fwd) = FlowKey::of(info);
                self.push(stats, p, key.shard_hash(), Some((*info, key, fwd)), off);
            }
        }
    }

    /// A packet decoded and keyed elsewhere (an AF_PACKET worker's hand-off), to the worker
    /// on this thread.
    #[inline]
    pub(super) fn keyed(
        &mut self,
        ts: u64,
        wire_len: u32,
        data: &[u8],
        info: &PacketInfo,
        key: &FlowKey,
        fwd: bool,
    ) {
        if let Dispatch::Inline(w) = self {
            w.packet(ts, wire_len, data, info, key, fwd);
        }
    }

    /// Into the batch of the worker that owns the flow (worker threads only): `shard` is
    /// its key's `shard_hash`, `decoded` the headers when the reader decoded them.
    #[inline]
    fn push(
        &mut self,
        stats: &CaptureStats,
        p: &RawPacket<'_>,
        shard: u64,
        decoded: Option<(PacketInfo, FlowKey, bool)>,
        off: Option<usize>,
    ) {
        let mut tick = false;
        match self {
            Dispatch::Inline(_) => {}
            Dispatch::Threads {
                txs,
                batches,
                lossless,
                last_tick,
                ..
            } => {
                let i = (shard % txs.len() as u64) as usize;
                let b = &mut batches[i];
                let (off, len) = match off {
                    Some(o) => (o as u64, p.data.len() as u32),
                    None => {
                        let o = b.owned.len() as u64;
                        b.owned.extend_from_slice(p.data);
                        (o, p.data.len() as u32)
                    }
                };
                let decoded = match decoded {
                    Some(d) => {
                        b.decoded.push(d);
                        b.decoded.len() as u32 - 1
                    }
                    None => RAW,
                };
                b.items.push(Item {
                    ts: p.ts_ns,
                    off,
                    len,
                    wire_len: p.wire_len,
                    decoded,
                    link: link_of(p),
                });
                if b.items.len() >= BATCH {
                    let map = b.map.clone();
                    let mut full = std::mem::replace(b, Batch::new(map));
                    full.now = p.ts_ns;
                    send(&txs[i], full, *lossless, stats);
                }
                if p.ts_ns >= *last_tick + TICK_NS {
                    *last_tick = p.ts_ns;
                    tick = true;
                }
            }
        }
        if tick {
            self.flush_all(stats, p.ts_ns);
        }
    }

    /// The inline worker's pending events to the output thread (worker threads send theirs
    /// as their batches go).
    pub(super) fn flush_events(&mut self) {
        if let Dispatch::Inline(w) = self {
            w.flush_events();
        }
    }

    /// Send every pending batch (even empty ones: they carry the time).
    fn flush_all(&mut self, stats: &CaptureStats, now: u64) {
        self.send_all(stats, now, false);
    }

    /// A live tick: every worker moves to `now` and hands its pending events over, with the
    /// packets waiting in its batch (time-only batches when there are none).
    pub(super) fn tick(&mut self, stats: &CaptureStats, now: u64) {
        self.send_all(stats, now, true);
    }

    fn send_all(&mut self, stats: &CaptureStats, now: u64, tick: bool) {
        match self {
            Dispatch::Inline(w) if tick => w.tick(now),
            Dispatch::Inline(w) => w.advance(now),
            Dispatch::Threads {
                txs,
                batches,
                lossless,
                ..
            } => {
                for (i, b) in batches.iter_mut().enumerate() {
                    let map = b.map.clone();
                    let mut full = std::mem::replace(b, Batch::new(map));
                    full.now = now;
                    full.tick = tick;
                    send(&txs[i], full, *lossless, stats);
                }
            }
        }
    }

    pub(super) fn finish(self, stats: &CaptureStats) {
        match self {
            Dispatch::Inline(mut w) => w.finish(),
            Dispatch::Threads {
                txs,
                mut batches,
                handles,
                lossless,
                ..
            } => {
                for (i, b) in batches.drain(..).enumerate() {
                    send(&txs[i], b, lossless, stats);
                    let _ = txs[i].send(Msg::Finish);
                }
                for h in handles {
                    let _ = h.join();
                }
            }
        }
    }
}

fn send(tx: &Sender<Msg>, b: Batch, lossless: bool, stats: &CaptureStats) {
    let n = b.items.len() as u64;
    if lossless {
        let _ = tx.send(Msg::Batch(b));
    } else if let Err(TrySendError::Full(_)) = tx.try_send(Msg::Batch(b)) {
        stats.queue_drops.add(n);
    }
}
