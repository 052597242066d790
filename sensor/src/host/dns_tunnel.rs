//! DNS tunnels, per client and registered domain (public-suffix aware): label length and
//! entropy, unique subdomains in a window, the share of TXT/NULL/CNAME/MX/… queries, the
//! query rate and response sizes. Thresholds come from the config, with defaults tuned so
//! ordinary browsing, CDNs and reputation lookups stay quiet.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub use crate::model::record::DnsObs;

#[derive(Debug, Clone, Deserialize, Serialize)]
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

impl DnsTunnelConfig {
    pub fn validate(&self) -> Result<(), String> {
        use crate::model::ranges::check;
        check("detect.dns_tunnel.window_s", self.window_s)?;
        check("detect.dns_tunnel.min_queries", self.min_queries)?;
        check(
            "detect.dns_tunnel.min_unique_subdomains",
            self.min_unique_subdomains,
        )?;
        check(
            "detect.dns_tunnel.min_mean_subdomain_len",
            self.min_mean_subdomain_len,
        )?;
        check("detect.dns_tunnel.min_mean_entropy", self.min_mean_entropy)?;
        check(
            "detect.dns_tunnel.unusual_type_share",
            self.unusual_type_share,
        )?;
        Ok(())
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
        let client = crate::model::net::to_ip(o.v6, &o.client);
        if !o.is_response {
            if let Some(figures) = encoded_name(sub) {
                let w = self.window(client, &domain, o.ts_ns)?;
                if !w.alerted {
                    w.alerted = true;
                    return Some(Verdict {
                        domain,
                        obs: o.clone(),
                        figures,
                    });
                }
            }
        }
        // A name outside the public DNS (its top label is no public suffix) can be answered
        // only by the server it is sent to: a tunnel server queried directly. dnscat2
        // without a domain, for one, sends `dnscat.<hex>.<hex>…` straight to its server, so
        // the "registered domain" changes with every query. Such names are also counted per
        // (client, server), the whole name being the variable part.
        let outside = o.server_port == 53
            && !psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known())
            && !SPECIAL_USE.iter().any(|t| {
                name.rsplit('.')
                    .next()
                    .is_some_and(|l| l.eq_ignore_ascii_case(t))
            });
        let by_server = outside.then(|| {
            format!(
                "{} (names outside the public DNS)",
                crate::model::net::to_ip(o.v6, &o.server)
            )
        });
        if let Some(v) = self.feed(client, &domain, sub, o) {
            if let Some(k) = &by_server {
                if let Some(w) = self.window(client, k, o.ts_ns) {
                    w.alerted = true;
                }
            }
            return Some(v);
        }
        // Only while the registered-domain guess does not repeat: a tunnel under a made-up
        // but fixed domain (iodine's `pirate.sea`) is judged under that domain alone.
        let k = by_server?;
        if self
            .win
            .get(&(client, domain.clone()))
            .is_some_and(|w| w.queries > 2)
        {
            return None;
        }
        let v = self.feed(client, &k, name, o)?;
        if let Some(w) = self.window(client, &domain, o.ts_ns) {
            w.alerted = true;
        }
        Some(v)
    }

    /// The window of (client, domain), started afresh when the old one is over; None when
    /// the table is full.
    fn window(&mut self, client: IpAddr, domain: &str, ts_ns: u64) -> Option<&mut Window> {
        let key = (client, domain.to_string());
        if self.win.len() >= MAX_KEYS && !self.win.contains_key(&key) {
            let horizon = ts_ns.saturating_sub(self.cfg.window_s * 1_000_000_000);
            self.win.retain(|_, w| w.start_ns >= horizon);
            if self.win.len() >= MAX_KEYS {
                return None;
            }
        }
        let window_ns = self.cfg.window_s * 1_000_000_000;
        let w = self.win.entry(key).or_default();
        if ts_ns.saturating_sub(w.start_ns) > window_ns {
            *w = Window {
                start_ns: ts_ns,
                ..Default::default()
            };
        }
        Some(w)
    }

    /// Count one message for (client, domain) whose variable part is `sub`; a verdict when
    /// the window crosses the thresholds.
    fn feed(&mut self, client: IpAddr, domain: &str, sub: &str, o: &DnsObs) -> Option<Verdict> {
        let cfg = self.cfg.clone_thresholds();
        let w = self.window(client, domain, o.ts_ns)?;
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
        if w.alerted || w.queries < cfg.min_queries || (w.unique.len() as u32) < cfg.min_unique {
            return None;
        }
        let n = w.queries as f64;
        let mean_len = w.sub_len_sum as f64 / n;
        let mean_ent = w.entropy_sum / n;
        let share = w.unusual as f64 / n;
        let long = mean_len >= cfg.mean_len as f64 && mean_ent >= cfg.mean_entropy as f64;
        let types = share >= cfg.type_share as f64 && mean_ent >= cfg.mean_entropy as f64 * 0.8;
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
            ("window_s".into(), cfg.window_s.to_string()),
        ];
        Some(Verdict {
            domain: domain.to_string(),
            obs: o.clone(),
            figures,
        })
    }
}

