//! The account view's signals: what an authentication says about its device and whether it
//! failed, and the four checks that raise `account` alerts.
//!
//! - **Impossible travel** (`travel`, 9300081): with a MaxMind City database, two
//!   authentications of one account whose places are at least `travel_min_km` apart
//!   (great-circle distance between the database's coordinates) at a speed above
//!   `travel_speed_kmh`; with a Country database only (no coordinates), two countries less
//!   than `travel_window_s` apart. Without a database nothing is placed and nothing raised.
//! - **New device** (`new-device`, 9300082): an account known for at least
//!   `device_warmup_s` (packet time since first seen, kept across restarts) that shows a
//!   fingerprint of a kind it already has (`ja4:`, `hassh:`, `ua:`, `dhcp:`) but never used.
//!   The fingerprint of an authentication is the flow's own (HTTP User-Agent, SSH client
//!   HASSH, TLS JA4), else the DHCP fingerprint (parameter request list and vendor class)
//!   last seen for the client address.
//! - **Failed logins** (`failed-logins`, 9300083): at least `failed_logins` failures for
//!   one account from at least `failed_sources` client addresses within `failed_window_s`.
//!   A failure is a Kerberos KRB-ERROR that fails the request (`failed_request`: pre-auth
//!   failed, unknown client, bad integrity), an LDAP bind answered `invalid_credentials` (49),
//!   an SMB session setup answered `STATUS_LOGON_FAILURE`, an HTTP 401 to a request that
//!   carried Basic credentials (NTLM's first 401 is its challenge), an FTP `530` to `USER`/`PASS`, a POP3 `-ERR` to `PASS`/`APOP`/
//!   `AUTH`, an IMAP `NO`/`BAD` to `LOGIN`/`AUTHENTICATE`, an SMTP `535` to `AUTH`
//!   (`login.failed`, `proto/cleartext/reply.rs`).

use super::accounts::{
    cap_oldest, Account, Device, Place, K_DEVICE, K_FAILED, K_NETWORKS, K_TRAVEL, MAX_DEVICES,
    MAX_FAILURES,
};
use super::config::AccountsConfig;
use super::*;
use crate::model::meta::FlowMeta;

/// The longest fingerprint kept (User-Agents can be long).
const MAX_FP: usize = 160;

/// The device fingerprint of one authentication, `kind:value`.
pub(super) fn device_of(rec: &FlowRecord, dhcp: Option<&str>) -> Option<String> {
    let m = &rec.meta;
    let fp = if let Some(ua) = m.http.as_ref().and_then(|h| h.http_user_agent.as_ref()) {
        format!("ua:{ua}")
    } else if let Some(h) = m
        .ssh
        .as_ref()
        .and_then(|s| s.client.as_ref())
        .and_then(|c| c.hassh.as_ref())
    {
        format!("hassh:{}", h.hash)
    } else if let Some(j) = m.tls.as_ref().and_then(|t| t.ja4.as_ref()) {
        format!("ja4:{j}")
    } else {
        dhcp?.to_string()
    };
    let mut fp = fp;
    if fp.len() > MAX_FP {
        let mut cut = MAX_FP;
        while !fp.is_char_boundary(cut) {
            cut -= 1;
        }
        fp.truncate(cut);
    }
    Some(fp)
}

/// Whether the flow's authentication failed.
pub(super) fn failed_login(m: &FlowMeta) -> bool {
    m.krb5.as_ref().is_some_and(|k| k.failed_request)
        || m.ldap.as_ref().is_some_and(|l| {
            l.responses
                .iter()
                .any(|r| r.bind_response.result_code == "invalid_credentials")
        })
        || m.smb
            .as_ref()
            .is_some_and(|s| s.status == Some("STATUS_LOGON_FAILURE"))
        // The first response is the one read: for HTTP Basic the answer to the credentials;
        // for NTLM over HTTP the 401 that carries the challenge, not a failure.
        || m.http
            .as_ref()
            .is_some_and(|h| h.status == Some(401) && h.ntlmssp.is_none())
        || m.login.as_ref().is_some_and(|l| l.failed)
}

