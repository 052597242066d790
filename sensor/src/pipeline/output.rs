//! The output thread: it owns dedup, the host stage, the EVE writer and the sinks, and takes
//! the workers' event batches (replay: until they end; live: also writing out and reopening
//! the EVE file on the wall-clock tick).

use super::Sensor;
use crate::host::HostStage;
use crate::output::eve_file::{EveWriter, FileTarget, StdoutTarget};
use crate::output::{Event, Output, Summary};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

impl Sensor {
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
    pub(super) fn start_output(
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
            )
            .with_privacy(crate::host::privacy::Privacy::load(&self.cfg.privacy)?),
        );
        if let Some(name) = &self.cfg.sensor.name {
            out = out.with_sensor_name(name);
        }
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
        // Packet evidence: its own writer thread, which the workers feed (see make_worker)
        // and which this thread lets finish once every worker is done.
        let evidence = if self.cfg.evidence.enabled {
            let h = crate::output::evidence::start(&self.cfg.evidence, self.tel.evidence.clone())?;
            *self.evidence.lock().unwrap_or_else(|p| p.into_inner()) = Some(h.tx.clone());
            Some(h)
        } else {
            None
        };
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
                if let Some(ev) = evidence {
                    ev.finish();
                }
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
