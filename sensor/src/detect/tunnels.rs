//! VPN, proxy and tunnel-service findings on one flow: a VPN protocol's handshake
//! (OpenVPN, WireGuard, IKE/ESP, L2TP, PPTP), Tor, a SOCKS or HTTP CONNECT proxy (with the
//! requested target), and flows to the catalogue's tunnel and VPN services.

use super::Flow;
use super::{Detector, Inspect};
use crate::flow::{AppProto, FlowKey};
use crate::model::meta::ProxyMeta;
use crate::model::record::Finding;
use crate::model::sid;
use crate::rules::Category;
use std::collections::BTreeMap;

/// A string the proxy parsers left in the flow's metadata (`proxy.<field>`).
fn proxy_meta(flow: &Flow) -> Option<&ProxyMeta> {
    flow.detect.meta.as_ref()?.proxy.as_ref()
}

pub(super) fn check(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    insp: &Inspect,
    out: &mut Vec<Finding>,
) {
    if flow.detect.alerted
        || flow.detect.remote_access
        || !out.is_empty()
        || flow.app_proto == AppProto::Dns
    {
        return;
    }
    let direction = d.direction(key, flow);
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md.insert("direction".into(), vec![direction.into()]);
    md.insert("app_proto".into(), vec![flow.app_proto.as_str().into()]);
    let ev: Vec<String> = insp
        .evidence
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !ev.is_empty() {
        md.insert("evidence".into(), ev);
    }
    let f = match flow.app_proto {
        AppProto::OpenVpn
        | AppProto::WireGuard
        | AppProto::Ike
        | AppProto::Esp
        | AppProto::L2tp
        | AppProto::Pptp
        | AppProto::Sstp => {
            // What was seen: a handshake, or (for ESP and a WireGuard session caught in
            // its middle) the protocol's own data packets.
            let name = match flow.app_proto {
                AppProto::OpenVpn => "OpenVPN handshake",
                AppProto::WireGuard
                    if insp.evidence.iter().any(|(k, _)| *k == "tailscale.disco") =>
                {
                    "WireGuard (Tailscale peer discovery)"
                }
                AppProto::WireGuard if insp.evidence.iter().any(|(k, _)| *k == "wireguard") => {
                    "WireGuard transport data"
                }
                AppProto::WireGuard => "WireGuard handshake",
                AppProto::Ike => "IKE/IPsec handshake",
                AppProto::Esp if key.proto == crate::decode::PROTO_UDP => {
                    "IPsec ESP in UDP (NAT traversal)"
                }
                AppProto::Esp => "IPsec ESP (encrypted IP traffic)",
                AppProto::L2tp => "L2TP handshake",
                AppProto::Sstp => "SSTP (SSL VPN) session",
                _ => "PPTP handshake",
            };
            // A product the flow was attributed to (Tailscale's discovery packets).
            let app = flow
                .detect
                .app
                .and_then(|id| d.shared.rules.tools().get(id as usize))
                .map(|t| t.id.clone());
            if let Some(a) = &app {
                md.insert("tool".into(), vec![a.clone()]);
            }
            Finding {
                signature_id: sid::VPN,
                signature: format!("SPANWATCH vpn: {name} ({direction})"),
                category: "vpn",
                severity: 3,
                app,
                metadata: md,
            }
        }
        AppProto::Tor => Finding {
            signature_id: sid::TOR,
            signature: format!("SPANWATCH vpn: Tor relay connection ({direction})"),
            category: "vpn",
            severity: 2,
            app: Some("tor".into()),
            metadata: md,
        },
        AppProto::Socks | AppProto::HttpConnect => {
            let target = proxy_meta(flow).and_then(|p| p.target.clone());
            let Some(target) = target else { return };
            md.insert("target".into(), vec![target.clone()]);
            if let Some(i) = proxy_meta(flow).and_then(|p| p.inner_app_proto) {
                md.insert("inner_app_proto".into(), vec![i.into()]);
            }
            let kind = if flow.app_proto == AppProto::Socks {
                "SOCKS"
            } else {
                "HTTP CONNECT"
            };
            Finding {
                signature_id: sid::PROXY,
                signature: format!("SPANWATCH proxy: {kind} to {target} ({direction})"),
                category: "proxy",
                severity: 3,
                app: None,
                metadata: md,
            }
        }
        // DTLS with an SSL VPN's trait is paired with the gateway's TLS session in the host
        // stage (host/sslvpn.rs): alone it is no proof.
        AppProto::WebSocket => {
            let Some(inner) = proxy_meta(flow).and_then(|p| p.inner_app_proto) else {
                return;
            };
            md.insert("inner_app_proto".into(), vec![inner.into()]);
            if let Some(h) = flow
                .detect
                .meta
                .as_ref()
                .and_then(|m| m.http.as_ref())
                .and_then(|h| h.hostname.clone())
            {
                md.insert("hostname".into(), vec![h]);
            }
            Finding {
                signature_id: sid::WEBSOCKET_TUNNEL,
                signature: format!("SPANWATCH tunnel: WebSocket carrying {inner} ({direction})"),
                category: "tunnel",
                severity: 2,
                app: None,
                metadata: md,
            }
        }
        AppProto::Http
            if proxy_meta(flow).and_then(|p| p.protocol.as_deref()) == Some("http-forward") =>
        {
            let target = proxy_meta(flow)
                .and_then(|p| p.target.as_deref())
                .unwrap_or("?")
                .to_string();
            md.insert("target".into(), vec![target.clone()]);
            Finding {
                signature_id: sid::PROXY,
                signature: format!(
                    "SPANWATCH proxy: HTTP proxy request for {target} ({direction})"
                ),
                category: "proxy",
                severity: 3,
                app: None,
                metadata: md,
            }
        }
        _ if proxy_meta(flow)
            .and_then(|p| p.protocol.as_deref())
            .is_some_and(|p| p.starts_with("proxy-v")) =>
        {
            // The connection arrives through a proxy or load balancer speaking the PROXY
            // protocol: informational, it names the client the relay acts for.
            let client = proxy_meta(flow).and_then(|p| p.client.clone());
            let relayed = match &client {
                Some(c) => {
                    md.insert("client".into(), vec![c.clone()]);
                    format!(" for {c}")
                }
                None => String::new(),
            };
            Finding {
                signature_id: sid::PROXY_HEADER,
                signature: format!(
                    "SPANWATCH proxy: connection relayed with a PROXY protocol header{relayed} ({direction})"
                ),
                category: "proxy",
                severity: 4,
                app: None,
                metadata: md,
            }
        }
        _ => {
            let Some(id) = flow.detect.app else { return };
            let Some(t) = d.shared.rules.tools().get(id as usize) else {
                return;
            };
            let cat = match t.category {
                Category::TunnelService => "tunnel",
                Category::VpnService => "vpn",
                _ => return,
            };
            if flow.detect.payload_dirs != 3 {
                return;
            }
            md.insert("tool".into(), vec![t.id.clone()]);
            Finding {
                signature_id: t.sid,
                signature: format!("SPANWATCH {cat}: {} ({direction})", t.name),
                category: cat,
                severity: t.severity,
                app: Some(t.id.clone()),
                metadata: md,
            }
        }
    };
    out.push(f);
}

