//! Replay: capture files (or the built-in demo capture) read in order, packet time the only
//! clock, nothing dropped, so the EVE output is the same at every run.

use super::dispatch::Dispatch;
use super::worker::EventSink;
use super::{Sensor, TICK_NS};
use crate::capture::file::CaptureFile;
use crate::output::{Event, StatsSnapshot, Summary};
use std::path::PathBuf;

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
            let off = p.data.as_ptr() as usize - base;
            dispatch.file_packet(stats, &p, off);
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
