//! The output thread's side of the sink ([`AmHandle`]): alerts and flow records in, messages
//! out through the [`Inbox`](super::inbox::Inbox); it keeps the flow → alerts map so the sink
//! need not.

use super::few::Few;
use super::inbox::{key_id, Fired, Inbox, Key, Msg, Place};
use super::labels::{alert_body, annotations_of, labels_of, Labels};
use super::sink::Sink;
use super::Settings;
use crate::output::eve::{AlertRecord, FlowRecord};
use crate::telemetry::AlertmanagerStats;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A session (one alert identity) with live flows, as the output thread tracks it: the sink
/// hears of it when its first flow raises it and when its last flow ends, not once per flow.
/// In an alert flood most alerting flows repeat a session already live (the EVE dedup
/// suppresses them): a message and a body per flow cost both threads more than the rest of
/// the sink's work.
#[derive(Debug)]
pub(super) struct Live {
    /// Its flows not ended yet.
    flows: u32,
    /// The flow the sink knows the session by (the one whose alert was sent).
    flow: u64,
    /// Where that alert message waits (or waited) in the queue.
    place: Place,
    /// Latest end (packet time) of its flows that ended while others lived on.
    end_ns: u64,
    /// When the sink last heard of the session (its alert, or a [`Msg::FlowAlive`]).
    heard: Instant,
}

/// The output thread's side of the sink.
pub struct AmHandle {
    pub(super) tx: Option<Arc<Inbox>>,
    pub(super) stats: Arc<AlertmanagerStats>,
    pub(super) sensor: String,
    pub(super) labels: Labels,
    /// Flows an alert was raised on whose end the sink waits for, with their sessions
    /// (a flow may carry alerts of several signatures).
    pub(super) bound: HashMap<u64, Few<Key>>,
    /// The sessions of `bound`'s flows.
    pub(super) live: ahash::AHashMap<Key, Live>,
    /// Entries of `bound` at most.
    pub(super) max_bound: usize,
    pub(super) n_bound: usize,
    /// A live session's new flows tell the sink it is still alive this often at most
    /// (well within the sink's `stale_after`).
    pub(super) refresh: Duration,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
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
    let refresh = (s.stale_after / 4).max(Duration::from_millis(100));
    let rx = inbox.clone();
    let sink = Sink::new(s, stats.clone());
    let thread = std::thread::Builder::new()
        .name("alertmanager".into())
        .spawn(move || rt.block_on(sink.run(rx)))
        .map_err(|e| format!("alertmanager sink: cannot start thread: {e}"))?;
    let mut h = AmHandle::new(Some(inbox), stats, max_bound);
    (h.sensor, h.labels, h.refresh, h.thread) = (sensor, labels, refresh, Some(thread));
    Ok(h)
}

impl AmHandle {
    /// A handle on `tx` with no thread behind it (see [`start`]).
    pub(super) fn new(
        tx: Option<Arc<Inbox>>,
        stats: Arc<AlertmanagerStats>,
        max_bound: usize,
    ) -> AmHandle {
        AmHandle {
            tx,
            stats,
            sensor: String::new(),
            labels: Labels::new(),
            bound: HashMap::new(),
            live: Default::default(),
            max_bound,
            n_bound: 0,
            refresh: Duration::from_secs(60),
            thread: None,
        }
    }

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
                .is_some_and(|k| k.as_slice().contains(&key))
            {
                return; // already known to the sink as part of this session
            }
            // One more flow of a live session: the sink need only hear that it lives on.
            if let Some(l) = self.live.get_mut(&key) {
                l.flows += 1;
                let refresh = l.heard.elapsed() >= self.refresh;
                if refresh {
                    l.heard = Instant::now();
                }
                self.bound.entry(id).or_default().push(key);
                self.n_bound += 1;
                if refresh {
                    self.send(Msg::FlowAlive(key));
                }
                return;
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
                self.bound.entry(id).or_default().push(key);
                self.n_bound += 1;
                self.live.insert(
                    key,
                    Live {
                        flows: 1,
                        flow: id,
                        place,
                        end_ns: 0,
                        heard: Instant::now(),
                    },
                );
            }
        }
    }

    /// A flow record: the end of the last live flow of a session an alert waits for
    /// resolves it.
    pub fn flow(&mut self, rec: &FlowRecord) {
        let Some(keys) = self.bound.remove(&rec.flow_id) else {
            return;
        };
        self.n_bound -= keys.as_slice().len();
        if rec.flow.reason == "active_timeout" {
            for &key in keys.as_slice() {
                if let Some(l) = self.live.get_mut(&key) {
                    l.heard = Instant::now();
                }
                self.send(Msg::FlowAlive(key));
            }
            self.n_bound += keys.as_slice().len();
            self.bound.insert(rec.flow_id, keys);
            return;
        }
        for &key in keys.as_slice() {
            let Some(l) = self.live.get_mut(&key) else {
                continue;
            };
            l.flows -= 1;
            l.end_ns = l.end_ns.max(rec.end_ns);
            if l.flows > 0 {
                continue;
            }
            let Some(l) = self.live.remove(&key) else {
                continue;
            };
            // The sensor stops, the session may not: leave the alert to its endsAt.
            if rec.flow.reason == "shutdown" {
                continue;
            }
            let Some(tx) = &self.tx else { break };
            if tx.end_queued(l.place, key, l.flow, l.end_ns) {
                continue;
            }
            // A notice that finds no room is counted; the sink resolves the session
            // after `stale_after` instead.
            self.send(Msg::FlowEnded {
                key,
                flow_id: l.flow,
                end_ns: l.end_ns,
            });
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
