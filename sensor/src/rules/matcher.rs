//! Compiled lookup structures, built once per catalogue.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ahash::AHashMap;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::{Dir, Tool, ToolId};

/// Zeroes the bits of `addr` after `prefix`.
pub(super) fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// Case-insensitive substring search; the leftmost-longest hit wins.
pub(super) struct Substrings {
    ac: Option<AhoCorasick>,
    owner: Vec<ToolId>,
}

impl Substrings {
    fn build(pats: Vec<(String, ToolId)>) -> Substrings {
        if pats.is_empty() {
            return Substrings {
                ac: None,
                owner: Vec::new(),
            };
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(pats.iter().map(|(p, _)| p.as_bytes()))
            .expect("validated ASCII patterns build an automaton");
        Substrings {
            ac: Some(ac),
            owner: pats.into_iter().map(|(_, t)| t).collect(),
        }
    }

    pub(super) fn find(&self, haystack: &str) -> Option<ToolId> {
        let m = self.ac.as_ref()?.find(haystack)?;
        Some(self.owner[m.pattern().as_usize()])
    }
}

struct PayloadEntry {
    tool: ToolId,
    dir: Dir,
    bytes: Vec<u8>,
    min_len: usize,
}

/// Patterns at one offset, for every direction: the longest matching pattern wins
/// whatever its direction.
struct PayloadGroup {
    offset: usize,
    /// Patterns by their first byte, longest pattern first.
    by_first: AHashMap<u8, Vec<PayloadEntry>>,
}

pub(super) struct Matchers {
    pub(super) by_id: AHashMap<String, ToolId>,
    exact: AHashMap<String, ToolId>,
    /// `*.x.y` stored as `x.y`.
    suffix: AHashMap<String, ToolId>,
    alpn: AHashMap<Vec<u8>, ToolId>,
    /// Distinct ALPN prefix lengths, longest first.
    alpn_lens: Vec<usize>,
    pub(super) cert: Substrings,
    pub(super) user_agent: Substrings,
    pub(super) http_server: Substrings,
    pub(super) ja3: AHashMap<String, ToolId>,
    pub(super) ja4: AHashMap<String, ToolId>,
    payload: Vec<PayloadGroup>,
    ports: AHashMap<(u8, u16), Vec<ToolId>>,
    /// Keyed by (prefix length, masked address).
    nets: AHashMap<(u8, IpAddr), ToolId>,
    /// Distinct prefix lengths, longest first, for v4 and v6.
    v4_lens: Vec<u8>,
    v6_lens: Vec<u8>,
}

impl Matchers {
    pub(super) fn build(tools: &[Tool]) -> Matchers {
        let mut by_id = AHashMap::new();
        let mut exact = AHashMap::new();
        let mut suffix = AHashMap::new();
        let mut alpn: AHashMap<Vec<u8>, ToolId> = AHashMap::new();
        let mut cert = Vec::new();
        let mut ua = Vec::new();
        let mut server = Vec::new();
        let mut groups: Vec<PayloadGroup> = Vec::new();
        let mut ports: AHashMap<(u8, u16), Vec<ToolId>> = AHashMap::new();
        let mut nets = AHashMap::new();
        let (mut ja3, mut ja4) = (AHashMap::new(), AHashMap::new());
        for (i, t) in tools.iter().enumerate() {
            let id = i as ToolId;
            by_id.insert(t.id.clone(), id);
            for d in &t.domains {
                match d.strip_prefix("*.") {
                    Some(s) => suffix.entry(s.to_string()).or_insert(id),
                    None => exact.entry(d.clone()).or_insert(id),
                };
            }
            for a in &t.alpn {
                alpn.entry(a.as_bytes().to_vec()).or_insert(id);
            }
            cert.extend(t.cert.iter().map(|s| (s.clone(), id)));
            ua.extend(t.user_agent.iter().map(|s| (s.clone(), id)));
            server.extend(t.http_server.iter().map(|s| (s.clone(), id)));
            for f in &t.ja3 {
                ja3.entry(f.clone()).or_insert(id);
            }
            for f in &t.ja4 {
                ja4.entry(f.clone()).or_insert(id);
            }
            for p in &t.payload {
                let offset = usize::from(p.offset);
                let g = match groups.iter_mut().position(|g| g.offset == offset) {
                    Some(i) => &mut groups[i],
                    None => {
                        groups.push(PayloadGroup {
                            offset,
                            by_first: AHashMap::new(),
                        });
                        groups.last_mut().expect("just pushed")
                    }
                };
                g.by_first
                    .entry(p.bytes[0])
                    .or_default()
                    .push(PayloadEntry {
                        tool: id,
                        dir: p.dir,
                        bytes: p.bytes.clone(),
                        min_len: usize::from(p.min_len),
                    });
            }
            for r in &t.ports {
                for port in r.lo..=r.hi {
                    let v = ports.entry((r.proto, port)).or_default();
                    // Tools come in order: only this tool can have pushed `id` already.
                    if v.last() != Some(&id) {
                        v.push(id);
                    }
                }
            }
            for n in &t.addresses {
                nets.entry((n.prefix, n.addr)).or_insert(id);
            }
        }
        for g in &mut groups {
            for v in g.by_first.values_mut() {
                // Stable: among equal lengths the earlier tool stays first.
                v.sort_by_key(|e| std::cmp::Reverse(e.bytes.len()));
            }
        }
        groups.sort_by_key(|g| g.offset);
        let mut alpn_lens: Vec<usize> = alpn.keys().map(Vec::len).collect();
        alpn_lens.sort_unstable_by(|a, b| b.cmp(a));
        alpn_lens.dedup();
        let lens = |v4: bool| {
            let mut l: Vec<u8> = nets
                .keys()
                .filter(|(_, a)| a.is_ipv4() == v4)
                .map(|(p, _)| *p)
                .collect();
            l.sort_unstable_by(|a, b| b.cmp(a));
            l.dedup();
            l
        };
        let v4_lens = lens(true);
        let v6_lens = lens(false);
        Matchers {
            by_id,
            exact,
            suffix,
            alpn,
            alpn_lens,
            cert: Substrings::build(cert),
            user_agent: Substrings::build(ua),
            http_server: Substrings::build(server),
            ja3,
            ja4,
            payload: groups,
            ports,
            nets,
            v4_lens,
            v6_lens,
        }
    }

