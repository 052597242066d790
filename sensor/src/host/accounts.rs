//! The account view: per account name seen in clear-text authentication (the flow record's
//! `account`: Kerberos, NTLM, LDAP, HTTP Basic, FTP/POP3/IMAP/SMTP), the client addresses
//! and networks it authenticated from, first and last seen. One account from at least
//! `min_networks` networks (IPv4 /24, IPv6 /48, or autonomous systems with an ASN
//! database) within `window_s` raises an `account` alert — the FBI's indicator of remote
//! workers sharing one identity: "multiple logins into one account in a short period of
//! time from various IP addresses".
//!
//! Bounded: at most `max_accounts` accounts (the least recently active goes first) and
//! [`MAX_SOURCES`] addresses per account (the oldest goes first). Account names go to EVE
//! and Alertmanager only, never to metric labels.

use super::hosts::Source;
use super::*;
use std::collections::HashMap;

/// Client addresses kept per account.
pub const MAX_SOURCES: usize = 32;

#[derive(Debug, Default)]
pub struct Accounts {
    map: HashMap<String, Account>,
}

#[derive(Debug)]
struct Account {
    first_ns: u64,
    last_ns: u64,
    sources: Vec<Seen>,
    /// When the last alert for this account was raised.
    alerted_ns: Option<u64>,
}

#[derive(Debug)]
struct Seen {
    addr: String,
    network: String,
    last_ns: u64,
}

impl Accounts {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl HostStage {
    /// A flow record that names an account: note where it came from; raise when the
    /// account now spans too many networks.
    pub(super) fn account_seen(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        let Some(name) = rec.meta.account.as_deref() else {
            return;
        };
        if name.is_empty() {
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
        let addr = crate::model::net::to_ip(e.v6, &e.client).to_string();
        let now = rec.end_ns.max(rec.flow_start_ns);
        let window_ns = cfg.window_s.saturating_mul(1_000_000_000);
        let t = &mut self.accounts;
        if !t.map.contains_key(name) && t.map.len() >= cfg.max_accounts {
            if let Some(oldest) = t
                .map
                .iter()
                .min_by(|a, b| a.1.last_ns.cmp(&b.1.last_ns).then(a.0.cmp(b.0)))
                .map(|(k, _)| k.clone())
            {
                t.map.remove(&oldest);
            }
        }
        let a = t.map.entry(name.to_string()).or_insert(Account {
            first_ns: now,
            last_ns: now,
            sources: Vec::new(),
            alerted_ns: None,
        });
        a.first_ns = a.first_ns.min(now);
        a.last_ns = a.last_ns.max(now);
        a.sources
            .retain(|s| now.saturating_sub(s.last_ns) <= window_ns);
        match a.sources.iter_mut().find(|s| s.addr == addr) {
            Some(s) => s.last_ns = s.last_ns.max(now),
            None => {
                if a.sources.len() >= MAX_SOURCES {
                    if let Some((j, _)) =
                        a.sources.iter().enumerate().min_by_key(|(_, s)| s.last_ns)
                    {
                        a.sources.remove(j);
                    }
                }
                a.sources.push(Seen {
                    addr,
                    network,
                    last_ns: now,
                });
            }
        }
        let mut networks: Vec<&str> = a.sources.iter().map(|s| s.network.as_str()).collect();
        networks.sort_unstable();
        networks.dedup();
        let quiet = a
            .alerted_ns
            .is_none_or(|t| now.saturating_sub(t) > window_ns);
        if networks.len() < cfg.min_networks || !quiet {
            return;
        }
        a.alerted_ns = Some(now);
        let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
        md1(&mut md, "account", name);
        md.insert(
            "networks".into(),
            networks.iter().map(|n| n.to_string()).collect(),
        );
        let mut addrs: Vec<String> = a.sources.iter().map(|s| s.addr.clone()).collect();
        addrs.sort();
        md.insert("sources".into(), addrs);
        md1(&mut md, "window_s", cfg.window_s);
        md1(
            &mut md,
            "first_seen",
            crate::model::record::timestamp(a.first_ns),
        );
        let n = networks.len();
        let f = Finding {
            signature_id: sid::ACCOUNT_NETWORKS,
            signature: format!("SPANWATCH account: one account from {n} networks"),
            category: "account",
            severity: 2,
            app: None,
            metadata: md,
        };
        self.stats.account_anomalies[0].inc();
        let dir = self.home.direction(e.v6, &e.client, &e.server);
        let dedup = format!("account|{name}");
        alerts.push(alert_from_tuple(
            rec.tuple.clone(),
            rec.flow_id,
            now,
            rec.app_proto,
            dir,
            dedup,
            f,
        ));
    }
}