/// Great-circle distance in km (haversine, mean Earth radius 6371 km).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// One alert to raise: its kind (index in `ACCOUNT_ANOMALY_KINDS`), finding, dedup key.
pub(super) struct Check {
    pub kind: usize,
    pub finding: Finding,
    pub dedup: String,
}

/// What every check needs of the authentication at hand.
pub(super) struct Ctx<'a> {
    cfg: &'a AccountsConfig,
    name: &'a str,
    now: u64,
    addr: &'a str,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(cfg: &'a AccountsConfig, name: &'a str, now: u64, addr: &'a str) -> Self {
        Ctx {
            cfg,
            name,
            now,
            addr,
        }
    }
}

fn secs(ns: u64) -> u64 {
    ns / 1_000_000_000
}

impl Ctx<'_> {
    fn make(&self, kind: usize, sid: u32, what: String, sev: u8, md: Md) -> Check {
        let mut md = md;
        md1(&mut md, "account", self.name);
        Check {
            kind,
            dedup: format!(
                "account{}|{}",
                if kind == K_NETWORKS {
                    String::new()
                } else {
                    format!("-{}", crate::model::sid::ACCOUNT_ANOMALY_KINDS[kind])
                },
                self.name
            ),
            finding: Finding {
                signature_id: sid,
                signature: format!("SPANWATCH account: {what}"),
                category: "account",
                severity: sev,
                app: None,
                metadata: md,
            },
        }
    }

    /// One account from `min_networks` networks or `min_countries` countries within
    /// `window_s`.
    pub fn networks(&self, a: &mut Account) -> Option<Check> {
        let window_ns = self.cfg.window_s.saturating_mul(1_000_000_000);
        let mut networks: Vec<&str> = a.sources.iter().map(|s| s.network.as_str()).collect();
        networks.sort_unstable();
        networks.dedup();
        let mut countries: Vec<String> = a
            .countries
            .iter()
            .filter(|c| self.now.saturating_sub(c.1) <= window_ns)
            .map(|c| c.0.clone())
            .collect();
        countries.sort();
        let quiet = a
            .alerted_ns
            .is_none_or(|t| self.now.saturating_sub(t) > window_ns);
        let many_networks = networks.len() >= self.cfg.min_networks;
        let many_countries = countries.len() >= self.cfg.min_countries;
        if !(many_networks || many_countries) || !quiet {
            return None;
        }
        a.alerted_ns = Some(self.now);
        let mut md = Md::new();
        md.insert(
            "networks".into(),
            networks.iter().map(|n| n.to_string()).collect(),
        );
        let mut addrs: Vec<String> = a.sources.iter().map(|s| s.addr.clone()).collect();
        addrs.sort();
        md.insert("sources".into(), addrs);
        md1(&mut md, "window_s", self.cfg.window_s);
        md1(
            &mut md,
            "first_seen",
            crate::model::record::timestamp(a.first_ns),
        );
        let what = if many_networks {
            format!("one account from {} networks", networks.len())
        } else {
            format!("one account from {} countries", countries.len())
        };
        if !countries.is_empty() {
            md.insert("countries".into(), countries);
        }
        Some(self.make(K_NETWORKS, sid::ACCOUNT_NETWORKS, what, 2, md))
    }

    /// Two places closer in time than travel allows; the place is then the new one.
    pub fn travel(&self, a: &mut Account, country: &str, loc: Option<(f64, f64)>) -> Option<Check> {
        let here = Place {
            country: country.to_string(),
            loc,
            addr: self.addr.to_string(),
            ts: self.now,
        };
        let prev = a.place.replace(here)?;
        if prev.country == country {
            return None;
        }
        let dt_ns = self.now.abs_diff(prev.ts);
        let hours = dt_ns as f64 / 3.6e12;
        let mut md = Md::new();
        let impossible = match (prev.loc, loc) {
            (Some(p), Some(q)) => {
                let d = distance_km(p, q);
                let fast = d >= self.cfg.travel_min_km as f64
                    && d > self.cfg.travel_speed_kmh as f64 * hours;
                md1(&mut md, "distance_km", d.round() as u64);
                md1(&mut md, "max_speed_kmh", self.cfg.travel_speed_kmh);
                fast
            }
            _ => {
                md1(&mut md, "travel_window_s", self.cfg.travel_window_s);
                dt_ns < self.cfg.travel_window_s.saturating_mul(1_000_000_000)
            }
        };
        if !impossible {
            return None;
        }
        md.insert(
            "countries".into(),
            vec![prev.country.clone(), country.to_string()],
        );
        md.insert("sources".into(), vec![prev.addr, self.addr.to_string()]);
        md1(&mut md, "seconds_apart", secs(dt_ns));
        let mut c = self.make(
            K_TRAVEL,
            sid::ACCOUNT_TRAVEL,
            format!("impossible travel {} to {country}", prev.country),
            2,
            md,
        );
        c.dedup = format!("{}|{}|{country}", c.dedup, prev.country);
        Some(c)
    }

    /// A fingerprint of a kind the account already has, never used, after warm-up.
    pub fn device(&self, a: &mut Account, fp: String) -> Option<Check> {
        if let Some(d) = a.devices.iter_mut().find(|d| d.fp == fp) {
            d.last_ns = d.last_ns.max(self.now);
            return None;
        }
        let kind = fp.split(':').next().unwrap_or("");
        let warm = self.cfg.device_warmup_s > 0
            && self.now.saturating_sub(a.first_ns)
                >= self.cfg.device_warmup_s.saturating_mul(1_000_000_000);
        let mut known: Vec<String> = a
            .devices
            .iter()
            .filter(|d| d.fp.split(':').next() == Some(kind))
            .map(|d| d.fp.clone())
            .collect();
        a.devices.push(Device {
            fp: fp.clone(),
            first_ns: self.now,
            last_ns: self.now,
        });
        cap_oldest(&mut a.devices, MAX_DEVICES, |d| d.last_ns);
        if !warm || known.is_empty() {
            return None;
        }
        known.sort();
        let mut md = Md::new();
        md1(&mut md, "device", &fp);
        md.insert("known_devices".into(), known);
        md1(
            &mut md,
            "first_seen",
            crate::model::record::timestamp(a.first_ns),
        );
        let mut c = self.make(
            K_DEVICE,
            sid::ACCOUNT_NEW_DEVICE,
            "account seen from a device it never used".into(),
            3,
            md,
        );
        c.dedup = format!("{}|{fp}", c.dedup);
        Some(c)
    }

    /// Many failed logins from several sources.
    pub fn failed(&self, a: &mut Account) -> Option<Check> {
        let w = self.cfg.failed_window_s.saturating_mul(1_000_000_000);
        a.failures.retain(|(_, t)| self.now.saturating_sub(*t) <= w);
        a.failures.push((self.addr.to_string(), self.now));
        cap_oldest(&mut a.failures, MAX_FAILURES, |f| f.1);
        let mut srcs: Vec<&str> = a.failures.iter().map(|f| f.0.as_str()).collect();
        srcs.sort_unstable();
        srcs.dedup();
        let quiet = a
            .failed_alerted_ns
            .is_none_or(|t| self.now.saturating_sub(t) > w);
        if a.failures.len() < self.cfg.failed_logins
            || srcs.len() < self.cfg.failed_sources
            || !quiet
        {
            return None;
        }
        a.failed_alerted_ns = Some(self.now);
        let n = a.failures.len();
        let mut md = Md::new();
        md1(&mut md, "failures", n);
        md.insert(
            "sources".into(),
            srcs.iter()
                .take(MAX_SOURCES_MD)
                .map(|s| s.to_string())
                .collect(),
        );
        md1(&mut md, "window_s", self.cfg.failed_window_s);
        Some(self.make(
            K_FAILED,
            sid::ACCOUNT_FAILED_LOGINS,
            format!("{n} failed logins from {} sources", srcs.len()),
            2,
            md,
        ))
    }
}

/// Source addresses listed in a failed-logins alert at most.
const MAX_SOURCES_MD: usize = 32;

type Md = BTreeMap<String, Vec<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_great_circle() {
        // Paris to New York is about 5837 km.
        let d = distance_km((48.8566, 2.3522), (40.7128, -74.0060));
        assert!((d - 5837.0).abs() < 20.0, "{d}");
        assert!(distance_km((10.0, 10.0), (10.0, 10.0)) < 1e-9);
    }
}
