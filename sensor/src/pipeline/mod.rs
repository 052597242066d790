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
//! Live on AF_PACKET (`capture.method = "af_packet"`, Linux) there is no capture thread in
//! front: each worker reads its own socket of one fanout group (the kernel's flow hash does
//! the sharding) and runs the same live loop as the libpcap capture thread
//! (`live_afpacket.rs`).
//!
//! Clocks: a replay's only clock is packet time (byte-identical output every time). Live,
//! the capture thread also ticks every `capture.tick_ms` of wall time, packets or not
//! ([`LiveClock`]): the tick carries the later of packet time and a safe wall time to every
//! worker and to the output thread, so a quiet link still expires flows, writes `stats`
//! records, closes host-stage intervals and hands pending events over; the output thread
//! writes its EVE buffer out at least once a tick.

mod dispatch;
mod evidence;
#[cfg(target_os = "linux")]
mod handoff;
mod live;
#[cfg(target_os = "linux")]
mod live_afpacket;
mod output;
mod replay;
#[cfg(test)]
mod tests;
pub mod worker;

pub use live::{live, LiveClock};
pub use replay::{replay, ReplayOutcome, Source};

use crate::config::{Config, HomeNet};
use crate::detect::Detector;
use crate::detect::FlowTable;
use crate::telemetry::Telemetry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use worker::{EventSink, Worker};

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
    /// The evidence writer's queue (`[evidence]` on), set by `start_output`.
    evidence: std::sync::Mutex<Option<crossbeam_channel::Sender<crate::output::evidence::Msg>>>,
}

impl Sensor {
    /// `sensor.workers = 0` becomes the number of workers to start
    /// ([`SensorSection::workers_for`](crate::config::SensorSection::workers_for)).
    pub fn new(mut cfg: Config, mode: &'static str, detect: Arc<crate::detect::Shared>) -> Sensor {
        cfg.sensor.workers = cfg.sensor.workers_for(mode == "live");
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
            evidence: std::sync::Mutex::new(None),
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
        match crate::rules::Catalogue::load(dir) {
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

    /// A worker; live (`tick_ns` set), its table is swept every tick rather than every
    /// second of packet time, so a flow record comes out within its timeout and one tick.
    fn make_worker(&self, idx: usize, sink: EventSink, tick_ns: Option<u64>) -> Worker {
        let mut fc = self.cfg.flow.flow_config(self.cfg.sensor.workers);
        if let Some(t) = tick_ns {
            fc.sweep_ns = t;
        }
        let table = FlowTable::new(fc);
        let det = Detector::new(
            self.cfg.detect.engine(),
            self.detect.clone(),
            self.home.clone(),
        )
        .with_live(self.live.clone());
        let lossless = sink.lossless;
        let w = Worker::new(
            idx,
            table,
            self.tel.workers[idx].clone(),
            sink,
            det,
            self.home.clone(),
        );
        match self.evidence_tx() {
            Some(tx) => w.with_evidence(evidence::Tap::new(
                &self.cfg.evidence,
                self.cfg.sensor.workers,
                tx,
                lossless,
                self.tel.evidence.clone(),
            )),
            None => w,
        }
    }

    /// The evidence writer's queue, while an output thread with evidence runs.
    fn evidence_tx(&self) -> Option<crossbeam_channel::Sender<crate::output::evidence::Msg>> {
        self.evidence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
