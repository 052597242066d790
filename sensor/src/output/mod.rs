//! The output stage: one thread that receives flow and alert events from every worker,
//! deduplicates alerts (Zeek's notice `identifier` + `suppress_for`), feeds the host stage,
//! writes EVE lines, and keeps what the terminal summary prints.

pub mod alertmanager;
pub mod eve;
pub mod eve_file;
pub mod eve_json;
pub mod evidence;

pub mod sink;

#[cfg(test)]
mod dedup_tests;

use crate::host::HostStage;
use crate::telemetry::{category_index, Telemetry};
use eve::{AlertRecord, FlowRecord};
use eve_file::{EveWriter, Kind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub enum Event {
    Flow(Box<FlowRecord>),
    Alert(Box<AlertRecord>),
    /// Time advanced (for periodic `stats` records and host-stage windows): packet time in
    /// a replay; live, the later of packet time and wall time.
    Tick(u64),
    /// The engine's counters as the capture thread saw them just before the next `Tick`
    /// (replay): the `stats` record that tick may write shows these, so a replay with one
    /// worker writes the same `stats` records every time.
    Snapshot(Box<StatsSnapshot>),
    /// One DNS message, for the per-domain tunnel statistics of the host stage.
    Dns(Box<crate::host::dns_tunnel::DnsObs>),
    /// An open flow moved another MiB (egress accounting of the host stage).
    Usage(Box<crate::host::obs::Usage>),
    /// A call-media flow became a call leg (concurrent calls of the host stage).
    Media(Box<crate::host::obs::MediaObs>),
}

/// The counters a `stats` record shows, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    pub packets: u64,
    pub bytes: u64,
    pub kernel_drops: u64,
    pub interface_drops: u64,
    pub queue_drops: u64,
    pub non_ip: u64,
    pub fragments: u64,
    pub decode_errors: Vec<u64>,
    pub flows_active: u64,
    pub flows_created: u64,
    pub flows_ended: u64,
}

impl StatsSnapshot {
    /// The counters now (each worker's flow counters summed).
    pub fn take(tel: &Telemetry) -> StatsSnapshot {
        let c = &tel.capture;
        let w = &tel.workers;
        StatsSnapshot {
            packets: c.packets.get(),
            bytes: c.bytes.get(),
            kernel_drops: c.kernel_drops.get(),
            interface_drops: c.iface_drops.get(),
            queue_drops: c.queue_drops.get(),
            non_ip: c.non_ip.get(),
            fragments: c.fragments.get(),
            decode_errors: c.decode_errors.iter().map(|x| x.get()).collect(),
            flows_active: w.iter().map(|x| x.flows_active.get()).sum(),
            flows_created: w.iter().map(|x| x.flows_created.get()).sum(),
            flows_ended: w
                .iter()
                .map(|x| x.flows_ended.iter().map(|c| c.get()).sum::<u64>())
                .sum(),
        }
    }
}

/// What the terminal summary reports.
#[derive(Debug, Default)]
pub struct Summary {
    pub flows: u64,
    pub by_app_proto: BTreeMap<&'static str, u64>,
    pub by_app: BTreeMap<String, u64>,
    pub alerts: Vec<AlertLine>,
    pub alerts_total: u64,
    pub first_ns: Option<u64>,
    pub last_ns: u64,
}

#[derive(Debug, Clone)]
pub struct AlertLine {
    pub timestamp: String,
    pub category: &'static str,
    pub severity: u8,
    pub signature: String,
    pub src: String,
    pub dest: String,
    pub direction: &'static str,
}

