//! The Prometheus text exposition: every family in a fixed order, summed over the
//! per-thread counters at scrape time.

use super::names::{self, Metric as Def, *};
use super::*;
use crate::decode::{Encap, ErrorLayer};
use crate::proto::registry::AppProto;
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

impl Telemetry {
    fn wsum(&self, f: impl Fn(&WorkerStats) -> u64) -> u64 {
        self.workers.iter().map(|w| f(w)).sum()
    }

    /// All metric families, in a fixed order.
    pub fn families(&self) -> Vec<MetricFamily> {
        let c = &self.capture;
        let o = &self.output;
        let ifaces = self.interfaces.get().map(|v| &v[..]).unwrap_or(&[]);
        let by_iface = |ctrs: &[Ctr; MAX_INTERFACES]| -> Vec<(Labels, u64)> {
            ifaces
                .iter()
                .zip(ctrs)
                .map(|(n, c)| (vec![n.clone()], c.get()))
                .collect()
        };
        let mut v = Vec::new();
        v.push(gauge(
            &BUILD_INFO,
            vec![(
                vec![env!("CARGO_PKG_VERSION").to_string(), self.mode.to_string()],
                1.0,
            )],
        ));
        v.push(gauge1(&START_TIME_SECONDS, self.start_time_s));
        v.push(counter1(&PACKETS_TOTAL, c.packets.get()));
        v.push(counter1(&BYTES_TOTAL, c.bytes.get()));
        v.push(counter1(
            &CAPTURE_KERNEL_DROPPED_PACKETS_TOTAL,
            c.kernel_drops.get(),
        ));
        v.push(counter1(
            &CAPTURE_INTERFACE_DROPPED_PACKETS_TOTAL,
            c.iface_drops.get(),
        ));
        v.push(counter1(&QUEUE_DROPPED_PACKETS_TOTAL, c.queue_drops.get()));
        v.push(counter(
            &CAPTURE_INTERFACE_PACKETS_TOTAL,
            by_iface(&c.iface_packets),
        ));
        v.push(counter(
            &CAPTURE_INTERFACE_KERNEL_DROPPED_PACKETS_TOTAL,
            by_iface(&c.iface_kernel_drops),
        ));
        v.push(counter1(&CAPTURE_RING_FREEZES_TOTAL, c.ring_freezes.get()));
        v.push(gauge(
            &CAPTURE_RING_FILL_RATIO,
            self.workers
                .iter()
                .enumerate()
                .map(|(i, w)| (vec![i.to_string()], w.ring_fill_ppm.get() as f64 / 1e6))
                .collect(),
        ));
        v.push(counter1(&CAPTURE_HANDOFF_PACKETS_TOTAL, c.handoff.get()));
        v.push(counter1(
            &OUTPUT_DROPPED_EVENTS_TOTAL,
            self.wsum(|w| w.event_drops.get()),
        ));
        v.push(counter1(&NON_IP_PACKETS_TOTAL, c.non_ip.get()));
        v.push(counter1(&IP_FRAGMENTS_TOTAL, c.fragments.get()));
        v.push(counter(
            &DECODE_ERRORS_TOTAL,
            ErrorLayer::ALL
                .iter()
                .map(|l| {
                    (
                        vec![l.as_str().to_string()],
                        c.decode_errors[*l as usize].get(),
                    )
                })
                .collect(),
        ));
        v.push(counter(
            &ENCAPSULATED_PACKETS_TOTAL,
            Encap::NAMES
                .iter()
                .enumerate()
                .map(|(i, (_, n))| (vec![n.to_string()], c.encap[i].get()))
                .collect(),
        ));
        v.push(counter(
            &WORKER_PACKETS_TOTAL,
            self.workers
                .iter()
                .enumerate()
                .map(|(i, w)| (vec![i.to_string()], w.packets.get()))
                .collect(),
        ));
        v.push(gauge1(
            &FLOWS_ACTIVE,
            self.wsum(|w| w.flows_active.get()) as f64,
        ));
        v.push(counter1(
            &FLOWS_CREATED_TOTAL,
            self.wsum(|w| w.flows_created.get()),
        ));
        v.push(counter(
            &FLOWS_ENDED_TOTAL,
            EndReason::ALL
                .iter()
                .map(|r| {
                    (
                        vec![r.as_str().to_string()],
                        self.wsum(|w| w.flows_ended[*r as usize].get()),
                    )
                })
                .collect(),
        ));
        v.push(counter(
            &FLOWS_IDENTIFIED_TOTAL,
            AppProto::ALL
                .iter()
                .map(|a| {
                    (
                        vec![a.as_str().to_string()],
                        self.wsum(|w| w.flows_by_app_proto[a.index()].get()),
                    )
                })
                .collect(),
        ));
        let mut alerts = Vec::new();
        for (ci, cat) in ALERT_CATEGORIES.iter().enumerate() {
            for (sev, s) in SEVERITIES.iter().enumerate() {
                alerts.push((
                    vec![cat.to_string(), s.to_string()],
                    o.alerts[ci][sev].get(),
                ));
            }
        }
        v.push(counter(&ALERTS_TOTAL, alerts));
        v.push(counter1(
            &ALERTS_SUPPRESSED_TOTAL,
            o.alerts_suppressed.get(),
        ));
        v.push(counter(
            &EVE_RECORDS_TOTAL,
            vec![
                (vec![EVENT_TYPES[0].into()], o.eve_flow.get()),
                (vec![EVENT_TYPES[1].into()], o.eve_alert.get()),
                (vec![EVENT_TYPES[2].into()], o.eve_stats.get()),
            ],
        ));
        v.push(counter1(&EVE_WRITE_ERRORS_TOTAL, o.eve_write_errors.get()));
        {
            use super::OUTPUTS;
            let sk = &self.sinks;
            // the file: records written; a record that could not be written is lost
            let file_records = o.eve_flow.get() + o.eve_alert.get() + o.eve_stats.get();
            let fam = |get: &dyn Fn(usize) -> u64| -> Vec<(Labels, u64)> {
                OUTPUTS
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (vec![n.to_string()], get(i)))
                    .collect()
            };
            v.push(counter(
                &EVE_OUTPUT_RECORDS_TOTAL,
                fam(&|i| {
                    if i == 0 {
                        file_records
                    } else {
                        sk.records[i].get()
                    }
                }),
            ));
            v.push(counter(
                &EVE_OUTPUT_DROPPED_RECORDS_TOTAL,
                fam(&|i| {
                    if i == 0 {
                        o.eve_write_errors.get()
                    } else {
                        sk.dropped[i].get()
                    }
                }),
            ));
            v.push(counter(
                &EVE_OUTPUT_ERRORS_TOTAL,
                fam(&|i| {
                    if i == 0 {
                        o.eve_write_errors.get()
                    } else {
                        sk.errors[i].get()
                    }
                }),
            ));
        }
        {
            use names::evidence::*;
            let ev = &self.evidence;
            v.push(counter1(&FILES_TOTAL, ev.files.get()));
            v.push(counter1(&PACKETS_TOTAL, ev.packets.get()));
            v.push(counter(
                &DROPPED_PACKETS_TOTAL,
                super::EVIDENCE_DROP_REASONS
                    .iter()
                    .zip(&ev.dropped)
                    .map(|(r, c)| (vec![r.to_string()], c.get()))
                    .collect(),
            ));
            v.push(counter1(&FILES_DELETED_TOTAL, ev.deleted.get()));
            v.push(gauge1(&DISK_BYTES, ev.disk_bytes.get() as f64));
        }
        {
            let m = o.ra_sessions.lock().unwrap_or_else(|e| e.into_inner());
            v.push(counter(
                &REMOTE_ACCESS_SESSIONS_TOTAL,
                m.iter()
                    .map(|((t, d), n)| (vec![t.clone(), d.to_string()], *n))
                    .collect(),
            ));
        }
        v.push(gauge1(
            &REMOTE_ACCESS_SESSIONS_ACTIVE,
            self.wsum(|w| w.remote_access_active.get()) as f64,
        ));
        {
            let am = &self.alertmanager;
            let vals = [&am.sent, &am.failed, &am.rejected, &am.dropped];
            v.push(counter(
                &ALERTMANAGER_NOTIFICATIONS_TOTAL,
                ALERTMANAGER_RESULTS
                    .iter()
                    .zip(vals)
                    .map(|(r, c)| (vec![r.to_string()], c.get()))
                    .collect(),
            ));
            v.push(gauge1(&ALERTMANAGER_ACTIVE_ALERTS, am.active.get() as f64));
        }
        v.push(gauge1(&HOSTS_TRACKED, o.hosts_tracked.get() as f64));
        v.push(counter1(&HOSTS_EVICTED_TOTAL, o.hosts_evicted.get()));
        v.push(gauge1(&ACCOUNTS_TRACKED, o.accounts_tracked.get() as f64));
        v.push(counter(
            &ACCOUNT_ANOMALIES_TOTAL,
            crate::model::sid::ACCOUNT_ANOMALY_KINDS
                .iter()
                .enumerate()
                .map(|(i, k)| (vec![k.to_string()], o.account_anomalies[i].get()))
                .collect(),
        ));
        v.push(counter(
            &MALFORMED_FLOWS_TOTAL,
            crate::proto::session::MALFORMED_PROTOCOLS
                .iter()
                .enumerate()
                .map(|(i, p)| (vec![p.to_string()], self.wsum(|w| w.malformed[i].get())))
                .collect(),
        ));
        v.push(counter(
            &EGRESS_BYTES_TOTAL,
            crate::model::net::DIRECTION_CLASSES
                .iter()
                .enumerate()
                .map(|(i, d)| (vec![d.to_string()], o.egress_bytes[i].get()))
                .collect(),
        ));
        v.push(counter(
            &HOST_ANOMALIES_TOTAL,
            crate::model::sid::ANOMALY_KINDS
                .iter()
                .enumerate()
                .map(|(i, k)| (vec![k.to_string()], o.host_anomalies[i].get()))
                .collect(),
        ));
        v.push(gauge1(&CALLS_ACTIVE, o.calls_active.get() as f64));
        v.push(counter(
            &HOST_STATE_WRITES_TOTAL,
            vec![
                (vec![STATE_RESULTS[0].into()], o.host_state_saves[0].get()),
                (vec![STATE_RESULTS[1].into()], o.host_state_saves[1].get()),
            ],
        ));
        v.push(counter(
            &HOST_STATE_LOADS_TOTAL,
            vec![
                (vec![STATE_RESULTS[0].into()], o.host_state_loads[0].get()),
                (vec![STATE_RESULTS[1].into()], o.host_state_loads[1].get()),
            ],
        ));
        v.push(counter(
            &RESOLVER_BYPASS_FLOWS_TOTAL,
            crate::model::meta::RESOLVER_KINDS
                .iter()
                .enumerate()
                .map(|(i, k)| (vec![k.to_string()], o.resolver_bypass_flows[i].get()))
                .collect(),
        ));
        v.push(gauge1(
            &BEACON_PAIRS_TRACKED,
            o.beacon_pairs_tracked.get() as f64,
        ));
        v.push(counter1(
            &BEACON_PAIRS_EVICTED_TOTAL,
            o.beacon_pairs_evicted.get(),
        ));
        v.push(gauge1(&RULES_LOADED, self.rules_loaded.get() as f64));
        v.push(counter(
            &CONFIG_RELOADS_TOTAL,
            vec![
                (vec![RELOAD_RESULTS[0].into()], self.reloads_ok.get()),
                (vec![RELOAD_RESULTS[1].into()], self.reloads_partial.get()),
                (vec![RELOAD_RESULTS[2].into()], self.reloads_failed.get()),
            ],
        ));
        v.push(gauge1(
            &CONFIG_LAST_RELOAD_SUCCESSFUL,
            self.last_reload_ok.get() as f64,
        ));
        v.push(gauge1(
            &LAST_PACKET_TIMESTAMP_SECONDS,
            c.last_packet_ns.get() as f64 / 1e9,
        ));
        v
    }

    /// The Prometheus text exposition (content type [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let enc = prometheus::TextEncoder::new();
        // The encoder rejects a family with no samples (e.g. no sessions yet): leave it out.
        let fams: Vec<MetricFamily> = self
            .families()
            .into_iter()
            .filter(|f| !f.get_metric().is_empty())
            .collect();
        if enc.encode(&fams, &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Label values, in the order of the family's labels in the catalogue.
type Labels = Vec<String>;

fn labels(def: &Def, l: Labels) -> Vec<LabelPair> {
    debug_assert_eq!(def.labels.len(), l.len(), "{}: label count", def.name);
    def.labels
        .iter()
        .zip(l)
        .map(|(k, v)| {
            let mut p = LabelPair::default();
            p.set_name(k.name.to_string());
            p.set_value(v);
            p
        })
        .collect()
}

fn family(def: &Def, t: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(def.name.to_string());
    f.set_help(def.help.to_string());
    f.set_field_type(t);
    f.set_metric(metrics);
    debug_assert_eq!(names::check(&f), Ok(()));
    f
}

fn counter(def: &Def, vals: Vec<(Labels, u64)>) -> MetricFamily {
    let metrics = vals
        .into_iter()
        .map(|(l, v)| {
            let mut c = Counter::default();
            c.set_value(v as f64);
            let mut m = Metric::from_label(labels(def, l));
            m.set_counter(c);
            m
        })
        .collect();
    family(def, MetricType::COUNTER, metrics)
}

fn counter1(def: &Def, v: u64) -> MetricFamily {
    counter(def, vec![(vec![], v)])
}

fn gauge(def: &Def, vals: Vec<(Labels, f64)>) -> MetricFamily {
    let metrics = vals
        .into_iter()
        .map(|(l, v)| {
            let mut g = Gauge::default();
            g.set_value(v);
            let mut m = Metric::from_label(labels(def, l));
            m.set_gauge(g);
            m
        })
        .collect();
    family(def, MetricType::GAUGE, metrics)
}

fn gauge1(def: &Def, v: f64) -> MetricFamily {
    gauge(def, vec![(vec![], v)])
}
