//! DNS tunnels, per client and registered domain (public-suffix aware): label length and
//! entropy, unique subdomains in a window, the share of TXT/NULL/CNAME/MX/… queries, the
//! query rate and response sizes. Thresholds come from the config, with defaults tuned so
//! ordinary browsing, CDNs and reputation lookups stay quiet.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// One DNS message seen by a worker.
#[derive(Debug, Clone)]
pub struct DnsObs {
    pub ts_ns: u64,
    pub flow_id: u64,
    pub v6: bool,
    pub client: [u8; 16],
    pub client_port: u16,
    pub server: [u8; 16],
    pub server_port: u16,
    pub qname: String,
    pub qtype: u16,
    pub is_response: bool,
    pub size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsTunnelConfig {
    /// Seconds per measuring window.
    pub window_s: u64,
    /// Queries to one domain from one client in a window before anything is judged.
    pub min_queries: u32,
    /// Distinct subdomains in the window.
    pub min_unique_subdomains: u32,
    /// Mean length of the subdomain part (characters).
    pub min_mean_subdomain_len: f32,
    /// Mean Shannon entropy of the subdomain part (bits per character).
    pub min_mean_entropy: f32,
    /// Share of TXT, NULL, CNAME, MX, SRV, PRIVATE queries above which a domain is suspect.
    pub unusual_type_share: f32,
    /// Registered domains never judged (CDNs, anti-spam and reputation lookups …).
    pub allow: Vec<String>,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        DnsTunnelConfig {
            window_s: 300,
            min_queries: 20,
            min_unique_subdomains: 15,
            min_mean_subdomain_len: 24.0,
            min_mean_entropy: 3.3,
            unusual_type_share: 0.5,
            allow: DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Known benign users of long or random-looking names.
pub const DEFAULT_ALLOW: &[&str] = &[
    "in-addr.arpa",
    "ip6.arpa",
    "akamaiedge.net",
    "akamai.net",
    "akadns.net",
    "cloudfront.net",
    "amazonaws.com",
    "azureedge.net",
    "trafficmanager.net",
    "googlevideo.com",
    "gvt1.com",
    "1e100.net",
    "spamhaus.org",
    "spamcop.net",
    "surbl.org",
    "uribl.com",
    "barracudacentral.org",
    "sorbs.net",
    "senderbase.org",
    "mailspike.net",
    "sophosxl.net",
    "mcafee.com",
    "trendmicro.com",
    "webroot.com",
    "e5.sk",
    "kaspersky-labs.com",
    "dnswl.org",
    "apple-dns.net",
    "icloud.com",
    "office.com",
    "microsoft.com",
    "windowsupdate.com",
];

#[derive(Default)]
struct Window {
    start_ns: u64,
    queries: u32,
    unusual: u32,
    sub_len_sum: u64,
    entropy_sum: f64,
    max_label: usize,
    unique: HashSet<u64>,
    resp_bytes: u64,
    alerted: bool,
    last: Option<DnsObs>,
}

const MAX_KEYS: usize = 100_000;

pub struct DnsTunnel {
    cfg: DnsTunnelConfig,
    allow: HashSet<String>,
    win: HashMap<(IpAddr, String), Window>,
}

/// A tunnel verdict: the domain, the client, and the figures that crossed thresholds.
pub struct Verdict {
    pub domain: String,
    pub obs: DnsObs,
    pub figures: Vec<(String, String)>,
}

fn is_unusual(t: u16) -> bool {
    // CNAME, NULL, MX, TXT, SRV, SPF, ANY, and the private-use range
    matches!(t, 5 | 10 | 15 | 16 | 33 | 99 | 255) || t >= 65280
}

impl DnsTunnel {
    pub fn new(cfg: DnsTunnelConfig) -> DnsTunnel {
        let allow = cfg.allow.iter().map(|s| s.to_ascii_lowercase()).collect();
        DnsTunnel {
            cfg,
            allow,
            win: HashMap::new(),
        }
    }

    pub fn tracked(&self) -> usize {
        self.win.len()
    }

    pub fn observe(&mut self, o: &DnsObs) -> Option<Verdict> {
        let name = o.qname.trim_end_matches('.');
        if name.is_empty() {
            return None;
        }
        let domain = psl::domain_str(name).unwrap_or(name).to_string();
        if self.allow.contains(&domain) {
            return None;
        }
        let sub = name
            .strip_suffix(domain.as_str())
            .unwrap_or("")
            .trim_end_matches('.');
        let client = crate::flow::key::to_ip(o.v6, &o.client);
        if self.win.len() >= MAX_KEYS && !self.win.contains_key(&(client, domain.clone())) {
            let horizon = o.ts_ns.saturating_sub(self.cfg.window_s * 1_000_000_000);
            self.win.retain(|_, w| w.start_ns >= horizon);
            if self.win.len() >= MAX_KEYS {
                return None;
            }
        }
        let w = self.win.entry((client, domain.clone())).or_default();
        if o.ts_ns.saturating_sub(w.start_ns) > self.cfg.window_s * 1_000_000_000 {
            *w = Window {
                start_ns: o.ts_ns,
                ..Default::default()
            };
        }
        if o.is_response {
            w.resp_bytes += o.size as u64;
            return None;
        }
        w.queries += 1;
        if is_unusual(o.qtype) {
            w.unusual += 1;
        }
        w.sub_len_sum += sub.len() as u64;
        let labels: String = sub.chars().filter(|c| *c != '.').collect();
        w.entropy_sum += crate::detect::icmp::entropy(labels.as_bytes()) as f64;
        w.max_label = w
            .max_label
            .max(sub.split('.').map(|l| l.len()).max().unwrap_or(0));
        if w.unique.len() < 4096 && !sub.is_empty() {
            let h = sub.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            w.unique.insert(h);
        }
        w.last = Some(o.clone());
        if w.alerted
            || w.queries < self.cfg.min_queries
            || (w.unique.len() as u32) < self.cfg.min_unique_subdomains
        {
            return None;
        }
        let n = w.queries as f64;
        let mean_len = w.sub_len_sum as f64 / n;
        let mean_ent = w.entropy_sum / n;
        let share = w.unusual as f64 / n;
        let long = mean_len >= self.cfg.min_mean_subdomain_len as f64
            && mean_ent >= self.cfg.min_mean_entropy as f64;
        let types = share >= self.cfg.unusual_type_share as f64
            && mean_ent >= self.cfg.min_mean_entropy as f64 * 0.8;
        if !(long || types) {
            return None;
        }
        w.alerted = true;
        let figures = vec![
            ("queries".into(), w.queries.to_string()),
            ("unique_subdomains".into(), w.unique.len().to_string()),
            ("mean_subdomain_len".into(), format!("{mean_len:.1}")),
            ("max_label_len".into(), w.max_label.to_string()),
            ("mean_entropy_bits".into(), format!("{mean_ent:.2}")),
            ("unusual_qtype_share".into(), format!("{share:.2}")),
            ("response_bytes".into(), w.resp_bytes.to_string()),
            ("window_s".into(), self.cfg.window_s.to_string()),
        ];
        Some(Verdict {
            domain,
            obs: o.clone(),
            figures,
        })
    }
}