pub struct Output {
    eve: Option<EveWriter>,
    tel: Arc<Telemetry>,
    suppress_ns: u64,
    stats_interval_ns: u64,
    next_stats_ns: u64,
    /// Counters carried by the last [`Event::Snapshot`], for the next `stats` record.
    snapshot: Option<Box<StatsSnapshot>>,
    /// Alert identity (see [`Output::dedup_id`]) → packet time it last alerted.
    dedup: ahash::AHashMap<u128, u64>,
    dedup_keys: [std::collections::hash_map::RandomState; 2],
    /// Table size that triggers the next sweep of expired identities.
    dedup_prune_at: usize,
    host: HostStage,
    pub summary: Summary,
    last_ns: u64,
    line: Vec<u8>,
    /// The Alertmanager sink, when `[alertmanager] urls` is set.
    am: Option<alertmanager::AmHandle>,
    /// Redis and syslog sinks: each record goes to their queues too.
    sinks: Vec<sink::SinkHandle>,
    /// `,"sensor":"NAME"` (JSON-encoded), appended as the last field of every record when
    /// `sensor.name` is set.
    sensor_field: Option<Vec<u8>>,
}

/// Identities the alert dedup table holds before it first sweeps out expired ones.
const DEDUP_PRUNE_MIN: usize = 100_000;

/// How many alerts the summary keeps for printing.
const SUMMARY_ALERTS: usize = 50;

impl Output {
    pub fn new(
        eve: Option<EveWriter>,
        tel: Arc<Telemetry>,
        suppress_s: u64,
        stats_interval_s: u64,
        host: HostStage,
    ) -> Output {
        Output {
            eve,
            tel,
            suppress_ns: suppress_s * 1_000_000_000,
            stats_interval_ns: stats_interval_s.max(1) * 1_000_000_000,
            next_stats_ns: 0,
            snapshot: None,
            dedup: ahash::AHashMap::new(),
            dedup_keys: Default::default(),
            dedup_prune_at: DEDUP_PRUNE_MIN,
            host,
            summary: Summary::default(),
            last_ns: 0,
            line: Vec::with_capacity(1024),
            am: None,
            sinks: Vec::new(),
            sensor_field: None,
        }
    }

    /// Add `"sensor": NAME` as the last field of every EVE record (file and sinks), as
    /// Suricata appends its `sensor-name` (which it calls `host`) last. The other fields keep
    /// their order.
    pub fn with_sensor_name(mut self, name: &str) -> Output {
        let mut f = br#","sensor":"#.to_vec();
        // A string always serializes.
        let _ = serde_json::to_writer(&mut f, name);
        self.sensor_field = Some(f);
        self
    }

    /// Push alerts to Alertmanager too.
    pub fn with_alertmanager(mut self, am: alertmanager::AmHandle) -> Output {
        self.am = Some(am);
        self
    }

    /// Send every EVE record to a Redis or syslog sink as well.
    pub fn with_sink(mut self, s: sink::SinkHandle) -> Output {
        self.sinks.push(s);
        self
    }

    /// One EVE record, as a whole line (counted once it is written), to the file and to
    /// every sink.
    fn write<T: Serialize>(&mut self, rec: &T, kind: Kind) {
        self.write_with(kind, |line| serde_json::to_writer(line, rec));
    }

    /// [`Output::write`] with the record's writer given (flow records: `eve_json`).
    fn write_with(
        &mut self,
        kind: Kind,
        to_json: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) {
        if self.eve.is_none() && self.sinks.is_empty() {
            return;
        }
        self.line.clear();
        if to_json(&mut self.line).is_err() {
            self.tel.output.eve_write_errors.inc();
            return;
        }
        if let Some(f) = &self.sensor_field {
            if self.line.last() == Some(&b'}') {
                self.line.pop();
                self.line.extend_from_slice(f);
                self.line.push(b'}');
            }
        }
        if !self.sinks.is_empty() {
            let rec: std::sync::Arc<str> = String::from_utf8_lossy(&self.line).into();
            self.sinks.iter_mut().for_each(|s| s.offer(&rec));
        }
        let Some(w) = self.eve.as_mut() else {
            return;
        };
        self.line.push(b'\n');
        w.line(&self.line, Some(kind), &self.tel.output);
    }

