//! Live capture: the non-blocking capture loop ([`run_loop`], shared by every source), the
//! clock that moves on by wall time when the link is quiet ([`LiveClock`]), and its two
//! drivers: libpcap on a capture thread that shards to the workers, or (Linux) one
//! AF_PACKET socket per worker in a fanout group, each worker reading its own
//! (`live_afpacket.rs`).

use super::dispatch::{decode_counted, Dispatch};
use super::worker::EventSink;
use super::Sensor;
use crate::capture::live::{CaptureMethod, LiveCapture, LiveNext, LiveOptions};
use crate::capture::CaptureError;
use crate::output::eve::wall_ns;
use crate::output::{Event, Summary};
use crate::telemetry::CaptureStats;
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The live clock: packet time, moved on by wall time when the link is quiet.
///
/// Wall time may only count once no packet older than it can still come: a packet waits in
/// the kernel's buffer up to the buffer timeout (twice that when it lands in a block opened
/// just after the kernel's retire timer ran) before the capture sees it. So the clock at a
/// tick is the latest of the last packet's time and the wall time at which the capture last
/// found the buffer empty less that lag. Under a steady load the buffer is never found
/// empty and the clock is packet time alone, as in a replay. It never goes back.
#[derive(Debug, Default)]
pub struct LiveClock {
    lag_ns: u64,
    now: u64,
    last_packet: u64,
    drained_wall: u64,
}

impl LiveClock {
    /// `lag_ns`: how long a packet can wait in the kernel before the capture sees it.
    pub fn new(lag_ns: u64) -> LiveClock {
        LiveClock {
            lag_ns,
            ..Default::default()
        }
    }

    /// The lag for these capture options: twice the buffer timeout (none in immediate
    /// mode) and 50 ms for the scheduler and the timer's slack.
    pub fn lag_for(immediate: bool, timeout_ms: i32) -> u64 {
        let buffer = if immediate {
            0
        } else {
            2 * timeout_ms.max(0) as u64
        };
        (buffer + 50) * 1_000_000
    }

    #[inline]
    pub fn packet(&mut self, ts: u64) {
        if ts > self.last_packet {
            self.last_packet = ts;
        }
    }

    /// The capture found nothing to read at wall time `wall`.
    pub fn drained(&mut self, wall: u64) {
        self.drained_wall = wall;
    }

    /// The time a tick carries.
    pub fn tick(&mut self) -> u64 {
        self.now = self
            .now
            .max(self.last_packet)
            .max(self.drained_wall.saturating_sub(self.lag_ns));
        self.now
    }
}

/// Packets between two looks at the wall clock while packets keep coming.
const CLOCK_CHECK_PACKETS: u32 = 64;

/// A live packet source the loop reads: non-blocking, with a descriptor to wait on.
pub(super) trait Source {
    fn next(&mut self) -> Result<LiveNext<'_>, CaptureError>;
    /// Wait until a packet may be ready or `timeout` has passed.
    fn wait(&self, timeout: std::time::Duration);
    /// Refresh the drop counters in `stats` (on every tick and at the end).
    fn drops(&mut self, stats: &CaptureStats);
}

impl Source for LiveCapture {
    fn next(&mut self) -> Result<LiveNext<'_>, CaptureError> {
        LiveCapture::next(self)
    }
    fn wait(&self, timeout: std::time::Duration) {
        LiveCapture::wait(self, timeout);
    }
    fn drops(&mut self, stats: &CaptureStats) {
        self.refresh_stats();
        stats.kernel_drops.set(self.kernel_drops.total());
        stats.iface_drops.set(self.iface_drops.total());
    }
}

