//! Remote access from many places: the distinct external addresses that open remote-access
//! sessions to one internal endpoint (address and port), and the distinct networks one
//! host's sessions come from, within a window. Fed by the remote-access alerts of the
//! workers before deduplication, so every session counts. With MaxMind-format databases
//! the alert names countries and autonomous systems, and networks are counted as ASNs.

use super::hosts::{raw_of as raw, Source};
use super::*;
use crate::model::net::to_ip;
use crate::model::sid::{self, AnomalyKind};

/// Sources kept per host (the oldest goes first).
const MAX_SOURCES: usize = 64;

impl HostStage {
    /// The network a source counts as: its autonomous system when known, else its IPv4 /24
    /// or IPv6 /48.
    pub(super) fn network(&self, s: &Source) -> String {
        let ip = to_ip(s.v6, &s.addr);
        if let Some((n, _)) = self.geo.asn(ip) {
            return format!("AS{n}");
        }
        let a = &s.addr;
        if s.v6 {
            format!(
                "{:x}:{:x}:{:x}::/48",
                u16::from_be_bytes([a[0], a[1]]),
                u16::from_be_bytes([a[2], a[3]]),
                u16::from_be_bytes([a[4], a[5]])
            )
        } else {
            format!("{}.{}.{}.0/24", a[0], a[1], a[2])
        }
    }

    pub(super) fn remote_access(&mut self, a: &AlertRecord, alerts: &mut Vec<AlertRecord>) {
        let (v6, client) = raw(a.tuple.src_ip);
        let (_, server) = raw(a.tuple.dest_ip);
        if self.internal(v6, &client) || !self.internal(v6, &server) {
            return;
        }
        let port = a.tuple.dest_port;
        let k = key(v6, &server);
        let window_ns = self.cfg.fan_in.window_s * 1_000_000_000;
        let now = a.ts_ns;
        let h = self.hosts.entry(k, now);
        let x = h.extra();
        x.sources
            .retain(|s| now.saturating_sub(s.last_ns) <= window_ns);
        match x
            .sources
            .iter_mut()
            .find(|s| s.addr == client && s.port == port)
        {
            Some(s) => s.last_ns = s.last_ns.max(now),
            None => {
                if x.sources.len() >= MAX_SOURCES {
                    if let Some((j, _)) =
                        x.sources.iter().enumerate().min_by_key(|(_, s)| s.last_ns)
                    {
                        x.sources.swap_remove(j);
                    }
                }
                x.sources.push(Source {
                    v6,
                    addr: client,
                    port,
                    tool: a.app.clone(),
                    last_ns: now,
                });
            }
        }
        let sources: Vec<Source> = x.sources.clone();
        let on_port: Vec<&Source> = sources.iter().filter(|s| s.port == port).collect();
        let ends = Ends {
            v6,
            client,
            server,
            cport: a.tuple.src_port,
            sport: port,
            proto: if a.tuple.proto == "UDP" { 17 } else { 6 },
        };
        let tool = a.app.clone().unwrap_or_else(|| a.app_proto.to_string());
        if on_port.len() > self.cfg.fan_in.max_sources {
            let mut md = self.sources_md(&on_port);
            md1(&mut md, "distinct_sources", on_port.len());
            md1(&mut md, "max_sources", self.cfg.fan_in.max_sources);
            md1(&mut md, "window_s", self.cfg.fan_in.window_s);
            let f = Finding {
                signature_id: sid::FANIN_SOURCES,
                signature: format!(
                    "SPANWATCH fan-in: {tool} on {}:{port} reached from {} external addresses",
                    k.ip(),
                    on_port.len()
                ),
                category: "fan-in",
                severity: 2,
                app: a.app.clone(),
                metadata: md,
            };
            self.raise(
                AnomalyKind::FanIn,
                &ends,
                a.flow_id,
                now,
                a.app_proto,
                format!("{}|{port}", k.ip()),
                f,
                alerts,
            );
        }
        let all: Vec<&Source> = sources.iter().collect();
        let mut nets: Vec<String> = all.iter().map(|s| self.network(s)).collect();
        nets.sort();
        nets.dedup();
        if nets.len() > self.cfg.fan_in.max_networks {
            let mut md = self.sources_md(&all);
            md1(&mut md, "distinct_networks", nets.len());
            md1(&mut md, "max_networks", self.cfg.fan_in.max_networks);
            md1(&mut md, "window_s", self.cfg.fan_in.window_s);
            md.insert("networks".into(), nets.clone());
            let f = Finding {
                signature_id: sid::FANIN_NETWORKS,
                signature: format!(
                    "SPANWATCH fan-in: remote-access sessions to {} from {} networks",
                    k.ip(),
                    nets.len()
                ),
                category: "fan-in",
                severity: 2,
                app: a.app.clone(),
                metadata: md,
            };
            self.raise(
                AnomalyKind::FanIn,
                &ends,
                a.flow_id,
                now,
                a.app_proto,
                k.ip().to_string(),
                f,
                alerts,
            );
        }
    }

    fn sources_md(&self, s: &[&Source]) -> BTreeMap<String, Vec<String>> {
        let mut md = BTreeMap::new();
        md.insert(
            "sources".into(),
            s.iter()
                .take(16)
                .map(|s| {
                    let ip = to_ip(s.v6, &s.addr);
                    format!("{ip} port={} {}", s.port, s.tool.as_deref().unwrap_or(""))
                        .trim_end()
                        .to_string()
                })
                .collect(),
        );
        if !self.geo.is_empty() {
            let mut countries: Vec<String> = s
                .iter()
                .filter_map(|s| self.geo.country(to_ip(s.v6, &s.addr)))
                .collect();
            countries.sort();
            countries.dedup();
            md.insert("countries".into(), countries);
            let mut asns: Vec<String> = s
                .iter()
                .filter_map(|s| self.geo.asn(to_ip(s.v6, &s.addr)))
                .map(|(n, o)| format!("AS{n} {o}").trim_end().to_string())
                .collect();
            asns.sort();
            asns.dedup();
            md.insert("asns".into(), asns);
        }
        md
    }
}