    /// Write out the buffered EVE lines now (live: on the wall-clock flush).
    pub fn flush(&mut self) {
        if let Some(w) = self.eve.as_mut() {
            w.flush(&self.tel.output);
        }
    }

    /// Whether EVE lines wait in the buffer.
    pub fn dirty(&self) -> bool {
        self.eve.as_ref().is_some_and(|w| w.dirty())
    }

    /// Open the EVE file again by its name (SIGHUP after log rotation).
    pub fn reopen_eve(&mut self) {
        if let Some(w) = self.eve.as_mut() {
            w.reopen(&self.tel.output);
        }
    }

    fn time(&mut self, ts: u64) {
        if ts > self.last_ns {
            self.last_ns = ts;
        }
        if self.summary.first_ns.is_none() {
            self.summary.first_ns = Some(ts);
            self.next_stats_ns = ts + self.stats_interval_ns;
        }
    }

    /// A `stats` record when one is due. Called on ticks only: a tick comes after every
    /// event that came before it in packet time (with one worker), so what the record
    /// counts does not depend on how far the output thread has got.
    fn stats_due(&mut self) {
        if self.last_ns >= self.next_stats_ns && self.next_stats_ns != 0 {
            self.next_stats_ns = self.last_ns + self.stats_interval_ns;
            self.stats_record();
        }
    }

