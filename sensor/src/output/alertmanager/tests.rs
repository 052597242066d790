//! The sink against a small in-process HTTP server that records every request and answers
//! from a script (e.g. 500, 500, then 200).

use super::handle::*;
use super::http::*;
use super::inbox::*;
use super::labels::*;
use super::sink::*;
use super::*;
use crate::output::eve::{alert_from_tuple, timestamp, Finding, FlowStats, Tuple};
use crate::output::eve::{AlertRecord, FlowRecord};
use crate::telemetry::AlertmanagerStats;
use bytes::Bytes;
use serde_json::json;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct Req {
    at: Instant,
    path: String,
    ctype: String,
    body: Value,
}

struct Server {
    addr: SocketAddr,
    reqs: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Answers the statuses of `script` in order, then `then` for ever.
    fn start(script: Vec<u16>, then: u16) -> Server {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let reqs: Arc<Mutex<Vec<Req>>> = Arc::default();
        let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
        let r2 = reqs.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                loop {
                    let Ok((s, _)) = l.accept().await else {
                        continue;
                    };
                    let (reqs, script) = (r2.clone(), script.clone());
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(
                            move |req: hyper::Request<hyper::body::Incoming>| {
                                let (reqs, script) = (reqs.clone(), script.clone());
                                async move {
                                    use http_body_util::BodyExt;
                                    let path = req.uri().path().to_string();
                                    let ctype = req
                                        .headers()
                                        .get("content-type")
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or("")
                                        .to_string();
                                    let b = req.into_body().collect().await.unwrap().to_bytes();
                                    let body = serde_json::from_slice(&b).unwrap_or(Value::Null);
                                    reqs.lock().unwrap().push(Req {
                                        at: Instant::now(),
                                        path,
                                        ctype,
                                        body,
                                    });
                                    let code = script.lock().unwrap().pop_front().unwrap_or(then);
                                    Ok::<_, std::convert::Infallible>(
                                        hyper::Response::builder()
                                            .status(code)
                                            .body(http_body_util::Full::new(Bytes::from(
                                                "answer\n",
                                            )))
                                            .unwrap(),
                                    )
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                            .await;
                    });
                }
            });
        });
        Server { addr, reqs }
    }

    fn n(&self) -> usize {
        self.reqs.lock().unwrap().len()
    }

    /// Every alert object posted so far, in order.
    fn alerts(&self) -> Vec<Value> {
        self.reqs
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.body.as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn settings(urls: &[String]) -> Settings {
    Settings {
        endpoints: urls.iter().map(|u| Endpoint::parse(u).unwrap()).collect(),
        timeout: Duration::from_secs(2),
        resend: Duration::from_secs(30),
        resolve_timeout: Duration::from_secs(60),
        stale_after: Duration::from_secs(3600),
        queue_size: 64,
        max_active: 100,
        max_retries: 3,
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        sensor: "test-sensor".into(),
        labels: BTreeMap::from([("site".to_string(), "lab".to_string())]),
    }
}

fn wait_until(secs: f64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

fn ip(a: [u8; 4]) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..4].copy_from_slice(&a);
    v
}

/// A VNC alert on flow `flow_id` from 10.0.0.5 to 10.0.0.9:5901 at packet time `ts`.
fn vnc_alert(flow_id: u64, ts: u64) -> AlertRecord {
    let t = Tuple::from_parts(
        false,
        &ip([10, 0, 0, 5]),
        40000,
        &ip([10, 0, 0, 9]),
        5901,
        6,
    );
    let mut md = BTreeMap::new();
    md.insert("rfb_version".to_string(), vec!["003.008".to_string()]);
    md.insert(
        "security_types".to_string(),
        vec!["2".into(), "vnc-auth".into()],
    );
    alert_from_tuple(
        t,
        flow_id,
        ts,
        "vnc",
        "internal",
        "10.0.0.5|10.0.0.9|5901|".into(),
        Finding {
            signature_id: 9_100_001,
            signature: "SPANWATCH remote-access: VNC session".into(),
            category: "remote-access",
            severity: 2,
            app: Some("vnc".into()),
            metadata: md,
        },
    )
}

