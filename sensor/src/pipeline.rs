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

use crate::capture::file::{CaptureFile, FileBytes};
use crate::capture::live::{LiveCapture, LiveNext, LiveOptions};
use crate::capture::RawPacket;
use crate::config::{Config, HomeNet};
use crate::decode::{decode, Decoded, Encap, PacketInfo};
use crate::detect::{DetectConfig, Detector};
use crate::flow::{FlowKey, FlowTable};
use crate::host::HostStage;
use crate::output::{Event, Output, Summary};
use crate::telemetry::{CaptureStats, Telemetry};
use crate::worker::{EventSink, Worker};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::io::Write;
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
        }
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

    fn make_worker(&self, idx: usize, sink: EventSink) -> Worker {
        let table = FlowTable::new(self.cfg.flow.flow_config(self.cfg.sensor.workers));
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

    fn open_eve(&self) -> Result<Option<Box<dyn Write + Send>>, String> {
        match self.cfg.output.eve.as_deref() {
            None => Ok(None),
            Some("-") => Ok(Some(Box::new(std::io::BufWriter::with_capacity(
                1 << 16,
                std::io::stdout(),
            )))),
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("{p}: cannot open EVE output: {e}"))?;
                Ok(Some(Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    f,
                ))))
            }
        }
    }

    fn start_output(
        &self,
        lossless: bool,
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
        let h = std::thread::Builder::new()
            .name("output".into())
            .spawn(move || {
                for batch in rx {
                    for ev in batch {
                        out.handle(ev);
                    }
                }
                out.finish();
                out.summary
            })
            .map_err(|e| format!("cannot start output thread: {e}"))?;
        Ok((tx, h))
    }
}

/// One packet as a worker receives it across a queue.
struct Item {
    ts: u64,
    wire_len: u32,
    off: u32,
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
                        .get(it.off as usize..(it.off + it.len) as usize)
                        .unwrap_or(&[]);
                    w.packet(it.ts, it.wire_len, data, &it.info);
                }
                w.advance(b.now);
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
    fn new(sensor: &Sensor, sink: EventSink, lossless: bool) -> Dispatch {
        let n = sensor.cfg.sensor.workers;
        if n == 1 {
            return Dispatch::Inline(Box::new(sensor.make_worker(0, sink)));
        }
        let qcap = (sensor.cfg.sensor.queue_packets / BATCH).max(4);
        let mut txs = Vec::new();
        let mut handles = Vec::new();
        for i in 0..n {
            let (tx, rx) = bounded::<Msg>(qcap);
            let w = sensor.make_worker(i, sink.clone());
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
                    Some(o) => (o as u32, p.data.len() as u32),
                    None => {
                        let o = b.owned.len() as u32;
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

    /// Send every pending batch (even empty ones: they carry the time).
    fn flush_all(&mut self, stats: &CaptureStats, now: u64) {
        match self {
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
    let (etx, out) = sensor.start_output(true)?;
    let stats = &*sensor.tel.capture;
    let mut dispatch = Dispatch::new(sensor, EventSink::new(etx.clone(), true), true);
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
                let _ = etx.send(vec![Event::Tick(p.ts_ns)]);
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

/// Live capture until `stop` is set. The caller serves /metrics from `sensor.tel`.
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
    let (etx, out) = sensor.start_output(false)?;
    let stats = &*sensor.tel.capture;
    let mut dispatch = Dispatch::new(sensor, EventSink::new(etx.clone(), false), false);
    let mut last_stats = std::time::Instant::now();
    let mut last_ts = 0u64;
    let mut last_tick = 0u64;
    let mut err = None;
    while !stop.load(Ordering::Relaxed) {
        match cap.next() {
            Ok(LiveNext::Packet(p)) => {
                last_ts = last_ts.max(p.ts_ns);
                if let Some(info) = decode_counted(stats, &p) {
                    dispatch.packet(stats, &p, &info, None);
                }
                if p.ts_ns >= last_tick + TICK_NS {
                    last_tick = p.ts_ns;
                    let _ = etx.try_send(vec![Event::Tick(p.ts_ns)]);
                }
            }
            Ok(LiveNext::Idle) => {
                // No packet within the timeout: let time move on so idle flows expire.
                // This wall-clock read is off the packet path (nothing arrived).
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                if wall > last_ts {
                    last_ts = wall;
                    dispatch.flush_all(stats, wall);
                    let _ = etx.try_send(vec![Event::Tick(wall)]);
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
        if last_stats.elapsed() >= std::time::Duration::from_secs(1) {
            last_stats = std::time::Instant::now();
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
