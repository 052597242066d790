//! The Alertmanager sink: spanwatch's alerts pushed to Alertmanager's v2 API
//! (`POST /api/v2/alerts`), kept firing while their session lasts and resolved when it ends.
//!
//! ```text
//!  output thread (sync)                      sink thread (tokio, current-thread runtime)
//!  Output::alert ─► AmHandle::alert ─push─► Sink: active alerts ─► one queue per Alertmanager
//!  Output::handle(Flow) ─► AmHandle::flow ─┘  (resend, resolve)      ─► POST, retry with backoff
//! ```
//!
//! - Nothing blocks the packet path: the output thread hands alerts and "flow ended" notices
//!   over a bounded queue ([`Inbox`], drained by the sink at most 5 times a second); a full
//!   queue is counted (`spanwatch_alertmanager_notifications_total{result="dropped"}`), never
//!   waited on. Alerts travel as 128-bit identities of their dedup keys plus their JSON
//!   body; a flow's end names its alerts (the output thread keeps the flow → alerts map) and
//!   is folded into its alert's message when that is still queued.
//! - Identity: an Alertmanager alert is its label set. The labels are built from what the EVE
//!   dedup key holds (signature, client, server, service port, proxy target or DNS domain), so
//!   one spanwatch session is one Alertmanager alert.
//! - Lifecycle, following Alertmanager's client contract (clients re-send firing alerts
//!   periodically with `endsAt` in the future; an alert not re-sent resolves at its `endsAt`):
//!   an alert raised on a flow stays firing, re-sent every `resend_interval_s` with
//!   `endsAt = now + 4 × resend_interval_s`, until every flow it was raised on has ended; it is
//!   then resolved. It stays firing for one resend interval at least, so that Alertmanager
//!   (whose `group_wait` does not notify about a group whose alerts are all resolved)
//!   notifies about short sessions too: a session over before it was ever sent goes out
//!   once with `endsAt` one resend interval ahead; one already sent is resolved once the
//!   hold has passed, with an `endsAt` that has passed too (Alertmanager keeps the later
//!   `endsAt` of the firing alert otherwise). When the sink stops (end of a replay, SIGTERM)
//!   a held session is left to expire at its firing `endsAt`. A flow that ends because the sensor stops (reason
//!   `shutdown`) does not resolve: the session may go on, and the alert expires at its
//!   `endsAt` unless a restarted sensor sees it again.
//!   Alerts about many flows (the host stage: DNS tunnels, bulk SSH, egress) resolve
//!   `resolve_timeout_s` after they were last raised.
//! - `startsAt` is the packet time of the alert; resend and resolve timing here uses the wall
//!   clock (this is the control plane, not the packet path).
//! - Delivery: every Alertmanager in `urls` gets every alert (a cluster deduplicates). New
//!   alerts are gathered for up to 200 ms into one POST; the whole table (re-sends, resolves)
//!   is looked at once per tick, not per alert. Each Alertmanager has its own bounded queue
//!   of batches and one delivery task (one request in flight): connection errors, timeouts
//!   and 5xx are retried `max_retries` times with exponential backoff and jitter; a 4xx is a
//!   bad payload, counted as `rejected` and not retried. The back-off is a circuit breaker
//!   per Alertmanager: while one fails, every attempt waits for it (a down or black-holing
//!   Alertmanager is not tried once per alert or per batch), only a few batches wait for
//!   it, and what does not fit is dropped and counted.

use crate::output::eve::{AlertRecord, FlowRecord};
use crate::telemetry::AlertmanagerStats;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `[alertmanager]` in the configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    /// Alertmanager base URLs (`http://host:9093`, with any `--web.route-prefix` path).
    /// Empty: no alerts are pushed. Several: each gets every alert (an Alertmanager cluster).
    pub urls: Vec<String>,
    /// Seconds one POST (connect, send, answer) may take.
    pub timeout_s: u64,
    /// Seconds between re-sends of a firing alert.
    pub resend_interval_s: u64,
    /// Seconds after which an alert not bound to one flow (host stage) resolves when it is
    /// not raised again.
    pub resolve_timeout_s: u64,
    /// Alerts and flow-end notices waiting between the output thread and the sink.
    pub queue_size: usize,
    /// Alerts the sink keeps firing at most; the oldest is let go (counted as dropped).
    pub max_active_alerts: usize,
    /// Retries of a failed POST (connection error, timeout, 5xx) before it is given up.
    pub max_retries: u32,
    /// Longest wait between retries; waits start at 0.5 s and double, with jitter.
    pub retry_backoff_max_s: u64,
    /// Labels added to every alert (e.g. `site = "dc1"`).
    pub labels: BTreeMap<String, String>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            urls: Vec::new(),
            timeout_s: 10,
            resend_interval_s: 60,
            resolve_timeout_s: 300,
            queue_size: 16384,
            max_active_alerts: 10_000,
            max_retries: 5,
            retry_backoff_max_s: 30,
            labels: BTreeMap::new(),
        }
    }
}

/// The label names the sink sets itself; `labels` may not reuse them.
pub const OWN_LABELS: [&str; 14] = [
    "alertname",
    "category",
    "severity",
    "sensor",
    "signature_id",
    "src_ip",
    "dest_ip",
    "dest_port",
    "proto",
    "direction",
    "app",
    "app_proto",
    "target",
    "domain",
];

