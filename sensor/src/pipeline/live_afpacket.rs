//! Live capture through AF_PACKET (Linux): one socket with its own TPACKET_V3 ring per
//! worker, all in one `PACKET_FANOUT` group hashed on the flow, so the kernel spreads flows
//! over the workers and both directions of a flow reach the same one. Each worker thread
//! reads, decodes and keys its own packets (no capture thread in front, no copy), with its
//! own [`LiveClock`] and the loop every live source shares ([`run_loop`]).
//!
//! The capture counters are written by one thread each: a worker counts into a block of its
//! own and adds it to the sensor's at every tick, under a lock only the workers take (once
//! a tick, off the packet path). The output thread hears the tick from worker 0, carrying
//! the latest clock of all workers.

use super::dispatch::Dispatch;
use super::live::{run_loop, tick_output, LiveClock, Source};
use super::worker::EventSink;
use super::Sensor;
use crate::capture::afpacket::{AfPacket, Fanout, SocketOptions};
use crate::capture::live::{LiveNext, LiveOptions};
use crate::capture::CaptureError;
use crate::output::{Event, Summary};
use crate::telemetry::CaptureStats;
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One worker's socket, with whether it has said that drops started.
struct Ring {
    sock: AfPacket,
    idx: usize,
    dropping: bool,
}

impl Source for Ring {
    fn next(&mut self) -> Result<LiveNext<'_>, CaptureError> {
        self.sock.next()
    }
    fn wait(&self, timeout: std::time::Duration) {
        self.sock.wait(timeout);
    }
    fn drops(&mut self, stats: &CaptureStats) {
        // PACKET_STATISTICS resets the kernel's counts: each read is the increment.
        let Ok(s) = self.sock.stats() else {
            return;
        };
        stats.kernel_drops.add(s.drops);
        if s.drops > 0 && !self.dropping {
            tracing::warn!(
                interface = %self.sock.name(),
                worker = self.idx,
                dropped = s.drops,
                ring_freezes = s.freezes,
                "the kernel is dropping packets: the worker cannot keep up with its ring \
                 (raise capture.ring_blocks or capture.block_kib, or add workers)"
            );
        }
        self.dropping = s.drops > 0;
    }
}

/// Every worker on its own socket until `stop`; `ready` runs once all sockets are open.
pub(super) fn live(
    sensor: &Sensor,
    opts: &LiveOptions,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(),
) -> Result<Summary, String> {
    let n = sensor.cfg.sensor.workers.max(1);
    // The first socket makes a fanout group with an id the kernel picks; the others join it.
    let mut so = SocketOptions {
        interface: opts.interface.clone(),
        bpf: opts.bpf.clone(),
        snaplen: opts.snaplen,
        promisc: opts.promisc,
        ring: opts.ring,
        fanout: if n > 1 { Fanout::New } else { Fanout::Alone },
    };
    let mut socks = Vec::with_capacity(n);
    for _ in 0..n {
        let s = AfPacket::open(&so).map_err(|e| e.to_string())?;
        if so.fanout == Fanout::New {
            match s.fanout_id().map_err(|e| e.to_string())? {
                Some(id) => so.fanout = Fanout::Join(id),
                None => return Err(format!("{}: the kernel made no fanout group", s.name())),
            }
        }
        socks.push(s);
    }
    ready();
    let tick = std::time::Duration::from_millis(sensor.cfg.capture.tick_ms.max(1));
    let (etx, out) = sensor.start_output(false, Some(tick))?;
    let lag = LiveClock::lag_for(false, opts.ring.block_timeout_ms as i32);
    let merge = Mutex::new(());
    let newest = AtomicU64::new(0);
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = socks
            .into_iter()
            .enumerate()
            .map(|(idx, sock)| {
                let ring = Ring {
                    sock,
                    idx,
                    dropping: false,
                };
                let (etx, stop, merge, newest) = (etx.clone(), &*stop, &merge, &newest);
                std::thread::Builder::new()
                    .name(format!("worker-{idx}"))
                    .spawn_scoped(s, move || {
                        worker(sensor, ring, etx, stop, tick, lag, merge, newest)
                    })
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

#[allow(clippy::too_many_arguments)]
fn worker(
    sensor: &Sensor,
    mut ring: Ring,
    etx: Sender<Vec<Event>>,
    stop: &AtomicBool,
    tick: std::time::Duration,
    lag: u64,
    merge: &Mutex<()>,
    newest: &AtomicU64,
) -> Option<String> {
    let idx = ring.idx;
    let w = sensor.make_worker(
        idx,
        EventSink::new(etx.clone(), false),
        Some(tick.as_nanos() as u64),
    );
    let mut dispatch = Dispatch::Inline(Box::new(w));
    let local = CaptureStats::default();
    let shared = &*sensor.tel.capture;
    let add = |local: &CaptureStats| {
        let _g = merge.lock().unwrap_or_else(|p| p.into_inner());
        local.drain_into(shared);
    };
    let mut clock = LiveClock::new(lag);
    let err = run_loop(
        &mut ring,
        &mut dispatch,
        &local,
        &mut clock,
        tick,
        stop,
        |stats, t| {
            add(stats);
            let t = newest.fetch_max(t, Ordering::Relaxed).max(t);
            if idx == 0 {
                tick_output(&etx, t);
            }
        },
    );
    if err.is_some() {
        // One worker's socket failed: the whole capture stops (and says why).
        stop.store(true, Ordering::Relaxed);
    }
    dispatch.finish(&local);
    add(&local);
    err
}
