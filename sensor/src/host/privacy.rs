//! `[privacy]`: account names replaced by a keyed hash before anything keeps or writes them.
//!
//! With `pseudonymize_accounts = true` every account name a parser found — the flow
//! record's `account`, Kerberos `krb5.cname`, NTLMSSP `user` (SMB, HTTP, LDAP) and the LDAP
//! bind DN — becomes `anon-` and the first 16 hex digits of HMAC-SHA256(key, name) (RFC
//! 2104), the key read from `key_file`. The same name gives the same pseudonym across
//! restarts and sensors sharing the key, so the account view and its alerts work unchanged;
//! without the key the name cannot be recovered by trying likely names. Realms, domains and
//! workstation names are kept (they name organisations and devices, not people).
//!
//! `hmac` (RustCrypto, beside the `sha2` the crate already uses) rather than a hand-written
//! HMAC: a keyed hash is easy to get subtly wrong.

use crate::model::meta::FlowMeta;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::PathBuf;

/// Shortest key accepted, bytes.
pub const MIN_KEY: usize = 16;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Replace account names by a keyed hash in EVE, Alertmanager and the account view.
    pub pseudonymize_accounts: bool,
    /// File holding the key (at least 16 bytes; a trailing newline is not part of it).
    pub key_file: Option<PathBuf>,
}

/// What the host stage applies to each flow record.
#[derive(Clone, Default)]
pub struct Privacy {
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Privacy")
            .field("pseudonymize", &self.key.is_some())
            .finish()
    }
}