impl AlertmanagerConfig {
    pub fn enabled(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Errors name the key (`alertmanager.urls[1]: …`).
    pub fn validate(&self) -> Result<(), String> {
        for (i, u) in self.urls.iter().enumerate() {
            Endpoint::parse(u).map_err(|e| format!("alertmanager.urls[{i}]: {e}"))?;
        }
        use crate::config::check;
        check("alertmanager.timeout_s", self.timeout_s)?;
        check("alertmanager.resend_interval_s", self.resend_interval_s)?;
        check("alertmanager.resolve_timeout_s", self.resolve_timeout_s)?;
        check("alertmanager.queue_size", self.queue_size)?;
        check("alertmanager.max_active_alerts", self.max_active_alerts)?;
        check("alertmanager.max_retries", self.max_retries)?;
        check("alertmanager.retry_backoff_max_s", self.retry_backoff_max_s)?;
        for (k, v) in &self.labels {
            let ok =
                k.chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                }) && !k.is_empty()
                    && !k.starts_with("__");
            if !ok {
                return Err(format!(
                    "alertmanager.labels: {k:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                ));
            }
            if OWN_LABELS.contains(&k.as_str()) {
                return Err(format!(
                    "alertmanager.labels: {k:?} is set by spanwatch itself"
                ));
            }
            if v.is_empty() {
                return Err(format!("alertmanager.labels.{k}: empty value"));
            }
        }
        Ok(())
    }
}

/// One Alertmanager: where to connect and what to ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `host:port` for the connection and the Host header.
    pub authority: String,
    /// `/prefix/api/v2/alerts`.
    pub path: String,
    /// The URL as configured (for logs).
    pub url: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url:?}: https is not supported; use http:// to an Alertmanager on a trusted network or a local TLS proxy"
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        let (auth, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if auth.is_empty() || auth.contains('@') || path.contains(['?', '#']) {
            return Err(format!(
                "{url:?}: expected http://host:port[/path] (no user, query or fragment)"
            ));
        }
        // host:port, [v6]:port, or a host alone (port 80).
        let has_port = match auth.rfind(':') {
            Some(i) => !auth[i..].contains(']'),
            None => false,
        };
        let authority = if has_port {
            let (h, p) = auth.rsplit_once(':').unwrap_or((auth, ""));
            if h.is_empty() || p.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(format!("{url:?}: bad host or port"));
            }
            auth.to_string()
        } else {
            format!("{auth}:80")
        };
        let prefix = path.trim_end_matches('/');
        Ok(Endpoint {
            authority,
            path: format!("{prefix}/api/v2/alerts"),
            url: url.to_string(),
        })
    }
}

/// What the sink runs with (durations rather than the file's seconds, so tests can be quick).
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoints: Vec<Endpoint>,
    pub timeout: Duration,
    pub resend: Duration,
    pub resolve_timeout: Duration,
    /// A flow-bound alert that hears nothing of its flows for this long resolves anyway (a
    /// lost flow-end notice must not keep it firing for ever). Long flows write a record
    /// every active timeout, which counts as hearing of them.
    pub stale_after: Duration,
    pub queue_size: usize,
    pub max_active: usize,
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub sensor: String,
    pub labels: BTreeMap<String, String>,
}

impl Settings {
    /// From the config file's section; `active_timeout_s` is `flow.active_timeout_s`.
    pub fn from_config(
        c: &AlertmanagerConfig,
        sensor: String,
        active_timeout_s: u64,
    ) -> Result<Settings, String> {
        c.validate()?;
        let endpoints = c
            .urls
            .iter()
            .map(|u| Endpoint::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Settings {
            endpoints,
            timeout: Duration::from_secs(c.timeout_s),
            resend: Duration::from_secs(c.resend_interval_s),
            resolve_timeout: Duration::from_secs(c.resolve_timeout_s),
            stale_after: Duration::from_secs(
                active_timeout_s.saturating_mul(2) + c.resolve_timeout_s,
            ),
            queue_size: c.queue_size,
            max_active: c.max_active_alerts,
            max_retries: c.max_retries,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(c.retry_backoff_max_s),
            sensor,
            labels: c.labels.clone(),
        })
    }
}

/// The sensor's name in alerts: `sensor.name`, else the host name.
pub fn sensor_name(configured: Option<&str>) -> String {
    if let Some(n) = configured {
        return n.to_string();
    }
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r == 0 {
        let n = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..n]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "spanwatch".into()
}

/// spanwatch severity (1 highest, as Suricata) to the `severity` label.
pub fn severity_name(s: u8) -> &'static str {
    match s {
        0 | 1 => "critical",
        2 => "high",
        3 => "medium",
        _ => "low",
    }
}

/// `remote-access` → `SpanwatchRemoteAccessDetected`: one stable alertname per category,
/// distinct from the Prometheus rules' alert names (which count alerts per sensor).
pub fn alertname(category: &str) -> String {
    let mut s = String::from("Spanwatch");
    for part in category.split(['-', '_']) {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            s.push(f.to_ascii_uppercase());
            s.extend(c);
        }
    }
    s.push_str("Detected");
    s
}

pub use crate::output::eve::{rfc3339, wall_ns};

type Labels = BTreeMap<String, String>;

/// The labels of an alert: what routes it and what makes it one session.
pub fn labels_of(a: &AlertRecord, sensor: &str, extra: &Labels) -> Labels {
    let mut l = Labels::new();
    l.insert("alertname".into(), alertname(a.alert.category));
    l.insert("category".into(), a.alert.category.into());
    l.insert("severity".into(), severity_name(a.alert.severity).into());
    l.insert("sensor".into(), sensor.into());
    l.insert("signature_id".into(), a.alert.signature_id.to_string());
    l.insert("src_ip".into(), a.tuple.src_ip.to_string());
    l.insert("dest_ip".into(), a.tuple.dest_ip.to_string());
    if a.tuple.dest_port != 0 {
        l.insert("dest_port".into(), a.tuple.dest_port.to_string());
    }
    l.insert("proto".into(), a.tuple.proto.clone());
    l.insert("direction".into(), a.direction.into());
    if let Some(app) = &a.app {
        l.insert("app".into(), app.clone());
    }
    if a.app_proto != "unknown" && !a.app_proto.is_empty() {
        l.insert("app_proto".into(), a.app_proto.into());
    }
    // Parts of the dedup identity that are not in the tuple.
    for k in ["target", "domain"] {
        if let Some(v) = a.alert.metadata.get(k).and_then(|v| v.first()) {
            l.insert(k.into(), v.clone());
        }
    }
    for (k, v) in extra {
        l.entry(k.clone()).or_insert_with(|| v.clone());
    }
    l
}

