//! Remote-access findings: a session of a remote-desktop protocol (RDP, VNC, inbound SSH)
//! or of a remote-management / VDI / IP-KVM product from the catalogue raises one alert
//! with the tool, the direction relative to the home networks, and the evidence.

use super::Flow;
use super::{Detector, Inspect};
use crate::flow::{AppProto, FlowKey};
use crate::model::record::Finding;
use crate::model::sid;
use crate::rules::Category;
use std::collections::BTreeMap;

pub(super) fn check(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    insp: &Inspect,
    out: &mut Vec<Finding>,
) {
    if flow.detect.alerted || flow.detect.remote_access || flow.app_proto == AppProto::Dns {
        return;
    }
    let direction = d.direction(key, flow);
    // A session needs both sides talking (a scan's SYN or a lone probe is not one), or
    // an identifying handshake from the client that continued.
    // (or, when the capture shows one direction only, a client that kept going)
    let both = flow.detect.payload_dirs == 3
        || (flow.pkts[1] == 0 && flow.detect.inspected >= 4 && !insp.evidence.is_empty());
    if !both {
        return;
    }
    let mut ikvm = false;
    let (sid, name, tool, severity) = if let Some(id) = flow.detect.app {
        let Some(t) = d.shared.rules.tools().get(id as usize) else {
            return;
        };
        if !matches!(
            t.category,
            Category::RemoteAccess | Category::Rmm | Category::Vdi | Category::Ikvm
        ) {
            return;
        }
        ikvm = t.category == Category::Ikvm;
        // Names alone (DNS) attribute a flow, but only a flow that carried payload.
        (t.sid, t.name.clone(), t.id.clone(), t.severity)
    } else {
        match flow.detect.app_proto_tool {
            Some("rdp") => (
                sid::RDP,
                "RDP".to_string(),
                "rdp".to_string(),
                sev_for(direction),
            ),
            Some("vnc") => (
                sid::VNC,
                "VNC".to_string(),
                "vnc".to_string(),
                sev_for(direction),
            ),
            Some("xdmcp") => (
                sid::XDMCP,
                "XDMCP (remote X display)".to_string(),
                "xdmcp".to_string(),
                sev_for(direction),
            ),
            Some("ssh") => {
                let want = match d.cfg.ssh_alert.as_str() {
                    "all" => true,
                    "none" => false,
                    _ => direction == "inbound",
                };
                if !want || flow.app_proto != AppProto::Ssh {
                    return;
                }
                (
                    sid::SSH,
                    "SSH".to_string(),
                    "ssh".to_string(),
                    sev_for(direction),
                )
            }
            _ => return,
        }
    };
    // Wait until the handshake had its say, so the alert carries the evidence.
    if flow.app_proto == AppProto::Vnc
        && flow.detect.inspected < 10
        && flow.detect.meta.as_ref().is_none_or(|m| {
            m.rfb
                .as_ref()
                .and_then(|r| r.security_type_selected)
                .is_none()
        })
    {
        return;
    }
    if flow.app_proto == AppProto::Rdp
        && flow.detect.meta.as_ref().is_none_or(|m| m.rdp.is_none())
        && insp.evidence.is_empty()
    {
        return;
    }
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md.insert("tool".into(), vec![tool.clone()]);
    if ikvm {
        md.insert("ikvm".into(), vec![tool.clone()]);
    }
    md.insert("direction".into(), vec![direction.into()]);
    md.insert("app_proto".into(), vec![flow.app_proto.as_str().into()]);
    let mut ev: Vec<String> = insp
        .evidence
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    ev.dedup();
    if !ev.is_empty() {
        md.insert("evidence".into(), ev);
    }
    if let Some(m) = &flow.detect.meta {
        if let Some(c) = m.rdp.as_ref().and_then(|r| r.cookie.as_ref()) {
            md.insert("rdp_cookie".into(), vec![c.clone()]);
        }
        if let Some(r) = &m.rfb {
            if let Some(v) = r.server_protocol_version {
                md.insert(
                    "rfb_version".into(),
                    vec![format!("{:03}.{:03}", v.major, v.minor)],
                );
            }
            if let Some(t) = r.security_type_selected {
                let id = r
                    .security_type_selected_id
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default();
                md.insert("rfb_security_type".into(), vec![format!("{t}{id}")]);
            }
        }
        if let Some(p) = m.proxy.as_ref().and_then(|p| p.target.as_ref()) {
            md.insert("via_proxy".into(), vec![p.clone()]);
        }
        if let Some(c) = m.ssh.as_ref().and_then(|s| s.client.as_ref()) {
            md.insert("ssh_client".into(), vec![c.software_version.clone()]);
        }
    }
    flow.detect.remote_access = true;
    out.push(Finding {
        signature_id: sid,
        signature: format!("SPANWATCH remote access: {name} session ({direction})"),
        category: "remote-access",
        severity,
        app: Some(tool),
        metadata: md,
    });
}

/// Inbound from outside is the most serious; inside-to-inside the least.
fn sev_for(direction: &str) -> u8 {
    match direction {
        "inbound" => 1,
        "outbound" => 2,
        _ => 3,
    }
}
