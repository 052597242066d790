//! VPN, proxy and tunnel-service findings on one flow: a VPN protocol's handshake
//! (OpenVPN, WireGuard, IKE/ESP, L2TP, PPTP), Tor, a SOCKS or HTTP CONNECT proxy (with the
//! requested target), and flows to the catalogue's tunnel and VPN services.

use super::{Detector, Inspect};
use crate::flow::{AppProto, Flow, FlowKey};
use crate::output::eve::Finding;
use crate::rules::Category;
use std::collections::BTreeMap;

pub const SID_VPN: u32 = 9_400_001;
pub const SID_TOR: u32 = 9_400_002;
pub const SID_PROXY: u32 = 9_400_003;

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
        | AppProto::Pptp => {
            let name = match flow.app_proto {
                AppProto::OpenVpn => "OpenVPN",
                AppProto::WireGuard => "WireGuard",
                AppProto::Ike => "IKE/IPsec",
                AppProto::Esp => "IPsec ESP in UDP",
                AppProto::L2tp => "L2TP",
                _ => "PPTP",
            };
            Finding {
                signature_id: SID_VPN,
                signature: format!("SPANWATCH vpn: {name} handshake ({direction})"),
                category: "vpn",
                severity: 3,
                app: None,
                metadata: md,
            }
        }
        AppProto::Tor => Finding {
            signature_id: SID_TOR,
            signature: format!("SPANWATCH vpn: Tor relay connection ({direction})"),
            category: "vpn",
            severity: 2,
            app: Some("tor".into()),
            metadata: md,
        },
        AppProto::Socks | AppProto::HttpConnect => {
            let target = flow
                .detect
                .meta
                .as_ref()
                .and_then(|m| m.get("proxy"))
                .and_then(|p| p.get("target"))
                .and_then(|t| t.as_str())
                .map(String::from);
            let Some(target) = target else { return };
            md.insert("target".into(), vec![target.clone()]);
            if let Some(i) = flow
                .detect
                .meta
                .as_ref()
                .and_then(|m| m.get("proxy"))
                .and_then(|p| p.get("inner_app_proto"))
                .and_then(|t| t.as_str())
            {
                md.insert("inner_app_proto".into(), vec![i.into()]);
            }
            let kind = if flow.app_proto == AppProto::Socks {
                "SOCKS"
            } else {
                "HTTP CONNECT"
            };
            Finding {
                signature_id: SID_PROXY,
                signature: format!("SPANWATCH proxy: {kind} to {target} ({direction})"),
                category: "proxy",
                severity: 3,
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