/// The annotations: the evidence, for whoever reads the notification.
pub fn annotations_of(a: &AlertRecord, sensor: &str) -> Labels {
    let mut n = Labels::new();
    let dest = match a.tuple.dest_port {
        0 => a.tuple.dest_ip.to_string(),
        p => format!("{}:{p}", a.tuple.dest_ip),
    };
    n.insert(
        "summary".into(),
        format!(
            "{} ({} → {dest}, {}, sensor {sensor})",
            a.alert.signature, a.tuple.src_ip, a.direction
        ),
    );
    n.insert("signature".into(), a.alert.signature.clone());
    n.insert("sid".into(), a.alert.signature_id.to_string());
    n.insert("community_id".into(), a.tuple.community_id.clone());
    n.insert("flow_id".into(), a.flow_id.to_string());
    n.insert("src_port".into(), a.tuple.src_port.to_string());
    n.insert("timestamp".into(), a.timestamp.clone());
    let evidence: Vec<String> = a
        .alert
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    if !evidence.is_empty() {
        n.insert("evidence".into(), evidence.join("; "));
    }
    n
}

enum Msg {
    Fire(Fired),
    /// The last record of a flow an alert was raised on (not a shutdown), once per alert
    /// raised on it: the output thread knows a flow's alerts, so the sink keeps no map from
    /// flows to alerts.
    FlowEnded {
        key: Key,
        flow_id: u64,
        end_ns: u64,
    },
    /// A long flow's periodic record: the alert raised on it is still live.
    FlowAlive(Key),
}

/// An alert's identity in the sink: its dedup key hashed to 128 bits on the output thread
/// ([`key_id`]), so the sink's tables hold and compare no strings.
type Key = u128;

/// Two hashes of `key` under random keys (chosen once per process). Two distinct keys share
/// an identity with a probability of about n²/2¹²⁹, nil for any table size (as the EVE
/// dedup's identities).
fn key_id(key: &str) -> Key {
    static STATES: std::sync::OnceLock<[ahash::RandomState; 2]> = std::sync::OnceLock::new();
    let [a, b] = STATES.get_or_init(|| [ahash::RandomState::new(), ahash::RandomState::new()]);
    (a.hash_one(key) as u128) << 64 | b.hash_one(key) as u128
}

struct Fired {
    key: Key,
    /// `"labels":{…},"annotations":{…}` serialised on the output thread: one string for the
    /// sink to keep and free rather than two maps of small strings (freeing those on the
    /// sink's thread was most of its work in an alert flood).
    body: Box<str>,
    starts_ns: u64,
    flow: Option<u64>,
    /// `flow` has ended already (packet time of its end): the flow-end notice was folded
    /// into this message while it still waited in the queue (one message, one table probe
    /// in the sink rather than two, for flows that end within a drain pause of their alert).
    ended_ns: Option<u64>,
}

/// The bounded queue from the output thread to the sink: a vector behind a lock, which the
/// sink swaps with an empty one of its own at each drain. Per message the output thread pays
/// an uncontended lock and a push, the sink nothing (a tokio channel cost both an atomic
/// hand-over per message and the sink a semaphore lock per message, a large share of its
/// work in an alert flood); the sink is woken only when the queue goes from empty to not
/// empty.
struct Inbox {
    state: std::sync::Mutex<InboxState>,
    wake: tokio::sync::Notify,
    cap: usize,
}

#[derive(Default)]
struct InboxState {
    msgs: Vec<Msg>,
    /// Drains so far: a message's place is (`taken`, index in `msgs`).
    taken: u64,
    /// The output thread is done: the sink delivers what it holds and stops.
    closed: bool,
}

