//! TLS for the web config: the rustls server configuration built from
//! `tls_server_config` (versions, cipher suites, curves, client certificates), the server
//! certificate re-read when its files change, and the `client_allowed_sans` check.

use super::LOG_TARGET;
use super::{RawTls, WebConfig};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

impl WebConfig {
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

pub(super) fn tls_enabled(t: &RawTls) -> bool {
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
                        tracing::info!(target: LOG_TARGET, "web config: TLS certificate reloaded");
                        st.current = Arc::new(k);
                        st.mtimes = m;
                    }
                    Err(e) => {
                        // Retried at the next check: a certificate and key written one after
                        // the other are a mismatched pair for a moment.
                        tracing::warn!(
                            target: LOG_TARGET,
                            "web config: keeping the old TLS certificate: {e}",
                        );
                    }
                }
            }
        }
        Some(st.current.clone())
    }
}

pub(super) fn build_tls(
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