fn dns_alert(ts: u64) -> AlertRecord {
    let t = Tuple::from_parts(false, &ip([10, 0, 0, 7]), 5353, &ip([10, 0, 0, 53]), 53, 17);
    let mut md = BTreeMap::new();
    md.insert("domain".to_string(), vec!["t.example.test".to_string()]);
    alert_from_tuple(
        t,
        77,
        ts,
        "dns",
        "internal",
        "10.0.0.7|t.example.test".into(),
        Finding {
            signature_id: 9_300_002,
            signature: "SPANWATCH tunnel: DNS tunnel to t.example.test".into(),
            category: "tunnel",
            severity: 2,
            app: None,
            metadata: md,
        },
    )
}

fn flow_end(flow_id: u64, end_ns: u64, reason: &'static str) -> FlowRecord {
    let t = Tuple::from_parts(
        false,
        &ip([10, 0, 0, 5]),
        40000,
        &ip([10, 0, 0, 9]),
        5901,
        6,
    );
    FlowRecord {
        timestamp: timestamp(end_ns),
        flow_id,
        event_type: "flow",
        tuple: t,
        app_proto: "vnc",
        app: Some("vnc".into()),
        encapsulation: vec![],
        flow: FlowStats {
            pkts_toserver: 10,
            pkts_toclient: 10,
            bytes_toserver: 1000,
            bytes_toclient: 1000,
            start: timestamp(end_ns),
            end: timestamp(end_ns),
            age: 0,
            state: "closed",
            reason,
            alerted: true,
        },
        meta: Default::default(),
        end_ns,
        start_ns: end_ns,
        flow_start_ns: end_ns,
        ends: Default::default(),
        app_category: None,
        reported: [0; 2],
    }
}

fn ends_at(a: &Value) -> String {
    a["endsAt"].as_str().unwrap().to_string()
}

#[test]
fn alert_json_shape_resend_and_resolve_when_the_flow_ends() {
    let srv = Server::start(vec![], 200);
    let mut s = settings(&[srv.url()]);
    s.resend = Duration::from_millis(150);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(s, stats.clone()).unwrap();
    let ts = wall_ns() - 5_000_000_000;
    h.alert(&vnc_alert(42, ts), true);
    // Firing, then re-sent while the flow lives.
    assert!(wait_until(5.0, || srv.n() >= 3), "{} requests", srv.n());
    {
        let reqs = srv.reqs.lock().unwrap();
        assert_eq!(reqs[0].path, "/api/v2/alerts");
        assert_eq!(reqs[0].ctype, "application/json");
        let gap = reqs[1].at.duration_since(reqs[0].at);
        assert!(gap >= Duration::from_millis(140), "re-sent after {gap:?}");
    }
    let first = srv.alerts()[0].clone();
    let want_labels = json!({
        "alertname": "SpanwatchRemoteAccessDetected",
        "category": "remote-access",
        "severity": "high",
        "sensor": "test-sensor",
        "signature_id": "9100001",
        "src_ip": "10.0.0.5",
        "dest_ip": "10.0.0.9",
        "dest_port": "5901",
        "proto": "TCP",
        "direction": "internal",
        "app": "vnc",
        "app_proto": "vnc",
        "site": "lab",
    });
    assert_eq!(first["labels"], want_labels);
    let ann = &first["annotations"];
    assert_eq!(ann["sid"], "9100001");
    assert_eq!(ann["flow_id"], "42");
    assert_eq!(ann["signature"], "SPANWATCH remote-access: VNC session");
    assert!(ann["community_id"].as_str().unwrap().starts_with("1:"));
    assert_eq!(
        ann["evidence"],
        "rfb_version=003.008; security_types=2,vnc-auth"
    );
    assert!(ann["summary"].as_str().unwrap().contains("10.0.0.5"));
    assert_eq!(first["startsAt"], rfc3339(ts));
    assert!(first["startsAt"].as_str().unwrap().ends_with('Z'));
    // Firing: endsAt in the future (4 resend intervals).
    assert!(ends_at(&first) > rfc3339(wall_ns()));
    assert!(srv.alerts().iter().all(|a| a["labels"] == want_labels));

    // Another flow of the same session keeps it firing when the first ends.
    h.alert(&vnc_alert(43, ts + 1_000_000_000), true);
    h.flow(&flow_end(42, wall_ns(), "closed"));
    std::thread::sleep(Duration::from_millis(400));
    let now = rfc3339(wall_ns());
    let last = srv.alerts().last().cloned().unwrap();
    assert!(ends_at(&last) > now, "resolved while flow 43 lives");
    assert_eq!(stats.active.get(), 1);

    let end = wall_ns();
    h.flow(&flow_end(43, end, "closed"));
    assert!(wait_until(3.0, || srv
        .alerts()
        .iter()
        .any(|a| ends_at(a) == rfc3339(end))));
    assert!(wait_until(1.0, || stats.active.get() == 0));
    let n = srv.n();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(srv.n(), n, "nothing re-sent after the resolve");
    h.finish();
    assert!(stats.sent.get() >= 4);
    assert_eq!(
        stats.failed.get() + stats.rejected.get() + stats.dropped.get(),
        0
    );
}

