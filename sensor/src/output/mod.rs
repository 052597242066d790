//! The output stage: one thread that receives flow and alert events from every worker,
//! deduplicates alerts (Zeek's notice `identifier` + `suppress_for`), feeds the host stage,
//! writes EVE lines, and keeps what the terminal summary prints.

pub mod alertmanager;
pub mod eve;
pub mod sink;

use crate::host::HostStage;
use crate::telemetry::{category_index, Telemetry};
use eve::{AlertRecord, FlowRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

pub enum Event {
    Flow(Box<FlowRecord>),
    Alert(Box<AlertRecord>),
    /// Packet time advanced (for periodic `stats` records and host-stage windows).
    Tick(u64),
    /// One DNS message, for the per-domain tunnel statistics of the host stage.
    Dns(Box<crate::host::dns_tunnel::DnsObs>),
    /// An open flow moved another MiB (egress accounting of the host stage).
    Usage(Box<crate::host::obs::Usage>),
    /// A call-media flow became a call leg (concurrent calls of the host stage).
    Media(Box<crate::host::obs::MediaObs>),
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
    eve: Option<Box<dyn Write + Send>>,
    tel: Arc<Telemetry>,
    suppress_ns: u64,
    stats_interval_ns: u64,
    next_stats_ns: u64,
    dedup: HashMap<String, u64>,
    host: HostStage,
    pub summary: Summary,
    last_ns: u64,
    line: Vec<u8>,
    /// The Alertmanager sink, when `[alertmanager] urls` is set.
    am: Option<alertmanager::AmHandle>,
    /// Redis and syslog sinks: each record goes to their queues too.
    sinks: Vec<sink::SinkHandle>,
}

/// How many alerts the summary keeps for printing.
const SUMMARY_ALERTS: usize = 50;

impl Output {
    pub fn new(
        eve: Option<Box<dyn Write + Send>>,
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
            dedup: HashMap::new(),
            host,
            summary: Summary::default(),
            last_ns: 0,
            line: Vec::with_capacity(1024),
            am: None,
            sinks: Vec::new(),
        }
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

    fn write<T: Serialize>(&mut self, rec: &T) -> bool {
        if self.eve.is_none() && self.sinks.is_empty() {
            return true;
        }
        self.line.clear();
        if serde_json::to_writer(&mut self.line, rec).is_err() {
            self.tel.output.eve_write_errors.inc();
            return false;
        }
        if !self.sinks.is_empty() {
            let rec: std::sync::Arc<str> = String::from_utf8_lossy(&self.line).into();
            self.sinks.iter_mut().for_each(|s| s.offer(&rec));
        }
        let Some(w) = self.eve.as_mut() else {
            return true;
        };
        self.line.push(b'\n');
        if w.write_all(&self.line).is_err() {
            self.tel.output.eve_write_errors.inc();
            return false;
        }
        true
    }

    fn time(&mut self, ts: u64) {
        if ts > self.last_ns {
            self.last_ns = ts;
        }
        if self.summary.first_ns.is_none() {
            self.summary.first_ns = Some(ts);
            self.next_stats_ns = ts + self.stats_interval_ns;
        }
        if self.last_ns >= self.next_stats_ns && self.next_stats_ns != 0 {
            self.next_stats_ns = self.last_ns + self.stats_interval_ns;
            self.stats_record();
        }
    }

    pub fn handle(&mut self, ev: Event) {
        match ev {
            Event::Flow(rec) => {
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
                if self.write(&*rec) {
                    self.tel.output.eve_flow.inc();
                }
                for a in alerts {
                    self.host_alert(a);
                }
            }
            Event::Alert(a) => {
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
                let mut alerts = Vec::new();
                self.host.on_tick(ts, &mut alerts);
                for a in alerts {
                    self.host_alert(a);
                }
            }
        }
    }

    /// An alert of the host stage (about many flows): to Alertmanager unbound, then as any.
    fn host_alert(&mut self, a: AlertRecord) {
        if let Some(am) = self.am.as_mut() {
            am.alert(&a, false);
        }
        self.alert(a);
    }

    fn alert(&mut self, a: AlertRecord) {
        if let Some(last) = self.dedup.get(&a.dedup_key) {
            if a.ts_ns.saturating_sub(*last) < self.suppress_ns {
                self.tel.output.alerts_suppressed.inc();
                return;
            }
        }
        if self.dedup.len() > 100_000 {
            let horizon = a.ts_ns.saturating_sub(self.suppress_ns);
            self.dedup.retain(|_, t| *t >= horizon);
        }
        self.dedup.insert(a.dedup_key.clone(), a.ts_ns);
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
        if self.write(&a) {
            self.tel.output.eve_alert.inc();
        }
    }

    /// A Suricata-shaped `stats` record with the sensor's counters.
    fn stats_record(&mut self) {
        let c = &self.tel.capture;
        let w = &self.tel.workers;
        let sum = |f: &dyn Fn(&crate::telemetry::WorkerStats) -> u64| -> u64 {
            w.iter().map(|x| f(x)).sum()
        };
        let decode: BTreeMap<&str, u64> = crate::decode::ErrorLayer::ALL
            .iter()
            .map(|l| (l.as_str(), c.decode_errors[*l as usize].get()))
            .collect();
        let rec = serde_json::json!({
            "timestamp": eve::timestamp(self.last_ns),
            "event_type": "stats",
            "stats": {
                "capture": {
                    "packets": c.packets.get(),
                    "bytes": c.bytes.get(),
                    "kernel_drops": c.kernel_drops.get(),
                    "interface_drops": c.iface_drops.get(),
                    "queue_drops": c.queue_drops.get(),
                    "non_ip": c.non_ip.get(),
                    "fragments": c.fragments.get(),
                },
                "decoder": { "errors": decode },
                "flow": {
                    "active": sum(&|x| x.flows_active.get()),
                    "created": sum(&|x| x.flows_created.get()),
                    "ended": sum(&|x| x.flows_ended.iter().map(|c| c.get()).sum()),
                },
                "alerts": self.summary.alerts_total,
            }
        });
        if self.write(&rec) {
            self.tel.output.eve_stats.inc();
        }
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
            if w.flush().is_err() {
                self.tel.output.eve_write_errors.inc();
            }
        }
        if let Some(am) = self.am.take() {
            am.finish();
        }
        for s in self.sinks.drain(..) {
            s.finish();
        }
    }
}
