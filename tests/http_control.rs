//! The control plane's HTTP listener: connection cap, header-read and idle timeouts, basic
//! auth, TLS (server and client certificates), and bad web configs refused at start-up.
//! Servers run on 127.0.0.1 ports the kernel picks; certificates are made at test time.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use spanwatch::control::{self, Health, Limits, Server, WebConfig};
use spanwatch::telemetry::Telemetry;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: Limits, web: Option<WebConfig>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = Server {
        tel: Telemetry::new(1, "live"),
        health: Arc::new(Health {
            capturing: AtomicBool::new(true),
        }),
        limits,
        web: web.map(Arc::new),
    };
    tokio::spawn(control::serve_with(l, server));
    addr
}

fn limits(max: usize, header_s: u64, idle_s: u64) -> Limits {
    Limits {
        max_connections: max,
        header_read_timeout: Duration::from_secs(header_s),
        idle_timeout: Duration::from_secs(idle_s),
    }
}

/// One GET over a stream (plain or TLS): status, a header's value, body.
async fn get_on<S>(
    stream: S,
    path: &str,
    auth: Option<(&str, &str)>,
) -> (u16, Option<String>, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use base64::Engine as _;
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("http handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::get(path).header("host", "localhost");
    if let Some((u, p)) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.header("authorization", format!("Basic {b}"));
    }
    let resp = tx
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, www, String::from_utf8_lossy(&body).into_owned())
}

async fn get(
    addr: SocketAddr,
    path: &str,
    auth: Option<(&str, &str)>,
) -> (u16, Option<String>, String) {
    get_on(TcpStream::connect(addr).await.unwrap(), path, auth).await
}

/// Whether the server closes this connection within `within` (EOF or reset on read).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // e.g. a 408 before the close
        }
    }
}

#[tokio::test]
async fn healthz_answers_past_the_connection_cap() {
    let addr = start(limits(4, 30, 300), None).await;
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Over the cap the idlest connections are closed to make room: 12 opened, at most 4
    // stay open, so at least 8 see the server close them.
    let mut closed = 0;
    for s in idle.iter_mut() {
        if closed_within(s, Duration::from_millis(1500)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 8,
        "only {closed} of 12 idle connections were closed with a cap of 4"
    );
    let (st, _, body) = tokio::time::timeout(Duration::from_secs(2), get(addr, "/healthz", None))
        .await
        .expect("/healthz answered past the cap");
    assert_eq!((st, body.as_str()), (200, "ok\n"));
}

/// 1,000 client sockets plus the server's: lift the soft descriptor limit to the hard one
/// (a login shell's 1024 would make the client, not the server, run out).
fn raise_nofile_limit() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

#[tokio::test]
async fn thousand_idle_connections_do_not_starve_healthz() {
    raise_nofile_limit();
    let addr = start(Limits::default(), None).await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Half of them have started a request and stalled in its headers (slowloris).
    for s in idle.iter_mut().step_by(2) {
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await;
    }
    for _ in 0..3 {
        let t = Instant::now();
        let (st, _, body) =
            tokio::time::timeout(Duration::from_secs(1), get(addr, "/healthz", None))
                .await
                .expect("/healthz answered within 1 s with 1000 idle connections open");
        assert_eq!(
            (st, body.as_str()),
            (200, "ok\n"),
            "after {:?}",
            t.elapsed()
        );
    }
    let (st, _, body) = get(addr, "/metrics", None).await;
    assert_eq!(st, 200);
    assert!(body.contains("spanwatch_packets_total"));
    drop(idle);
}

#[tokio::test]
async fn header_read_timeout_closes_silent_and_slow_clients() {
    let addr = start(limits(64, 1, 300), None).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)).await,
        "a half-sent request stays open"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(10)).await,
        "a silent connection stays open"
    );
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let addr = start(limits(64, 30, 1), None).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Keep-alive: the connection stays usable …
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // … until it has been idle for idle_timeout.
    assert!(
        closed_within(&mut s, Duration::from_secs(10)).await,
        "idle connection stays open"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn basic_auth_accepts_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let p = write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: {hash}\n"),
    );
    let addr = start(Limits::default(), Some(WebConfig::load(&p).unwrap())).await;
    let (st, www, _) = get(addr, "/metrics", None).await;
    assert_eq!(st, 401);
    assert!(www.unwrap_or_default().starts_with("Basic realm="));
    assert_eq!(
        get(addr, "/metrics", Some(("prometheus", "wrong"))).await.0,
        401
    );
    assert_eq!(
        get(addr, "/metrics", Some(("nobody", "s3cret"))).await.0,
        401
    );
    assert_eq!(get(addr, "/", None).await.0, 401);
    for _ in 0..2 {
        // the second time from the cache of successful checks
        let (st, _, body) = get(addr, "/metrics", Some(("prometheus", "s3cret"))).await;
        assert_eq!(st, 200);
        assert!(body.contains("spanwatch_packets_total"));
    }
    // Liveness probes carry no credentials: /healthz answers without them.
    assert_eq!(
        get(addr, "/healthz", None).await,
        (200, None, "ok\n".to_string())
    );
}

