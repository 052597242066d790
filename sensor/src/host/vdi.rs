//! VDI sessions named by their transports, across two flows: a TLS session (the web client
//! or the WebSocket that authenticates) and a UDP flow for the display data, from one
//! client to the same server and port.
//!
//! * Amazon DCV (docs.aws.amazon.com/dcv, Administrator Guide: "Changing the server's
//!   TCP/UDP port" and "Disabling the QUIC UDP transport protocol"): the server listens on
//!   tcp/8443 (`web-port`) and, since 2024.0 by default, on udp/8443 (`quic-port`) for
//!   QUIC data transport; "with QUIC, the server continues to use WebSocket for
//!   authentication traffic". A TLS flow to tcp/8443 and a QUIC flow to udp/8443 of the
//!   same server and client name DCV.
//! * Omnissa (VMware) Horizon Blast Extreme with BEAT (Blast Extreme Adaptive Transport;
//!   Horizon documentation, "Network ports": the agent's Blast on tcp/22443 and udp/22443,
//!   Unified Access Gateway's Blast Secure Gateway on tcp/8443 and udp/8443 "for BEAT"):
//!   a TLS flow and a UDP flow that is not QUIC to the same server on 22443 (or 8443)
//!   name Horizon.
//!
//! A TLS flow alone on 8443 is any web server's; the pair is the VDI's handshake. Flow
//! records come in the order flows end, so each half waits (bounded, [`MAX_HALVES`] each,
//! for [`PAIR_NS`]) for the other.

use super::*;
use std::collections::VecDeque;

/// Halves kept waiting for their other half, per transport.
pub const MAX_HALVES: usize = 512;
/// How far apart (flow ends) the two halves of one session may be.
pub const PAIR_NS: u64 = 3600 * 1_000_000_000;
/// The ports these VDIs use for both transports.
pub const PORTS: &[u16] = &[8443, 22443];

#[derive(Debug, Default)]
pub struct VdiPairs {
    tls: VecDeque<Half>,
    udp: VecDeque<Half>,
}

#[derive(Debug, Clone)]
struct Half {
    key: (bool, [u8; 16], [u8; 16], u16),
    end_ns: u64,
    quic: bool,
    tuple: Tuple,
    flow_id: u64,
    app_proto: &'static str,
    dir: &'static str,
}

/// The product a pair names: (catalogue-style id, name, how).
fn product(port: u16, quic: bool) -> Option<(&'static str, &'static str, &'static str)> {
    match (port, quic) {
        (8443, true) => Some((
            "amazon-dcv",
            "Amazon DCV",
            "TLS (WebSocket authentication) then QUIC on 8443",
        )),
        (8443, false) => Some((
            "vmware-horizon",
            "Omnissa Horizon Blast (BEAT via Unified Access Gateway)",
            "TLS then BEAT (UDP) on 8443",
        )),
        (22443, false) => Some((
            "vmware-horizon",
            "Omnissa Horizon Blast (BEAT)",
            "TLS then BEAT (UDP) on 22443",
        )),
        _ => None,
    }
}

impl HostStage {
    /// A flow record that may be one half of a VDI session: paired with the other half
    /// when it is already in, else kept for it.
    pub(super) fn vdi_pair(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        let e = &rec.ends;
        if !PORTS.contains(&e.sport) || rec.flow.pkts_toserver == 0 || rec.flow.pkts_toclient == 0 {
            return;
        }
        let is_tls = match e.proto {
            6 if matches!(rec.app_proto, "tls" | "websocket") => true,
            17 if matches!(rec.app_proto, "quic" | "unknown" | "dtls") => false,
            _ => return,
        };
        let half = Half {
            key: (e.v6, e.client, e.server, e.sport),
            end_ns: rec.end_ns,
            quic: rec.app_proto == "quic",
            tuple: rec.tuple.clone(),
            flow_id: rec.flow_id,
            app_proto: rec.app_proto,
            dir: self.home.direction(e.v6, &e.client, &e.server),
        };
        let now = rec.end_ns;
        let p = &mut self.vdi;
        for q in [&mut p.tls, &mut p.udp] {
            q.retain(|h| now.saturating_sub(h.end_ns) <= PAIR_NS);
        }
        let (mine, other) = if is_tls {
            (&mut p.tls, &mut p.udp)
        } else {
            (&mut p.udp, &mut p.tls)
        };
        match other.iter().position(|h| h.key == half.key) {
            Some(i) => {
                let Some(o) = other.remove(i) else { return };
                let (tls, udp) = if is_tls { (half, o) } else { (o, half) };
                if let Some(a) = pair_alert(tls, udp) {
                    alerts.push(a);
                }
            }
            None => {
                if mine.len() >= MAX_HALVES {
                    mine.pop_front();
                }
                mine.push_back(half);
            }
        }
    }
}

fn pair_alert(tls: Half, udp: Half) -> Option<AlertRecord> {
    let (id, name, how) = product(udp.key.3, udp.quic)?;
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md1(&mut md, "tool", id);
    md1(&mut md, "vdi", name);
    md1(&mut md, "transports", how);
    md1(&mut md, "port", udp.key.3);
    md1(&mut md, "tls_flow_id", tls.flow_id);
    md1(&mut md, "direction", udp.dir);
    let f = Finding {
        signature_id: sid::VDI_TRANSPORTS,
        signature: format!("SPANWATCH remote access: VDI session ({name}, {})", udp.dir),
        category: "remote-access",
        severity: 3,
        app: Some(id.to_string()),
        metadata: md,
    };
    let dedup = format!("{}|{}|{}", udp.tuple.src_ip, udp.tuple.dest_ip, udp.key.3);
    Some(alert_from_tuple(
        udp.tuple,
        udp.flow_id,
        udp.end_ns.max(tls.end_ns),
        udp.app_proto,
        udp.dir,
        dedup,
        f,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products() {
        assert_eq!(product(8443, true).unwrap().0, "amazon-dcv");
        assert_eq!(product(22443, false).unwrap().0, "vmware-horizon");
        assert_eq!(product(8443, false).unwrap().0, "vmware-horizon");
        assert!(product(22443, true).is_none());
    }
}