    pub(super) fn match_domain(&self, name: &str) -> Option<ToolId> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return None;
        }
        let name: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        if let Some(&t) = self.exact.get(name.as_ref()) {
            return Some(t);
        }
        // Proper suffixes, longest first: "a.b.c" tries "b.c", then "c".
        let mut rest = name.as_ref();
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if let Some(&t) = self.suffix.get(rest) {
                return Some(t);
            }
        }
        None
    }

    pub(super) fn match_alpn(&self, alpn: &[u8]) -> Option<ToolId> {
        self.alpn_lens
            .iter()
            .filter(|&&l| l <= alpn.len())
            .find_map(|&l| self.alpn.get(&alpn[..l]).copied())
    }

    pub(super) fn match_payload(&self, to_server: bool, payload: &[u8]) -> Option<ToolId> {
        let want = if to_server {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        for g in &self.payload {
            if payload.len() <= g.offset {
                continue;
            }
            let Some(cands) = g.by_first.get(&payload[g.offset]) else {
                continue;
            };
            let at = &payload[g.offset..];
            for c in cands {
                if (c.dir == Dir::Any || c.dir == want)
                    && payload.len() >= c.min_len
                    && at.starts_with(&c.bytes)
                {
                    return Some(c.tool);
                }
            }
        }
        None
    }

    pub(super) fn tools_on_port(&self, proto: u8, port: u16) -> &[ToolId] {
        self.ports.get(&(proto, port)).map_or(&[], Vec::as_slice)
    }

    pub(super) fn match_address(&self, addr: IpAddr) -> Option<ToolId> {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            a => a,
        };
        let lens = if addr.is_ipv4() {
            &self.v4_lens
        } else {
            &self.v6_lens
        };
        lens.iter()
            .find_map(|&l| self.nets.get(&(l, mask(addr, l))).copied())
    }
}
