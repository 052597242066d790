//! EVE sinks besides the file: Redis and syslog. Each sink runs on its own thread, fed by a
//! bounded queue that the output thread fills with `try_send`: a sink that is down or slow
//! fills its queue and then drops (counted), and never stalls the output thread or the
//! packet path. A sink that loses its connection reconnects with exponential back-off and
//! jitter; the records not yet acknowledged are sent again after the reconnect (so a record
//! in flight when the connection broke may arrive twice, never zero times unless counted).

pub mod redis;
pub mod syslog;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::telemetry::{SinkStats, OUTPUTS, REDIS, SYSLOG};

/// Records sent in one go (one RPUSH, one pipelined write).
const BATCH: usize = 256;
/// First and largest pause between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a sink keeps trying to deliver its queue when the sensor stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// At most one warning per sink in this interval (the counters have the totals).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// What a sink talks to.
pub trait Transport: Send + 'static {
    /// For logs: `redis 127.0.0.1:6379 list spanwatch`.
    fn describe(&self) -> String;
    fn connect(&mut self) -> io::Result<()>;
    /// Deliver `recs` in order. Records the server refused (a Redis error reply) are
    /// counted in `refused` and not retried. On an I/O error, the records before
    /// `delivered` are delivered and the rest are retried after a reconnect.
    fn send(&mut self, recs: &[Arc<str>], refused: &mut u64) -> Result<(), SendError>;
    fn close(&mut self);
}

#[derive(Debug)]
pub struct SendError {
    pub delivered: usize,
    pub error: io::Error,
}

/// Exponential back-off with jitter: each pause is drawn from [d/2, d], d doubling.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new(max: Duration) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        Backoff {
            next: BACKOFF_MIN,
            max,
            seed,
        }
    }
    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
    /// The pause before the next attempt.
    pub fn pause(&mut self) -> Duration {
        // xorshift64: jitter only, no need for a cryptographic generator
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let frac = 0.5 + (self.seed % 1000) as f64 / 2000.0;
        d.mul_f64(frac)
    }
}

/// The output thread's end of one sink.
pub struct SinkHandle {
    idx: usize,
    tx: Option<Sender<Arc<str>>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<SinkStats>,
    last_log: Option<Instant>,
    dropped_since_log: u64,
}

impl SinkHandle {
    /// Queue one record (an EVE line without its newline); never blocks.
    pub fn offer(&mut self, rec: &Arc<str>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(rec.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped[self.idx].add(1);
                self.dropped_since_log += 1;
                let now = Instant::now();
                if self
                    .last_log
                    .is_none_or(|t| now.duration_since(t) >= LOG_EVERY)
                {
                    tracing::warn!(
                        output = OUTPUTS[self.idx],
                        dropped = self.dropped_since_log,
                        "EVE sink queue full: records dropped"
                    );
                    self.last_log = Some(now);
                    self.dropped_since_log = 0;
                }
            }
        }
    }

    /// Close the queue, let the sink deliver what it holds (for up to a few seconds) and
    /// wait for its thread.
    pub fn finish(mut self) {
        self.tx.take();
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start a sink's thread with a queue of `queue_size` records.
pub fn start<T: Transport>(
    idx: usize,
    transport: T,
    queue_size: usize,
    stats: Arc<SinkStats>,
) -> Result<SinkHandle, String> {
    let (tx, rx) = bounded::<Arc<str>>(queue_size.max(1));
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let st = stats.clone();
    let thread = std::thread::Builder::new()
        .name(format!("sink-{}", OUTPUTS[idx]))
        .spawn(move || run(idx, transport, rx, stop_rx, st, BACKOFF_MAX))
        .map_err(|e| format!("cannot start the {} sink thread: {e}", OUTPUTS[idx]))?;
    Ok(SinkHandle {
        idx,
        tx: Some(tx),
        stop: Some(stop_tx),
        thread: Some(thread),
        stats,
        last_log: None,
        dropped_since_log: 0,
    })
}

struct Warn {
    last: Option<Instant>,
    suppressed: u64,
}

impl Warn {
    fn warn(&mut self, idx: usize, what: &str, peer: &str, e: &io::Error) {
        let now = Instant::now();
        if self.last.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) {
            tracing::warn!(
                output = OUTPUTS[idx],
                sink = peer,
                error = %e,
                suppressed = self.suppressed,
                "EVE sink {what} failed; retrying with back-off"
            );
            self.last = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }
}

fn run<T: Transport>(
    idx: usize,
    mut t: T,
    rx: Receiver<Arc<str>>,
    stop: Receiver<()>,
    stats: Arc<SinkStats>,
    backoff_max: Duration,
) {
    let peer = t.describe();
    let mut backoff = Backoff::new(backoff_max);
    let mut warn = Warn {
        last: None,
        suppressed: 0,
    };
    let mut pending: Vec<Arc<str>> = Vec::with_capacity(BATCH);
    let mut connected = false;
    let mut deadline: Option<Instant> = None;
    // Pause for `d`, or less once the sensor stops; false when the grace time is over.
    let pause = |d: Duration, deadline: &mut Option<Instant>| -> bool {
        if deadline.is_none() {
            match stop.recv_timeout(d) {
                Err(RecvTimeoutError::Timeout) => return true,
                _ => *deadline = Some(Instant::now() + SHUTDOWN_GRACE),
            }
        }
        let left = deadline
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(d.min(left));
        true
    };
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(r) => pending.push(r),
                Err(_) => break,
            }
        }
        while pending.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => pending.push(r),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        if !connected {
            match t.connect() {
                Ok(()) => {
                    connected = true;
                    backoff.reset();
                    tracing::info!(output = OUTPUTS[idx], sink = %peer, "EVE sink connected");
                }
                Err(e) => {
                    stats.errors[idx].add(1);
                    warn.warn(idx, "connection", &peer, &e);
                    if !pause(backoff.pause(), &mut deadline) {
                        break;
                    }
                    continue;
                }
            }
        }
        let mut refused = 0;
        match t.send(&pending, &mut refused) {
            Ok(()) => {
                stats.records[idx].add(pending.len() as u64 - refused);
                pending.clear();
            }
            Err(SendError { delivered, error }) => {
                let delivered = delivered.min(pending.len());
                stats.records[idx].add((delivered as u64).saturating_sub(refused));
                pending.drain(..delivered);
                stats.errors[idx].add(1);
                warn.warn(idx, "send", &peer, &error);
                t.close();
                connected = false;
                if !pause(backoff.pause(), &mut deadline) {
                    break;
                }
            }
        }
        if refused > 0 {
            stats.dropped[idx].add(refused);
            stats.errors[idx].add(1);
        }
    }
    // Given up at shutdown: what is still here is lost, and counted.
    let mut lost = pending.len() as u64;
    while rx.try_recv().is_ok() {
        lost += 1;
    }
    if lost > 0 {
        stats.dropped[idx].add(lost);
        tracing::warn!(output = OUTPUTS[idx], sink = %peer, dropped = lost, "EVE sink still down at shutdown: records dropped");
    }
    if connected {
        t.close();
    }
}

