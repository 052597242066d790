//! The hand-over from the output thread to the sink: the messages ([`Msg`]), an alert's
//! 128-bit identity ([`Key`]) and the bounded [`Inbox`] they wait in.

pub(super) enum Msg {
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
pub(super) type Key = u128;

/// Two hashes of `key` under random keys (chosen once per process). Two distinct keys share
/// an identity with a probability of about n²/2¹²⁹, nil for any table size (as the EVE
/// dedup's identities).
pub(super) fn key_id(key: &str) -> Key {
    static STATES: std::sync::OnceLock<[ahash::RandomState; 2]> = std::sync::OnceLock::new();
    let [a, b] = STATES.get_or_init(|| [ahash::RandomState::new(), ahash::RandomState::new()]);
    (a.hash_one(key) as u128) << 64 | b.hash_one(key) as u128
}

pub(super) struct Fired {
    pub(super) key: Key,
    /// `"labels":{…},"annotations":{…}` serialised on the output thread: one string for the
    /// sink to keep and free rather than two maps of small strings (freeing those on the
    /// sink's thread was most of its work in an alert flood).
    pub(super) body: Box<str>,
    pub(super) starts_ns: u64,
    pub(super) flow: Option<u64>,
    /// `flow` has ended already (packet time of its end): the flow-end notice was folded
    /// into this message while it still waited in the queue (one message, one table probe
    /// in the sink rather than two, for flows that end within a drain pause of their alert).
    pub(super) ended_ns: Option<u64>,
}

/// The bounded queue from the output thread to the sink: a vector behind a lock, which the
/// sink swaps with an empty one of its own at each drain. Per message the output thread pays
/// an uncontended lock and a push, the sink nothing (a tokio channel cost both an atomic
/// hand-over per message and the sink a semaphore lock per message, a large share of its
/// work in an alert flood); the sink is woken only when the queue goes from empty to not
/// empty.
pub(super) struct Inbox {
    state: std::sync::Mutex<InboxState>,
    pub(super) wake: tokio::sync::Notify,
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
    pub(super) fn new(cap: usize) -> Inbox {
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
    pub(super) fn push(&self, m: Msg) -> Result<Place, Msg> {
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
    pub(super) fn end_queued(&self, place: Place, key: Key, flow_id: u64, end_ns: u64) -> bool {
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

    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Take everything queued into `buf` (empty; its capacity goes back to the queue);
    /// whether the queue is closed.
    pub(super) fn take(&self, buf: &mut Vec<Msg>) -> bool {
        let mut st = self.lock();
        std::mem::swap(&mut st.msgs, buf);
        st.taken += 1;
        st.closed
    }
}

/// Where a message waits in the [`Inbox`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Place {
    taken: u64,
    index: usize,
}
