//! The account view, the DHCP devices, the IP-KVMs known and the tools each host used, in the host stage's
//! state file (beside the baselines, same snapshot). Loading takes each entry on its own: a
//! bad entry (wrong shape, times out of order, too many items) is rejected and counted, the
//! rest kept. Files written before these parts existed load with them empty.

use super::accounts::{Account, MAX_COUNTRIES, MAX_DEVICES, MAX_DHCP, MAX_SOURCES};
use super::novelty::{NovHost, MAX_TOOLS};
use super::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Serialize)]
pub(super) struct SavedExtra {
    accounts: Vec<(String, Account)>,
    dhcp_devices: Vec<(IpAddr, String, u64)>,
    /// The IP-KVMs known (`ikvm.rs`), oldest first: a restart does not announce them again.
    ikvm_devices: Vec<(IpAddr, String)>,
    novelty_watched_ns: u64,
    novelty: Vec<(IpAddr, NovHost)>,
}

#[derive(Deserialize, Default)]
pub(super) struct LoadedExtra {
    #[serde(default)]
    accounts: Vec<serde_json::Value>,
    #[serde(default)]
    dhcp_devices: Vec<serde_json::Value>,
    #[serde(default)]
    ikvm_devices: Vec<serde_json::Value>,
    #[serde(default)]
    novelty_watched_ns: u64,
    #[serde(default)]
    novelty: Vec<serde_json::Value>,
}

fn account_ok(a: &Account) -> bool {
    a.first_ns <= a.last_ns
        && a.sources.len() <= MAX_SOURCES
        && a.countries.len() <= MAX_COUNTRIES
        && a.devices.len() <= MAX_DEVICES
        && a.devices.iter().all(|d| d.first_ns <= d.last_ns)
        && a.place.as_ref().is_none_or(|p| {
            p.loc
                .is_none_or(|(la, lo)| la.abs() <= 90.0 && lo.abs() <= 180.0)
        })
}

fn novelty_ok(h: &NovHost) -> bool {
    h.tools.len() <= MAX_TOOLS
        && h.tools
            .iter()
            .all(|u| u.first_ns <= u.last_ns && !u.tool.is_empty())
}

impl HostStage {
    pub(super) fn save_extra(&self) -> SavedExtra {
        let mut accounts: Vec<(String, Account)> = self
            .accounts
            .map
            .iter()
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect();
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dhcp: Vec<(IpAddr, String, u64)> = self
            .accounts
            .dhcp
            .iter()
            .map(|(k, (fp, t))| (*k, fp.clone(), *t))
            .collect();
        dhcp.sort();
        let mut novelty: Vec<(IpAddr, NovHost)> = self
            .novelty
            .hosts
            .iter()
            .map(|(k, h)| (*k, h.clone()))
            .collect();
        novelty.sort_by_key(|x| x.0);
        SavedExtra {
            accounts,
            dhcp_devices: dhcp,
            ikvm_devices: self.ikvms.saved(),
            novelty_watched_ns: self.novelty.watched_ns,
            novelty,
        }
    }

    /// Restore what `save_extra` wrote; returns the number of entries rejected.
    pub(super) fn load_extra(&mut self, x: LoadedExtra) -> usize {
        let mut rejected = 0;
        let cap = self.cfg.accounts.max_accounts;
        for v in x.accounts {
            match serde_json::from_value::<(String, Account)>(v) {
                Ok((name, a)) if !name.is_empty() && account_ok(&a) => {
                    if !self.accounts.map.contains_key(&name) {
                        self.accounts.make_room(cap);
                    }
                    self.accounts.map.insert(name, a);
                }
                _ => rejected += 1,
            }
        }
        for v in x.dhcp_devices {
            match serde_json::from_value::<(IpAddr, String, u64)>(v) {
                Ok((ip, fp, t))
                    if fp.starts_with("dhcp:") && self.accounts.dhcp.len() < MAX_DHCP =>
                {
                    self.accounts.dhcp.insert(ip, (fp, t));
                }
                _ => rejected += 1,
            }
        }
        for v in x.ikvm_devices {
            match serde_json::from_value::<(IpAddr, String)>(v) {
                Ok((ip, tool)) if self.ikvms.restore(ip, &tool) => {}
                _ => rejected += 1,
            }
        }
        self.novelty.watched_ns = x.novelty_watched_ns;
        let cap = self.cfg.novelty.max_hosts;
        for v in x.novelty {
            match serde_json::from_value::<(IpAddr, NovHost)>(v) {
                Ok((ip, h)) if novelty_ok(&h) && self.novelty.hosts.len() < cap => {
                    self.novelty.hosts.insert(ip, h);
                }
                _ => rejected += 1,
            }
        }
        rejected
    }
}
