//! Resolver bypass per host: flows the workers marked `resolver_bypass` (DNS over TLS,
//! HTTPS or QUIC to a public resolver, see `detect::resolver`) are counted per client and
//! kind, in `spanwatch_resolver_bypass_flows_total{kind}`, and raise a `resolver-bypass`
//! alert when `[detect.resolver_bypass] alert = true` and the resolver is not allowed.

use super::beacon::Raised;
use crate::model::meta::RESOLVER_KINDS as KINDS;
use crate::model::record::{Finding, FlowRecord};
use crate::model::sid::{self, AnomalyKind};
use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverBypassConfig {
    /// Raise an alert for each host and resolver (flows are recorded and counted always).
    pub alert: bool,
    /// Resolvers the organisation uses on purpose: catalogue ids (`cloudflare-dns`, `quad9`
    /// …, see `spanwatch rules list`) or `unlisted` for port-853 servers not in the catalogue.
    pub allowed_resolvers: Vec<String>,
    /// Hosts whose counts are kept (further hosts are counted in the metric only).
    pub max_hosts: usize,
}

impl Default for ResolverBypassConfig {
    fn default() -> Self {
        ResolverBypassConfig {
            alert: false,
            allowed_resolvers: Vec::new(),
            max_hosts: 65_536,
        }
    }
}

pub struct Resolvers {
    cfg: ResolverBypassConfig,
    /// Flows per client and kind.
    per_host: HashMap<(bool, [u8; 16]), [u64; KINDS.len()]>,
    /// Flows already counted at an active-timeout record (counted once per flow).
    open: HashSet<u64>,
}

impl Resolvers {
    pub fn new(cfg: ResolverBypassConfig) -> Resolvers {
        Resolvers {
            cfg,
            per_host: HashMap::new(),
            open: HashSet::new(),
        }
    }

    /// A flow record; returns the kind index when the flow is counted now.
    pub fn on_flow(&mut self, rec: &FlowRecord, out: &mut Vec<Raised>) -> Option<usize> {
        let rb = rec.meta.resolver_bypass.as_ref()?;
        let kind = rb.kind;
        let k = KINDS.iter().position(|x| *x == kind)?;
        let resolver = rb.resolver.as_str();
        // one count per flow: at its first record
        let first = if rec.flow.reason == "active_timeout" {
            if self.open.len() > 100_000 {
                self.open.clear();
            }
            self.open.insert(rec.flow_id)
        } else {
            !self.open.remove(&rec.flow_id)
        };
        if !first {
            return None;
        }
        let e = &rec.ends;
        let host = (e.v6, e.client);
        let counts =
            if self.per_host.contains_key(&host) || self.per_host.len() < self.cfg.max_hosts {
                let c = self.per_host.entry(host).or_default();
                c[k] += 1;
                *c
            } else {
                let mut c = [0; KINDS.len()];
                c[k] = 1;
                c
            };
        if !self.cfg.alert || self.cfg.allowed_resolvers.iter().any(|r| r == resolver) {
            return Some(k);
        }
        let mut md = BTreeMap::new();
        let mut put = |key: &str, v: String| {
            md.insert(key.to_string(), vec![v]);
        };
        put("kind", kind.to_string());
        put("resolver", resolver.to_string());
        if let Some(sni) = rec.meta.tls.as_ref().and_then(|t| t.sni.as_deref()) {
            put("sni", sni.to_string());
        }
        for (i, name) in KINDS.iter().enumerate() {
            put(&format!("host_{name}_flows"), counts[i].to_string());
        }
        put("host_flows", counts.iter().sum::<u64>().to_string());
        let how = match kind {
            "dot" => "DNS over TLS",
            "doq" => "DNS over QUIC",
            _ => "DNS over HTTPS",
        };
        let client = crate::model::net::to_ip(e.v6, &e.client);
        out.push(Raised {
            kind: AnomalyKind::ResolverBypass,
            ends: *e,
            flow_id: rec.flow_id,
            ts_ns: rec.end_ns,
            app_proto: rec.app_proto,
            dedup: format!("{client}|{resolver}|{kind}"),
            finding: Finding {
                signature_id: sid::RESOLVER_BYPASS,
                signature: format!("SPANWATCH resolver-bypass: {how} to {resolver}"),
                category: "resolver-bypass",
                severity: 3,
                app: rec.app.clone(),
                metadata: md,
            },
        });
        Some(k)
    }
}
