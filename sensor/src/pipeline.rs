//! The packet path: capture → decode → dispatch → workers → output.
//!
//! ```text
//!  capture thread                        worker threads (N)          output thread
//!  read (mmap / libpcap) ─► decode ─► shard by symmetric hash ─► flow table + DPI ─► dedup,
//!                                     (batches, bounded queues)                     host stage,
//!                                                                                   EVE, summary
//! ```
//! With one worker, the worker runs on the capture thread itself: no queue, no copy.
//! Replay never drops (queues block); live capture drops when a queue is full and counts it.
//!
//! Clocks: a replay's only clock is packet time (byte-identical output every time). Live,
//! the capture thread also ticks every `capture.tick_ms` of wall time, packets or not
//! ([`LiveClock`]): the tick carries the later of packet time and a safe wall time to every
//! worker and to the output thread, so a quiet link still expires flows, writes `stats`
//! records, closes host-stage intervals and hands pending events over; the output thread
//! writes its EVE buffer out at least once a tick.

use crate::capture::file::{CaptureFile, FileBytes};
use crate::capture::live::{LiveCapture, LiveNext, LiveOptions};
use crate::capture::RawPacket;
use crate::config::{Config, HomeNet};
use crate::decode::{decode, Decoded, Encap, PacketInfo};
use crate::detect::FlowTable;
use crate::detect::{DetectConfig, Detector};
use crate::flow::FlowKey;
use crate::host::HostStage;
use crate::output::eve::wall_ns;
use crate::output::eve_file::{EveWriter, FileTarget, StdoutTarget};
use crate::output::{Event, Output, StatsSnapshot, Summary};
use crate::telemetry::{CaptureStats, Telemetry};
use crate::worker::{EventSink, Worker};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

const BATCH: usize = 256;
const TICK_NS: u64 = 1_000_000_000;

/// Everything the packet path needs, built once from the config.
pub struct Sensor {
    pub cfg: Config,
    pub tel: Arc<Telemetry>,
    pub home: Arc<HomeNet>,
    pub detect: Arc<crate::detect::Shared>,
    /// The reloadable detection context workers follow.
    pub live: Arc<crate::detect::Live>,
    /// Set to have the output thread open the EVE file again (SIGHUP, log rotation).
    eve_reopen: Arc<AtomicBool>,
}