/// A flow whose packets carry an IPsec Authentication Header (the decoder reads the flow's
/// tuple from inside it). Recorded on the flow as `ipsec.ah`; in tunnel mode (the AH's next
/// header is IPv4 or IPv6, RFC 4302 §3.1.2) two gateways carry whole IP packets for others:
/// a site-to-site IPsec tunnel, authenticated though not encrypted, raised as `vpn`.
/// Transport mode between two unicast hosts (AH around their own TCP, UDP or ICMP) is a
/// host-to-host IPsec association, raised as `vpn` like ESP in transport mode. AH that
/// authenticates routing protocols (OSPFv3 per RFC 4552, VRRP, PIM, EIGRP) or multicast is
/// neighbours protecting their routing, not a session: recorded, not raised.
pub(super) fn ipsec_ah(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    next: u8,
    out: &mut Vec<Finding>,
) {
    let tunnel = matches!(next, 4 | 41);
    let mode = if tunnel { "tunnel" } else { "transport" };
    flow.detect
        .meta_mut()
        .ipsec
        .get_or_insert(crate::model::meta::IpsecMeta { ah: mode });
    let sid = if tunnel {
        sid::AH_TUNNEL
    } else {
        sid::AH_TRANSPORT
    };
    if flow.detect.alerted || out.iter().any(|f| f.signature_id == sid) {
        return;
    }
    // AH around ESP (both protocols on one SA bundle): the ESP alert names it.
    if !tunnel && (next == 50 || AH_ROUTING.contains(&next) || multicast(key)) {
        return;
    }
    let direction = d.direction(key, flow);
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md.insert("direction".into(), vec![direction.into()]);
    md.insert("ipsec_ah".into(), vec![mode.into()]);
    let what = if tunnel {
        "IPsec AH tunnel"
    } else {
        "IPsec AH between two hosts (transport mode)"
    };
    out.push(Finding {
        signature_id: sid,
        signature: format!("SPANWATCH vpn: {what} (authenticated, not encrypted) ({direction})"),
        category: "vpn",
        severity: 3,
        app: None,
        metadata: md,
    });
}

