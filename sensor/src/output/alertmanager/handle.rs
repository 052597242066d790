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
use std::time::Duration;

/// An alert raised on a flow, as the output thread remembers it until the flow ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bound {
    key: Key,
    /// Where its alert message waits (or waited) in the queue.
    place: Place,
}

/// The output thread's side of the sink.
pub struct AmHandle {
    pub(super) tx: Option<Arc<Inbox>>,
    pub(super) stats: Arc<AlertmanagerStats>,
    pub(super) sensor: String,
    pub(super) labels: Labels,
    /// Flows an alert was raised on whose end the sink waits for.
    /// (flow, alert key) pairs: a flow may carry alerts of several signatures.
    pub(super) bound: HashMap<u64, Few<Bound>>,
    /// Entries of `bound` at most.
    pub(super) max_bound: usize,
    pub(super) n_bound: usize,
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