impl Sensor {
    pub fn new(cfg: Config, mode: &'static str, detect: Arc<crate::detect::Shared>) -> Sensor {
        let tel = Telemetry::new(cfg.sensor.workers, mode);
        tel.rules_loaded.set(detect.rules_loaded() as u64);
        tel.last_reload_ok.set(1);
        let home = Arc::new(cfg.home_net());
        let live = crate::detect::Live::new(detect.clone());
        Sensor {
            cfg,
            tel,
            home,
            detect,
            live,
            eve_reopen: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Have the output thread open the EVE file again by its name, after writing out what
    /// it holds (logrotate's convention: move the file away, then SIGHUP).
    pub fn reopen_eve(&self) {
        self.eve_reopen.store(true, Ordering::Relaxed);
    }

    /// Reload the rules (SIGHUP): new rules that fail to load keep the old ones, and the
    /// reload metrics say what happened. Flow state and packets are untouched.
    pub fn reload_rules(&self, dir: Option<&std::path::Path>) -> Result<usize, String> {
        let r = match dir {
            Some(d) => crate::rules::Catalogue::load_dir(d).map_err(|errs| {
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            None => Ok(crate::rules::Catalogue::builtin()),
        };
        match r {
            Ok(c) => {
                let n = self.live.replace_rules(c);
                self.tel.rules_loaded.set(n as u64);
                self.tel.reloads_ok.add(1);
                self.tel.last_reload_ok.set(1);
                Ok(n)
            }
            Err(e) => {
                self.tel.reloads_failed.add(1);
                self.tel.last_reload_ok.set(0);
                Err(e)
            }
        }
    }

    fn detect_config(&self) -> DetectConfig {
        DetectConfig {
            max_inspect_packets: self.cfg.detect.max_inspect_packets,
            max_inspect_bytes: self.cfg.detect.max_inspect_bytes,
            ssh_alert: self.cfg.detect.ssh_alert.clone(),
        }
    }

    /// A worker; live (`tick_ns` set), its table is swept every tick rather than every
    /// second of packet time, so a flow record comes out within its timeout and one tick.
    fn make_worker(&self, idx: usize, sink: EventSink, tick_ns: Option<u64>) -> Worker {
        let mut fc = self.cfg.flow.flow_config(self.cfg.sensor.workers);
        if let Some(t) = tick_ns {
            fc.sweep_ns = t;
        }
        let table = FlowTable::new(fc);
        let det = Detector::new(self.detect_config(), self.detect.clone(), self.home.clone())
            .with_live(self.live.clone());
        Worker::new(
            idx,
            table,
            self.tel.workers[idx].clone(),
            sink,
            det,
            self.home.clone(),
        )
    }

    fn open_eve(&self) -> Result<Option<EveWriter>, String> {
        match self.cfg.output.eve.as_deref() {
            None => Ok(None),
            Some("-") => Ok(Some(EveWriter::new(Box::new(StdoutTarget)))),
            Some(p) => {
                let t = FileTarget::open(PathBuf::from(p))
                    .map_err(|e| format!("{p}: cannot open EVE output: {e}"))?;
                Ok(Some(EveWriter::new(Box::new(t))))
            }
        }
    }

    /// The output thread. `tick`: live, EVE lines are written out as soon as no more events
    /// wait (and at least once a tick under load), and a SIGHUP's reopen is done; a replay
    /// writes 64 KiB at a time.
    fn start_output(
        &self,
        lossless: bool,
        tick: Option<std::time::Duration>,
    ) -> Result<(Sender<Vec<Event>>, JoinHandle<Summary>), String> {
        let eve = self.open_eve()?;
        // Workers send events in batches of up to 128.
        let (tx, rx) = bounded::<Vec<Event>>(if lossless { 64 } else { 1024 });
        let mut out = Output::new(
            eve,
            self.tel.clone(),
            self.cfg.output.alert_suppress_s,
            self.cfg.output.stats_interval_s,
            HostStage::new(
                self.home.clone(),
                self.cfg.detect.dns_tunnel.clone(),
                self.cfg.host.clone(),
                self.tel.output.clone(),
            )?
            .with_tunnels(
                self.cfg.detect.beacon.clone(),
                self.cfg.detect.resolver_bypass.clone(),
            ),
        );
        if self.cfg.alertmanager.enabled() {
            let am = &self.cfg.alertmanager;
            let name = crate::output::alertmanager::sensor_name(self.cfg.sensor.name.as_deref());
            let s = crate::output::alertmanager::Settings::from_config(
                am,
                name,
                self.cfg.flow.active_timeout_s,
            )?;
            let h = crate::output::alertmanager::start(s, self.tel.alertmanager.clone())?;
            out = out.with_alertmanager(h);
        }
        // Redis and syslog: each on its own thread; an unreachable server at start is
        // retried with back-off (counted, logged), never a failed start.
        if let Some(r) = self.cfg.output.redis_settings()? {
            let t = crate::output::sink::redis::Redis::new(r);
            let q = self.cfg.output.redis.queue_size;
            out = out.with_sink(crate::output::sink::start(
                crate::output::sink::REDIS,
                t,
                q,
                self.tel.sinks.clone(),
            )?);
        }
        if let Some(target) = &self.cfg.output.syslog.target {
            use crate::output::sink::syslog;
            let y = &self.cfg.output.syslog;
            let t = syslog::Syslog::new(
                syslog::Target::parse("output.syslog.target", target)?,
                syslog::facility("output.syslog.facility", &y.facility)?,
                &crate::output::alertmanager::sensor_name(self.cfg.sensor.name.as_deref()),
                &y.identity,
            );
            out = out.with_sink(crate::output::sink::start(
                crate::output::sink::SYSLOG,
                t,
                y.queue_size,
                self.tel.sinks.clone(),
            )?);
        }
        let reopen = self.eve_reopen.clone();
        let h = std::thread::Builder::new()
            .name("output".into())
            .spawn(move || {
                match tick {
                    None => {
                        for batch in rx {
                            for ev in batch {
                                out.handle(ev);
                            }
                        }
                    }
                    Some(tick) => output_live(&mut out, &rx, &reopen, tick),
                }
                out.finish();
                out.summary
            })
            .map_err(|e| format!("cannot start output thread: {e}"))?;
        Ok((tx, h))
    }
}

/// The live output loop: events as they come; the EVE buffer written out when no event
/// waits, or a tick after the last write under a steady load; never later than a tick.
fn output_live(
    out: &mut Output,
    rx: &Receiver<Vec<Event>>,
    reopen: &AtomicBool,
    tick: std::time::Duration,
) {
    let mut last_write = std::time::Instant::now();
    loop {
        match rx.recv_timeout(tick) {
            Ok(batch) => {
                for ev in batch {
                    out.handle(ev);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if reopen.swap(false, Ordering::Relaxed) {
            out.reopen_eve();
            last_write = std::time::Instant::now();
        }
        if out.dirty() && (rx.is_empty() || last_write.elapsed() >= tick) {
            out.flush();
            last_write = std::time::Instant::now();
        }
    }
}

/// One packet as a worker receives it across a queue.
struct Item {
    ts: u64,
    wire_len: u32,
    /// Offset into the batch's bytes: 64-bit, as a capture file may exceed 4 GiB.
    off: u64,
    len: u32,
    info: PacketInfo,
}

/// A run of packets for one worker, with the bytes they point into.
struct Batch {
    map: Option<Arc<FileBytes>>,
    owned: Vec<u8>,
    items: Vec<Item>,
    /// Packet time at the dispatcher when the batch was sent.
    now: u64,
    /// A live tick: the worker hands its pending events over too.
    tick: bool,
}

enum Msg {
    Batch(Batch),
    Finish,
}

impl Batch {
    fn new(map: Option<Arc<FileBytes>>) -> Batch {
        Batch {
            map,
            owned: Vec::new(),
            items: Vec::with_capacity(BATCH),
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
                    let data = bytes
                        .get(it.off as usize..it.off as usize + it.len as usize)
                        .unwrap_or(&[]);
                    w.packet(it.ts, it.wire_len, data, &it.info);
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

/// Decode one raw packet and count what the decoder saw.
#[inline]
fn decode_counted(stats: &CaptureStats, p: &RawPacket<'_>) -> Option<PacketInfo> {
    stats.packets.inc();
    stats.bytes.add(p.wire_len as u64);
    if p.ts_ns > stats.last_packet_ns.get() {
        stats.last_packet_ns.set(p.ts_ns);
    }
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
enum Dispatch {
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
    fn new(sensor: &Sensor, sink: EventSink, lossless: bool, tick_ns: Option<u64>) -> Dispatch {
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
    fn set_source(&mut self, stats: &CaptureStats, map: Option<Arc<FileBytes>>) {
        // Pending packets point into the previous source: send them before switching.
        self.flush_all(stats, 0);
        if let Dispatch::Threads { batches, .. } = self {
            for b in batches.iter_mut() {
                b.map = map.clone();
            }
        }
    }

    #[inline]
    fn packet(
        &mut self,
        stats: &CaptureStats,
        p: &RawPacket<'_>,
        info: &PacketInfo,
        off: Option<usize>,
    ) {
        let mut tick = false;
        match self {
            Dispatch::Inline(w) => w.packet(p.ts_ns, p.wire_len, p.data, info),
            Dispatch::Threads {
                txs,
                batches,
                lossless,
                last_tick,
                ..
            } => {
                let (key, _) = FlowKey::of(info);
                let i = (key.shard_hash() % txs.len() as u64) as usize;
                let b = &mut batches[i];
                let (off, len) = match off {
                    Some(o) => (o as u64, p.data.len() as u32),
                    None => {
                        let o = b.owned.len() as u64;
                        b.owned.extend_from_slice(p.data);
                        (o, p.data.len() as u32)
                    }
                };
                b.items.push(Item {
                    ts: p.ts_ns,
                    wire_len: p.wire_len,
                    off,
                    len,
                    info: *info,
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
    fn flush_events(&mut self) {
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
    fn tick(&mut self, stats: &CaptureStats, now: u64) {
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

    fn finish(self, stats: &CaptureStats) {
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

/// What a replay returns: the summary, and the files that could not be read (with why).
pub struct ReplayOutcome {
    pub summary: Summary,
    pub file_errors: Vec<String>,
    pub packets: u64,
    pub elapsed: std::time::Duration,
}

pub enum Source {
    File(PathBuf),
    Builtin(&'static str, &'static [u8]),
}

/// Replay capture files (or the built-in demo capture). Packet time is the only clock.
pub fn replay(sensor: &Sensor, sources: &[Source]) -> Result<ReplayOutcome, String> {
    let t0 = std::time::Instant::now();
    let (etx, out) = sensor.start_output(true, None)?;
    let stats = &*sensor.tel.capture;
    let mut dispatch = Dispatch::new(sensor, EventSink::new(etx.clone(), true), true, None);
    let mut file_errors = Vec::new();
    let mut last_tick = 0u64;
    let stats_ns = sensor.cfg.output.stats_interval_s.max(1) * 1_000_000_000;
    for src in sources {
        let opened = match src {
            Source::File(p) => CaptureFile::open(p),
            Source::Builtin(name, bytes) => CaptureFile::from_static(name, bytes),
        };
        let mut cf = match opened {
            Ok(cf) => cf,
            Err(e) => {
                stats.file_errors.inc();
                file_errors.push(e.to_string());
                continue;
            }
        };
        let map = cf.map().clone();
        let base = map.as_ptr() as usize;
        dispatch.set_source(stats, Some(map.clone()));
        while let Some(p) = cf.next() {
            if let Some(info) = decode_counted(stats, &p) {
                let off = p.data.as_ptr() as usize - base;
                dispatch.packet(stats, &p, &info, Some(off));
            }
            if p.ts_ns >= last_tick + stats_ns.min(TICK_NS * 10) {
                last_tick = p.ts_ns;
                // With one worker (on this thread) its events go first and the counters
                // are read here, so the tick's `stats` record is the same at every replay.
                dispatch.flush_events();
                let snap = StatsSnapshot::take(&sensor.tel);
                let _ = etx.send(vec![Event::Snapshot(Box::new(snap)), Event::Tick(p.ts_ns)]);
            }
        }
        if let Some(e) = cf.error() {
            stats.file_errors.inc();
            file_errors.push(format!("{}: {e}", cf.name()));
        }
        stats.files_read.inc();
        dispatch.set_source(stats, None);
    }
    dispatch.finish(stats);
    drop(etx);
    let summary = out.join().map_err(|_| "output thread failed".to_string())?;
    Ok(ReplayOutcome {
        summary,
        file_errors,
        packets: stats.packets.get(),
        elapsed: t0.elapsed(),
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::config::Config;
    use spanwatch_testkit::{ether, ip, udp, v4};

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn sensor(cfg: Config) -> Sensor {
        let shared = Arc::new(crate::detect::Shared::load(None).unwrap());
        Sensor::new(cfg, "live", shared)
    }

    #[test]
    fn a_live_worker_writes_an_idle_flow_out_on_a_tick_with_no_packet() {
        let s = sensor(Config::default());
        let (tx, rx) = bounded::<Vec<Event>>(16);
        let mut w = s.make_worker(0, EventSink::new(tx, false), Some(250 * MS));
        let frame = ether(
            0x0800,
            &ip(v4("10.0.0.1"), v4("10.0.0.2"), 17, &udp(5000, 6000, b"hi")),
        );
        let Decoded::Ip(info) = decode(LinkType::Ethernet, &frame) else {
            panic!("not decoded")
        };
        let t0 = 1_700_000_000 * S;
        w.packet(t0, frame.len() as u32, &frame, &info);
        w.tick(t0 + 250 * MS);
        assert!(rx.try_recv().is_err(), "nothing to say yet");
        // the UDP timeout (180 s) passes with no packet: the tick alone writes the flow out
        w.tick(t0 + 180 * S + 300 * MS);
        let batch = rx
            .try_recv()
            .expect("the flow record, handed over on the tick");
        assert!(matches!(&batch[..], [Event::Flow(r)] if r.flow.reason == "timeout"));
    }

    #[test]
    fn live_output_writes_records_out_within_a_tick_and_reopens_on_request() {
        let dir = std::env::temp_dir().join(format!("spanwatch-live-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("eve.json");
        let _ = std::fs::remove_file(&p);
        let mut cfg = Config::default();
        cfg.output.eve = Some(p.display().to_string());
        cfg.output.stats_interval_s = 1;
        let s = sensor(cfg);
        let tick = std::time::Duration::from_millis(50);
        let (tx, out) = s.start_output(false, Some(tick)).unwrap();
        let t0 = 1_700_000_000 * S;
        tx.send(vec![Event::Tick(t0), Event::Tick(t0 + S)]).unwrap();
        let has = |p: &std::path::Path, what: &str| {
            std::fs::read_to_string(p).is_ok_and(|t| t.contains(what) && t.ends_with('\n'))
        };
        let wait = |f: &dyn Fn() -> bool| {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(1) {
                if f() {
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            false
        };
        // the channel stays open, nothing more comes: the stats record is on disk anyway
        assert!(wait(&|| has(&p, "\"event_type\":\"stats\"")));
        // logrotate: the file moved away, then SIGHUP
        let rotated = dir.join("eve.json.1");
        std::fs::rename(&p, &rotated).unwrap();
        s.reopen_eve();
        assert!(
            wait(&|| p.exists()),
            "the EVE file opened again by its name"
        );
        tx.send(vec![Event::Tick(t0 + 2 * S)]).unwrap();
        assert!(wait(&|| has(&p, "\"event_type\":\"stats\"")));
        drop(tx);
        out.join().unwrap();
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap().lines().count(),
            1,
            "the rotated file keeps what it had"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn quiet_link_moves_the_clock_by_wall_time_less_the_lag() {
        let mut c = LiveClock::new(LiveClock::lag_for(false, 100));
        assert_eq!(LiveClock::lag_for(false, 100), 250 * MS);
        assert_eq!(LiveClock::lag_for(true, 100), 50 * MS);
        c.packet(1_000 * MS);
        assert_eq!(c.tick(), 1_000 * MS);
        // nothing more arrives; the buffer is found empty later on
        c.drained(5_000 * MS);
        assert_eq!(c.tick(), 4_750 * MS);
        c.drained(5_250 * MS);
        assert_eq!(c.tick(), 5_000 * MS);
    }

    #[test]
    fn under_load_the_clock_is_packet_time_and_never_goes_back() {
        let mut c = LiveClock::new(250 * MS);
        c.drained(10_000 * MS);
        assert_eq!(c.tick(), 9_750 * MS);
        // a late packet (it sat in the buffer) and a wall clock stepped back: no going back
        c.packet(9_700 * MS);
        c.drained(2_000 * MS);
        assert_eq!(c.tick(), 9_750 * MS);
        c.packet(12_000 * MS);
        assert_eq!(c.tick(), 12_000 * MS);
    }
}
