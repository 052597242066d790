//! The web configuration file: optional TLS and basic authentication for `/metrics`, in the
//! format of Prometheus's exporter-toolkit (the `--web.config.file` of node_exporter and the
//! other official exporters), so the scrape configs people already have keep working.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # or `cert:` with the PEM inline
//!   key_file: server.key           # or `key:`
//!   client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
//!   client_ca_file: ca.crt         # or `client_ca:`
//!   client_allowed_sans: [prometheus.example.org]
//!   min_version: TLS12             # TLS12 (default) or TLS13
//!   max_version: TLS13
//!   cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # TLS 1.2 only, as in Go
//!   curve_preferences: [X25519, CurveP256]
//!   prefer_server_cipher_suites: true
//! http_server_config:
//!   headers: { Strict-Transport-Security: max-age=31536000 }
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':')
//! ```
//!
//! Relative paths are relative to the file's folder (as in exporter-toolkit). Every key is
//! checked at start-up: an unknown key, a missing file, a key that does not match its
//! certificate or a hash that is not bcrypt is an error naming the file and the key.
//! Differences from exporter-toolkit, all refused with a clear message rather than
//! ignored: TLS 1.0/1.1 and CBC cipher suites (rustls implements neither), CurveP521,
//! `client_allowed_sans` entries that are e-mail addresses or URIs, and `rate_limit`.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A start-up error: names the file and the key.
#[derive(Debug)]
pub struct WebConfigError(pub String);

impl std::fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for WebConfigError {}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// HTTP/2 over TLS: accepted for compatibility; spanwatch serves HTTP/1.1 only, which
    /// every Prometheus speaks.
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// The response headers exporter-toolkit lets a web config set.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// The loaded web configuration.
pub struct WebConfig {
    pub path: PathBuf,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// SANs a client certificate must carry one of (empty: no check).
    pub client_allowed_sans: Vec<ServerName<'static>>,
    pub auth: Option<BasicAuth>,
    pub headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.auth.as_ref().map(|a| a.users.len()),
            )
            .finish()
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

