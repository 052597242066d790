//! The host stage: the one place that sees every flow of an internal host, whatever
//! worker carried it. It runs on the output thread, fed by flow records and time ticks.
//!
//! Why its own stage and not per worker: workers are sharded by flow tuple, so one host's
//! flows land on every worker; sharding hosts instead would need a second hand-off per
//! packet. Flow records are few (one per flow end, plus active-timeout records), so a
//! single consumer keeps up and needs no locks. Per-host signals (egress baselines,
//! concurrent calls, fan-in to remote-access endpoints) live here.

pub mod dns_tunnel;

use crate::config::HomeNet;
use crate::output::eve::{alert_from_tuple, AlertRecord, Finding, FlowRecord, Tuple};
use dns_tunnel::{DnsObs, DnsTunnel, DnsTunnelConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Signature ids of the host stage.
pub const SID_DNS_TUNNEL: u32 = 9_300_002;
pub const SID_SSH_BULK: u32 = 9_300_003;

/// An SSH session that moved at least this much in one direction is not someone typing:
/// port forwarding (`-L`, `-R`, `-D`) or a file copy. Interactive sessions move kilobytes.
const SSH_BULK_BYTES: u64 = 5 * 1024 * 1024;

pub struct HostStage {
    home: Arc<HomeNet>,
    dns: DnsTunnel,
}

impl HostStage {
    pub fn new(home: Arc<HomeNet>, dns: DnsTunnelConfig) -> HostStage {
        HostStage {
            home,
            dns: DnsTunnel::new(dns),
        }
    }

    /// SSH whose volume says forwarding or bulk copy rather than interactive typing.
    fn ssh_shape(&self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        if rec.app_proto != "ssh" {
            return;
        }
        let f = &rec.flow;
        let big = f.bytes_toclient.max(f.bytes_toserver);
        if big < SSH_BULK_BYTES {
            return;
        }
        let pkts = (f.pkts_toclient + f.pkts_toserver).max(1);
        let mean = (f.bytes_toclient + f.bytes_toserver) / pkts;
        let (dir, way) = if f.bytes_toclient >= f.bytes_toserver {
            ("to_client", "into the network")
        } else {
            ("to_server", "out of the network")
        };
        let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
        md.insert("bytes_toserver".into(), vec![f.bytes_toserver.to_string()]);
        md.insert("bytes_toclient".into(), vec![f.bytes_toclient.to_string()]);
        md.insert("mean_packet_bytes".into(), vec![mean.to_string()]);
        md.insert("duration_s".into(), vec![f.age.to_string()]);
        md.insert("bulk_direction".into(), vec![dir.into()]);
        let fnd = Finding {
            signature_id: SID_SSH_BULK,
            signature: format!(
                "SPANWATCH tunnel: SSH session carrying bulk data {way} (port forwarding or copy)"
            ),
            category: "tunnel",
            severity: 3,
            app: Some("ssh".into()),
            metadata: md,
        };
        let t = &rec.tuple;
        let v6 = t.src_ip.is_ipv6();
        let ip16 = |a: std::net::IpAddr| -> [u8; 16] {
            match a {
                std::net::IpAddr::V4(x) => {
                    let mut b = [0u8; 16];
                    b[..4].copy_from_slice(&x.octets());
                    b
                }
                std::net::IpAddr::V6(x) => x.octets(),
            }
        };
        let dirn = self.home.direction(v6, &ip16(t.src_ip), &ip16(t.dest_ip));
        let dedup = format!("{}|{}|{}", t.src_ip, t.dest_ip, t.dest_port);
        alerts.push(alert_from_tuple(
            t.clone(),
            rec.flow_id,
            rec.end_ns,
            "ssh",
            dirn,
            dedup,
            fnd,
        ));
    }

    /// A DNS message seen by a worker.
    pub fn on_dns(&mut self, o: &DnsObs, alerts: &mut Vec<AlertRecord>) {
        let Some(v) = self.dns.observe(o) else { return };
        let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
        md.insert("domain".into(), vec![v.domain.clone()]);
        md.insert("example_query".into(), vec![v.obs.qname.clone()]);
        for (k, val) in v.figures {
            md.insert(k, vec![val]);
        }
        let f = Finding {
            signature_id: SID_DNS_TUNNEL,
            signature: format!("SPANWATCH tunnel: DNS tunnel to {}", v.domain),
            category: "tunnel",
            severity: 2,
            app: None,
            metadata: md,
        };
        let t = Tuple::from_parts(o.v6, &o.client, o.client_port, &o.server, o.server_port, 17);
        let dir = self.home.direction(o.v6, &o.client, &o.server);
        let dedup = format!("{}|{}", t.src_ip, v.domain);
        alerts.push(alert_from_tuple(
            t, o.flow_id, o.ts_ns, "dns", dir, dedup, f,
        ));
    }
    /// A flow ended (or hit its active timeout).
    pub fn on_flow(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        self.ssh_shape(rec, alerts);
    }
    /// Packet time advanced.
    pub fn on_tick(&mut self, _now_ns: u64, _alerts: &mut Vec<AlertRecord>) {}
    /// End of the capture or shutdown.
    pub fn finish(&mut self, _now_ns: u64, _alerts: &mut Vec<AlertRecord>) {}
}
