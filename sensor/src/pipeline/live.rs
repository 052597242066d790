//! Live capture: the non-blocking capture loop ([`run_loop`], shared by every source), the
//! clock that moves on by wall time when the link is quiet ([`LiveClock`]), and its two
//! drivers: libpcap on a capture thread that shards to the workers, or (Linux) one
//! AF_PACKET socket per worker in a fanout group, each worker reading its own
//! (`live_afpacket.rs`).

use super::dispatch::{decode_counted, Dispatch};
#[cfg(target_os = "linux")]
use super::handoff::Handoff;
use super::worker::EventSink;
use super::Sensor;
use crate::capture::live::{
    wait_any, CaptureMethod, LiveCapture, LiveNext, LiveOptions, MAX_INTERFACES,
};
use crate::capture::CaptureError;
use crate::output::eve::wall_ns;
use crate::output::{Event, Summary};
use crate::telemetry::CaptureStats;
use crossbeam_channel::Sender;
use std::os::fd::RawFd;
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

/// No hand-off between workers where there is no AF_PACKET.
#[cfg(not(target_os = "linux"))]
pub(super) enum Handoff {}

#[cfg(not(target_os = "linux"))]
impl Handoff {
    fn fd(&self) -> RawFd {
        match *self {}
    }
    fn take(
        &mut self,
        _: &CaptureStats,
        _: &crate::capture::RawPacket<'_>,
        _: &crate::decode::PacketInfo,
    ) -> bool {
        match *self {}
    }
    fn flush(&mut self, _: &CaptureStats) {
        match *self {}
    }
    fn receive(&mut self, _: &mut Dispatch, _: &mut LiveClock) -> usize {
        match *self {}
    }
}

/// A live packet source the loop reads: non-blocking, with a descriptor to wait on.
pub(super) trait Source {
    fn next(&mut self) -> Result<LiveNext<'_>, CaptureError>;
    /// The descriptor that is readable when a packet may be ready.
    fn fd(&self) -> RawFd;
    /// Add the drops since the last call to `stats` (`i`: the interface's index).
    fn drops(&mut self, stats: &CaptureStats, i: usize);
    /// The share of the source's buffer waiting to be read (0 where unknown).
    fn fill(&self) -> f64 {
        0.0
    }
}

/// A libpcap handle, with the drop totals already counted.
struct Pcap {
    cap: LiveCapture,
    kernel: u64,
    iface: u64,
}

impl Source for Pcap {
    fn next(&mut self) -> Result<LiveNext<'_>, CaptureError> {
        self.cap.next()
    }
    fn fd(&self) -> RawFd {
        self.cap.fd()
    }
    fn drops(&mut self, stats: &CaptureStats, i: usize) {
        self.cap.refresh_stats();
        let (k, f) = (self.cap.kernel_drops.total(), self.cap.iface_drops.total());
        stats.kernel_drops.add(k - self.kernel);
        stats.iface_kernel_drops[i].add(k - self.kernel);
        stats.iface_drops.add(f - self.iface);
        (self.kernel, self.iface) = (k, f);
    }
}

