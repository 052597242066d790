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

mod auth;
mod tls;

/// The target of this module's log lines, the same as before it was split into files (log
/// filters and JSON log consumers select by it).
const LOG_TARGET: &str = "spanwatch::control::web_config";

pub use auth::BasicAuth;
use rustls::pki_types::ServerName;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tls::{build_tls, tls_enabled};

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
}
