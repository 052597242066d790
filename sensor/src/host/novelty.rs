//! Novelty, per host and sensor-wide (RITA's first-seen and prevalence, Elastic's "first
//! time seen RMM tool" and "multiple RMM vendors on one host", here on the wire): which
//! remote-access, RMM, VDI, IP-KVM, VPN and tunnel services (the flow record's `app` with
//! its catalogue category) each internal host has used, and when first.
//!
//! - `first-use` (9300084, severity 4): after the sensor has watched `warmup_s` of packet
//!   time (the time between successive flow records, a gap counted as one hour at most;
//!   kept across restarts in the state file), the first time a host uses a tool; the metadata carry the tool's prevalence
//!   (how many tracked hosts use it) and whether it is new to the whole sensor.
//! - `remote-access-vendors` (9300085, severity 2): two or more different remote-access or
//!   RMM tools (catalogue categories `remote-access`, `rmm`: each entry is one vendor's
//!   product) used by one host within `vendor_window_s`, with each tool's prevalence.
//!
//! The host is the internal end of the flow (the client when inside, else the server).
//! Bounded: at most `max_hosts` hosts (least recently active dropped) and [`MAX_TOOLS`]
//! tools per host (least recently used dropped).

use super::accounts::cap_oldest;
use super::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

/// Tools remembered per host.
pub const MAX_TOOLS: usize = 32;
/// The longest gap between flow records that counts as watched time: one hour.
pub const MAX_GAP_NS: u64 = 3_600_000_000_000;

#[derive(Debug, Default)]
pub struct Novelty {
    /// Packet time the sensor has watched: the time between successive flow records, a gap
    /// counted as at most [`MAX_GAP_NS`] (a stopped sensor or a capture stitched together
    /// from months apart has not watched the hosts in between).
    pub(super) watched_ns: u64,
    /// Packet time of the last flow record.
    pub(super) last_ns: Option<u64>,
    pub(super) hosts: HashMap<IpAddr, NovHost>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct NovHost {
    pub last_ns: u64,
    pub tools: Vec<Used>,
    #[serde(skip)]
    pub vendors_alerted_ns: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Used {
    pub tool: String,
    pub category: String,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// The alert category a catalogue category's first use is raised under; `None`: not watched.
pub fn alert_category(catalogue: &str) -> Option<&'static str> {
    match catalogue {
        "remote-access" | "rmm" | "vdi" | "ikvm" => Some("remote-access"),
        "vpn-service" => Some("vpn"),
        "tunnel-service" => Some("tunnel"),
        _ => None,
    }
}

/// Catalogue categories whose entries count as remote-access vendors.
fn vendor_category(c: &str) -> bool {
    c == "remote-access" || c == "rmm"
}

impl Novelty {
    /// Hosts using `tool` now tracked.
    fn prevalence(&self, tool: &str) -> usize {
        self.hosts
            .values()
            .filter(|h| h.tools.iter().any(|u| u.tool == tool))
            .count()
    }

    fn make_room(&mut self, cap: usize) {
        while self.hosts.len() >= cap.max(1) {
            let Some(old) = self
                .hosts
                .iter()
                .min_by_key(|(k, h)| (h.last_ns, **k))
                .map(|(k, _)| *k)
            else {
                return;
            };
            self.hosts.remove(&old);
        }
    }
}

impl HostStage {
    /// A flow record: note the tool its internal end used; raise on a first use after
    /// warm-up and on several remote-access vendors on one host.
    pub(super) fn novelty_seen(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        let now = rec.end_ns.max(rec.flow_start_ns);
        if let Some(last) = self.novelty.last_ns {
            let gap = now.saturating_sub(last).min(MAX_GAP_NS);
            self.novelty.watched_ns = self.novelty.watched_ns.saturating_add(gap);
        }
        self.novelty.last_ns = Some(self.novelty.last_ns.map_or(now, |l| l.max(now)));
        let (Some(tool), Some(cat)) = (rec.app.as_deref(), rec.app_category) else {
            return;
        };
        let Some(alert_cat) = alert_category(cat) else {
            return;
        };
        let e = &rec.ends;
        let host = if self.internal(e.v6, &e.client) {
            e.client
        } else if self.internal(e.v6, &e.server) {
            e.server
        } else {
            return;
        };
        let ip = crate::model::net::to_ip(e.v6, &host);
        let cfg = self.cfg.novelty.clone();
        let n = &mut self.novelty;
        if !n.hosts.contains_key(&ip) {
            n.make_room(cfg.max_hosts);
        }
        let h = n.hosts.entry(ip).or_default();
        h.last_ns = h.last_ns.max(now);
        let new = match h.tools.iter_mut().find(|u| u.tool == tool) {
            Some(u) => {
                u.last_ns = u.last_ns.max(now);
                false
            }
            None => {
                h.tools.push(Used {
                    tool: tool.to_string(),
                    category: cat.to_string(),
                    first_ns: now,
                    last_ns: now,
                });
                cap_oldest(&mut h.tools, MAX_TOOLS, |u| u.last_ns);
                true
            }
        };
        let window = cfg.vendor_window_s.saturating_mul(1_000_000_000);
        let mut rmm: Vec<String> = h
            .tools
            .iter()
            .filter(|u| vendor_category(&u.category) && now.saturating_sub(u.last_ns) <= window)
            .map(|u| u.tool.clone())
            .collect();
        rmm.sort();
        let vendors = vendor_category(cat)
            && rmm.len() >= 2
            && h.vendors_alerted_ns
                .is_none_or(|t| now.saturating_sub(t) > window);
        if vendors {
            h.vendors_alerted_ns = Some(now);
        }
        let warm = n.watched_ns >= cfg.warmup_s.saturating_mul(1_000_000_000);
        let host_s = ip.to_string();
        if new && warm {
            let mut md = BTreeMap::new();
            md1(&mut md, "tool", tool);
            md1(&mut md, "tool_category", cat);
            md1(&mut md, "host", &host_s);
            // counted only on a first use (a scan of the hosts), this host included
            let prevalence = n.prevalence(tool);
            md1(&mut md, "prevalence", prevalence);
            md1(&mut md, "hosts_tracked", n.hosts.len());
            md1(&mut md, "new_to_sensor", prevalence == 1);
            let f = Finding {
                signature_id: sid::FIRST_USE,
                signature: format!("SPANWATCH novelty: first use of {tool} by this host"),
                category: alert_cat,
                severity: 4,
                app: None,
                metadata: md,
            };
            let dedup = format!("first-use|{host_s}|{tool}");
            let (id, ap) = (rec.flow_id, rec.app_proto);
            self.raise(AnomalyKind::FirstUse, e, id, now, ap, dedup, f, alerts);
        }
        if vendors {
            let mut md = BTreeMap::new();
            md1(&mut md, "host", &host_s);
            let prev = rmm
                .iter()
                .map(|t| format!("{t}={}", self.novelty.prevalence(t)))
                .collect();
            md.insert("tools".into(), rmm.clone());
            md.insert("prevalence".into(), prev);
            md1(&mut md, "window_s", cfg.vendor_window_s);
            let f = Finding {
                signature_id: sid::REMOTE_ACCESS_VENDORS,
                signature: format!(
                    "SPANWATCH novelty: {} remote-access tools on one host",
                    rmm.len()
                ),
                category: "remote-access",
                severity: 2,
                app: None,
                metadata: md,
            };
            let dedup = format!("vendors|{host_s}");
            let (id, ap) = (rec.flow_id, rec.app_proto);
            self.raise(AnomalyKind::Vendors, e, id, now, ap, dedup, f, alerts);
        }
    }
}