impl WebConfig {
    /// Read and check the file; every problem is an error naming the file and the key.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| WebConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Self::parse(&text, path)
    }

    /// `path` names the file in errors; relative paths inside are taken from its folder.
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let name = path.display().to_string();
        let err = |m: String| WebConfigError(format!("{name}: {m}"));
        let raw: RawWebConfig = if text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        }) {
            RawWebConfig::default()
        } else {
            serde_norway::from_str::<Option<RawWebConfig>>(text)
                .map_err(|e| err(e.to_string()))?
                .unwrap_or_default()
        };
        if raw.rate_limit.is_some() {
            return Err(err(
                "rate_limit is not supported by spanwatch (http.max_connections limits connections)"
                    .into(),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let (tls, sans) = match raw.tls_server_config {
            Some(t) if tls_enabled(&t) => {
                let (c, s) =
                    build_tls(t, dir).map_err(|m| err(format!("tls_server_config.{m}")))?;
                (Some(c), s)
            }
            Some(t) => {
                // exporter-toolkit: TLS is off when nothing names a certificate, key or CA;
                // the other keys then have no effect, which deserves an error, not silence.
                if t.min_version.is_some()
                    || t.max_version.is_some()
                    || t.cipher_suites.is_some()
                    || t.curve_preferences.is_some()
                    || t.client_allowed_sans.is_some()
                {
                    return Err(err(
                        "tls_server_config: settings without cert_file/key_file (or cert/key)"
                            .into(),
                    ));
                }
                (None, Vec::new())
            }
            None => (None, Vec::new()),
        };
        let auth = match raw.basic_auth_users {
            Some(u) if !u.is_empty() => Some(BasicAuth::new(u).map_err(err)?),
            _ => None,
        };
        let mut headers = Vec::new();
        if let Some(h) = raw.http_server_config {
            let _ = h.http2;
            for (k, v) in h.headers.unwrap_or_default() {
                let Some(canon) = ALLOWED_HEADERS.iter().find(|a| a.eq_ignore_ascii_case(&k))
                else {
                    return Err(err(format!(
                        "http_server_config.headers: {k:?} cannot be set (allowed: {})",
                        ALLOWED_HEADERS.join(", ")
                    )));
                };
                let hv = hyper::header::HeaderValue::from_str(&v).map_err(|_| {
                    err(format!(
                        "http_server_config.headers.{k}: not a valid header value"
                    ))
                })?;
                headers.push((hyper::header::HeaderName::from_static(lower(canon)), hv));
            }
        }
        Ok(WebConfig {
            path: path.to_path_buf(),
            tls,
            client_allowed_sans: sans,
            auth,
            headers,
        })
    }

    /// Whether a client certificate (leaf, DER) carries one of `client_allowed_sans`.
    pub fn client_san_allowed(&self, leaf: Option<&CertificateDer<'_>>) -> bool {
        if self.client_allowed_sans.is_empty() {
            return true;
        }
        let Some(leaf) = leaf else { return false };
        let Ok(ee) = webpki::EndEntityCert::try_from(leaf) else {
            return false;
        };
        self.client_allowed_sans
            .iter()
            .any(|n| ee.verify_is_valid_for_subject_name(n).is_ok())
    }
}

fn lower(h: &'static str) -> &'static str {
    match h {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

fn tls_enabled(t: &RawTls) -> bool {
    t.cert.is_some()
        || t.key.is_some()
        || t.cert_file.is_some()
        || t.key_file.is_some()
        || t.client_ca_file.is_some()
        || t.client_ca.is_some()
        || t.client_auth_type.is_some()
}

fn join(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// Where the certificate and key come from: files (re-read when they change) or inline PEM.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Inline(String),
}

impl Source {
    fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        match self {
            Source::File(p) => {
                std::fs::read(p).map_err(|e| format!("{key}: cannot read {}: {e}", p.display()))
            }
            Source::Inline(s) => Ok(s.as_bytes().to_vec()),
        }
    }
    fn mtime(&self) -> Option<SystemTime> {
        match self {
            Source::File(p) => std::fs::metadata(p).and_then(|m| m.modified()).ok(),
            Source::Inline(_) => None,
        }
    }
}

fn pick(
    file: Option<String>,
    inline: Option<String>,
    fkey: &str,
    ikey: &str,
    dir: &Path,
) -> Result<Option<(Source, String)>, String> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(format!("{fkey} and {ikey} are both set; give one")),
        (Some(f), None) if f.is_empty() => Err(format!("{fkey}: empty path")),
        (Some(f), None) => Ok(Some((Source::File(join(dir, &f)), fkey.to_string()))),
        (None, Some(s)) => Ok(Some((Source::Inline(s), ikey.to_string()))),
        (None, None) => Ok(None),
    }
}

fn load_key_pair(
    cert: &(Source, String),
    key: &(Source, String),
    p: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let cert_pem = cert.0.read(&cert.1)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", cert.1))?;
    if chain.is_empty() {
        return Err(format!("{}: no CERTIFICATE block in it", cert.1));
    }
    let key_pem = key.0.read(&key.1)?;
    let k = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{}: no private key in it: {e}", key.1))?;
    CertifiedKey::from_der(chain, k, p)
        .map_err(|e| format!("{}: does not go with {}: {e}", key.1, cert.1))
}

/// The server certificate, re-read (at most once a second, on a new connection) when the
/// files' modification times change, so a renewed certificate is served without a restart
/// (exporter-toolkit re-reads them on every connection). A bad new pair keeps the old one.
#[derive(Debug)]
struct ReloadingCert {
    cert: (Source, String),
    key: (Source, String),
    state: Mutex<CertState>,
}

#[derive(Debug)]
struct CertState {
    current: Arc<CertifiedKey>,
    mtimes: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut st = self.state.lock().ok()?;
        if st.checked.elapsed() >= Duration::from_secs(1) {
            st.checked = Instant::now();
            let m = (self.cert.0.mtime(), self.key.0.mtime());
            if m != st.mtimes {
                match load_key_pair(&self.cert, &self.key, &provider()) {
                    Ok(k) => {
                        tracing::info!("web config: TLS certificate reloaded");
                        st.current = Arc::new(k);
                        st.mtimes = m;
                    }
                    Err(e) => {
                        // Retried at the next check: a certificate and key written one after
                        // the other are a mismatched pair for a moment.
                        tracing::warn!("web config: keeping the old TLS certificate: {e}");
                    }
                }
            }
        }
        Some(st.current.clone())
    }
}