    pub fn handle(&mut self, ev: Event) {
        match ev {
            Event::Flow(mut rec) => {
                rec.fill_text();
                // account names become pseudonyms before anything keeps or writes them
                self.host.pseudonymize(&mut rec);
                self.time(rec.end_ns);
                self.summary.flows += 1;
                if rec.flow.reason != "active_timeout" {
                    *self.summary.by_app_proto.entry(rec.app_proto).or_default() += 1;
                    if let Some(a) = &rec.app {
                        *self.summary.by_app.entry(a.clone()).or_default() += 1;
                    }
                }
                let mut alerts = Vec::new();
                self.host.on_flow(&rec, &mut alerts);
                if let Some(am) = self.am.as_mut() {
                    am.flow(&rec);
                }
                self.write_with(Kind::Flow, |line| eve_json::write_flow(&rec, line));
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Alert(mut a) => {
                self.host.pseudonymize_alert(&mut a);
                self.time(a.ts_ns);
                if let Some(am) = self.am.as_mut() {
                    am.alert(&a, true);
                }
                let mut alerts = Vec::new();
                self.host.on_alert(&a, &mut alerts);
                self.alert(*a);
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Usage(u) => {
                self.time(u.ts_ns);
                let mut alerts = Vec::new();
                self.host.on_usage(&u, &mut alerts);
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Media(m) => {
                self.time(m.ts_ns);
                let mut alerts = Vec::new();
                self.host.on_media(&m, &mut alerts);
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Dns(o) => {
                self.time(o.ts_ns);
                let mut alerts = Vec::new();
                self.host.on_dns(&o, &mut alerts);
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Tick(ts) => {
                self.time(ts);
                self.stats_due();
                let mut alerts = Vec::new();
                self.host.on_tick(ts, &mut alerts);
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Snapshot(s) => self.snapshot = Some(s),
        }
    }

    /// An alert of the host stage (about many flows): to Alertmanager unbound, then as any.
    fn host_alert(&mut self, a: AlertRecord) {
        if let Some(am) = self.am.as_mut() {
            am.alert(&a, false);
        }
        self.alert(a);
    }

    /// A 128-bit identity for a dedup key: two SipHash values under random keys. The table
    /// then holds no strings (no allocation per alert, one cache line per probe); two distinct
    /// keys share an identity with a probability of about n²/2¹²⁹, nil for any table size.
    fn dedup_id(&self, key: &str) -> u128 {
        use std::hash::BuildHasher;
        (self.dedup_keys[0].hash_one(key) as u128) << 64 | self.dedup_keys[1].hash_one(key) as u128
    }

    fn alert(&mut self, a: AlertRecord) {
        let key = self.dedup_id(&a.dedup_key);
        match self.dedup.get_mut(&key) {
            Some(last) => {
                if a.ts_ns.saturating_sub(*last) < self.suppress_ns {
                    self.tel.output.alerts_suppressed.inc();
                    return;
                }
                *last = a.ts_ns;
            }
            None => {
                if self.dedup.len() > self.dedup_prune_at {
                    // Forget identities whose suppression has run out. The next sweep waits
                    // until the table has doubled again, so each alert pays O(1) amortised
                    // even when every entry is still live (a sweep per alert was quadratic).
                    let horizon = a.ts_ns.saturating_sub(self.suppress_ns);
                    self.dedup.retain(|_, t| *t >= horizon);
                    self.dedup_prune_at = DEDUP_PRUNE_MIN.max(2 * self.dedup.len());
                }
                self.dedup.insert(key, a.ts_ns);
            }
        }
        let sev = (a.alert.severity.clamp(1, 4) - 1) as usize;
        self.tel.output.alerts[category_index(a.alert.category)][sev].inc();
        if a.alert.category == "remote-access" {
            if let Some(tool) = &a.app {
                let mut m = self
                    .tel
                    .output
                    .ra_sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                *m.entry((tool.clone(), a.direction)).or_default() += 1;
            }
        }
        self.summary.alerts_total += 1;
        if self.summary.alerts.len() < SUMMARY_ALERTS {
            self.summary.alerts.push(AlertLine {
                timestamp: a.timestamp.clone(),
                category: a.alert.category,
                severity: a.alert.severity,
                signature: a.alert.signature.clone(),
                // IPv6 in brackets: [2001:db8::1]:443
                src: std::net::SocketAddr::new(a.tuple.src_ip, a.tuple.src_port).to_string(),
                dest: std::net::SocketAddr::new(a.tuple.dest_ip, a.tuple.dest_port).to_string(),
                direction: a.direction,
            });
        }
        self.write(&a, Kind::Alert);
    }

    /// A Suricata-shaped `stats` record with the sensor's counters.
    fn stats_record(&mut self) {
        let c = match self.snapshot.take() {
            Some(c) => *c,
            None => StatsSnapshot::take(&self.tel),
        };
        let decode: BTreeMap<&str, u64> = crate::decode::ErrorLayer::ALL
            .iter()
            .map(|l| (l.as_str(), c.decode_errors[*l as usize]))
            .collect();
        let rec = serde_json::json!({
            "timestamp": eve::timestamp(self.last_ns),
            "event_type": "stats",
            "stats": {
                "capture": {
                    "packets": c.packets,
                    "bytes": c.bytes,
                    "kernel_drops": c.kernel_drops,
                    "interface_drops": c.interface_drops,
                    "queue_drops": c.queue_drops,
                    "non_ip": c.non_ip,
                    "fragments": c.fragments,
                },
                "decoder": { "errors": decode },
                "flow": {
                    "active": c.flows_active,
                    "created": c.flows_created,
                    "ended": c.flows_ended,
                },
                "alerts": self.summary.alerts_total,
            }
        });
        self.write(&rec, Kind::Stats);
    }

    /// Last records and flush.
    pub fn finish(&mut self) {
        let mut alerts = Vec::new();
        self.host.finish(self.last_ns, &mut alerts);
        for a in alerts {
            self.host_alert(a);
        }
        if self.summary.first_ns.is_some() {
            self.stats_record();
        }
        self.summary.last_ns = self.last_ns;
        if let Some(w) = self.eve.as_mut() {
            w.finish(&self.tel.output);
        }
        if let Some(am) = self.am.take() {
            am.finish();
        }
        for s in self.sinks.drain(..) {
            s.finish();
        }
    }
}