/// IP protocols of routing and redundancy protocols that AH authenticates between
/// neighbours: EIGRP (88), OSPF (89), PIM (103), VRRP (112).
const AH_ROUTING: [u8; 4] = [88, 89, 103, 112];

/// Either end is a multicast or broadcast address (IPv4 224.0.0.0/4 and
/// 255.255.255.255, IPv6 ff00::/8).
fn multicast(key: &FlowKey) -> bool {
    [&key.lo, &key.hi].iter().any(|a| {
        if key.v6 {
            a[0] == 0xff
        } else {
            // IPv4 sits in the first four bytes (model::net::to_ip)
            a[0] & 0xf0 == 0xe0 || a[..4] == [255; 4]
        }
    })
}

/// Datagrams of a UDP flow to port 53 that must not parse as DNS before the flow counts as
/// something else carried on the DNS port.
const NOT_DNS_DATAGRAMS: u8 = 4;
/// Client bytes of a TCP flow to port 53 that must not parse as DNS.
const NOT_DNS_TCP_BYTES: usize = 64;

/// A flow to port 53 that does not speak DNS: a tunnel tool that left the DNS format for
/// raw UDP or TCP on the port firewalls leave open (or a VPN on 53). UDP: several
/// datagrams, none of them DNS; TCP: the client's opening is no length-prefixed DNS
/// message and no other protocol was named.
pub(super) fn port53(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    insp: &Inspect,
    out: &mut Vec<Finding>,
) {
    use crate::decode::{PROTO_TCP, PROTO_UDP};
    if flow.detect.alerted
        || !out.is_empty()
        || flow.app_proto != AppProto::Unknown
        || flow.detect.app.is_some()
        || crate::flow::Ends::of(key, flow.client_is_lo).sport != 53
    {
        return;
    }
    let why = match key.proto {
        PROTO_UDP if insp.not_dns >= NOT_DNS_DATAGRAMS => {
            format!("{} datagrams that are not DNS", insp.not_dns)
        }
        PROTO_TCP
            if insp.buf[0].len() >= NOT_DNS_TCP_BYTES
                && match crate::proto::dns::parse_tcp(&insp.buf[0]) {
                    crate::proto::Parsed::Done { .. } => false,
                    // a length prefix promising more: not DNS once the server answered
                    // what no DNS server answers, a partial query
                    crate::proto::Parsed::NeedMore { .. } => !insp.buf[1].is_empty(),
                    crate::proto::Parsed::Malformed(_) => true,
                } =>
        {
            format!("{} client bytes that are not DNS", insp.buf[0].len())
        }
        _ => return,
    };
    let direction = d.direction(key, flow);
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md.insert("direction".into(), vec![direction.into()]);
    md.insert("evidence".into(), vec![why]);
    flow.detect.done = true;
    out.push(Finding {
        signature_id: sid::PORT53_NOT_DNS,
        signature: format!("SPANWATCH tunnel: non-DNS traffic on port 53 ({direction})"),
        category: "tunnel",
        severity: 2,
        app: None,
        metadata: md,
    });
}

/// A flow that spoke DNS on port 53, then sent datagrams that cannot be DNS (no plausible
/// header: `proto::dns::plausible_header`): a tunnel tool that opened with DNS and
/// switched to its own raw format on the same socket, as iodine does when the server is
/// reachable directly (its raw UDP mode). Raised once, at the fourth such datagram.
pub(super) fn dns_left_format(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    out: &mut Vec<Finding>,
) {
    flow.detect.not_dns = flow.detect.not_dns.saturating_add(1);
    if flow.detect.not_dns != NOT_DNS_DATAGRAMS
        || flow.detect.alerted
        || crate::flow::Ends::of(key, flow.client_is_lo).sport != 53
    {
        return;
    }
    let direction = d.direction(key, flow);
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md.insert("direction".into(), vec![direction.into()]);
    md.insert(
        "evidence".into(),
        vec![format!(
            "{NOT_DNS_DATAGRAMS} datagrams that are not DNS after DNS messages"
        )],
    );
    out.push(Finding {
        signature_id: sid::PORT53_NOT_DNS,
        signature: format!("SPANWATCH tunnel: non-DNS traffic on port 53 ({direction})"),
        category: "tunnel",
        severity: 2,
        app: None,
        metadata: md,
    });
}