fn build_tls(
    t: RawTls,
    dir: &Path,
) -> Result<(Arc<rustls::ServerConfig>, Vec<ServerName<'static>>), String> {
    let cert = pick(t.cert_file, t.cert, "cert_file", "cert", dir)?
        .ok_or("cert_file: missing (or cert, inline)")?;
    let key = pick(t.key_file, t.key, "key_file", "key", dir)?
        .ok_or("key_file: missing (or key, inline)")?;
    let mut p = provider();

    // Versions: exporter-toolkit's default is TLS 1.2 to 1.3.
    let ver = |s: &Option<String>, k: &str, d: u8| -> Result<u8, String> {
        match s.as_deref() {
            None => Ok(d),
            Some("TLS13") => Ok(13),
            Some("TLS12") => Ok(12),
            Some(v @ ("TLS10" | "TLS11")) => Err(format!(
                "{k}: {v} is not supported (rustls implements TLS12 and TLS13 only)"
            )),
            Some(v) => Err(format!("{k}: unknown version {v:?} (TLS12 or TLS13)")),
        }
    };
    let (min, max) = (
        ver(&t.min_version, "min_version", 12)?,
        ver(&t.max_version, "max_version", 13)?,
    );
    if min > max {
        return Err("min_version: above max_version".into());
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }

    // Cipher suites: as in Go, the list applies to TLS 1.2; TLS 1.3's are always on.
    if let Some(list) = &t.cipher_suites {
        let mut chosen = Vec::new();
        for name in list {
            let found = p.cipher_suites.iter().find(|s| {
                let n = s.suite().as_str().unwrap_or("");
                s.tls13().is_none()
                    && (n == name
                        || (name.ends_with("_CHACHA20_POLY1305") && n == format!("{name}_SHA256")))
            });
            match found {
                Some(s) => chosen.push(*s),
                None => {
                    let have: Vec<&str> = p
                        .cipher_suites
                        .iter()
                        .filter(|s| s.tls13().is_none())
                        .filter_map(|s| s.suite().as_str())
                        .collect();
                    return Err(format!(
                        "cipher_suites: {name:?} is unknown or not supported (supported: {})",
                        have.join(", ")
                    ));
                }
            }
        }
        let tls13: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_some())
            .copied()
            .collect();
        p.cipher_suites = tls13.into_iter().chain(chosen).collect();
    }
    if let Some(list) = &t.curve_preferences {
        let mut groups = Vec::new();
        for name in list {
            let g: &'static dyn rustls::crypto::SupportedKxGroup = match name.as_str() {
                "X25519" => rustls::crypto::ring::kx_group::X25519,
                "CurveP256" => rustls::crypto::ring::kx_group::SECP256R1,
                "CurveP384" => rustls::crypto::ring::kx_group::SECP384R1,
                "CurveP521" => return Err(
                    "curve_preferences: CurveP521 is not supported (X25519, CurveP256, CurveP384)"
                        .into(),
                ),
                other => {
                    return Err(format!(
                        "curve_preferences: unknown curve {other:?} (X25519, CurveP256, CurveP384)"
                    ))
                }
            };
            groups.push(g);
        }
        if groups.is_empty() {
            return Err("curve_preferences: empty list".into());
        }
        p.kx_groups = groups;
    }

    let p = Arc::new(p);
    let first = load_key_pair(&cert, &key, &p)?;

    // Client certificates.
    let ca = pick(
        t.client_ca_file,
        t.client_ca,
        "client_ca_file",
        "client_ca",
        dir,
    )?;
    let roots = match &ca {
        Some(src) => {
            let pem = src.0.read(&src.1)?;
            let mut store = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| format!("{}: not PEM certificates: {e}", src.1))?;
                store
                    .add(c)
                    .map_err(|e| format!("{}: not a usable CA certificate: {e}", src.1))?;
            }
            if store.is_empty() {
                return Err(format!("{}: no CA certificate in it", src.1));
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    let auth_type = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let need_roots = |roots: &Option<Arc<RootCertStore>>| {
        roots.clone().ok_or(format!(
            "client_auth_type: {auth_type} needs client_ca_file (or client_ca)"
        ))
    };
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match auth_type {
        "" | "NoClientCert" => {
            if roots.is_some() {
                return Err("client_ca_file: set, but client_auth_type is NoClientCert".into());
            }
            None
        }
        "RequestClientCert" => Some(Arc::new(AnyClientCert { mandatory: false, p: p.clone() })),
        "RequireAnyClientCert" | "RequireClientCert" => {
            Some(Arc::new(AnyClientCert { mandatory: true, p: p.clone() }))
        }
        "VerifyClientCertIfGiven" => Some(
            WebPkiClientVerifier::builder_with_provider(need_roots(&roots)?, p.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("client_ca_file: {e}"))?,
        ),
        "RequireAndVerifyClientCert" => Some(
            WebPkiClientVerifier::builder_with_provider(need_roots(&roots)?, p.clone())
                .build()
                .map_err(|e| format!("client_ca_file: {e}"))?,
        ),
        other => {
            return Err(format!(
                "client_auth_type: unknown {other:?} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
            ))
        }
    };
    let mut sans = Vec::new();
    if let Some(list) = t.client_allowed_sans {
        if !matches!(
            auth_type,
            "RequireAnyClientCert" | "RequireClientCert" | "RequireAndVerifyClientCert"
        ) {
            return Err("client_allowed_sans: needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert".into());
        }
        for s in list {
            let n = ServerName::try_from(s.clone()).map_err(|_| {
                format!("client_allowed_sans: {s:?} is not a DNS name or IP address (e-mail and URI SANs are not supported)")
            })?;
            sans.push(n);
        }
    }

    let builder = rustls::ServerConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("min_version/max_version: {e}"))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mtimes = (cert.0.mtime(), key.0.mtime());
    let resolver = ReloadingCert {
        cert,
        key,
        state: Mutex::new(CertState {
            current: Arc::new(first),
            mtimes,
            checked: Instant::now(),
        }),
    };
    let mut cfg = builder.with_cert_resolver(Arc::new(resolver));
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), sans))
}