impl Inbox {
    fn new(cap: usize) -> Inbox {
        Inbox {
            state: Default::default(),
            wake: tokio::sync::Notify::new(),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Its place in the queue, or `Err(m)` when the queue is full or closed.
    fn push(&self, m: Msg) -> Result<Place, Msg> {
        let mut st = self.lock();
        if st.closed || st.msgs.len() >= self.cap {
            return Err(m);
        }
        let place = Place {
            taken: st.taken,
            index: st.msgs.len(),
        };
        st.msgs.push(m);
        drop(st);
        if place.index == 0 {
            self.wake.notify_one();
        }
        Ok(place)
    }

    /// Fold the end of `flow_id` into its alert `key` if that is still queued at `place`.
    fn end_queued(&self, place: Place, key: Key, flow_id: u64, end_ns: u64) -> bool {
        let mut st = self.lock();
        if st.taken != place.taken {
            return false;
        }
        match st.msgs.get_mut(place.index) {
            Some(Msg::Fire(f)) if f.key == key && f.flow == Some(flow_id) => {
                f.ended_ns = Some(f.ended_ns.unwrap_or(0).max(end_ns));
                true
            }
            _ => false,
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Take everything queued into `buf` (empty; its capacity goes back to the queue);
    /// whether the queue is closed.
    fn take(&self, buf: &mut Vec<Msg>) -> bool {
        let mut st = self.lock();
        std::mem::swap(&mut st.msgs, buf);
        st.taken += 1;
        st.closed
    }
}

/// Where a message waits in the [`Inbox`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    taken: u64,
    index: usize,
}

/// An alert raised on a flow, as the output thread remembers it until the flow ends.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    key: Key,
    /// Where its alert message waits (or waited) in the queue.
    place: Place,
}

/// The output thread's side of the sink.
pub struct AmHandle {
    tx: Option<Arc<Inbox>>,
    stats: Arc<AlertmanagerStats>,
    sensor: String,
    labels: Labels,
    /// Flows an alert was raised on whose end the sink waits for.
    /// (flow, alert key) pairs: a flow may carry alerts of several signatures.
    bound: HashMap<u64, Few<Bound>>,
    /// Entries of `bound` at most.
    max_bound: usize,
    n_bound: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Start the sink on its own thread (a current-thread tokio runtime), for `run` and
/// `replay` alike.
pub fn start(s: Settings, stats: Arc<AlertmanagerStats>) -> Result<AmHandle, String> {
    let inbox = Arc::new(Inbox::new(s.queue_size));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("alertmanager sink: cannot start runtime: {e}"))?;
    let (sensor, labels) = (s.sensor.clone(), s.labels.clone());
    let max_bound = s.max_active.saturating_mul(4).max(64);
    let rx = inbox.clone();
    let sink = Sink::new(s, stats.clone());
    let thread = std::thread::Builder::new()
        .name("alertmanager".into())
        .spawn(move || rt.block_on(sink.run(rx)))
        .map_err(|e| format!("alertmanager sink: cannot start thread: {e}"))?;
    Ok(AmHandle {
        tx: Some(inbox),
        stats,
        sensor,
        labels,
        bound: HashMap::new(),
        max_bound,
        n_bound: 0,
        thread: Some(thread),
    })
}

impl AmHandle {
    fn send(&mut self, m: Msg) -> Option<Place> {
        let tx = self.tx.as_ref()?;
        match tx.push(m) {
            Ok(p) => Some(p),
            Err(_) => {
                self.stats.dropped.add(1);
                None
            }
        }
    }

    /// An alert (also one the EVE dedup suppressed: a new flow of the same session keeps
    /// the Alertmanager alert firing). `on_flow`: raised on one flow, so it ends with it.
    pub fn alert(&mut self, a: &AlertRecord, on_flow: bool) {
        let flow = (on_flow && self.n_bound < self.max_bound).then_some(a.flow_id);
        let key = key_id(&a.dedup_key);
        if let Some(id) = flow {
            if self
                .bound
                .get(&id)
                .is_some_and(|k| k.as_slice().iter().any(|b| b.key == key))
            {
                return; // already known to the sink as part of this session
            }
        }
        let fired = Fired {
            key,
            body: alert_body(
                &labels_of(a, &self.sensor, &self.labels),
                &annotations_of(a, &self.sensor),
            ),
            starts_ns: a.ts_ns,
            flow,
            ended_ns: None,
        };
        if let Some(place) = self.send(Msg::Fire(fired)) {
            if let Some(id) = flow {
                self.bound.entry(id).or_default().push(Bound { key, place });
                self.n_bound += 1;
            }
        }
    }

    /// A flow record: the end of a flow an alert waits for resolves it.
    pub fn flow(&mut self, rec: &FlowRecord) {
        let Some(keys) = self.bound.remove(&rec.flow_id) else {
            return;
        };
        let n = keys.as_slice().len();
        let mut kept = Few::None;
        match rec.flow.reason {
            "active_timeout" => {
                for b in keys.as_slice() {
                    self.send(Msg::FlowAlive(b.key));
                }
                kept = keys;
            }
            // The sensor stops, the session may not: leave the alert to its endsAt.
            "shutdown" => {}
            _ => {
                for &b in keys.as_slice() {
                    let Some(tx) = &self.tx else { break };
                    if tx.end_queued(b.place, b.key, rec.flow_id, rec.end_ns) {
                        continue;
                    }
                    let ended = Msg::FlowEnded {
                        key: b.key,
                        flow_id: rec.flow_id,
                        end_ns: rec.end_ns,
                    };
                    if self.send(ended).is_none() {
                        kept.push(b); // not heard of: still bound
                    }
                }
            }
        }
        self.n_bound -= n - kept.as_slice().len();
        if !kept.is_empty() {
            self.bound.insert(rec.flow_id, kept);
        }
    }

    /// CPU time the sink thread has used so far (tests; `None` once it has stopped).
    pub fn sink_cpu_time(&self) -> Option<Duration> {
        use std::os::unix::thread::JoinHandleExt;
        let t = self.thread.as_ref()?;
        let mut clk: libc::clockid_t = 0;
        // SAFETY: the thread is not joined yet (we hold its handle), so its pthread_t is
        // valid; both calls only write into the locals passed.
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        unsafe {
            if libc::pthread_getcpuclockid(t.as_pthread_t(), &mut clk) != 0
                || libc::clock_gettime(clk, &mut ts) != 0
            {
                return None;
            }
        }
        Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    /// Close the queue and wait for the sink to deliver what it holds (bounded by twice the
    /// request timeout).
    pub fn finish(mut self) {
        if let Some(tx) = self.tx.take() {
            tx.close();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AmHandle {
    /// Dropped without [`AmHandle::finish`]: the sink still stops (not waited for).
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            tx.close();
        }
    }
}

/// One POST's worth of alerts for every Alertmanager.
struct Batch {
    body: Bytes,
    n: u64,
}

/// A list that nearly always holds one item (an alert's flows, a flow's alerts): no heap
/// allocation until a second one comes (in an alert flood each was one more allocation to
/// make and free per alert).
#[derive(Debug, Default)]
enum Few<T> {
    #[default]
    None,
    One(T),
    Many(Vec<T>),
}

impl<T: PartialEq> Few<T> {
    fn push(&mut self, x: T) {
        *self = match std::mem::take(self) {
            Few::None => Few::One(x),
            Few::One(a) => Few::Many(vec![a, x]),
            Few::Many(mut v) => {
                v.push(x);
                Few::Many(v)
            }
        };
    }
    fn as_slice(&self) -> &[T] {
        match self {
            Few::None => &[],
            Few::One(a) => std::slice::from_ref(a),
            Few::Many(v) => v,
        }
    }
    fn contains(&self, x: &T) -> bool {
        self.as_slice().contains(x)
    }
    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Few::None => {}
            Few::One(a) => {
                if !keep(a) {
                    *self = Few::None;
                }
            }
            Few::Many(v) => v.retain(keep),
        }
    }
}

struct Active {
    /// See [`Fired::body`].
    body: Box<str>,
    starts_ns: u64,
    /// Live flows the alert was raised on.
    flows: Few<u64>,
    /// Raised on flows (resolves when they end) rather than across flows (resolve timeout).
    on_flows: bool,
    /// Latest end of its flows (packet time).
    end_ns: u64,
    last_seen: Instant,
    last_sent: Option<Instant>,
    /// Wall time of the first send.
    first_sent_ns: Option<u64>,
    seq: u64,
}

struct Queue {
    tx: mpsc::Sender<Arc<Batch>>,
    /// Alerts queued or being delivered to this Alertmanager.
    inflight: Arc<AtomicU64>,
    /// Set by the delivery task while this Alertmanager is failing (its last POST failed).
    failing: Arc<AtomicBool>,
}

impl Queue {
    /// Whether one more batch may wait for this Alertmanager: up to [`QUEUE_BATCHES`] while it
    /// answers, only [`FAILING_QUEUE_BATCHES`] while it is failing (what waits then is sent
    /// after the back-off; alerts still firing are re-sent every resend interval anyway).
    fn has_room(&self) -> bool {
        let queued = QUEUE_BATCHES - self.tx.capacity();
        let limit = if self.failing.load(Relaxed) {
            FAILING_QUEUE_BATCHES
        } else {
            QUEUE_BATCHES
        };
        queued < limit
    }
}

struct Sink {
    s: Arc<Settings>,
    stats: Arc<AlertmanagerStats>,
    active: ahash::AHashMap<Key, Active>,
    seq: u64,
    /// The active alerts, oldest first, for eviction in O(1) amortised. The entries of
    /// alerts gone since are marked so, skipped when met and compacted away in bulk.
    order: VecDeque<Order>,
    /// New alerts not sent yet: the batch flush looks at these only.
    pending: Vec<Key>,
    /// No alert can be due for a re-send or a resolve before this (as far as the messages
    /// since the last walk tell): the tick looks at the whole table only from then on.
    next_walk: Instant,
}

/// An entry of [`Sink::order`]: `live` until its alert is gone (then skipped and compacted
/// away without looking the alert up).
struct Order {
    seq: u64,
    key: Key,
    live: bool,
}

/// Alerts per POST.
const BATCH_ALERTS: usize = 256;
/// Batches waiting per Alertmanager.
const QUEUE_BATCHES: usize = 64;
/// Batches waiting per Alertmanager while it is failing.
const FAILING_QUEUE_BATCHES: usize = 4;
/// Pause after taking messages before waiting for more (at most 5 wake-ups a second; the
/// queue from the output thread holds `queue_size` messages meanwhile).
const DRAIN_PAUSE: Duration = Duration::from_millis(200);
/// New alerts are gathered this long (at most) into one POST.
const BATCH_WAIT: Duration = Duration::from_millis(200);

impl Sink {
    fn new(s: Settings, stats: Arc<AlertmanagerStats>) -> Sink {
        Sink {
            s: Arc::new(s),
            stats,
            active: ahash::AHashMap::new(),
            seq: 0,
            order: VecDeque::new(),
            pending: Vec::new(),
            next_walk: Instant::now(),
        }
    }

    async fn run(mut self, rx: Arc<Inbox>) {
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for ep in &self.s.endpoints {
            let (tx, brx) = mpsc::channel(QUEUE_BATCHES);
            let inflight = Arc::new(AtomicU64::new(0));
            let failing = Arc::new(AtomicBool::new(false));
            tasks.push((
                tokio::spawn(deliver(
                    ep.clone(),
                    self.s.clone(),
                    self.stats.clone(),
                    brx,
                    inflight.clone(),
                    failing.clone(),
                )),
                inflight.clone(),
            ));
            queues.push(Queue {
                tx,
                inflight,
                failing,
            });
        }
        let tick = (self.s.resend.min(self.s.resolve_timeout) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let batch_wait = BATCH_WAIT.min(tick);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // When the gathered new alerts go out (one POST per BATCH_WAIT at most, however
        // many alerts arrive); the whole table (re-sends, resolves) is looked at every tick.
        let mut batch_at: Option<tokio::time::Instant> = None;
        let mut buf = Vec::new();
        loop {
            tokio::select! {
                _ = rx.wake.notified() => {
                    let closed = rx.take(&mut buf);
                    let got = !buf.is_empty();
                    let now = Instant::now(); // one clock reading per drain
                    for m in buf.drain(..) {
                        self.on_msg_at(m, now);
                    }
                    if closed {
                        break;
                    }
                    if !got {
                        continue; // a wake-up for messages an earlier drain took
                    }
                    if !self.pending.is_empty() && batch_at.is_none() {
                        batch_at = Some(tokio::time::Instant::now() + batch_wait);
                    }
                    // Let messages gather rather than wake for each one: in an alert
                    // flood a wake-up per message cost more than the capture thread.
                    tokio::time::sleep(DRAIN_PAUSE).await;
                    // New alerts due to go out go now rather than at a wake-up of their own.
                    if batch_at.is_some_and(|t| t <= tokio::time::Instant::now()) {
                        batch_at = None;
                        self.flush_pending(&queues);
                    }
                }
                _ = async { tokio::time::sleep_until(batch_at.expect("guarded")).await }, if batch_at.is_some() => {
                    batch_at = None;
                    self.flush_pending(&queues);
                }
                _ = ticker.tick() => {
                    // New alerts go out at their batch time when the table is not walked.
                    if Instant::now() >= self.next_walk {
                        batch_at = None;
                        self.flush(&queues, false);
                    }
                }
            }
        }
        // The output thread is done: send what is due, then wait (bounded) for delivery.
        self.flush(&queues, true);
        let grace = self.s.timeout * 2;
        drop(queues);
        let deadline = tokio::time::Instant::now() + grace;
        for (mut task, inflight) in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                let left = inflight.load(Relaxed);
                if left > 0 {
                    tracing::warn!(
                        alerts = left,
                        "alertmanager: gave up delivering at shutdown"
                    );
                    self.stats.failed.add(left);
                }
            }
        }
    }

    #[cfg(test)]
    fn on_msg(&mut self, m: Msg) {
        self.on_msg_at(m, Instant::now());
    }

    /// One message, taken from the queue at `now`.
    fn on_msg_at(&mut self, m: Msg, now: Instant) {
        match m {
            Msg::Fire(f) => {
                use std::collections::hash_map::Entry;
                let key = f.key;
                // One probe of the table whether the alert is known or new.
                let slot = match self.active.entry(key) {
                    Entry::Occupied(mut e) => {
                        let a = e.get_mut();
                        a.last_seen = now;
                        if let Some(id) = f.flow {
                            a.on_flows = true;
                            match f.ended_ns {
                                None if !a.flows.contains(&id) => a.flows.push(id),
                                None => {}
                                // As a flow-end notice right after the alert.
                                Some(end) => {
                                    a.flows.retain(|x| *x != id);
                                    a.end_ns = a.end_ns.max(end);
                                    // (Not sent yet: the batch flush looks at it.)
                                    if a.flows.is_empty() && a.first_sent_ns.is_some() {
                                        let t = Self::next_due(&self.s, a, now, wall_ns());
                                        self.next_walk = self.next_walk.min(t);
                                    }
                                }
                            }
                        }
                        return;
                    }
                    Entry::Vacant(v) => v,
                };
                self.seq += 1;
                self.order.push_back(Order {
                    seq: self.seq,
                    key,
                    live: true,
                });
                self.pending.push(key);
                slot.insert(Active {
                    body: f.body,
                    starts_ns: f.starts_ns,
                    flows: match (f.flow, f.ended_ns) {
                        (Some(id), None) => Few::One(id),
                        _ => Few::None,
                    },
                    on_flows: f.flow.is_some(),
                    end_ns: f.starts_ns.max(f.ended_ns.unwrap_or(0)),
                    last_seen: now,
                    last_sent: None,
                    first_sent_ns: None,
                    seq: self.seq,
                });
                // The new alert is the youngest: the oldest one makes room for it.
                if self.active.len() > self.s.max_active {
                    self.evict_oldest();
                }
            }
            Msg::FlowEnded {
                key,
                flow_id,
                end_ns,
            } => {
                if let Some(a) = self.active.get_mut(&key) {
                    a.flows.retain(|x| *x != flow_id);
                    if a.flows.is_empty() && a.on_flows && a.first_sent_ns.is_some() {
                        let t = Self::next_due(&self.s, a, now, wall_ns());
                        self.next_walk = self.next_walk.min(t);
                    }
                    a.end_ns = a.end_ns.max(end_ns);
                    a.last_seen = now;
                }
            }
            Msg::FlowAlive(key) => {
                if let Some(a) = self.active.get_mut(&key) {
                    a.last_seen = now;
                }
            }
        }
    }

    fn evict_oldest(&mut self) {
        while let Some(Order { seq, key: k, live }) = self.order.pop_front() {
            if !live {
                continue;
            }
            if self.active.get(&k).is_some_and(|a| a.seq == seq) {
                self.active.remove(&k);
                self.stats.dropped.add(1);
                return;
            }
        }
    }

    /// Drop the entries of `order` whose alerts are gone, once they outnumber the live ones.
    fn compact_order(&mut self) {
        while self.order.front().is_some_and(|o| !o.live) {
            self.order.pop_front();
        }
        if self.order.len() > 2 * self.active.len() + 1024 {
            self.order.retain(|o| o.live);
        }
    }

    /// Mark the entry of `order` of the alert numbered `seq` as gone (no table probe: seqs
    /// grow by one per alert, so its place is about `seq - first seq`; a binary search
    /// finds it after compactions).
    fn order_gone(&mut self, seq: u64) {
        let Some(first) = self.order.front().map(|o| o.seq) else {
            return;
        };
        let guess = seq.wrapping_sub(first) as usize;
        let at = match self.order.get(guess) {
            Some(o) if o.seq == seq => Some(guess),
            _ => self.order.binary_search_by_key(&seq, |o| o.seq).ok(),
        };
        if let Some(i) = at {
            self.order[i].live = false;
        }
    }

    /// What to do with one alert at a flush, when something changes: `Some((over, send))`,
    /// `send` the `endsAt` to send it with.
    fn due(
        s: &Settings,
        a: &mut Active,
        now: Instant,
        wall: u64,
        closing: bool,
    ) -> Option<(bool, Option<u64>)> {
        let firing_until = wall + 4 * s.resend.as_nanos() as u64;
        let idle = now.duration_since(a.last_seen);
        let hold = s.resend.as_nanos() as u64;
        let ends = if a.on_flows && a.flows.is_empty() {
            // The session is over. It stays firing for one resend interval at least,
            // so that Alertmanager (group_wait) notifies about a short session too.
            match a.first_sent_ns {
                // Never sent: one alert that Alertmanager itself resolves at endsAt.
                None => Some(a.end_ns.max(wall + hold)),
                // Sent as firing: the resolve must carry an endsAt that has passed, or
                // Alertmanager keeps the later endsAt of the firing alert.
                Some(first) if wall >= first + hold => Some(a.end_ns.max(first + hold).min(wall)),
                // Held; at the last flush it is left to expire at its firing endsAt.
                Some(_) if closing => return Some((true, None)),
                Some(_) => None,
            }
        } else if (!a.on_flows && idle >= s.resolve_timeout)
            || (a.on_flows && idle >= s.stale_after)
        {
            Some(wall)
        } else {
            None
        };
        match ends {
            Some(end) => Some((true, Some(end))),
            None => {
                if a.last_sent
                    .is_none_or(|t| now.duration_since(t) >= s.resend)
                {
                    a.last_sent = Some(now);
                    a.first_sent_ns.get_or_insert(wall);
                    Some((false, Some(firing_until)))
                } else {
                    None
                }
            }
        }
    }

    /// The earliest time [`Sink::due`] can have something to do with `a` (a re-send, a
    /// resolve, the end of a hold) if no message about it comes; messages only put that
    /// later, except a flow end, which looks again.
    fn next_due(s: &Settings, a: &Active, now: Instant, wall: u64) -> Instant {
        if a.on_flows && a.flows.is_empty() {
            return match a.first_sent_ns {
                Some(first) => {
                    let held = (first + s.resend.as_nanos() as u64).saturating_sub(wall);
                    later(now, Duration::from_nanos(held))
                }
                None => now,
            };
        }
        let Some(sent) = a.last_sent else { return now };
        let idle = if a.on_flows {
            s.stale_after
        } else {
            s.resolve_timeout
        };
        later(a.last_seen, idle).min(later(sent, s.resend))
    }

    /// Send the new alerts gathered since the last flush (not the whole table).
    fn flush_pending(&mut self, queues: &[Queue]) {
        let now = Instant::now();
        let wall = wall_ns();
        let mut out = Outgoing::new(queues);
        let mut over = Vec::new();
        let mut pending = std::mem::take(&mut self.pending);
        for k in pending.drain(..) {
            let Some(a) = self.active.get_mut(&k) else {
                continue;
            };
            if a.last_sent.is_some() {
                continue;
            }
            match Self::due(&self.s, a, now, wall, false) {
                Some((true, send)) => {
                    if let Some(end) = send {
                        out.push(a, end);
                    }
                    over.push(k);
                }
                kept => {
                    if let Some((_, Some(end))) = kept {
                        out.push(a, end);
                    }
                    let t = Self::next_due(&self.s, a, now, wall);
                    self.next_walk = self.next_walk.min(t);
                }
            }
        }
        self.pending = pending; // keeps its capacity
        self.finish_flush(queues, out, over);
    }

    /// Send what is new, due for a re-send, or over; forget what is over.
    /// `closing`: the last flush before the sink stops.
    fn flush(&mut self, queues: &[Queue], closing: bool) {
        let now = Instant::now();
        let wall = wall_ns();
        let mut out = Outgoing::new(queues);
        let mut over = Vec::new();
        self.pending.clear();
        let mut next = later(now, Duration::from_secs(3600));
        for (k, a) in self.active.iter_mut() {
            match Self::due(&self.s, a, now, wall, closing) {
                Some((true, send)) => {
                    if let Some(end) = send {
                        out.push(a, end);
                    }
                    over.push(*k);
                }
                kept => {
                    if let Some((_, Some(end))) = kept {
                        out.push(a, end);
                    }
                    next = next.min(Self::next_due(&self.s, a, now, wall));
                }
            }
        }
        self.next_walk = next;
        self.finish_flush(queues, out, over);
    }

    /// Forget what is over and queue the alerts for every Alertmanager with room for them;
    /// what finds no room is counted as dropped.
    fn finish_flush(&mut self, queues: &[Queue], out: Outgoing, over: Vec<Key>) {
        for k in over {
            if let Some(a) = self.active.remove(&k) {
                self.order_gone(a.seq);
            }
        }
        self.compact_order();
        self.stats.active.set(self.active.len() as u64);
        self.stats.dropped.add(out.skipped * queues.len() as u64);
        for chunk in out.json.chunks(BATCH_ALERTS) {
            let n = chunk.len() as u64;
            let open: Vec<&Queue> = queues.iter().filter(|q| q.has_room()).collect();
            self.stats
                .dropped
                .add(n * (queues.len() - open.len()) as u64);
            if open.is_empty() {
                continue;
            }
            let mut b = Vec::with_capacity(chunk.iter().map(|j| j.len() + 1).sum::<usize>() + 2);
            b.push(b'[');
            for (i, j) in chunk.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(j.as_bytes());
            }
            b.push(b']');
            let body = Bytes::from(b);
            let batch = Arc::new(Batch { body, n });
            for q in open {
                q.inflight.fetch_add(batch.n, Relaxed);
                if q.tx.try_send(batch.clone()).is_err() {
                    q.inflight.fetch_sub(batch.n, Relaxed);
                    self.stats.dropped.add(batch.n);
                }
            }
        }
    }
}

