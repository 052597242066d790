//! The Prometheus text exposition: every family in a fixed order, summed over the
//! per-thread counters at scrape time.

use super::*;
use crate::decode::{Encap, ErrorLayer};
use crate::flow::app::AppProto;
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

impl Telemetry {
    fn wsum(&self, f: impl Fn(&WorkerStats) -> u64) -> u64 {
        self.workers.iter().map(|w| f(w)).sum()
    }

    /// All metric families, in a fixed order.
    pub fn families(&self) -> Vec<MetricFamily> {
        let c = &self.capture;
        let o = &self.output;
        let mut v = Vec::new();
        v.push(gauge(
            "spanwatch_build_info",
            "Build information; the value is always 1.",
            vec![(
                vec![
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                    ("mode", self.mode.to_string()),
                ],
                1.0,
            )],
        ));
        v.push(gauge1(
            "spanwatch_start_time_seconds",
            "Start time of the sensor since the Unix epoch.",
            self.start_time_s,
        ));
        v.push(counter1(
            "spanwatch_packets_total",
            "Packets received from the capture.",
            c.packets.get(),
        ));
        v.push(counter1(
            "spanwatch_bytes_total",
            "Bytes received from the capture, as wire length.",
            c.bytes.get(),
        ));
        v.push(counter1(
            "spanwatch_capture_kernel_dropped_packets_total",
            "Packets the kernel dropped before the capture read them (64-bit running total of libpcap's ps_drop).",
            c.kernel_drops.get(),
        ));
        v.push(counter1(
            "spanwatch_capture_interface_dropped_packets_total",
            "Packets the interface or driver dropped (64-bit running total of libpcap's ps_ifdrop).",
            c.iface_drops.get(),
        ));
        v.push(counter1(
            "spanwatch_queue_dropped_packets_total",
            "Packets dropped because a worker queue was full.",
            c.queue_drops.get(),
        ));
        v.push(counter1(
            "spanwatch_output_dropped_events_total",
            "Flow and alert events dropped because the output queue was full.",
            self.wsum(|w| w.event_drops.get()),
        ));
        v.push(counter1(
            "spanwatch_non_ip_packets_total",
            "Frames that carry no IP (ARP, LLDP, STP…).",
            c.non_ip.get(),
        ));
        v.push(counter1(
            "spanwatch_ip_fragments_total",
            "IP fragments seen (not reassembled).",
            c.fragments.get(),
        ));
        v.push(counter(
            "spanwatch_decode_errors_total",
            "Packets that could not be decoded, by the layer where decoding failed.",
            ErrorLayer::ALL
                .iter()
                .map(|l| {
                    (
                        vec![("layer", l.as_str().to_string())],
                        c.decode_errors[*l as usize].get(),
                    )
                })
                .collect(),
        ));
        v.push(counter(
            "spanwatch_encapsulated_packets_total",
            "Packets that crossed an encapsulation, by encapsulation.",
            Encap::NAMES
                .iter()
                .enumerate()
                .map(|(i, (_, n))| (vec![("encap", n.to_string())], c.encap[i].get()))
                .collect(),
        ));
        v.push(counter(
            "spanwatch_worker_packets_total",
            "Packets processed, by worker.",
            self.workers
                .iter()
                .enumerate()
                .map(|(i, w)| (vec![("worker", i.to_string())], w.packets.get()))
                .collect(),
        ));
        v.push(gauge1(
            "spanwatch_flows_active",
            "Flows in the flow tables.",
            self.wsum(|w| w.flows_active.get()) as f64,
        ));
        v.push(counter1(
            "spanwatch_flows_created_total",
            "Flows created.",
            self.wsum(|w| w.flows_created.get()),
        ));
        v.push(counter(
            "spanwatch_flows_ended_total",
            "Flow records written, by reason.",
            EndReason::ALL
                .iter()
                .map(|r| {
                    (
                        vec![("reason", r.as_str().to_string())],
                        self.wsum(|w| w.flows_ended[*r as usize].get()),
                    )
                })
                .collect(),
        ));
        v.push(counter(
            "spanwatch_flows_identified_total",
            "Flows by the application protocol identified on the wire (unknown counted when the flow ends).",
            AppProto::ALL
                .iter()
                .map(|a| (vec![("app_proto", a.as_str().to_string())], self.wsum(|w| w.flows_by_app_proto[a.index()].get())))
                .collect(),
        ));
        let mut alerts = Vec::new();
        for (ci, cat) in ALERT_CATEGORIES.iter().enumerate() {
            for sev in 0..4 {
                alerts.push((
                    vec![
                        ("category", cat.to_string()),
                        ("severity", (sev + 1).to_string()),
                    ],
                    o.alerts[ci][sev].get(),
                ));
            }
        }
        v.push(counter(
            "spanwatch_alerts_total",
            "Alerts raised, by category and severity.",
            alerts,
        ));
        v.push(counter1(
            "spanwatch_alerts_suppressed_total",
            "Alerts not written because the same one was raised within the suppression window.",
            o.alerts_suppressed.get(),
        ));
        v.push(counter(
            "spanwatch_eve_records_total",
            "EVE records written, by event type.",
            vec![
                (vec![("event_type", "flow".into())], o.eve_flow.get()),
                (vec![("event_type", "alert".into())], o.eve_alert.get()),
                (vec![("event_type", "stats".into())], o.eve_stats.get()),
            ],
        ));
        v.push(counter1(
            "spanwatch_eve_write_errors_total",
            "EVE records that could not be written.",
            o.eve_write_errors.get(),
        ));
        {
            use crate::output::sink::OUTPUTS;
            let sk = &self.sinks;
            // the file: records written; a record that could not be written is lost
            let file_records = o.eve_flow.get() + o.eve_alert.get() + o.eve_stats.get();
            let fam = |get: &dyn Fn(usize) -> u64| -> Vec<(Vec<(&str, String)>, u64)> {
                OUTPUTS
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (vec![("output", n.to_string())], get(i)))
                    .collect()
            };
            v.push(counter(
                "spanwatch_eve_output_records_total",
                "EVE records delivered, by output (file: written; redis: acknowledged by the server; syslog: taken by the socket).",
                fam(&|i| if i == 0 { file_records } else { sk.records[i].get() }),
            ));
            v.push(counter(
                "spanwatch_eve_output_dropped_records_total",
                "EVE records lost, by output (file: write failed; redis, syslog: queue full, refused by the server, or still queued when the sensor stopped).",
                fam(&|i| if i == 0 { o.eve_write_errors.get() } else { sk.dropped[i].get() }),
            ));
            v.push(counter(
                "spanwatch_eve_output_errors_total",
                "Failed writes, connection attempts and sends, by output (each failure is retried with back-off).",
                fam(&|i| if i == 0 { o.eve_write_errors.get() } else { sk.errors[i].get() }),
            ));
        }
        {
            let m = o.ra_sessions.lock().unwrap_or_else(|e| e.into_inner());
            v.push(counter(
                "spanwatch_remote_access_sessions_total",
                "Remote-access sessions seen, by tool (from the rules catalogue) and direction relative to the home network.",
                m.iter().map(|((t, d), n)| (vec![("tool", t.clone()), ("direction", d.to_string())], *n)).collect(),
            ));
        }
        v.push(gauge1(
            "spanwatch_remote_access_sessions_active",
            "Remote-access sessions whose flow is still open.",
            self.wsum(|w| w.remote_access_active.get()) as f64,
        ));
        {
            let am = &self.alertmanager;
            let vals = [&am.sent, &am.failed, &am.rejected, &am.dropped];
            v.push(counter(
                "spanwatch_alertmanager_notifications_total",
                "Alerts pushed to Alertmanager, by result (sent and failed count once per Alertmanager; dropped: a queue or the active-alert table was full).",
                ALERTMANAGER_RESULTS
                    .iter()
                    .zip(vals)
                    .map(|(r, c)| (vec![("result", r.to_string())], c.get()))
                    .collect(),
            ));
            v.push(gauge1(
                "spanwatch_alertmanager_active_alerts",
                "Alerts the Alertmanager sink keeps firing (re-sent until their session ends or they time out).",
                am.active.get() as f64,
            ));
        }
        v.push(gauge1(
            "spanwatch_hosts_tracked",
            "Internal hosts the host stage tracks (egress baselines, calls, fan-in).",
            o.hosts_tracked.get() as f64,
        ));
        v.push(counter1(
            "spanwatch_hosts_evicted_total",
            "Internal hosts dropped from the host stage because it held host.max_hosts.",
            o.hosts_evicted.get(),
        ));
        v.push(counter(
            "spanwatch_egress_bytes_total",
            "Bytes of flows with an internal end, by direction class: outbound leaves the home networks, inbound enters them, internal stays inside.",
            crate::host::DIRECTION_CLASSES
                .iter()
                .enumerate()
                .map(|(i, d)| (vec![("direction", d.to_string())], o.egress_bytes[i].get()))
                .collect(),
        ));
        v.push(counter(
            "spanwatch_host_anomalies_total",
            "Anomalies the host stage found, by kind.",
            crate::host::ANOMALY_KINDS
                .iter()
                .enumerate()
                .map(|(i, k)| (vec![("kind", k.to_string())], o.host_anomalies[i].get()))
                .collect(),
        ));
        v.push(gauge1(
            "spanwatch_calls_active",
            "Audio/video calls (media legs grouped per host and remote address) in progress.",
            o.calls_active.get() as f64,
        ));
        v.push(counter(
            "spanwatch_host_state_writes_total",
            "Saves of the host state file, by result.",
            vec![
                (
                    vec![("result", "success".into())],
                    o.host_state_saves[0].get(),
                ),
                (
                    vec![("result", "failure".into())],
                    o.host_state_saves[1].get(),
                ),
            ],
        ));
        v.push(counter(
            "spanwatch_host_state_loads_total",
            "Loads of the host state file at start, by result.",
            vec![
                (
                    vec![("result", "success".into())],
                    o.host_state_loads[0].get(),
                ),
                (
                    vec![("result", "failure".into())],
                    o.host_state_loads[1].get(),
                ),
            ],
        ));
        v.push(counter(
            "spanwatch_resolver_bypass_flows_total",
            "Flows of encrypted DNS to public resolvers (DNS over TLS, HTTPS, QUIC), by kind; counted when the flow's first record is written.",
            crate::detect::resolver::KINDS
                .iter()
                .enumerate()
                .map(|(i, k)| (vec![("kind", k.to_string())], o.resolver_bypass_flows[i].get()))
                .collect(),
        ));
        v.push(gauge1(
            "spanwatch_beacon_pairs_tracked",
            "Client/server/port pairs whose connections the beacon scoring keeps.",
            o.beacon_pairs_tracked.get() as f64,
        ));
        v.push(counter1(
            "spanwatch_beacon_pairs_evicted_total",
            "Pairs dropped from the beacon scoring because of detect.beacon.max_pairs or max_connections_total (least recently active first).",
            o.beacon_pairs_evicted.get(),
        ));
        v.push(gauge1(
            "spanwatch_rules_loaded",
            "Tools in the loaded rules catalogue.",
            self.rules_loaded.get() as f64,
        ));
        v.push(counter(
            "spanwatch_config_reloads_total",
            "Configuration and rules reloads, by result (partial: the rules were reloaded, but changed keys need a restart; the log names them).",
            vec![
                (vec![("result", "success".into())], self.reloads_ok.get()),
                (
                    vec![("result", "partial".into())],
                    self.reloads_partial.get(),
                ),
                (
                    vec![("result", "failure".into())],
                    self.reloads_failed.get(),
                ),
            ],
        ));
        v.push(gauge1(
            "spanwatch_config_last_reload_successful",
            "Whether the last reload succeeded (1) or kept the old rules (0).",
            self.last_reload_ok.get() as f64,
        ));
        v.push(gauge1(
            "spanwatch_last_packet_timestamp_seconds",
            "Capture time of the latest packet seen.",
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

type Labels = Vec<(&'static str, String)>;

fn labels(l: Labels) -> Vec<LabelPair> {
    l.into_iter()
        .map(|(k, v)| {
            let mut p = LabelPair::default();
            p.set_name(k.to_string());
            p.set_value(v);
            p
        })
        .collect()
}

fn family(name: &str, help: &str, t: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(t);
    f.set_metric(metrics);
    f
}

fn counter(name: &str, help: &str, vals: Vec<(Labels, u64)>) -> MetricFamily {
    let metrics = vals
        .into_iter()
        .map(|(l, v)| {
            let mut c = Counter::default();
            c.set_value(v as f64);
            let mut m = Metric::from_label(labels(l));
            m.set_counter(c);
            m
        })
        .collect();
    family(name, help, MetricType::COUNTER, metrics)
}

fn counter1(name: &str, help: &str, v: u64) -> MetricFamily {
    counter(name, help, vec![(vec![], v)])
}

fn gauge(name: &str, help: &str, vals: Vec<(Labels, f64)>) -> MetricFamily {
    let metrics = vals
        .into_iter()
        .map(|(l, v)| {
            let mut g = Gauge::default();
            g.set_value(v);
            let mut m = Metric::from_label(labels(l));
            m.set_gauge(g);
            m
        })
        .collect();
    family(name, help, MetricType::GAUGE, metrics)
}

fn gauge1(name: &str, help: &str, v: f64) -> MetricFamily {
    gauge(name, help, vec![(vec![], v)])
}
