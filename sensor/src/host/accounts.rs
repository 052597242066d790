//! The account view: per account name seen in clear-text authentication (the flow record's
//! `account`: Kerberos, NTLM, LDAP, HTTP Basic, FTP/POP3/IMAP/SMTP), the client addresses
//! and networks it authenticated from, the countries they are placed in (with a MaxMind
//! database), the device fingerprints it was seen with, first and last seen. Four kinds of
//! `account` alert (the `kind` label of `spanwatch_account_anomalies_total`):
//!
//! - `networks`: one account from at least `min_networks` networks (IPv4 /24, IPv6 /48, or
//!   autonomous systems with an ASN database) or `min_countries` countries (with a MaxMind
//!   database) within `window_s` — the FBI's indicator of remote workers sharing one
//!   identity: "multiple logins into one account in a short period of time from various IP
//!   addresses, often associated with different countries";
//! - `travel`: two authentications placed in different countries closer in time than travel
//!   allows (`account_signals.rs`);
//! - `new-device`: after warm-up, a device fingerprint of a kind the account is known by that
//!   it never used (`account_signals.rs`);
//! - `failed-logins`: many failed logins for one account from several sources.
//!
//! Bounded: at most `max_accounts` accounts (the least recently active goes first) and
//! [`MAX_SOURCES`] addresses, [`MAX_COUNTRIES`] countries, [`MAX_DEVICES`] devices per
//! account (the oldest goes first). Kept in the state file (`account_state.rs`). Account
//! names go to EVE and Alertmanager only, never to metric labels.

use super::account_signals::{device_of, failed_login, Check, Ctx};
use super::hosts::Source;
use super::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

/// Client addresses kept per account.
pub const MAX_SOURCES: usize = 32;
/// Countries kept per account.
pub const MAX_COUNTRIES: usize = 16;
/// Device fingerprints kept per account.
pub const MAX_DEVICES: usize = 16;
/// Failed logins kept per account (within `failed_window_s`).
pub const MAX_FAILURES: usize = 256;
/// Addresses whose DHCP fingerprint is remembered.
pub const MAX_DHCP: usize = 65_536;

/// Index of each kind in `model::sid::ACCOUNT_ANOMALY_KINDS`.
pub const K_NETWORKS: usize = 0;
pub const K_TRAVEL: usize = 1;
pub const K_DEVICE: usize = 2;
pub const K_FAILED: usize = 3;