/// The sink without its thread: messages in, flushes by hand, batches out.
fn bare_sink(s: Settings) -> (Sink, Vec<Queue>, mpsc::Receiver<Arc<Batch>>) {
    let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
    let q = Queue {
        tx,
        inflight: Arc::default(),
        failing: Arc::default(),
    };
    (Sink::new(s, Arc::default()), vec![q], rx)
}

fn posted(rx: &mut mpsc::Receiver<Arc<Batch>>) -> Vec<Value> {
    let mut v = Vec::new();
    while let Ok(b) = rx.try_recv() {
        let x: Value = serde_json::from_slice(&b.body).unwrap();
        v.extend(x.as_array().unwrap().iter().cloned());
    }
    v
}

fn fire(a: &AlertRecord) -> Msg {
    Msg::Fire(Fired {
        key: key_id(&a.dedup_key),
        body: alert_body(&labels_of(a, "s", &Labels::new()), &annotations_of(a, "s")),
        starts_ns: a.ts_ns,
        flow: Some(a.flow_id),
        ended_ns: None,
    })
}

#[test]
fn a_session_over_before_it_was_sent_fires_for_one_resend_interval() {
    let mut s = settings(&[]);
    s.resend = Duration::from_secs(20);
    let (mut sink, qs, mut rx) = bare_sink(s);
    let ts = wall_ns() - 60_000_000_000;
    sink.on_msg(fire(&vnc_alert(1, ts)));
    sink.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(1, ts).dedup_key),
        flow_id: 1,
        end_ns: ts + 1_000_000_000,
    });
    sink.flush(&qs, false);
    let out = posted(&mut rx);
    assert_eq!(out.len(), 1);
    // Alertmanager resolves it itself at endsAt, 20 s from now.
    let (lo, hi) = (wall_ns() + 19_000_000_000, wall_ns() + 21_000_000_000);
    assert!(ends_at(&out[0]) > rfc3339(lo) && ends_at(&out[0]) < rfc3339(hi));
    assert!(sink.active.is_empty());
}

#[test]
fn a_resolve_waits_for_the_hold_and_carries_an_end_that_has_passed() {
    let mut s = settings(&[]);
    s.resend = Duration::from_millis(300);
    let (mut sink, qs, mut rx) = bare_sink(s);
    let ts = wall_ns() - 60_000_000_000;
    sink.on_msg(fire(&vnc_alert(1, ts)));
    sink.flush(&qs, false);
    let first = posted(&mut rx);
    assert_eq!(first.len(), 1);
    assert!(ends_at(&first[0]) > rfc3339(wall_ns()), "firing");
    let sent_at = wall_ns();
    sink.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(1, ts).dedup_key),
        flow_id: 1,
        end_ns: ts + 1_000_000_000,
    });
    sink.flush(&qs, false);
    assert!(posted(&mut rx).is_empty(), "held");
    std::thread::sleep(Duration::from_millis(320));
    sink.flush(&qs, false);
    let out = posted(&mut rx);
    assert_eq!(out.len(), 1);
    // endsAt: first send + hold, in the past (so Alertmanager takes it over the firing one)
    let e = ends_at(&out[0]);
    assert!(
        e <= rfc3339(wall_ns()) && e >= rfc3339(sent_at + 250_000_000),
        "{e}"
    );
    assert!(sink.active.is_empty());
}

#[test]
fn the_last_flush_leaves_held_sessions_to_expire() {
    let (mut sink, qs, mut rx) = bare_sink(settings(&[]));
    let ts = wall_ns() - 60_000_000_000;
    sink.on_msg(fire(&vnc_alert(1, ts)));
    sink.on_msg(fire(&vnc_alert(2, ts)));
    sink.flush(&qs, false);
    assert_eq!(posted(&mut rx).len(), 1, "one session, two flows");
    sink.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(1, ts).dedup_key),
        flow_id: 1,
        end_ns: ts,
    });
    sink.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(2, ts).dedup_key),
        flow_id: 2,
        end_ns: ts + 5,
    });
    sink.flush(&qs, true);
    // A resolve now could beat Alertmanager's group_wait: nobody would hear of the session.
    assert!(posted(&mut rx).is_empty());
    assert!(sink.active.is_empty());
}