/// The alerts of one flush, in JSON as long as some Alertmanager has room for them: past
/// that they are only counted (a failing Alertmanager costs no serialisation).
struct Outgoing {
    json: Vec<String>,
    /// Alerts that fit no queue.
    budget: usize,
    skipped: u64,
}

impl Outgoing {
    fn new(queues: &[Queue]) -> Outgoing {
        let batches = queues
            .iter()
            .map(|q| {
                let queued = QUEUE_BATCHES - q.tx.capacity();
                let limit = if q.failing.load(Relaxed) {
                    FAILING_QUEUE_BATCHES
                } else {
                    QUEUE_BATCHES
                };
                limit.saturating_sub(queued)
            })
            .max()
            .unwrap_or(0);
        Outgoing {
            json: Vec::new(),
            budget: batches * BATCH_ALERTS,
            skipped: 0,
        }
    }

    fn push(&mut self, a: &Active, ends_ns: u64) {
        if self.json.len() < self.budget {
            self.json.push(alert_json(a, ends_ns));
        } else {
            self.skipped += 1;
        }
    }
}

/// `"labels":{…},"annotations":{…}`, the part of an alert's JSON that does not change.
fn alert_body(labels: &Labels, annotations: &Labels) -> Box<str> {
    let mut v = serde_json::to_string(&json!({ "labels": labels, "annotations": annotations }))
        .unwrap_or_else(|_| "{}".into());
    // Drop the braces: the times are added to the same object.
    v.pop();
    v.remove(0);
    v.into_boxed_str()
}