/// The thresholds of [`DnsTunnelConfig`], copied out so a window can be borrowed mutably.
struct Thresholds {
    window_s: u64,
    min_queries: u32,
    min_unique: u32,
    mean_len: f32,
    mean_entropy: f32,
    type_share: f32,
}

impl DnsTunnelConfig {
    fn clone_thresholds(&self) -> Thresholds {
        Thresholds {
            window_s: self.window_s,
            min_queries: self.min_queries,
            min_unique: self.min_unique_subdomains,
            mean_len: self.min_mean_subdomain_len,
            mean_entropy: self.min_mean_entropy,
            type_share: self.unusual_type_share,
        }
    }
}

/// Top labels reserved for private use or special purposes (RFC 6761, RFC 6762 `.local`,
/// RFC 8375 `home.arpa`, RFC 9476 `.alt`, ICANN's `.internal`) and the ones home and office
/// routers hand out: names under them are ordinary local names, not tunnel traffic.
const SPECIAL_USE: &[&str] = &[
    "local",
    "localhost",
    "localdomain",
    "lan",
    "home",
    "internal",
    "intranet",
    "corp",
    "private",
    "arpa",
    "test",
    "invalid",
    "example",
    "onion",
    "alt",
    "domain",
    "router",
];

/// Shortest subdomain judged on its own, and its least entropy (bits per character).
const ENCODED_MIN_LEN: usize = 40;
const ENCODED_MIN_ENTROPY: f32 = 4.0;

/// One query whose subdomain is data rather than a host name: long, high in entropy, and
/// holding characters no host name has (base64's `=`, `+`, `/`, or other bytes outside
/// letters, digits, `-` and `_`). Exfiltration tools that paste encoded file contents into
/// a single name leave no query count to measure; this catches them. Ordinary names stay
/// within letters, digits and hyphens (RFC 1123 §2.1); `_` is allowed for service labels.
fn encoded_name(sub: &str) -> Option<Vec<(String, String)>> {
    if sub.len() < ENCODED_MIN_LEN {
        return None;
    }
    let odd = sub
        .bytes()
        .filter(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
        .count();
    if odd == 0 {
        return None;
    }
    let labels: String = sub.chars().filter(|c| *c != '.').collect();
    let ent = crate::detect::icmp::entropy(labels.as_bytes());
    if ent < ENCODED_MIN_ENTROPY {
        return None;
    }
    Some(vec![
        ("queries".into(), "1".into()),
        ("encoded_name_len".into(), sub.len().to_string()),
        ("non_hostname_chars".into(), odd.to_string()),
        ("entropy_bits".into(), format!("{ent:.2}")),
    ])
}
