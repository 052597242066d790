//! Live capture through AF_PACKET (Linux): one socket with its own TPACKET_V3 ring per
//! worker and interface, each interface's sockets in one `PACKET_FANOUT` group hashed on
//! the flow, so the kernel spreads flows over the workers and both directions of a flow
//! reach the same one (on one interface or two). Tunnelled packets are handed to the worker
//! of their inner flow (`handoff.rs`). Each worker thread
//! reads, decodes and keys its own packets (no capture thread in front, no copy), with its
//! own [`LiveClock`] and the loop every live source shares ([`run_loop`]).
//!
//! The capture counters are written by one thread each: a worker counts into a block of its
//! own and adds it to the sensor's at every tick, under a lock only the workers take (once
//! a tick, off the packet path). The output thread hears the tick from worker 0, carrying
//! the latest clock of all workers.

use super::dispatch::Dispatch;
use super::handoff::{Exchange, Handoff};
use super::live::{run_loop, tick_output, LiveClock, Source};
use super::worker::EventSink;
use super::Sensor;
use crate::capture::afpacket::{AfPacket, Fanout, SocketOptions};
use crate::capture::live::{LiveNext, LiveOptions};
use crate::capture::CaptureError;
use crate::output::{Event, Summary};
use crate::telemetry::CaptureStats;
use crossbeam_channel::Sender;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One of a worker's sockets, with whether it has said that drops started.
struct Ring {
    sock: AfPacket,
    idx: usize,
    dropping: bool,
    /// When it last said so, and the drops it has not reported since.
    warned: Option<std::time::Instant>,
    unreported: u64,
}

/// Drop warnings of one socket: at most one a minute.
const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Source for Ring {
    fn next(&mut self) -> Result<LiveNext<'_>, CaptureError> {
        self.sock.next()
    }
    fn fd(&self) -> RawFd {
        self.sock.fd()
    }
    fn fill(&self) -> f64 {
        self.sock.fill()
    }
    fn drops(&mut self, stats: &CaptureStats, i: usize) {
        // PACKET_STATISTICS resets the kernel's counts: each read is the increment.
        let Ok(s) = self.sock.stats() else {
            return;
        };
        stats.kernel_drops.add(s.drops);
        stats.iface_kernel_drops[i].add(s.drops);
        stats.ring_freezes.add(s.freezes);
        self.unreported += s.drops;
        let due = self.warned.is_none_or(|w| w.elapsed() >= WARN_EVERY);
        if s.drops > 0 && !self.dropping && due {
            tracing::warn!(
                interface = %self.sock.name(),
                worker = self.idx,
                dropped = self.unreported,
                ring_freezes = s.freezes,
                "the kernel is dropping packets: the worker cannot keep up with its ring \
                 (raise capture.ring_blocks or capture.block_kib, or add workers)"
            );
            self.warned = Some(std::time::Instant::now());
            self.unreported = 0;
        }
        self.dropping = s.drops > 0;
    }
}