/// One alert of the POST body.
fn alert_json(a: &Active, ends_ns: u64) -> String {
    format!(
        "{{{},\"startsAt\":\"{}\",\"endsAt\":\"{}\"}}",
        a.body,
        rfc3339(a.starts_ns),
        // Alertmanager refuses an end before the start.
        rfc3339(ends_ns.max(a.starts_ns)),
    )
}

/// `t + d`, or `t` where that is past what an `Instant` holds (then looked at every tick).
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

/// A small random number for jitter (no crate for this: the std hasher's random keys).
fn jitter_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(wall_ns());
    h.finish()
}

/// Exponential backoff with "equal jitter": half the step plus a random part of the other half.
fn backoff(s: &Settings, attempt: u32) -> Duration {
    let step = s
        .backoff_initial
        .saturating_mul(1u32 << attempt.min(20))
        .min(s.backoff_max);
    let half = step / 2;
    let r = (jitter_u64() % 1_000_000) as u32;
    half + half * r / 1_000_000
}

enum Outcome {
    Accepted,
    Rejected(u16, String),
    Retry(String),
}

/// Deliver batches to one Alertmanager, in order, each retried until it is accepted,
/// refused or out of retries; one request at a time.
///
/// Circuit breaker: failures are counted per Alertmanager, not per batch. While it fails,
/// every attempt (the retries of a batch and the first attempt of the next one alike) waits
/// an exponentially growing, jittered back-off (up to `retry_backoff_max_s`), so a dead or
/// black-holing Alertmanager is tried a few times a minute whatever the alert rate, and only
/// [`FAILING_QUEUE_BATCHES`] batches wait for it (the rest is dropped and counted).
async fn deliver(
    ep: Endpoint,
    s: Arc<Settings>,
    stats: Arc<AlertmanagerStats>,
    mut rx: mpsc::Receiver<Arc<Batch>>,
    inflight: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
) {
    let mut failures = 0u32;
    let mut retry_at: Option<tokio::time::Instant> = None;
    while let Some(b) = rx.recv().await {
        let mut attempt = 0u32;
        loop {
            if let Some(t) = retry_at.take() {
                tokio::time::sleep_until(t).await;
            }
            match post(&ep, b.body.clone(), s.timeout).await {
                Outcome::Accepted => {
                    if failures > 0 {
                        tracing::info!(url = %ep.url, failures, "alertmanager: reachable again");
                    }
                    failures = 0;
                    failing.store(false, Relaxed);
                    stats.sent.add(b.n);
                    break;
                }
                Outcome::Rejected(code, text) => {
                    failures = 0;
                    failing.store(false, Relaxed);
                    tracing::warn!(url = %ep.url, status = code, answer = %text, alerts = b.n, "alertmanager refused the alerts");
                    stats.rejected.add(b.n);
                    break;
                }
                Outcome::Retry(why) => {
                    let d = backoff(&s, failures);
                    failures = failures.saturating_add(1);
                    failing.store(true, Relaxed);
                    retry_at = Some(tokio::time::Instant::now() + d);
                    if attempt >= s.max_retries {
                        tracing::warn!(url = %ep.url, error = %why, alerts = b.n, attempts = attempt + 1, "alertmanager: giving up");
                        stats.failed.add(b.n);
                        break;
                    }
                    tracing::debug!(url = %ep.url, error = %why, retry_in_ms = d.as_millis() as u64, "alertmanager: retrying");
                    attempt += 1;
                }
            }
        }
        inflight.fetch_sub(b.n, Relaxed);
    }
}

