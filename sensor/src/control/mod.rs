//! The control plane (tokio): `/metrics` and `/healthz` over HTTP/1.1, optionally over TLS
//! and behind basic authentication (a web configuration file in exporter-toolkit's format,
//! see [`web_config`]). It never touches the packet path; it reads the telemetry blocks the
//! workers write.
//!
//! Hardening (http section of the configuration):
//! - at most `max_connections` connections at once; when a new one arrives at the cap, the
//!   connection idle the longest is closed to make room (a scraper or kubelet probe is never
//!   locked out by idle connections), and when every connection is in the middle of a request
//!   the new one is closed at once;
//! - a client has `header_read_timeout_s` to send a request's headers (and finish the TLS
//!   handshake), and a connection with no new request for `idle_timeout_s` is closed;
//! - accept errors (out of file descriptors above all) back off from 5 ms to 1 s instead of
//!   spinning, and are logged at most every 10 s; out of descriptors, the idlest connection
//!   is closed too, to free one.

pub mod web_config;

use crate::telemetry::{Telemetry, CONTENT_TYPE};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, Request, Response, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
pub use web_config::{WebConfig, WebConfigError};

pub struct Health {
    pub capturing: AtomicBool,
}

/// Connection limits (from [`crate::config::HttpSection`]).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        let h = crate::config::HttpSection::default();
        Limits::from(&h)
    }
}

impl From<&crate::config::HttpSection> for Limits {
    fn from(h: &crate::config::HttpSection) -> Self {
        Limits {
            max_connections: h.max_connections,
            header_read_timeout: Duration::from_secs(h.header_read_timeout_s),
            idle_timeout: Duration::from_secs(h.idle_timeout_s),
        }
    }
}

/// What the server needs besides the listener.
pub struct Server {
    pub tel: Arc<Telemetry>,
    pub health: Arc<Health>,
    pub limits: Limits,
    pub web: Option<Arc<WebConfig>>,
}

type Body = Full<Bytes>;