struct Pki {
    dir: tempfile::TempDir,
    server_cert: CertificateDer<'static>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
}

/// A server certificate for localhost/127.0.0.1 (self-signed) and a client certificate
/// signed by a test CA, written as PEM files beside the web config.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let srv =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    write(dir.path(), "server.crt", &srv.cert.pem());
    write(dir.path(), "server.key", &srv.key_pair.serialize_pem());
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    write(dir.path(), "ca.crt", &ca.pem());
    let cl_key = KeyPair::generate().unwrap();
    let mut cl_params = CertificateParams::new(vec!["scraper.example".to_string()]).unwrap();
    cl_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cl = cl_params.signed_by(&cl_key, &ca, &ca_key).unwrap();
    Pki {
        server_cert: srv.cert.der().clone(),
        client_chain: vec![cl.der().clone()],
        client_key: PrivateKeyDer::try_from(cl_key.serialize_der()).unwrap(),
        dir,
    }
}

async fn tls_connect(
    addr: SocketAddr,
    trust: &CertificateDer<'static>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match client {
        Some((chain, key)) => b.with_client_auth_cert(chain, key).unwrap(),
        None => b.with_no_client_auth(),
    };
    let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await?;
    let mut s = conn
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    // With TLS 1.3 a refused client certificate shows on the first read, not in connect.
    s.write_all(b"").await?;
    Ok(s)
}

#[tokio::test]
async fn tls_with_basic_auth() {
    let pki = pki();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let p = write(
        pki.dir.path(),
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\nbasic_auth_users:\n  prometheus: {hash}\n"
        ),
    );
    let addr = start(Limits::default(), Some(WebConfig::load(&p).unwrap())).await;
    let s = tls_connect(addr, &pki.server_cert, None)
        .await
        .expect("TLS handshake");
    let (st, _, body) = get_on(s, "/metrics", Some(("prometheus", "s3cret"))).await;
    assert_eq!(st, 200);
    assert!(body.contains("spanwatch_packets_total"));
    let s = tls_connect(addr, &pki.server_cert, None).await.unwrap();
    assert_eq!(
        get_on(s, "/metrics", Some(("prometheus", "nope"))).await.0,
        401
    );
    let s = tls_connect(addr, &pki.server_cert, None).await.unwrap();
    assert_eq!(get_on(s, "/healthz", None).await.0, 200);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "plain HTTP answered on the TLS port"
    );
}

#[tokio::test]
async fn tls_client_certificates_are_verified() {
    let pki = pki();
    let p = write(
        pki.dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [scraper.example]\n",
    );
    let addr = start(Limits::default(), Some(WebConfig::load(&p).unwrap())).await;
    let client = Some((pki.client_chain.clone(), pki.client_key.clone_key()));
    let s = tls_connect(addr, &pki.server_cert, client)
        .await
        .expect("mTLS handshake");
    assert_eq!(get_on(s, "/metrics", None).await.0, 200);
    // No client certificate: refused during the handshake (or at the first read in TLS 1.3).
    let refused = match tls_connect(addr, &pki.server_cert, None).await {
        Err(_) => true,
        Ok(mut s) => {
            let _ = s
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let mut buf = Vec::new();
            let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
            !matches!(r, Ok(Ok(_)) if buf.starts_with(b"HTTP/1.1 200"))
        }
    };
    assert!(refused, "a client without a certificate got /metrics");

    // A SAN that the client certificate does not carry: the connection is dropped.
    let p = write(
        pki.dir.path(),
        "web2.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [other.example]\n",
    );
    let addr = start(Limits::default(), Some(WebConfig::load(&p).unwrap())).await;
    let client = Some((pki.client_chain.clone(), pki.client_key.clone_key()));
    let mut s = tls_connect(addr, &pki.server_cert, client).await.unwrap();
    let _ = s
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "client_allowed_sans not enforced"
    );
}