/// One reading thread's loop over its sources (one per interface, read in turn): until
/// `stop`, read until nothing is ready, then wait on the descriptors until a packet may be
/// there or the next tick is due. Each tick (every `tick` of wall time, packets or not)
/// takes the clock to `dispatch`'s workers, refreshes the drop counters, then calls
/// `on_tick(stats, clock, fill)` (which tells the output thread; `fill`: the fullest
/// source's buffer). With a `handoff` (AF_PACKET, several workers), tunnelled packets of
/// another worker's flows go to it, and this worker takes in those handed to it.
/// Returns the error that ended the loop, if any (not one seen after `stop` was set).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_loop<S: Source>(
    srcs: &mut [S],
    dispatch: &mut Dispatch,
    mut handoff: Option<&mut Handoff>,
    stats: &CaptureStats,
    clock: &mut LiveClock,
    tick: std::time::Duration,
    stop: &AtomicBool,
    mut on_tick: impl FnMut(&CaptureStats, u64, f64),
) -> Option<String> {
    let mut next_tick = std::time::Instant::now() + tick;
    let mut since_check = 0u32;
    let mut err = None;
    let n = srcs.len().min(MAX_INTERFACES);
    let mut fds: Vec<RawFd> = srcs[..n].iter().map(|s| s.fd()).collect();
    if let Some(h) = handoff.as_ref() {
        fds.push(h.fd());
    }
    // the source read now, and how many sources in a row were found empty
    let (mut cur, mut empty) = (0usize, 0usize);
    while !stop.load(Ordering::Relaxed) && n > 0 {
        match srcs[cur].next() {
            Ok(LiveNext::Packet(p)) => {
                empty = 0;
                clock.packet(p.ts_ns);
                stats.iface_packets[cur].inc();
                if let Some(info) = decode_counted(stats, &p) {
                    let taken = match handoff.as_deref_mut() {
                        Some(h) => h.take(stats, &p, &info),
                        None => false,
                    };
                    if !taken {
                        dispatch.packet(stats, &p, &info, None);
                    }
                }
                since_check += 1;
                if since_check < CLOCK_CHECK_PACKETS {
                    continue;
                }
                since_check = 0;
                // the other interfaces' turn, and the hand-off's
                cur = (cur + 1) % n;
                if let Some(h) = handoff.as_deref_mut() {
                    h.flush(stats);
                    h.receive(dispatch, clock);
                }
            }
            Ok(LiveNext::Idle) => {
                cur = (cur + 1) % n;
                empty += 1;
                if empty < n {
                    continue;
                }
                empty = 0;
                if let Some(h) = handoff.as_deref_mut() {
                    h.flush(stats);
                    if h.receive(dispatch, clock) > 0 {
                        continue;
                    }
                }
                // Nothing to read: off the packet path, the wall clock is cheap here.
                clock.drained(wall_ns());
                let now = std::time::Instant::now();
                if now < next_tick {
                    wait_any(&fds, next_tick - now);
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
            if let Some(h) = handoff.as_deref_mut() {
                h.flush(stats);
                h.receive(dispatch, clock);
            }
            let t = clock.tick();
            dispatch.tick(stats, t);
            let mut fill = 0f64;
            for (i, s) in srcs[..n].iter_mut().enumerate() {
                s.drops(stats, i);
                fill = fill.max(s.fill());
            }
            on_tick(stats, t, fill);
        }
    }
    if let Some(h) = handoff {
        h.flush(stats);
    }
    for (i, s) in srcs[..n].iter_mut().enumerate() {
        s.drops(stats, i);
    }
    err
}

/// Live capture until `stop` is set, from every interface of `opts` (one each). The caller
/// serves /metrics from `sensor.tel`.
///
/// With `capture.method = "af_packet"` (Linux) every worker reads its own socket of one
/// fanout group per interface; with `"pcap"` one capture thread reads libpcap's handles
/// and shards to the workers. `ready` runs once the capture is open (privileges may be
/// dropped then).
pub fn live(
    sensor: &Sensor,
    opts: &[LiveOptions],
    stop: Arc<AtomicBool>,
    waker: Arc<std::sync::Mutex<Option<pcap::BreakLoop>>>,
    ready: impl FnOnce(),
) -> Result<Summary, String> {
    let Some(first) = opts.first() else {
        return Err("capture.interface: no interface to read".into());
    };
    let _ = sensor
        .tel
        .interfaces
        .set(opts.iter().map(|o| o.interface.clone()).collect());
    match first.method {
        #[cfg(target_os = "linux")]
        CaptureMethod::AfPacket => super::live_afpacket::live(sensor, opts, stop, ready),
        #[cfg(not(target_os = "linux"))]
        CaptureMethod::AfPacket => Err("capture.method = \"af_packet\" needs Linux".into()),
        CaptureMethod::Pcap => live_pcap(sensor, opts, stop, waker, ready),
    }
}

/// libpcap: this thread reads every interface's handle, decodes and shards to the workers.
fn live_pcap(
    sensor: &Sensor,
    opts: &[LiveOptions],
    stop: Arc<AtomicBool>,
    waker: Arc<std::sync::Mutex<Option<pcap::BreakLoop>>>,
    ready: impl FnOnce(),
) -> Result<Summary, String> {
    let mut caps = Vec::with_capacity(opts.len());
    for o in opts {
        let cap = LiveCapture::open(o).map_err(|e| e.to_string())?;
        caps.push(Pcap {
            cap,
            kernel: 0,
            iface: 0,
        });
    }
    if let (Ok(mut w), Some(c)) = (waker.lock(), caps.first_mut()) {
        *w = Some(c.cap.breakloop_handle());
    }
    ready();
    let first = &opts[0];
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
    let mut clock = LiveClock::new(LiveClock::lag_for(first.immediate, first.timeout_ms));
    let err = run_loop(
        &mut caps,
        &mut dispatch,
        None,
        stats,
        &mut clock,
        tick,
        &stop,
        |_, t, _| tick_output(&etx, t),
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
