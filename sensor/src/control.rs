//! The control plane (tokio): `/metrics` and `/healthz` over HTTP/1.1. It never touches the
//! packet path; it reads the telemetry blocks the workers write.

use crate::telemetry::{Telemetry, CONTENT_TYPE};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, Request, Response, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Health {
    pub capturing: AtomicBool,
}

fn respond(tel: &Telemetry, health: &Health, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mk = |code: StatusCode, ctype: &str, body: String| {
        Response::builder()
            .status(code)
            .header("content-type", ctype)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    match (req.method().as_str(), req.uri().path()) {
        ("GET" | "HEAD", "/metrics") => mk(StatusCode::OK, CONTENT_TYPE, tel.render()),
        ("GET" | "HEAD", "/healthz") => {
            if health.capturing.load(Ordering::Relaxed) {
                mk(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
            } else {
                mk(StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", "capture not running\n".into())
            }
        }
        ("GET", "/") => mk(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<html><body><h1>spanwatch</h1><p><a href=\"/metrics\">/metrics</a> <a href=\"/healthz\">/healthz</a></p></body></html>\n".into(),
        ),
        _ => mk(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

/// Serve until the listener fails or the task is dropped.
pub async fn serve(listener: TcpListener, tel: Arc<Telemetry>, health: Arc<Health>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (tel, health) = (tel.clone(), health.clone());
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let r = respond(&tel, &health, &req);
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}