/// `RequestClientCert` / `RequireAnyClientCert`: a certificate is asked for (or required)
/// and its handshake signature checked, but it is not verified against a CA — Go's
/// semantics, which exporter-toolkit exposes.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    p: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.p.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.p.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.p.signature_verification_algorithms.supported_schemes()
    }
}

/// `basic_auth_users`: user → bcrypt hash. Successful checks are remembered (keyed by a
/// SHA-256 of user, password and hash, never the password itself) so a scrape every few
/// seconds does not pay bcrypt's cost each time; failures always pay it.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Checked for unknown users, so that they take as long as known ones.
    dummy: String,
    ok_cache: Mutex<HashSet<[u8; 32]>>,
}

const CACHE_MAX: usize = 1024;

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, String> {
        let mut cost = 10;
        for (u, h) in &users {
            cost = bcrypt_cost(h).ok_or_else(|| {
                format!("basic_auth_users.{u}: not a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31, 60 characters)")
            })?;
        }
        let dummy = bcrypt::hash("spanwatch-no-such-user", cost)
            .map_err(|e| format!("basic_auth_users: {e}"))?;
        Ok(BasicAuth {
            users,
            dummy,
            ok_cache: Mutex::new(HashSet::new()),
        })
    }

    fn cache_key(user: &str, pass: &str, hash: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in [user, pass, hash] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// A cached answer, if there is one (cheap; call before [`BasicAuth::verify_slow`]).
    pub fn verify_cached(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let k = Self::cache_key(user, pass, hash);
        self.ok_cache
            .lock()
            .map(|c| c.contains(&k))
            .unwrap_or(false)
    }

    /// The bcrypt check (tens of milliseconds: run it off the async thread).
    pub fn verify_slow(&self, user: &str, pass: &str) -> bool {
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        let ok = bcrypt::verify(pass, hash).unwrap_or(false) && known;
        if ok {
            if let Ok(mut c) = self.ok_cache.lock() {
                if c.len() >= CACHE_MAX {
                    c.clear();
                }
                c.insert(Self::cache_key(user, pass, hash));
            }
        }
        ok
    }
}