fn mk(code: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", ctype)
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

fn respond(tel: &Telemetry, health: &Health, req: &Request<Incoming>) -> Response<Body> {
    match (req.method().as_str(), req.uri().path()) {
        ("GET" | "HEAD", "/metrics") => mk(StatusCode::OK, CONTENT_TYPE, tel.render()),
        ("GET" | "HEAD", "/healthz") => {
            if health.capturing.load(Ordering::Relaxed) {
                mk(StatusCode::OK, "text/plain; charset=utf-8", "ok\n")
            } else {
                mk(StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", "capture not running\n")
            }
        }
        ("GET", "/") => mk(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<html><body><h1>spanwatch</h1><p><a href=\"/metrics\">/metrics</a> <a href=\"/healthz\">/healthz</a></p></body></html>\n",
        ),
        _ => mk(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n"),
    }
}

/// `user:password` from an `Authorization: Basic …` header.
fn basic_credentials(req: &Request<Incoming>) -> Option<(String, String)> {
    use base64::Engine as _;
    let v = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, b64) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn unauthorized() -> Response<Body> {
    let mut r = mk(
        StatusCode::UNAUTHORIZED,
        "text/plain; charset=utf-8",
        "Unauthorized\n",
    );
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        hyper::header::HeaderValue::from_static("Basic realm=\"spanwatch\", charset=\"UTF-8\""),
    );
    r
}

impl Server {
    /// One request. `/healthz` is answered without credentials (it says only whether the
    /// capture runs; the kubelet and other liveness probes carry none); every other path
    /// needs them when `basic_auth_users` is set.
    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        bcrypt_slot: Arc<Semaphore>,
    ) -> Response<Body> {
        let mut resp = match self
            .web
            .as_ref()
            .and_then(|w| w.auth.as_ref().map(|a| (w.clone(), a)))
        {
            Some((web, auth)) if req.uri().path() != "/healthz" => {
                let ok = match basic_credentials(&req) {
                    None => false,
                    Some((u, p)) if auth.verify_cached(&u, &p) => true,
                    Some((u, p)) => {
                        // bcrypt takes tens of milliseconds: off this thread (it serves
                        // /healthz), one check at a time so that a flood of bad passwords
                        // costs at most one core.
                        match bcrypt_slot.acquire_owned().await {
                            Ok(permit) => tokio::task::spawn_blocking(move || {
                                let _permit = permit;
                                web.auth.as_ref().is_some_and(|a| a.verify_slow(&u, &p))
                            })
                            .await
                            .unwrap_or(false),
                            Err(_) => false,
                        }
                    }
                };
                if ok {
                    respond(&self.tel, &self.health, &req)
                } else {
                    unauthorized()
                }
            }
            _ => respond(&self.tel, &self.health, &req),
        };
        if let Some(w) = &self.web {
            for (k, v) in &w.headers {
                resp.headers_mut().insert(k.clone(), v.clone());
            }
        }
        resp
    }
}

/// One open connection, as the accept loop sees it.
struct ConnState {
    /// Milliseconds since the server's start of the last request (or of the accept).
    last_active_ms: AtomicU64,
    /// Requests under way (a service call not yet answered).
    busy: AtomicBool,
    close: Notify,
}

struct Registry {
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Close the connection idle the longest, if one is idle. Returns whether one was.
    fn evict_idlest(&self) -> bool {
        let Ok(mut m) = self.conns.lock() else {
            return false;
        };
        let victim = m
            .iter()
            .filter(|(_, c)| !c.busy.load(Ordering::Relaxed))
            .min_by_key(|(id, c)| (c.last_active_ms.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id);
        match victim.and_then(|id| m.remove(&id)) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.conns.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// Removes a connection from the registry when its task ends, however it ends.
struct Deregister(Arc<Registry>, u64);
impl Drop for Deregister {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.conns.lock() {
            m.remove(&self.1);
        }
    }
}

/// A log line at most every 10 s, with how many were held back.
struct RateLimitedLog {
    last: Option<Instant>,
    held: u64,
}

impl RateLimitedLog {
    fn hit(&mut self, f: impl FnOnce(u64)) {
        let now = Instant::now();
        if self
            .last
            .is_none_or(|l| now.duration_since(l) >= Duration::from_secs(10))
        {
            f(self.held);
            self.last = Some(now);
            self.held = 0;
        } else {
            self.held += 1;
        }
    }
}

fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Serve with the default limits, no TLS and no authentication.
pub async fn serve(listener: TcpListener, tel: Arc<Telemetry>, health: Arc<Health>) {
    serve_with(
        listener,
        Server {
            tel,
            health,
            limits: Limits::default(),
            web: None,
        },
    )
    .await
}

/// Serve until the task is dropped (accept errors are retried with a back-off).
pub async fn serve_with(listener: TcpListener, server: Server) {
    let server = Arc::new(server);
    let reg = Arc::new(Registry {
        start: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let bcrypt_slot = Arc::new(Semaphore::new(1));
    let tls = server
        .web
        .as_ref()
        .and_then(|w| w.tls.clone())
        .map(tokio_rustls::TlsAcceptor::from);
    let mut backoff = Duration::ZERO;
    let mut accept_log = RateLimitedLog {
        last: None,
        held: 0,
    };
    let mut full_log = RateLimitedLog {
        last: None,
        held: 0,
    };
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => {
                backoff = Duration::ZERO;
                s
            }
            Err(e) => {
                // Out of descriptors the listener stays readable: without a pause this loop
                // spins. Go's net/http pauses 5 ms doubling to 1 s; so does this.
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                let fds = is_out_of_descriptors(&e);
                if fds {
                    reg.evict_idlest();
                }
                accept_log.hit(|held| {
                    tracing::warn!(
                        error = %e,
                        retry_ms = backoff.as_millis() as u64,
                        more = held,
                        "metrics listener: accept failed{}",
                        if fds { " (out of file descriptors or memory)" } else { "" }
                    )
                });
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        if reg.len() >= server.limits.max_connections && !reg.evict_idlest() {
            // Every connection is in the middle of a request: refuse this one at once
            // rather than let it wait unanswered.
            full_log.hit(|held| {
                tracing::warn!(
                    max_connections = server.limits.max_connections,
                    more = held,
                    "metrics listener: connection limit reached, closing a new connection"
                )
            });
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = reg.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            last_active_ms: AtomicU64::new(reg.now_ms()),
            busy: AtomicBool::new(false),
            close: Notify::new(),
        });
        if let Ok(mut m) = reg.conns.lock() {
            m.insert(id, state.clone());
        }
        let guard = Deregister(reg.clone(), id);
        let (server, reg, tls, slot) = (
            server.clone(),
            reg.clone(),
            tls.clone(),
            bcrypt_slot.clone(),
        );
        tokio::spawn(async move {
            let _guard = guard;
            let limits = server.limits.clone();
            match tls {
                None => serve_conn(stream, server, reg, state, slot).await,
                Some(acc) => {
                    // The handshake counts as reading the request's headers.
                    let hs = tokio::select! {
                        r = tokio::time::timeout(limits.header_read_timeout, acc.accept(stream)) => r,
                        _ = state.close.notified() => return,
                    };
                    let Ok(Ok(tls_stream)) = hs else { return };
                    if let Some(w) = &server.web {
                        let leaf = tls_stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first());
                        if !w.client_san_allowed(leaf) {
                            tracing::debug!("metrics listener: client certificate has none of client_allowed_sans");
                            return;
                        }
                    }
                    serve_conn(tls_stream, server, reg, state, slot).await
                }
            }
        });
    }
}

async fn serve_conn<S>(
    stream: S,
    server: Arc<Server>,
    reg: Arc<Registry>,
    state: Arc<ConnState>,
    slot: Arc<Semaphore>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = server.limits.clone();
    let io = hyper_util::rt::TokioIo::new(stream);
    let svc = {
        let (state, reg) = (state.clone(), reg.clone());
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (server, state, reg, slot) =
                (server.clone(), state.clone(), reg.clone(), slot.clone());
            async move {
                state.busy.store(true, Ordering::Relaxed);
                state.last_active_ms.store(reg.now_ms(), Ordering::Relaxed);
                let r = server.handle(req, slot).await;
                state.busy.store(false, Ordering::Relaxed);
                state.last_active_ms.store(reg.now_ms(), Ordering::Relaxed);
                Ok::<_, std::convert::Infallible>(r)
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(io, svc);
    tokio::pin!(conn);
    loop {
        let since = state.last_active_ms.load(Ordering::Relaxed);
        let idle_for = Duration::from_millis(reg.now_ms().saturating_sub(since));
        let left = limits.idle_timeout.saturating_sub(idle_for);
        tokio::select! {
            _ = &mut conn => return,
            _ = state.close.notified() => return,
            _ = tokio::time::sleep(left) => {
                let since2 = state.last_active_ms.load(Ordering::Relaxed);
                // A response still being written to a reader that does not read is no
                // progress either: after the idle timeout it goes too.
                if since2 == since {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(reg: &Registry, id: u64, last: u64, busy: bool) -> Arc<ConnState> {
        let c = Arc::new(ConnState {
            last_active_ms: AtomicU64::new(last),
            busy: AtomicBool::new(busy),
            close: Notify::new(),
        });
        reg.conns.lock().unwrap().insert(id, c.clone());
        c
    }

    #[tokio::test]
    async fn eviction_takes_the_idlest_and_never_a_busy_connection() {
        let reg = Registry {
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        };
        let busy_old = conn(&reg, 1, 10, true);
        let idle_old = conn(&reg, 2, 20, false);
        let idle_new = conn(&reg, 3, 30, false);
        assert!(reg.evict_idlest());
        // the one told to close is the idle one with the oldest activity
        tokio::time::timeout(Duration::from_secs(1), idle_old.close.notified())
            .await
            .expect("the idlest connection was told to close");
        assert_eq!(reg.len(), 2);
        assert!(reg.evict_idlest());
        tokio::time::timeout(Duration::from_secs(1), idle_new.close.notified())
            .await
            .unwrap();
        // only a connection in the middle of a request is left: nothing to evict, so the
        // accept loop closes the new connection instead
        assert!(!reg.evict_idlest());
        assert_eq!(reg.len(), 1);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), busy_old.close.notified())
                .await
                .is_err()
        );
    }
}