#[test]
fn bad_web_configs_are_refused_naming_file_and_key() {
    let pki = pki();
    let d = pki.dir.path();
    let cases: &[(&str, &str)] = &[
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS10\n", "min_version"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: ca.crt\n", "key_file"),
        ("tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n", "cert_file"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n", "client_auth_type"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: Sometimes\n", "client_auth_type"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", "cipher_suites"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  curve_preferences: [CurveP999]\n", "curve_preferences"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n", "client_ca_file"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_allowed_sans: [x]\n", "client_allowed_sans"),
        ("basic_auth_users:\n  prometheus: hunter2\n", "basic_auth_users.prometheus"),
        ("basic_auth_users:\n  - prometheus\n", "basic_auth_users"),
        ("tls_config:\n  cert_file: server.crt\n", "tls_config"),
        ("tls_server_config: [\n", "web.yml"),
    ];
    for (text, key) in cases {
        let p = write(d, "web.yml", text);
        let e = WebConfig::load(&p).expect_err(text).to_string();
        assert!(
            e.contains(&p.display().to_string()) && e.contains(key),
            "{text:?} → {e}"
        );
    }
    // The good forms load: file paths, inline PEM, the exporter-toolkit options.
    let crt = std::fs::read_to_string(d.join("server.crt")).unwrap();
    let key = std::fs::read_to_string(d.join("server.key")).unwrap();
    let inline = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}  min_version: TLS13\n  curve_preferences: [X25519, CurveP256]\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  prefer_server_cipher_suites: true\nhttp_server_config:\n  http2: false\n  headers:\n    Strict-Transport-Security: max-age=31536000\n",
        crt.lines().map(|l| format!("    {l}\n")).collect::<String>(),
        key.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    let p = write(d, "web.yml", &inline);
    let w = WebConfig::load(&p).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.tls.is_some() && w.auth.is_none() && w.headers.len() == 1);
}

/// The binary refuses a bad web config before it opens anything: exit 2, file and key named.
#[test]
fn binary_exits_2_on_a_bad_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "web.yml",
        "basic_auth_users:\n  prometheus: plaintext\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spanwatch"))
        .args([
            "run",
            "--interface",
            "lo",
            "--listen",
            "127.0.0.1:0",
            "--web.config.file",
        ])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("web.yml") && err.contains("basic_auth_users.prometheus"),
        "{err}"
    );
    let cfg = write(dir.path(), "s.toml", "[http]\nmax_connections = 0\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spanwatch"))
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--interface", "lo"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("http.max_connections"), "{err}");
}

/// A renewed certificate (files rewritten in place) is served without a restart.
#[tokio::test]
async fn renewed_certificate_is_served_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    write(dir.path(), "tls.crt", &old.cert.pem());
    write(dir.path(), "tls.key", &old.key_pair.serialize_pem());
    let p = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n",
    );
    let addr = start(Limits::default(), Some(WebConfig::load(&p).unwrap())).await;
    let s = tls_connect(addr, old.cert.der(), None)
        .await
        .expect("old certificate");
    assert_eq!(get_on(s, "/healthz", None).await.0, 200);
    let new = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    // key first, then certificate: in between the pair does not match and the old one stays
    write(dir.path(), "tls.key", &new.key_pair.serialize_pem());
    write(dir.path(), "tls.crt", &new.cert.pem());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = tls_connect(addr, new.cert.der(), None).await {
            assert_eq!(get_on(s, "/healthz", None).await.0, 200);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
