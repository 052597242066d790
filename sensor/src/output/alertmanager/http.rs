//! Delivery to one Alertmanager: its bounded queue of batches, the delivery task with retries,
//! back-off and the circuit breaker, and the `POST` itself.

use super::LOG_TARGET;
use super::{wall_ns, Endpoint, Settings};
use crate::telemetry::AlertmanagerStats;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One POST's worth of alerts for every Alertmanager.
pub(super) struct Batch {
    pub(super) body: Bytes,
    pub(super) n: u64,
}

pub(super) struct Queue {
    pub(super) tx: mpsc::Sender<Arc<Batch>>,
    /// Alerts queued or being delivered to this Alertmanager.
    pub(super) inflight: Arc<AtomicU64>,
    /// Set by the delivery task while this Alertmanager is failing (its last POST failed, or
    /// the one under way has gone unanswered for [`SLOW_ANSWER`]).
    pub(super) failing: Arc<AtomicBool>,
}

impl Queue {
    /// How many more batches may wait for this Alertmanager: up to [`QUEUE_BATCHES`] while
    /// it answers, only [`FAILING_QUEUE_BATCHES`] while it is failing (what waits then is
    /// sent after the back-off; alerts still firing are re-sent every resend interval
    /// anyway).
    pub(super) fn room(&self) -> usize {
        let queued = QUEUE_BATCHES - self.tx.capacity();
        let limit = if self.failing.load(Relaxed) {
            FAILING_QUEUE_BATCHES
        } else {
            QUEUE_BATCHES
        };
        limit.saturating_sub(queued)
    }

    /// Whether one more batch may wait for this Alertmanager (see [`Queue::room`]).
    pub(super) fn has_room(&self) -> bool {
        self.room() > 0
    }
}

/// Batches waiting per Alertmanager.
pub(super) const QUEUE_BATCHES: usize = 64;
/// Batches waiting per Alertmanager while it is failing.
const FAILING_QUEUE_BATCHES: usize = 4;
/// An Alertmanager that has not answered a POST this long counts as failing until it answers.
pub(super) const SLOW_ANSWER: Duration = Duration::from_secs(1);

/// A small random number for jitter (no crate for this: the std hasher's random keys).
fn jitter_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(wall_ns());
    h.finish()
}

/// Exponential backoff with "equal jitter": half the step plus a random part of the other half.
pub(super) fn backoff(s: &Settings, attempt: u32) -> Duration {
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
pub(super) async fn deliver(
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
            // A POST not answered within SLOW_ANSWER marks the Alertmanager as failing
            // already (a black hole is otherwise only known as one when the request times
            // out, and until then the sink would go on filling a healthy one's queue:
            // 64 batches serialised only to be dropped).
            let sent = post(&ep, b.body.clone(), s.timeout);
            tokio::pin!(sent);
            let outcome = tokio::select! {
                o = &mut sent => o,
                _ = tokio::time::sleep(SLOW_ANSWER.min(s.timeout / 2)) => {
                    failing.store(true, Relaxed);
                    sent.await
                }
            };
            match outcome {
                Outcome::Accepted => {
                    if failures > 0 {
                        tracing::info!(
                            target: LOG_TARGET,
                            url = %ep.url,
                            failures,
                            "alertmanager: reachable again",
                        );
                    }
                    failures = 0;
                    failing.store(false, Relaxed);
                    stats.sent.add(b.n);
                    break;
                }
                Outcome::Rejected(code, text) => {
                    failures = 0;
                    failing.store(false, Relaxed);
                    tracing::warn!(
                        target: LOG_TARGET,
                        url = %ep.url,
                        status = code,
                        answer = %text,
                        alerts = b.n,
                        "alertmanager refused the alerts",
                    );
                    stats.rejected.add(b.n);
                    break;
                }
                Outcome::Retry(why) => {
                    let d = backoff(&s, failures);
                    failures = failures.saturating_add(1);
                    failing.store(true, Relaxed);
                    retry_at = Some(tokio::time::Instant::now() + d);
                    if attempt >= s.max_retries {
                        tracing::warn!(
                            target: LOG_TARGET,
                            url = %ep.url,
                            error = %why,
                            alerts = b.n,
                            attempts = attempt + 1,
                            "alertmanager: giving up",
                        );
                        stats.failed.add(b.n);
                        break;
                    }
                    tracing::debug!(
                        target: LOG_TARGET,
                        url = %ep.url,
                        error = %why,
                        retry_in_ms = d.as_millis() as u64,
                        "alertmanager: retrying",
                    );
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
