//! The sink thread: the table of active alerts (fire, re-send, resolve, evict) and the
//! flushes that turn it into batches for every Alertmanager's queue.

use super::few::Few;
use super::http::{deliver, Batch, Queue, QUEUE_BATCHES};
use super::inbox::{Inbox, Key, Msg};
use super::LOG_TARGET;
use super::{rfc3339, wall_ns, Settings};
use crate::telemetry::AlertmanagerStats;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(super) struct Active {
    /// See [`Fired::body`](super::inbox::Fired::body).
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

pub(super) struct Sink {
    s: Arc<Settings>,
    stats: Arc<AlertmanagerStats>,
    pub(super) active: ahash::AHashMap<Key, Active>,
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

/// Pause after taking messages before waiting for more (at most 5 wake-ups a second; the
/// queue from the output thread holds `queue_size` messages meanwhile).
const DRAIN_PAUSE: Duration = Duration::from_millis(200);
/// The pause while every Alertmanager is failing (a wake-up costs the sink more than a
/// message once the machine is busy).
const FAILING_DRAIN_PAUSE: Duration = Duration::from_secs(1);
/// New alerts are gathered this long (at most) into one POST.
const BATCH_WAIT: Duration = Duration::from_millis(200);

impl Sink {
    pub(super) fn new(s: Settings, stats: Arc<AlertmanagerStats>) -> Sink {
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

    pub(super) async fn run(mut self, rx: Arc<Inbox>) {
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
                    // Nothing can be delivered while every Alertmanager fails: wake
                    // less often (the queue holds `queue_size` messages meanwhile).
                    let failing = queues.iter().all(|q| q.failing.load(Relaxed));
                    tokio::time::sleep(if failing { FAILING_DRAIN_PAUSE } else { DRAIN_PAUSE }).await;
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
                        target: LOG_TARGET,
                        alerts = left,
                        "alertmanager: gave up delivering at shutdown"
                    );
                    self.stats.failed.add(left);
                }
            }
        }
    }

    #[cfg(test)]
    pub(super) fn on_msg(&mut self, m: Msg) {
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
    pub(super) fn flush(&mut self, queues: &[Queue], closing: bool) {
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
        let batches = queues.iter().map(Queue::room).max().unwrap_or(0);
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
pub(super) fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}