#[derive(Debug, Default)]
pub struct Accounts {
    pub(super) map: HashMap<String, Account>,
    /// The DHCP fingerprint last seen for an address (the device behind it).
    pub(super) dhcp: HashMap<IpAddr, (String, u64)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Account {
    pub first_ns: u64,
    pub last_ns: u64,
    pub sources: Vec<Seen>,
    /// Country code, last seen.
    pub countries: Vec<(String, u64)>,
    pub devices: Vec<Device>,
    /// Where the account last authenticated from, when placed.
    pub place: Option<Place>,
    /// Failed logins: client address, time (not saved: short-lived).
    #[serde(skip)]
    pub failures: Vec<(String, u64)>,
    /// When the last `networks` alert for this account was raised.
    pub alerted_ns: Option<u64>,
    #[serde(skip)]
    pub failed_alerted_ns: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Seen {
    pub addr: String,
    pub network: String,
    pub last_ns: u64,
}

/// A device fingerprint: `kind:value` (`ja4:`, `hassh:`, `ua:`, `dhcp:`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Device {
    pub fp: String,
    pub first_ns: u64,
    pub last_ns: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Place {
    pub country: String,
    pub loc: Option<(f64, f64)>,
    pub addr: String,
    pub ts: u64,
}

impl Accounts {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Make room for one more account: drop the least recently active.
    pub(super) fn make_room(&mut self, cap: usize) {
        while self.map.len() >= cap.max(1) {
            let Some(oldest) = self
                .map
                .iter()
                .min_by(|a, b| a.1.last_ns.cmp(&b.1.last_ns).then(a.0.cmp(b.0)))
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            self.map.remove(&oldest);
        }
    }

    /// A DHCP message: remember the device fingerprint of the address it names.
    fn note_dhcp(&mut self, rec: &FlowRecord) {
        let Some(d) = &rec.meta.dhcp else { return };
        let Some(params) = &d.params else { return };
        let fp = match &d.vendor_class_identifier {
            Some(v) => format!("dhcp:{params};{v}"),
            None => format!("dhcp:{params}"),
        };
        let ip = [&d.requested_ip, &d.assigned_ip]
            .into_iter()
            .flatten()
            .find_map(|s| s.parse::<IpAddr>().ok())
            .or_else(|| Some(crate::model::net::to_ip(rec.ends.v6, &rec.ends.client)))
            .filter(|ip| !ip.is_unspecified());
        let Some(ip) = ip else { return };
        let now = rec.end_ns.max(rec.flow_start_ns);
        if !self.dhcp.contains_key(&ip) && self.dhcp.len() >= MAX_DHCP {
            if let Some(old) = self
                .dhcp
                .iter()
                .min_by_key(|(k, v)| (v.1, **k))
                .map(|x| *x.0)
            {
                self.dhcp.remove(&old);
            }
        }
        self.dhcp.insert(ip, (fp, now));
    }
}

/// Keep at most `cap` entries, dropping the one with the oldest time.
pub(super) fn cap_oldest<T>(v: &mut Vec<T>, cap: usize, t: impl Fn(&T) -> u64) {
    while v.len() > cap {
        if let Some((j, _)) = v.iter().enumerate().min_by_key(|(_, x)| t(x)) {
            v.remove(j);
        }
    }
}

impl HostStage {
    /// A flow record that names an account: note where it came from and with what device;
    /// raise when the account spans too many networks, travels too fast, shows a new device
    /// or fails to log in too often.
    pub(super) fn account_seen(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        self.accounts.note_dhcp(rec);
        let Some(name) = rec.meta.account.as_deref() else {
            return;
        };
        // The RDP cookie is a hint the client chooses, unauthenticated and cut to 9
        // characters; scanners send the same one from everywhere. It names the flow's
        // account in EVE but feeds no account alert.
        if name.is_empty() || rec.app_proto == "rdp" {
            return;
        }
        let cfg = self.cfg.accounts.clone();
        let e = &rec.ends;
        let network = self.network(&Source {
            v6: e.v6,
            addr: e.client,
            port: 0,
            tool: None,
            last_ns: 0,
        });
        let ip = crate::model::net::to_ip(e.v6, &e.client);
        let addr = ip.to_string();
        let country = self.geo.country(ip);
        let loc = country.as_ref().and_then(|_| self.geo.location(ip));
        let device = device_of(rec, self.accounts.dhcp.get(&ip).map(|d| d.0.as_str()));
        let failed = failed_login(&rec.meta);
        let now = rec.end_ns.max(rec.flow_start_ns);
        let window_ns = cfg.window_s.saturating_mul(1_000_000_000);
        let t = &mut self.accounts;
        if !t.map.contains_key(name) {
            t.make_room(cfg.max_accounts);
        }
        let a = t.map.entry(name.to_string()).or_insert(Account {
            first_ns: now,
            last_ns: now,
            ..Default::default()
        });
        a.first_ns = a.first_ns.min(now);
        a.last_ns = a.last_ns.max(now);
        a.sources
            .retain(|s| now.saturating_sub(s.last_ns) <= window_ns);
        match a.sources.iter_mut().find(|s| s.addr == addr) {
            Some(s) => s.last_ns = s.last_ns.max(now),
            None => {
                a.sources.push(Seen {
                    addr: addr.clone(),
                    network,
                    last_ns: now,
                });
                cap_oldest(&mut a.sources, MAX_SOURCES, |s| s.last_ns);
            }
        }
        let mut found: Vec<Check> = Vec::new();
        let ck = Ctx::new(&cfg, name, now, &addr);
        // The place before the networks check, which counts countries too; travel compares
        // with the account's last place (`a.place`), not this list.
        if let Some(c) = &country {
            match a.countries.iter_mut().find(|(k, _)| k == c) {
                Some(x) => x.1 = x.1.max(now),
                None => {
                    a.countries.push((c.clone(), now));
                    cap_oldest(&mut a.countries, MAX_COUNTRIES, |x| x.1);
                }
            }
        }
        found.extend(ck.networks(a));
        if let Some(c) = &country {
            found.extend(ck.travel(a, c, loc));
        }
        if let Some(fp) = device {
            found.extend(ck.device(a, fp));
        }
        if failed {
            found.extend(ck.failed(a));
        }
        let dir = self.home.direction(e.v6, &e.client, &e.server);
        for c in found {
            self.stats.account_anomalies[c.kind].inc();
            alerts.push(alert_from_tuple(
                rec.tuple.clone(),
                rec.flow_id,
                now,
                rec.app_proto,
                dir,
                c.dedup,
                c.finding,
            ));
        }
    }
}