impl Privacy {
    /// The key loaded when pseudonymization is on; errors name the key of the setting.
    pub fn load(c: &PrivacyConfig) -> Result<Privacy, String> {
        if !c.pseudonymize_accounts {
            return Ok(Privacy::default());
        }
        let Some(p) = &c.key_file else {
            return Err(
                "privacy.key_file: required when privacy.pseudonymize_accounts = true".into(),
            );
        };
        let mut key = std::fs::read(p)
            .map_err(|e| format!("privacy.key_file: cannot read {}: {e}", p.display()))?;
        while key.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            key.pop();
        }
        if key.len() < MIN_KEY {
            return Err(format!(
                "privacy.key_file: {} holds {} bytes; at least {MIN_KEY} are needed",
                p.display(),
                key.len()
            ));
        }
        Ok(Privacy::with_key(key))
    }

    pub fn with_key(key: Vec<u8>) -> Privacy {
        Privacy { key: Some(key) }
    }

    /// `anon-` and 16 hex digits of HMAC-SHA256(key, name).
    pub fn pseudonym(&self, name: &str) -> String {
        let Some(key) = &self.key else {
            return name.to_string();
        };
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
            return "anon-".into();
        };
        m.update(name.as_bytes());
        let d = m.finalize().into_bytes();
        let mut s = String::from("anon-");
        for b in &d[..8] {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Every account name in `m` replaced, when on.
    /// An evidence entry `kind=value` that names a user (the RDP cookie): its value.
    fn evidence(&self, e: &mut String) {
        if let Some(v) = e.strip_prefix("rdp.cookie=") {
            *e = format!("rdp.cookie={}", self.pseudonym(v));
        }
    }

    /// The names in an alert raised by a worker (the RDP cookie of a remote-access alert).
    pub fn apply_alert(&self, md: &mut std::collections::BTreeMap<String, Vec<String>>) {
        if self.key.is_none() {
            return;
        }
        if let Some(v) = md.get_mut("rdp_cookie") {
            v.iter_mut().for_each(|c| *c = self.pseudonym(c));
        }
        if let Some(v) = md.get_mut("evidence") {
            v.iter_mut().for_each(|e| self.evidence(e));
        }
    }

    pub fn apply(&self, m: &mut FlowMeta) {
        if self.key.is_none() {
            return;
        }
        let p = |s: &mut String| {
            if !s.is_empty() {
                *s = self.pseudonym(s);
            }
        };
        if let Some(a) = &mut m.account {
            p(a);
        }
        if let Some(c) = m.krb5.as_mut().and_then(|k| k.cname.as_mut()) {
            p(c);
        }
        if let Some(n) = m.smb.as_mut().and_then(|s| s.ntlmssp.as_mut()) {
            p(&mut n.user);
        }
        if let Some(n) = m.dcerpc.as_mut().and_then(|d| d.ntlmssp.as_mut()) {
            p(&mut n.user);
        }
        if let Some(n) = m.http.as_mut().and_then(|h| h.ntlmssp.as_mut()) {
            p(&mut n.user);
        }
        if let Some(c) = m.rdp.as_mut().and_then(|r| r.cookie.as_mut()) {
            p(c);
        }
        if let Some(ev) = &mut m.evidence {
            ev.iter_mut().for_each(|e| self.evidence(e));
        }
        if let Some(b) = m.ldap.as_mut().and_then(|l| l.request.as_mut()) {
            p(&mut b.bind_request.name);
            if let Some(n) = &mut b.bind_request.ntlmssp {
                p(&mut n.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::meta::{Krb5Meta, NtlmsspMeta, SmbMeta};

    #[test]
    fn same_name_same_pseudonym_other_key_other() {
        let a = Privacy::with_key(b"0123456789abcdef".to_vec());
        let b = Privacy::with_key(b"fedcba9876543210".to_vec());
        let x = a.pseudonym("alice@EXAMPLE.TEST");
        assert_eq!(x, a.pseudonym("alice@EXAMPLE.TEST"));
        assert_eq!(x.len(), 5 + 16);
        assert!(x.starts_with("anon-"));
        assert_ne!(x, a.pseudonym("bob@EXAMPLE.TEST"));
        assert_ne!(x, b.pseudonym("alice@EXAMPLE.TEST"));
        assert_eq!(Privacy::default().pseudonym("alice"), "alice");
    }

    #[test]
    fn apply_replaces_names_keeps_realms_and_hosts() {
        let p = Privacy::with_key(b"0123456789abcdef".to_vec());
        let mut m = FlowMeta {
            account: Some("TESTDOM\\erin".into()),
            krb5: Some(Krb5Meta {
                cname: Some("erin".into()),
                realm: Some("EXAMPLE.TEST".into()),
                ..Default::default()
            }),
            smb: Some(SmbMeta {
                ntlmssp: Some(NtlmsspMeta {
                    domain: "TESTDOM".into(),
                    host: "LAPTOP-A".into(),
                    user: "erin".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        p.apply(&mut m);
        assert_eq!(
            m.account.as_deref(),
            Some(p.pseudonym("TESTDOM\\erin").as_str())
        );
        let k = m.krb5.as_ref().unwrap();
        assert_eq!(k.cname.as_deref(), Some(p.pseudonym("erin").as_str()));
        assert_eq!(k.realm.as_deref(), Some("EXAMPLE.TEST"));
        let n = m.smb.as_ref().unwrap().ntlmssp.as_ref().unwrap();
        assert_eq!(
            (n.domain.as_str(), n.host.as_str()),
            ("TESTDOM", "LAPTOP-A")
        );
        assert!(!format!("{m:?}").contains("erin\""));
    }

    #[test]
    fn a_missing_or_short_key_names_the_setting() {
        let on = |f: Option<PathBuf>| PrivacyConfig {
            pseudonymize_accounts: true,
            key_file: f,
        };
        assert!(Privacy::load(&on(None))
            .unwrap_err()
            .starts_with("privacy.key_file"));
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("k");
        std::fs::write(&k, b"short\n").unwrap();
        assert!(Privacy::load(&on(Some(k.clone())))
            .unwrap_err()
            .contains("at least 16"));
        std::fs::write(&k, b"0123456789abcdef\n").unwrap();
        let p = Privacy::load(&on(Some(k))).unwrap();
        assert_eq!(
            p.pseudonym("x"),
            Privacy::with_key(b"0123456789abcdef".to_vec()).pseudonym("x")
        );
        assert!(Privacy::load(&PrivacyConfig::default()).is_ok());
    }

    #[test]
    fn rdp_cookie_in_flows_and_alerts_is_pseudonymized() {
        use crate::model::meta::RdpMeta;
        let a = Privacy::with_key(b"0123456789abcdef".to_vec());
        let mut m = FlowMeta {
            account: Some("alice".into()),
            rdp: Some(RdpMeta {
                cookie: Some("alice".into()),
                ..Default::default()
            }),
            evidence: Some(vec!["rdp.cookie=alice".into(), "tls.sni=x".into()]),
            ..Default::default()
        };
        a.apply(&mut m);
        let p = a.pseudonym("alice");
        assert_eq!(m.account.as_deref(), Some(p.as_str()));
        assert_eq!(m.rdp.unwrap().cookie.as_deref(), Some(p.as_str()));
        let ev = m.evidence.unwrap();
        assert_eq!(ev, vec![format!("rdp.cookie={p}"), "tls.sni=x".to_string()]);
        let mut md = std::collections::BTreeMap::new();
        md.insert("rdp_cookie".to_string(), vec!["alice".to_string()]);
        md.insert("evidence".to_string(), vec!["rdp.cookie=alice".to_string()]);
        a.apply_alert(&mut md);
        assert!(!format!("{md:?}").contains("alice"), "{md:?}");
    }
}