/// One `POST /api/v2/alerts` over a fresh HTTP/1.1 connection (alerts are few; no pool).
async fn post(ep: &Endpoint, body: Bytes, timeout: Duration) -> Outcome {
    use http_body_util::{BodyExt, Full, Limited};
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(&ep.authority)
            .await
            .map_err(|e| format!("connect {}: {e}", ep.authority))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
        let conn = tokio::spawn(conn);
        let req = hyper::Request::post(ep.path.as_str())
            .header(hyper::header::HOST, ep.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("spanwatch/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        let r = sender.send_request(req).await;
        let out = match r {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let text = match Limited::new(resp.into_body(), 2048).collect().await {
                    Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
                    Err(_) => String::new(),
                };
                Ok((code, text))
            }
            Err(e) => Err(format!("send: {e}")),
        };
        conn.abort();
        out
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Outcome::Retry(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(e)) => Outcome::Retry(e),
        Ok(Ok((code, _))) if (200..300).contains(&code) => Outcome::Accepted,
        Ok(Ok((code, text))) if (400..500).contains(&code) && code != 408 && code != 429 => {
            Outcome::Rejected(code, text)
        }
        Ok(Ok((code, text))) => Outcome::Retry(format!("HTTP {code}: {text}")),
    }
}

#[cfg(test)]
mod tests;