#[test]
fn two_signatures_on_one_flow_are_two_alerts_both_ended_by_the_flow() {
    let srv = Server::start(vec![], 200);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(settings(&[srv.url()]), stats.clone()).unwrap();
    let ts = wall_ns() - 120_000_000_000;
    let a = vnc_alert(7, ts);
    let mut b = vnc_alert(7, ts);
    b.alert.signature_id = 9_100_002;
    b.dedup_key = "9100002|other".into();
    h.alert(&a, true);
    h.alert(&b, true);
    h.alert(&a, true); // a repeat on the same flow: not sent again
    assert_eq!(h.n_bound, 2);
    assert!(wait_until(3.0, || stats.active.get() == 2));
    h.flow(&flow_end(7, ts, "closed"));
    assert!(h.bound.is_empty() && h.n_bound == 0);
    h.finish();
    let sids: std::collections::BTreeSet<_> = srv
        .alerts()
        .iter()
        .map(|x| x["labels"]["signature_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sids.len(), 2);
    assert_eq!(stats.active.get(), 0);
}

#[test]
fn shutdown_flow_end_does_not_resolve_and_finish_delivers() {
    let srv = Server::start(vec![], 200);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(settings(&[srv.url()]), stats.clone()).unwrap();
    h.alert(&vnc_alert(5, wall_ns()), true);
    h.flow(&flow_end(5, wall_ns(), "shutdown"));
    h.finish(); // returns only after delivery (bounded)
    let alerts = srv.alerts();
    assert_eq!(alerts.len(), 1);
    // still firing: 4 × 30 s ahead
    assert!(ends_at(&alerts[0]) > rfc3339(wall_ns() + 100_000_000_000));
    assert_eq!(stats.sent.get(), 1);
}

#[test]
fn host_stage_alert_resolves_after_the_resolve_timeout() {
    let srv = Server::start(vec![], 200);
    let mut s = settings(&[srv.url()]);
    s.resolve_timeout = Duration::from_millis(300);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(s, stats.clone()).unwrap();
    let t0 = Instant::now();
    h.alert(&dns_alert(wall_ns()), false);
    assert!(wait_until(3.0, || srv.n() >= 2));
    let reqs = srv.reqs.lock().unwrap();
    let gap = reqs[1].at.duration_since(t0);
    assert!(gap >= Duration::from_millis(290), "{gap:?}");
    let resolved = &reqs[1].body[0];
    assert_eq!(resolved["labels"]["domain"], "t.example.test");
    assert_eq!(resolved["labels"]["alertname"], "SpanwatchTunnelDetected");
    assert!(ends_at(resolved) <= rfc3339(wall_ns()));
    drop(reqs);
    h.finish();
}

#[test]
fn an_account_alert_names_the_account_in_its_labels() {
    let mut a = dns_alert(1_000);
    a.alert.category = "account";
    a.alert.metadata.clear();
    a.alert
        .metadata
        .insert("account".into(), vec!["alice@EXAMPLE.TEST".into()]);
    let l = labels_of(&a, "s", &Labels::new());
    assert_eq!(
        l.get("account").map(String::as_str),
        Some("alice@EXAMPLE.TEST")
    );
    assert_eq!(l.get("category").map(String::as_str), Some("account"));
}

#[test]
fn retries_5xx_with_backoff_then_delivers() {
    let srv = Server::start(vec![500, 502, 503], 200);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(settings(&[srv.url()]), stats.clone()).unwrap();
    h.alert(&vnc_alert(9, wall_ns()), true);
    assert!(wait_until(5.0, || stats.sent.get() == 1));
    let reqs = srv.reqs.lock().unwrap();
    assert_eq!(reqs.len(), 4);
    // equal jitter: at least half of 20, 40, 80 ms
    let mins = [10u64, 20, 40];
    for i in 1..4 {
        let gap = reqs[i].at.duration_since(reqs[i - 1].at);
        assert!(
            gap >= Duration::from_millis(mins[i - 1]),
            "retry {i} after {gap:?}"
        );
    }
    assert!(reqs.iter().all(|r| r.body == reqs[0].body));
    drop(reqs);
    h.finish();
    assert_eq!(stats.failed.get(), 0);
}

#[test]
fn gives_up_after_max_retries_and_counts_it() {
    let srv = Server::start(vec![], 500);
    let mut s = settings(&[srv.url()]);
    s.max_retries = 2;
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(s, stats.clone()).unwrap();
    h.alert(&vnc_alert(9, wall_ns()), true);
    assert!(wait_until(5.0, || stats.failed.get() == 1));
    assert_eq!(srv.n(), 3);
    h.finish();
    assert_eq!(stats.sent.get(), 0);
}

#[test]
fn connection_refused_is_retried_and_counted_failed() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = settings(&[format!("http://127.0.0.1:{port}")]);
    s.max_retries = 1;
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(s, stats.clone()).unwrap();
    h.alert(&vnc_alert(9, wall_ns()), true);
    assert!(wait_until(5.0, || stats.failed.get() == 1));
    h.finish();
}

#[test]
fn a_4xx_is_rejected_not_retried() {
    let srv = Server::start(vec![400], 200);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(settings(&[srv.url()]), stats.clone()).unwrap();
    h.alert(&vnc_alert(9, wall_ns()), true);
    assert!(wait_until(5.0, || stats.rejected.get() == 1));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(srv.n(), 1);
    h.finish();
    assert_eq!(stats.sent.get(), 0);
}

#[test]
fn every_alertmanager_of_a_cluster_gets_every_alert() {
    let a = Server::start(vec![], 200);
    let b = Server::start(vec![503], 200);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(
        settings(&[a.url(), format!("{}/am/", b.url())]),
        stats.clone(),
    )
    .unwrap();
    h.alert(&vnc_alert(1, wall_ns()), true);
    h.alert(&dns_alert(wall_ns()), false);
    h.finish();
    assert_eq!(a.alerts().len(), 2);
    // b refused the first POST with a 503: the same alerts came again.
    let names = |s: &Server| {
        s.alerts()
            .iter()
            .map(|x| x["labels"]["alertname"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(names(&a), names(&b));
    assert_eq!(names(&a).len(), 2);
    assert_eq!(b.reqs.lock().unwrap()[0].path, "/am/api/v2/alerts");
    assert_eq!(stats.sent.get(), 4);
}

#[test]
fn full_queue_is_counted_and_never_blocks() {
    // A sink that is not reading: the queue holds one message.
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = AmHandle::new(Some(Arc::new(Inbox::new(1))), stats.clone(), 64);
    let t0 = Instant::now();
    for i in 0..100 {
        let mut a = vnc_alert(i, wall_ns());
        a.dedup_key = format!("session {i}"); // 100 sessions, not one
        h.alert(&a, true);
    }
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(stats.dropped.get(), 99);
    // a dropped alert's flow is not waited for
    assert_eq!((h.bound.len(), h.n_bound), (1, 1));
}

#[test]
fn active_table_is_bounded() {
    let srv = Server::start(vec![], 200);
    let mut s = settings(&[srv.url()]);
    s.max_active = 3;
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(s, stats.clone()).unwrap();
    for i in 0..5u64 {
        let mut a = vnc_alert(i, wall_ns());
        a.dedup_key = format!("k{i}");
        h.alert(&a, true);
    }
    assert!(wait_until(3.0, || stats.dropped.get() == 2 && stats.active.get() == 3));
    h.finish();
}

#[test]
fn config_defaults_and_errors_name_the_key() {
    let c = AlertmanagerConfig::default();
    assert!(!c.enabled());
    assert!(c.validate().is_ok());
    let bad = |toml: &str| {
        crate::config::Config::parse(toml, "am.toml")
            .unwrap_err()
            .to_string()
    };
    let e = bad("[alertmanager]\nurls = [\"http://127.0.0.1:9093\", \"https://am:9093\"]\n");
    assert!(
        e.contains("am.toml") && e.contains("alertmanager.urls[1]") && e.contains("https"),
        "{e}"
    );
    let e = bad("[alertmanager]\nurls = [\"am:9093\"]\n");
    assert!(e.contains("alertmanager.urls[0]"), "{e}");
    let e = bad("[alertmanager]\nresend_interval_s = 0\n");
    assert!(e.contains("alertmanager.resend_interval_s"), "{e}");
    let e = bad("[alertmanager]\nlabels = { severity = \"x\" }\n");
    assert!(
        e.contains("alertmanager.labels") && e.contains("severity"),
        "{e}"
    );
    let e = bad("[alertmanager]\nlabels = { \"bad-name\" = \"x\" }\n");
    assert!(e.contains("bad-name"), "{e}");
    let e = bad("[alertmanager]\nurl = \"http://x:1\"\n");
    assert!(e.contains("am.toml:2") && e.contains("url"), "{e}");
    let ok = crate::config::Config::parse(
        "[alertmanager]\nurls = [\"http://10.0.0.1:9093\", \"http://[::1]:9093/prefix\", \"http://am\"]\nresend_interval_s = 30\nlabels = { site = \"dc1\" }\n",
        "ok.toml",
    )
    .unwrap();
    assert!(ok.alertmanager.enabled());
}

#[test]
fn endpoints_parse() {
    let e = Endpoint::parse("http://127.0.0.1:9093").unwrap();
    assert_eq!(
        (e.authority.as_str(), e.path.as_str()),
        ("127.0.0.1:9093", "/api/v2/alerts")
    );
    let e = Endpoint::parse("http://[::1]:9093/am/").unwrap();
    assert_eq!(
        (e.authority.as_str(), e.path.as_str()),
        ("[::1]:9093", "/am/api/v2/alerts")
    );
    let e = Endpoint::parse("http://alertmanager").unwrap();
    assert_eq!(e.authority, "alertmanager:80");
    for bad in [
        "ftp://x",
        "http://",
        "http://u@h:1",
        "http://h:0",
        "http://h:x",
        "http://h:1/?q",
    ] {
        assert!(Endpoint::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn names() {
    assert_eq!(alertname("remote-access"), "SpanwatchRemoteAccessDetected");
    assert_eq!(
        alertname("resolver-bypass"),
        "SpanwatchResolverBypassDetected"
    );
    assert_eq!(alertname("egress"), "SpanwatchEgressDetected");
    assert_eq!(
        [1, 2, 3, 4].map(severity_name),
        ["critical", "high", "medium", "low"]
    );
    assert_eq!(
        rfc3339(1_700_000_000_123_456_789),
        "2023-11-14T22:13:20.123456Z"
    );
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec passed.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A listener that counts connections and then either drops them at once (the POST fails
/// at once) or holds them open without a word (a black hole).
fn counting_listener(black_hole: bool) -> (String, Arc<AtomicU64>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let n = Arc::new(AtomicU64::new(0));
    let n2 = n.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            n2.fetch_add(1, Relaxed);
            if black_hole {
                held.push(c);
            }
        }
    });
    (url, n)
}

#[test]
fn alertmanager_down_or_black_holing_during_an_alert_flood_costs_little_and_is_not_hammered() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (refusing, n_refusing) = counting_listener(false);
    let (hole, n_hole) = counting_listener(true);
    let mut s = settings(&[closed, refusing, hole]);
    // The defaults of the configuration file, but a shorter timeout.
    s.timeout = Duration::from_secs(1);
    s.backoff_initial = Duration::from_millis(500);
    s.backoff_max = Duration::from_secs(30);
    s.max_retries = 5;
    s.max_active = 10_000;
    s.queue_size = 4096;
    s.resend = Duration::from_secs(60);
    let stats = Arc::new(AlertmanagerStats::default());
    let mut h = start(s, stats.clone()).unwrap();
    // An alert flood for 3 s: distinct sessions, each flow ending right after its alert.
    let cpu0 = thread_cpu();
    let sink0 = h.sink_cpu_time().unwrap();
    let t0 = Instant::now();
    let mut i = 0u64;
    while t0.elapsed() < Duration::from_secs(3) {
        let now = wall_ns();
        let mut a = vnc_alert(i, now);
        a.dedup_key = format!("9100001|10.0.{}.{}|10.0.0.9|5901|", i >> 8 & 0xff, i & 0xff);
        h.alert(&a, true);
        h.flow(&flow_end(i, now, "fin"));
        i += 1;
        if i % 64 == 0 {
            // About what a busy sensor raises; the sink must keep up without spinning.
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    let raiser = thread_cpu() - cpu0;
    let sink = h.sink_cpu_time().unwrap() - sink0;
    let (refused, held) = (n_refusing.load(Relaxed), n_hole.load(Relaxed));
    h.finish();
    eprintln!(
        "{i} alerts in 3 s: raising thread {raiser:?} CPU, sink {sink:?}; \
         {refused} connections to the refusing Alertmanager, {held} to the black hole; \
         dropped {}, failed {}",
        stats.dropped.get(),
        stats.failed.get()
    );
    assert!(i > 10_000, "the flood was too small to tell: {i} alerts");
    // The circuit breaker: 0.5 + 1 + 2 s of back-off fit in 3 s, whatever the alert rate.
    assert!(
        refused <= 5,
        "{refused} attempts on a refusing Alertmanager in 3 s"
    );
    assert!(held <= 3, "{held} attempts on a black hole in 3 s");
    assert_eq!(stats.sent.get(), 0);
    assert!(stats.dropped.get() > 0, "the overflow is counted");
    // The sink's work is small next to the work of raising the alerts (here only building
    // the records and their labels, the output thread's share: a capture thread does far more
    // per alert). Before the breaker and batching the sink used more than the raising thread.
    assert!(
        sink * 3 < raiser,
        "sink thread used {sink:?} of CPU while raising the alerts took {raiser:?}"
    );
}

#[test]
fn a_flow_that_ends_while_its_alert_is_queued_is_one_message_and_the_same_alert() {
    let stats = Arc::new(AlertmanagerStats::default());
    let inbox = Arc::new(Inbox::new(16));
    let mut h = AmHandle::new(Some(inbox.clone()), stats.clone(), 64);
    h.sensor = "s".into();
    let ts = wall_ns() - 60_000_000_000;
    h.alert(&vnc_alert(1, ts), true);
    h.flow(&flow_end(1, ts + 1_000_000_000, "fin"));
    // Flow 2 ends after the sink took its alert: a notice of its own.
    h.alert(&vnc_alert(2, ts), true);
    let mut taken = Vec::new();
    assert!(!inbox.take(&mut taken));
    h.flow(&flow_end(2, ts + 2_000_000_000, "fin"));
    let mut later = Vec::new();
    inbox.take(&mut later);
    taken.append(&mut later);
    assert_eq!(taken.len(), 3, "alert 1 with its end, alert 2, end of 2");
    assert!(matches!(&taken[0], Msg::Fire(f) if f.ended_ns == Some(ts + 1_000_000_000)));
    assert!(matches!(&taken[1], Msg::Fire(f) if f.ended_ns.is_none()));
    assert!(matches!(taken[2], Msg::FlowEnded { flow_id: 2, .. }));
    assert_eq!(
        (h.bound.len(), h.n_bound),
        (0, 0),
        "both flows are done with"
    );
    // What goes out is what the separate messages give: the session, over, sent once.
    let mut s = settings(&[]);
    s.resend = Duration::from_secs(20);
    let (mut folded, qs, mut rx) = bare_sink(s.clone());
    for m in taken {
        folded.on_msg(m);
    }
    folded.flush(&qs, false);
    let a = posted(&mut rx);
    let (mut apart, qs2, mut rx2) = bare_sink(s);
    apart.on_msg(fire(&vnc_alert(1, ts)));
    apart.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(1, ts).dedup_key),
        flow_id: 1,
        end_ns: ts + 1_000_000_000,
    });
    apart.on_msg(fire(&vnc_alert(2, ts)));
    apart.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(2, ts).dedup_key),
        flow_id: 2,
        end_ns: ts + 2_000_000_000,
    });
    apart.flush(&qs2, false);
    let b = posted(&mut rx2);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["labels"], b[0]["labels"]);
    assert_eq!(a[0]["startsAt"], b[0]["startsAt"]);
    assert!(folded.active.is_empty() && apart.active.is_empty());
    drop(h);
}