/// Every worker on its own sockets (one per interface) until `stop`; `ready` runs once all
/// sockets are open.
///
/// The kernel keeps one fanout group per interface (a group's sockets must be bound to one
/// device), so each interface gets its own group, and every worker's socket joins each
/// group at the same place: `PACKET_FANOUT_HASH` picks the member at
/// `hash × members / 2³²` with the kernel's symmetric flow hash (`skb_get_hash_symmetric`:
/// addresses and ports in a fixed order, one random seed for the whole host, no device in
/// it), so a flow's packets reach the same worker whichever interface they came in on —
/// the two halves of a TAP merge into one flow record.
pub(super) fn live(
    sensor: &Sensor,
    opts: &[LiveOptions],
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(),
) -> Result<Summary, String> {
    let n = sensor.cfg.sensor.workers.max(1);
    let mut per_worker: Vec<Vec<AfPacket>> = (0..n).map(|_| Vec::new()).collect();
    for o in opts {
        // The first socket makes a fanout group with an id the kernel picks; the others
        // join it, in worker order.
        let mut so = SocketOptions {
            interface: o.interface.clone(),
            bpf: o.bpf.clone(),
            snaplen: o.snaplen,
            promisc: o.promisc,
            ring: o.ring,
            fanout: if n > 1 { Fanout::New } else { Fanout::Alone },
        };
        for socks in per_worker.iter_mut() {
            let s = AfPacket::open(&so).map_err(|e| e.to_string())?;
            if so.fanout == Fanout::New {
                match s.fanout_id().map_err(|e| e.to_string())? {
                    Some(id) => so.fanout = Fanout::Join(id),
                    None => return Err(format!("{}: the kernel made no fanout group", s.name())),
                }
            }
            socks.push(s);
        }
    }
    let mut exchange = if n > 1 {
        Some(Exchange::new(n, sensor.cfg.sensor.queue_packets)?)
    } else {
        None
    };
    ready();
    let tick = std::time::Duration::from_millis(sensor.cfg.capture.tick_ms.max(1));
    let (etx, out) = sensor.start_output(false, Some(tick))?;
    let timeout = opts.first().map_or(0, |o| o.ring.block_timeout_ms as i32);
    let lag = LiveClock::lag_for(false, timeout);
    let merge = Mutex::new(());
    let newest = AtomicU64::new(0);
    let flushed = AtomicUsize::new(0);
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = per_worker
            .into_iter()
            .enumerate()
            .map(|(idx, socks)| {
                let rings: Vec<Ring> = socks
                    .into_iter()
                    .map(|sock| Ring {
                        sock,
                        idx,
                        dropping: false,
                        warned: None,
                        unreported: 0,
                    })
                    .collect();
                let handoff = exchange.as_mut().and_then(|x| x.take(idx));
                let shared = Shared {
                    sensor,
                    etx: etx.clone(),
                    stop: &stop,
                    tick,
                    lag,
                    merge: &merge,
                    newest: &newest,
                    flushed: &flushed,
                    workers: n,
                };
                std::thread::Builder::new()
                    .name(format!("worker-{idx}"))
                    .spawn_scoped(s, move || worker(shared, idx, rings, handoff))
                    .map_err(|e| format!("cannot start worker {idx}: {e}"))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h {
                Ok(h) => h.join().unwrap_or(Some("a worker failed".into())),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    Some(e)
                }
            })
            .collect()
    });
    drop(etx);
    let summary = out.join().map_err(|_| "output thread failed".to_string())?;
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// What every worker thread shares.
struct Shared<'a> {
    sensor: &'a Sensor,
    etx: Sender<Vec<Event>>,
    stop: &'a AtomicBool,
    tick: std::time::Duration,
    lag: u64,
    merge: &'a Mutex<()>,
    newest: &'a AtomicU64,
    /// Workers that have stopped reading and sent their last hand-off parcels.
    flushed: &'a AtomicUsize,
    workers: usize,
}

fn worker(
    sh: Shared<'_>,
    idx: usize,
    mut rings: Vec<Ring>,
    mut handoff: Option<Handoff>,
) -> Option<String> {
    let sensor = sh.sensor;
    let w = sensor.make_worker(
        idx,
        EventSink::new(sh.etx.clone(), false),
        Some(sh.tick.as_nanos() as u64),
    );
    let mut dispatch = Dispatch::Inline(Box::new(w));
    let local = CaptureStats::default();
    let shared = &*sensor.tel.capture;
    let wstats = sensor.tel.workers[idx].clone();
    let add = |local: &CaptureStats| {
        let _g = sh.merge.lock().unwrap_or_else(|p| p.into_inner());
        local.drain_into(shared);
    };
    let mut clock = LiveClock::new(sh.lag);
    let (etx, newest) = (&sh.etx, sh.newest);
    let err = run_loop(
        &mut rings,
        &mut dispatch,
        handoff.as_mut(),
        &local,
        &mut clock,
        sh.tick,
        sh.stop,
        |stats, t, fill| {
            wstats.ring_fill_ppm.set((fill * 1e6) as u64);
            add(stats);
            let t = newest.fetch_max(t, Ordering::Relaxed).max(t);
            if idx == 0 {
                tick_output(etx, t);
            }
        },
    );
    if err.is_some() {
        // One worker's socket failed: the whole capture stops (and says why).
        sh.stop.store(true, Ordering::Relaxed);
    }
    if let Some(h) = handoff.as_mut() {
        // The others' last parcels (run_loop sent this worker's): wait, briefly, until every
        // worker has stopped reading, then take what they sent.
        sh.flushed.fetch_add(1, Ordering::AcqRel);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while sh.flushed.load(Ordering::Acquire) < sh.workers && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        h.receive(&mut dispatch, &mut clock);
    }
    dispatch.finish(&local);
    add(&local);
    err
}
