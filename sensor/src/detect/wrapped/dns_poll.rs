//! A DNS tunnel inside DNS over HTTPS or DNS over TLS: the queries are encrypted, but the
//! way a tunnel polls shows through.
//!
//! A DNS tunnel's server can only speak when asked, so its client keeps a query open for the
//! server to answer when it has data, and asks again the moment an answer arrives (iodine's
//! "lazy mode", dns2tcp's polling). Through a public resolver over DoH or DoT this shows as
//! exchanges where the answer comes a second or more after the query — the resolver waiting
//! on the tunnel's authoritative server — and the client's next query follows the answer
//! within a few tens of milliseconds. dns2tcp's server answers a held query on a timer (about
//! 3 s in nDPI's dns2tcp_tunnel.pcap); iodined 0.7 answers it when it has data for the client
//! or when the next query comes, so an idle or client-driven iodine session shows no hold and
//! is missed (tests/live/doh_tunnel.sh records the case that is found: data pushed from the
//! server's side). A resolver answers ordinary lookups in milliseconds (from its cache) or
//! some hundreds (recursion), and a stub or browser asks when an application needs a name,
//! not the instant an answer lands.
//!
//! Only flows already named encrypted DNS to a resolver (`resolver_bypass` of kind `doh` or
//! `dot`, [`crate::detect::resolver`]) are followed. Segments under 64 bytes (TCP
//! keep-alives, HTTP/2 PING, SETTINGS and WINDOW_UPDATE frames in a TLS record) are neither
//! a query nor an answer.

use crate::model::meta::WrappedMeta;
use crate::model::record::Finding;
use crate::model::sid;

/// Smallest segment that counts as a query or an answer (a DoH query over HTTP/2 in TLS is
/// a HEADERS and a DATA frame, well over this; an HTTP/2 PING in TLS 1.3 is 39 bytes).
const MIN_SEGMENT: usize = 64;
/// An answer this long after its query was held by the server.
const HELD_NS: u64 = 1_000_000_000;
/// A held answer older than this is a lookup that timed out, not a poll.
const HELD_MAX_NS: u64 = 60_000_000_000;
/// The client asks again within this of a held answer.
const REASK_NS: u64 = 250_000_000;
/// Held polls that make the verdict.
const POLLS: u8 = 3;
/// The verdict's confidence: the hold-and-ask-again rhythm is the tunnel's, but one
/// application that long-polls through a resolver would show it too.
const CONFIDENCE: u8 = 75;
/// Query and answer segments looked at before giving up.
const MAX_SEGMENTS: u16 = 512;

/// Per-flow state (encrypted DNS over TCP only).
#[derive(Debug, Default, Clone)]
pub struct DnsPoll {
    /// When the client's oldest unanswered query went out.
    asked: Option<u64>,
    /// When a held answer arrived, while the client's next query is awaited.
    held: Option<u64>,
    /// Held polls so far and the longest hold (ms).
    polls: u8,
    longest_ms: u64,
    segments: u16,
    /// Gave up or matched.
    over: bool,
}

/// What the polling showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The longest hold (ms).
    pub longest_ms: u64,
    /// `doh` or `dot`.
    pub kind: &'static str,
}

impl DnsPoll {
    /// One TCP segment with payload of `size` bytes (as sent) at `ts` (ns). Returns the
    /// verdict on the segment that completes the match.
    pub fn segment(
        &mut self,
        to_server: bool,
        size: usize,
        ts: u64,
        kind: &'static str,
    ) -> Option<Verdict> {
        if self.over || size < MIN_SEGMENT {
            return None;
        }
        self.segments += 1;
        if self.segments > MAX_SEGMENTS {
            self.over = true;
            return None;
        }
        if to_server {
            if let Some(a) = self.held.take() {
                if ts.saturating_sub(a) <= REASK_NS {
                    self.polls += 1;
                    if self.polls == POLLS {
                        self.over = true;
                        return Some(Verdict {
                            longest_ms: self.longest_ms,
                            kind,
                        });
                    }
                }
            }
            self.asked.get_or_insert(ts);
        } else if let Some(q) = self.asked.take() {
            let wait = ts.saturating_sub(q);
            if (HELD_NS..=HELD_MAX_NS).contains(&wait) {
                self.held = Some(ts);
                self.longest_ms = self.longest_ms.max(wait / 1_000_000);
            } else {
                self.held = None;
            }
        }
        None
    }
}