#[test]
fn the_evidence_file_is_an_annotation() {
    let mut a = vnc_alert(7, 1_000);
    assert!(!annotations_of(&a, "s").contains_key("pcap"));
    let name = crate::output::evidence::file_name(&a.tuple.community_id);
    a.evidence = Some(crate::model::record::EvidenceRef {
        pcap: name.clone(),
        packets: 4,
    });
    let n = annotations_of(&a, "s");
    assert_eq!(n.get("pcap"), Some(&name));
    assert!(name.starts_with("1_") && name.ends_with("=.pcap"), "{name}");
}

#[test]
fn an_alertmanager_that_does_not_answer_counts_as_failing_before_the_request_times_out() {
    // A black hole, a long request timeout: without the slow-answer rule the queue for it
    // would stay as deep as for a healthy Alertmanager (64 batches, each serialised only to
    // be dropped) until the timeout.
    let (hole, n_hole) = counting_listener(true);
    let mut s = settings(&[hole]);
    s.timeout = Duration::from_secs(20);
    let ep = s.endpoints[0].clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
    let q = Queue {
        tx,
        inflight: Arc::default(),
        failing: Arc::default(),
    };
    let stats = Arc::new(AlertmanagerStats::default());
    rt.block_on(async {
        let task = tokio::spawn(deliver(
            ep,
            Arc::new(s),
            stats.clone(),
            rx,
            q.inflight.clone(),
            q.failing.clone(),
        ));
        let batch = Arc::new(Batch {
            body: Bytes::from_static(b"[]"),
            n: 1,
        });
        q.tx.try_send(batch).unwrap();
        // Wait for the connection, so the clock starts with the request under way.
        let t0 = Instant::now();
        while n_hole.load(Relaxed) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "never connected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            q.room(),
            QUEUE_BATCHES,
            "a request just sent is not a failure"
        );
        let t1 = Instant::now();
        while !q.failing.load(Relaxed) {
            assert!(
                t1.elapsed() < Duration::from_secs(5),
                "still not failing after {:?} without an answer",
                t1.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Marked failing about SLOW_ANSWER after the request, long before its timeout.
        assert!(t0.elapsed() >= SLOW_ANSWER - Duration::from_millis(100));
        assert!(q.room() < 8, "a silent Alertmanager's queue stays short");
        assert_eq!(
            stats.failed.get(),
            0,
            "the request itself is still waited for"
        );
        task.abort();
    });
}

#[test]
fn the_flows_of_one_live_session_are_one_alert_message_and_one_end() {
    let stats = Arc::new(AlertmanagerStats::default());
    let inbox = Arc::new(Inbox::new(64));
    let mut h = AmHandle::new(Some(inbox.clone()), stats.clone(), 64);
    let ts = wall_ns() - 60_000_000_000;
    let s = 1_000_000_000;
    for i in 1..=5 {
        h.alert(&vnc_alert(i, ts + i), true);
    }
    let mut taken = Vec::new();
    inbox.take(&mut taken);
    assert_eq!(
        taken.len(),
        1,
        "five flows of one session: one alert message"
    );
    assert!(matches!(&taken[0], Msg::Fire(f) if f.flow == Some(1)));
    assert_eq!((h.n_bound, h.live.len()), (5, 1));
    for (id, end) in [(3, 3), (1, 9), (2, 2), (4, 4)] {
        h.flow(&flow_end(id, ts + end * s, "fin"));
    }
    taken.clear();
    inbox.take(&mut taken);
    assert!(taken.is_empty(), "the session lives on while one flow does");
    h.flow(&flow_end(5, ts + 5 * s, "fin"));
    inbox.take(&mut taken);
    assert_eq!(taken.len(), 1);
    assert!(
        matches!(taken[0], Msg::FlowEnded { flow_id: 1, end_ns, .. } if end_ns == ts + 9 * s),
        "the end of the last flow, at the latest end of them all"
    );
    assert!(h.bound.is_empty() && h.live.is_empty() && h.n_bound == 0);
    // A flow after the session ended is an alert message again (the sink may have resolved
    // it), and a live session's new flow says it lives on once per refresh interval.
    h.alert(&vnc_alert(6, ts), true);
    h.refresh = Duration::ZERO;
    h.alert(&vnc_alert(7, ts), true);
    taken.clear();
    inbox.take(&mut taken);
    assert_eq!(taken.len(), 2);
    assert!(matches!(&taken[0], Msg::Fire(f) if f.flow == Some(6)));
    assert!(matches!(taken[1], Msg::FlowAlive(_)));
    // What the sink makes of it equals one flow per message: one alert, over.
    let (mut sink, qs, mut rx) = bare_sink(settings(&[]));
    sink.on_msg(fire(&vnc_alert(1, ts + 1)));
    sink.on_msg(Msg::FlowEnded {
        key: key_id(&vnc_alert(1, ts).dedup_key),
        flow_id: 1,
        end_ns: ts + 9 * s,
    });
    sink.flush(&qs, false);
    assert_eq!(posted(&mut rx).len(), 1);
    assert!(sink.active.is_empty());
    assert_eq!(stats.dropped.get(), 0);
}
