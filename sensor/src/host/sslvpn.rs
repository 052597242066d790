//! SSL VPN sessions (Cisco AnyConnect, OpenConnect's ocserv) across their two flows: the
//! TLS session to the gateway on tcp/443 (CSTP, which carries the login and stays up for
//! the whole session) and the DTLS data channel on udp/443 to the same gateway from the
//! same client.
//!
//! The DTLS half is a DTLS flow on udp/443 whose opening shows a VPN's trait (the
//! workers put it in the flow's evidence): record version 0x0100, the pre-RFC DTLS that
//! OpenSSL keeps as `DTLS1_BAD_VER` for AnyConnect (`SSL_OP_CISCO_ANYCONNECT`), or a DTLS
//! 1.2 ClientHello that offers no `use_srtp` (RFC 8827 requires DTLS-SRTP of WebRTC media,
//! so it is no call). Neither alone is proof: an old OpenSSL spoke 0x0100 too, and the
//! corpus has such DTLS with no gateway session in view. The pair is the VPN.
//!
//! Flow records come in the order flows end: DTLS halves wait (bounded, [`MAX_WAITING`],
//! for [`PAIR_NS`]) for a TLS record, and the client/gateway pairs of recent TLS flows on
//! 443 are kept (bounded, [`MAX_TLS`]) for a DTLS record that comes after them.

use super::*;
use std::collections::VecDeque;

/// DTLS halves kept waiting for their TLS session.
pub const MAX_WAITING: usize = 512;
/// Client/gateway pairs of TLS flows on 443 remembered.
pub const MAX_TLS: usize = 16_384;
/// How far apart (flow records) the two halves of one session may be.
pub const PAIR_NS: u64 = 3600 * 1_000_000_000;

type PairKey = (bool, [u8; 16], [u8; 16]);

#[derive(Debug, Default)]
pub struct SslVpnPairs {
    /// TLS flows on 443: client/gateway → latest record's end (packet time).
    tls: ahash::AHashMap<PairKey, u64>,
    waiting: VecDeque<DtlsHalf>,
}

#[derive(Debug, Clone)]
struct DtlsHalf {
    key: PairKey,
    end_ns: u64,
    tuple: Tuple,
    flow_id: u64,
    evidence: Vec<String>,
    dir: &'static str,
}

impl HostStage {
    /// A flow record that may be one half of an SSL VPN session.
    pub(super) fn sslvpn_pair(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        let e = &rec.ends;
        if e.sport != 443 {
            return;
        }
        let key = (e.v6, e.client, e.server);
        let now = rec.end_ns;
        let p = &mut self.sslvpn;
        match (e.proto, rec.app_proto) {
            (6, "tls") if rec.flow.pkts_toserver > 0 && rec.flow.pkts_toclient > 0 => {
                if p.tls.len() >= MAX_TLS && !p.tls.contains_key(&key) {
                    p.tls.retain(|_, t| now.saturating_sub(*t) <= PAIR_NS);
                    if p.tls.len() >= MAX_TLS {
                        p.tls.clear();
                    }
                }
                p.tls.insert(key, now);
                if p.waiting.iter().any(|h| h.key == key) {
                    let tls_flow = rec.flow_id;
                    let (found, kept): (Vec<_>, Vec<_>) =
                        p.waiting.drain(..).partition(|h| h.key == key);
                    p.waiting = kept.into();
                    for h in found {
                        if now.saturating_sub(h.end_ns) <= PAIR_NS {
                            alerts.push(pair_alert(h, tls_flow, now));
                        }
                    }
                }
            }
            (17, "dtls") => {
                let evidence: Vec<String> = rec
                    .meta
                    .evidence
                    .iter()
                    .flatten()
                    .filter(|v| v.starts_with("dtls."))
                    .cloned()
                    .collect();
                if evidence.is_empty() {
                    return;
                }
                let half = DtlsHalf {
                    key,
                    end_ns: now,
                    tuple: rec.tuple.clone(),
                    flow_id: rec.flow_id,
                    evidence,
                    dir: self.home.direction(e.v6, &e.client, &e.server),
                };
                if p.tls
                    .get(&key)
                    .is_some_and(|t| now.saturating_sub(*t) <= PAIR_NS)
                {
                    alerts.push(pair_alert(half, 0, now));
                    return;
                }
                p.waiting.retain(|h| {
                    now.saturating_sub(h.end_ns) <= PAIR_NS && h.flow_id != rec.flow_id
                });
                if p.waiting.len() >= MAX_WAITING {
                    p.waiting.pop_front();
                }
                p.waiting.push_back(half);
            }
            _ => {}
        }
    }
}

/// The alert of a paired session, on the DTLS flow; `tls_flow`: the TLS flow whose record
/// completed the pair (0 when the TLS session was seen before).
fn pair_alert(h: DtlsHalf, tls_flow: u64, now: u64) -> AlertRecord {
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md.insert("evidence".into(), h.evidence);
    md1(
        &mut md,
        "transports",
        "TLS on tcp/443, then DTLS on udp/443 to the same gateway",
    );
    if tls_flow != 0 {
        md1(&mut md, "tls_flow_id", tls_flow);
    }
    let f = Finding {
        signature_id: sid::VPN,
        signature: format!(
            "SPANWATCH vpn: SSL VPN data channel (AnyConnect/OpenConnect DTLS) ({})",
            h.dir
        ),
        category: "vpn",
        severity: 3,
        app: None,
        metadata: md,
    };
    let dedup = format!("{}|{}|443|ssl-vpn", h.tuple.src_ip, h.tuple.dest_ip);
    alert_from_tuple(
        h.tuple,
        h.flow_id,
        now.max(h.end_ns),
        "dtls",
        h.dir,
        dedup,
        f,
    )
}