fn traits(v: &Verdict) -> super::Traits {
    vec![
        ("held_polls", POLLS.to_string()),
        ("longest_hold_ms", v.longest_ms.to_string()),
        ("carrier", v.kind.to_string()),
    ]
}

/// The flow record's `wrapped` part.
pub fn meta(v: &Verdict) -> WrappedMeta {
    super::wrapped_meta(CONFIDENCE, ("dns-tunnel", v.kind), None, traits(v))
}

/// The `tunnel` alert.
pub fn finding(v: &Verdict) -> Finding {
    let mut md = super::alert_metadata(CONFIDENCE, traits(v));
    md.insert("inner".to_string(), vec!["dns-tunnel".to_string()]);
    let carrier = if v.kind == "dot" {
        "DNS over TLS"
    } else {
        "DNS over HTTPS"
    };
    super::tunnel_finding(
        sid::DNS_POLL_ENCRYPTED,
        format!(
            "SPANWATCH tunnel: DNS tunnel inside {carrier} (queries held by the server and asked again at once)"
        ),
        None,
        md,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Feed (to_server, size, ms) and return the verdict, if any.
    fn run(segs: &[(bool, usize, u64)]) -> Option<Verdict> {
        let mut p = DnsPoll::default();
        segs.iter()
            .find_map(|&(up, n, t)| p.segment(up, n, t * MS, "doh"))
    }

    #[test]
    fn a_tunnel_polling_through_doh() {
        // shape of dns2tcp through a public DoH resolver: the handshake, a first lookup, then
        // answers every ~3.1 s (the tunnel server's hold), each followed at once by a query
        let segs = [
            (true, 261, 20),
            (false, 1460, 30),
            (true, 124, 120),
            (false, 271, 140),
            (true, 104, 140),
            (false, 219, 1730),
            (false, 31, 1730),
            (true, 162, 1731),
            (false, 304, 4820),
            (true, 108, 4821),
            (false, 208, 7910),
            (true, 98, 7911),
        ];
        let v = run(&segs).expect("a verdict");
        assert_eq!(v.longest_ms, 3089);
        assert_eq!(v.kind, "doh");
        let f = finding(&v);
        assert_eq!(f.category, "tunnel");
        assert!(f.signature.contains("DNS over HTTPS"));
        // split anywhere before the last query: no verdict yet
        assert_eq!(run(&segs[..segs.len() - 1]), None);
    }

    #[test]
    fn ordinary_encrypted_dns_is_not_a_tunnel() {
        // a browser's DoH: queries answered in tens of milliseconds, asked when pages need
        // names; one slow recursion (1.5 s) followed by the next lookup seconds later
        let mut segs = vec![(true, 261, 0), (false, 1460, 20)];
        let mut t = 600;
        for i in 0..40u64 {
            segs.push((true, 90, t));
            segs.push((false, 180, t + if i == 7 { 1500 } else { 15 }));
            t += 900 + (i % 5) * 700;
        }
        assert_eq!(run(&segs), None);
        // answers a second late, but the client asks again only seconds later
        let segs: Vec<_> = (0..10u64)
            .flat_map(|i| [(true, 90, i * 5000), (false, 200, i * 5000 + 1200)])
            .collect();
        assert_eq!(run(&segs), None);
        // HTTP/2 PINGs from an idle server, answered at once: too small to be DNS
        let segs: Vec<_> = (0..10u64)
            .flat_map(|i| [(false, 39, i * 2000 + 1500), (true, 39, i * 2000 + 1501)])
            .chain([(true, 90, 0)])
            .collect();
        assert_eq!(run(&segs), None);
    }

    #[test]
    fn gives_up_after_its_budget() {
        let mut p = DnsPoll::default();
        for i in 0..(MAX_SEGMENTS as u64 + 1) {
            assert_eq!(p.segment(i % 2 == 0, 100, i * 10 * MS, "dot"), None);
        }
        assert!(p.over);
        // once over, a perfect poll is not looked at
        assert_eq!(p.segment(true, 100, 10_000 * MS, "dot"), None);
    }
}