/// `host:port` (a name, an IPv4 address or a bracketed IPv6 address, and a port 1..=65535).
pub fn check_host_port(key: &str, v: &str) -> Result<(), String> {
    let bad = || format!("{key} = {v:?} is not HOST:PORT");
    let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A transport whose server is up when `up` says so.
    struct Fake {
        up: Arc<AtomicBool>,
        got: Arc<std::sync::Mutex<Vec<String>>>,
    }
    impl Transport for Fake {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn connect(&mut self) -> io::Result<()> {
            if self.up.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(io::Error::new(io::ErrorKind::ConnectionRefused, "down"))
            }
        }
        fn send(&mut self, recs: &[Arc<str>], _: &mut u64) -> Result<(), SendError> {
            if !self.up.load(Ordering::SeqCst) {
                return Err(SendError {
                    delivered: 0,
                    error: io::Error::new(io::ErrorKind::BrokenPipe, "gone"),
                });
            }
            let mut g = self.got.lock().unwrap();
            g.extend(recs.iter().map(|r| r.to_string()));
            Ok(())
        }
        fn close(&mut self) {}
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(2));
        let mut last = Duration::ZERO;
        for i in 0..10 {
            let d = b.pause();
            let base = (BACKOFF_MIN * 2u32.pow(i)).min(Duration::from_secs(2));
            assert!(d >= base / 2 && d <= base, "{i}: {d:?} vs {base:?}");
            last = d;
        }
        assert!(last >= Duration::from_secs(1));
        b.reset();
        assert!(b.pause() <= BACKOFF_MIN);
    }

    #[test]
    fn a_sink_to_a_closed_port_never_blocks_and_counts_drops() {
        // a real closed port: bind, note the port, close
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stats = Arc::new(SinkStats::default());
        let t = redis::Redis::new(redis::Settings {
            server: format!("127.0.0.1:{port}"),
            mode: redis::Mode::List { lpush: false },
            key: "k".into(),
            stream_maxlen: 0,
            password: None,
        });
        let mut h = start(REDIS, t, 10, stats.clone()).unwrap();
        let rec: Arc<str> = Arc::from("{\"a\":1}");
        let t0 = Instant::now();
        for _ in 0..10_000 {
            h.offer(&rec);
        }
        assert!(t0.elapsed() < Duration::from_secs(1), "offer blocked");
        // at most the queue and one batch in the sink's hands are not dropped yet
        let dropped = stats.dropped[REDIS].get();
        assert!(dropped >= 10_000 - 10 - BATCH as u64, "{dropped}");
        h.finish();
        assert_eq!(stats.dropped[REDIS].get(), 10_000);
        assert_eq!(stats.records[REDIS].get(), 0);
        assert!(stats.errors[REDIS].get() >= 1);
    }

    #[test]
    fn records_wait_for_a_reconnect_and_arrive_in_order() {
        let up = Arc::new(AtomicBool::new(false));
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stats = Arc::new(SinkStats::default());
        let mut h = start(
            SYSLOG,
            Fake {
                up: up.clone(),
                got: got.clone(),
            },
            1000,
            stats.clone(),
        )
        .unwrap();
        for i in 0..100 {
            h.offer(&Arc::from(i.to_string().as_str()));
        }
        // down: nothing delivered, errors counted while retrying
        let t0 = Instant::now();
        while stats.errors[SYSLOG].get() < 2 {
            assert!(t0.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        up.store(true, Ordering::SeqCst);
        for i in 100..200 {
            h.offer(&Arc::from(i.to_string().as_str()));
        }
        h.finish();
        let want: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        assert_eq!(*got.lock().unwrap(), want);
        assert_eq!(stats.records[SYSLOG].get(), 200);
        assert_eq!(stats.dropped[SYSLOG].get(), 0);
    }

    #[test]
    fn host_port_is_checked() {
        for ok in ["127.0.0.1:6379", "redis.example:6379", "[::1]:514"] {
            check_host_port("k", ok).unwrap();
        }
        for bad in ["127.0.0.1", "h:0", "h:99999", ":6379", "::1:514", "a b:1"] {
            let e = check_host_port("output.redis.server", bad).unwrap_err();
            assert!(e.contains("output.redis.server"), "{e}");
        }
    }
}