/// One reading thread's loop: until `stop`, read until nothing is ready, then wait on the
/// descriptor until a packet may be there or the next tick is due. Each tick (every
/// `tick` of wall time, packets or not) takes the clock to `dispatch`'s workers, then
/// `on_tick(stats, clock)` (which tells the output thread), and refreshes the drop counters.
/// Returns the error that ended the loop, if any (not one seen after `stop` was set).
pub(super) fn run_loop<S: Source>(
    src: &mut S,
    dispatch: &mut Dispatch,
    stats: &CaptureStats,
    clock: &mut LiveClock,
    tick: std::time::Duration,
    stop: &AtomicBool,
    mut on_tick: impl FnMut(&CaptureStats, u64),
) -> Option<String> {
    let mut next_tick = std::time::Instant::now() + tick;
    let mut since_check = 0u32;
    let mut err = None;
    while !stop.load(Ordering::Relaxed) {
        match src.next() {
            Ok(LiveNext::Packet(p)) => {
                clock.packet(p.ts_ns);
                if let Some(info) = decode_counted(stats, &p) {
                    dispatch.packet(stats, &p, &info, None);
                }
                since_check += 1;
                if since_check < CLOCK_CHECK_PACKETS {
                    continue;
                }
                since_check = 0;
            }
            Ok(LiveNext::Idle) => {
                // Nothing to read: off the packet path, the wall clock is cheap here.
                clock.drained(wall_ns());
                let now = std::time::Instant::now();
                if now < next_tick {
                    src.wait(next_tick - now);
                    continue;
                }
            }
            Err(e) => {
                // Woken by the shutdown (breakloop) is a normal end, not a failure.
                if !stop.load(Ordering::Relaxed) {
                    err = Some(e.to_string());
                }
                break;
            }
        }
        let now = std::time::Instant::now();
        if now >= next_tick {
            next_tick = now + tick;
            let t = clock.tick();
            dispatch.tick(stats, t);
            src.drops(stats);
            on_tick(stats, t);
        }
    }
    src.drops(stats);
    err
}

/// Live capture until `stop` is set. The caller serves /metrics from `sensor.tel`.
///
/// With `capture.method = "af_packet"` (Linux) every worker reads its own socket of one
/// fanout group; with `"pcap"` one capture thread reads libpcap's handle and shards to the
/// workers. `ready` runs once the capture is open (privileges may be dropped then).
pub fn live(
    sensor: &Sensor,
    opts: &LiveOptions,
    stop: Arc<AtomicBool>,
    waker: Arc<std::sync::Mutex<Option<pcap::BreakLoop>>>,
    ready: impl FnOnce(),
) -> Result<Summary, String> {
    match opts.method {
        #[cfg(target_os = "linux")]
        CaptureMethod::AfPacket => super::live_afpacket::live(sensor, opts, stop, ready),
        #[cfg(not(target_os = "linux"))]
        CaptureMethod::AfPacket => Err("capture.method = \"af_packet\" needs Linux".into()),
        CaptureMethod::Pcap => live_pcap(sensor, opts, stop, waker, ready),
    }
}

/// libpcap: this thread reads, decodes and shards to the workers.
fn live_pcap(
    sensor: &Sensor,
    opts: &LiveOptions,
    stop: Arc<AtomicBool>,
    waker: Arc<std::sync::Mutex<Option<pcap::BreakLoop>>>,
    ready: impl FnOnce(),
) -> Result<Summary, String> {
    let mut cap = LiveCapture::open(opts).map_err(|e| e.to_string())?;
    if let Ok(mut w) = waker.lock() {
        *w = Some(cap.breakloop_handle());
    }
    ready();
    let tick = std::time::Duration::from_millis(sensor.cfg.capture.tick_ms.max(1));
    let tick_ns = tick.as_nanos() as u64;
    let (etx, out) = sensor.start_output(false, Some(tick))?;
    let stats = &*sensor.tel.capture;
    let mut dispatch = Dispatch::new(
        sensor,
        EventSink::new(etx.clone(), false),
        false,
        Some(tick_ns),
    );
    let mut clock = LiveClock::new(LiveClock::lag_for(opts.immediate, opts.timeout_ms));
    let err = run_loop(
        &mut cap,
        &mut dispatch,
        stats,
        &mut clock,
        tick,
        &stop,
        |_, t| tick_output(&etx, t),
    );
    dispatch.finish(stats);
    drop(etx);
    let summary = out.join().map_err(|_| "output thread failed".to_string())?;
    match err {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// The clock to the output thread (stats records, host-stage intervals, EVE flushes).
pub(super) fn tick_output(etx: &Sender<Vec<Event>>, t: u64) {
    let _ = etx.try_send(vec![Event::Tick(t)]);
}