/// The cost of a well-formed bcrypt hash (`$2y$10$` + 53 characters of bcrypt's base64).
fn bcrypt_cost(h: &str) -> Option<u32> {
    let b = h.as_bytes();
    if b.len() != 60 || !(h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$")) {
        return None;
    }
    if b[6] != b'$' {
        return None;
    }
    let cost: u32 = h[4..6].parse().ok()?;
    if !(4..=31).contains(&cost) {
        return None;
    }
    h[7..]
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/')
        .then_some(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(text, Path::new("/nonexistent/web.yml"))
    }

    #[test]
    fn empty_file_is_no_tls_no_auth() {
        let w = parse("# nothing\n").unwrap();
        assert!(w.tls.is_none() && w.auth.is_none());
        let w = parse("basic_auth_users: {}\n").unwrap();
        assert!(w.auth.is_none());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("tls_server_config:\n  cert_fil: x\n").unwrap_err().0;
        assert!(
            e.contains("/nonexistent/web.yml") && e.contains("cert_fil"),
            "{e}"
        );
        let e = parse("basic_auth_user:\n  a: b\n").unwrap_err().0;
        assert!(e.contains("basic_auth_user"), "{e}");
        let e = parse("rate_limit:\n  burst: 1\n").unwrap_err().0;
        assert!(e.contains("rate_limit"), "{e}");
    }

    #[test]
    fn bad_hash_and_missing_files_are_named() {
        let e = parse("basic_auth_users:\n  prom: plaintext\n")
            .unwrap_err()
            .0;
        assert!(
            e.contains("basic_auth_users.prom") && e.contains("bcrypt"),
            "{e}"
        );
        let e = parse("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n")
            .unwrap_err()
            .0;
        assert!(
            e.contains("tls_server_config.cert_file") && e.contains("/nonexistent/a.crt"),
            "{e}"
        );
        let e = parse("tls_server_config:\n  cert_file: a.crt\n")
            .unwrap_err()
            .0;
        assert!(e.contains("key_file: missing"), "{e}");
        let e = parse("tls_server_config:\n  min_version: TLS12\n")
            .unwrap_err()
            .0;
        assert!(e.contains("without cert_file"), "{e}");
        let e = parse("http_server_config:\n  headers:\n    Server: x\n")
            .unwrap_err()
            .0;
        assert!(e.contains("\"Server\" cannot be set"), "{e}");
    }

    #[test]
    fn bcrypt_shape() {
        let h = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(bcrypt_cost(&h), Some(4));
        assert_eq!(bcrypt_cost("$2y$10$short"), None);
        assert_eq!(bcrypt_cost(&h.replace("$04$", "$99$")), None);
        let mut u = BTreeMap::new();
        u.insert("prom".to_string(), h);
        let a = BasicAuth::new(u).unwrap();
        assert!(!a.verify_cached("prom", "pw"));
        assert!(a.verify_slow("prom", "pw"));
        assert!(a.verify_cached("prom", "pw"));
        assert!(!a.verify_slow("prom", "wrong"));
        assert!(!a.verify_slow("nobody", "pw"));
        assert!(!a.verify_cached("prom", "wrong"));
    }
}
