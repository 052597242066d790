//! Live capture: the non-blocking capture loop, and the clock that moves on by wall time
//! when the link is quiet ([`LiveClock`]).

use super::dispatch::{decode_counted, Dispatch};
use super::worker::EventSink;
use super::Sensor;
use crate::capture::live::{LiveCapture, LiveNext, LiveOptions};
use crate::output::eve::wall_ns;
use crate::output::{Event, Summary};
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

/// Live capture until `stop` is set. The caller serves /metrics from `sensor.tel`.
///
/// The capture handle is non-blocking: the loop reads until nothing is ready, then waits on
/// the descriptor until a packet may be there or the next tick is due. Each tick (every
/// `capture.tick_ms` of wall time, packets or not) takes the clock to the workers and the
/// output thread and refreshes the drop counters.
pub fn live(
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
    let mut next_tick = std::time::Instant::now() + tick;
    let mut since_check = 0u32;
    let mut err = None;
    while !stop.load(Ordering::Relaxed) {
        match cap.next() {
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
                    cap.wait(next_tick - now);
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
            let _ = etx.try_send(vec![Event::Tick(t)]);
            cap.refresh_stats();
            stats.kernel_drops.set(cap.kernel_drops.total());
            stats.iface_drops.set(cap.iface_drops.total());
        }
    }
    cap.refresh_stats();
    stats.kernel_drops.set(cap.kernel_drops.total());
    stats.iface_drops.set(cap.iface_drops.total());
    dispatch.finish(stats);
    drop(etx);
    let summary = out.join().map_err(|_| "output thread failed".to_string())?;
    match err {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}
