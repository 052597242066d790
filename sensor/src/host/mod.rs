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

pub struct HostStage {
    home: Arc<HomeNet>,
    dns: DnsTunnel,
}

impl HostStage {
    pub fn new(home: Arc<HomeNet>, dns: DnsTunnelConfig) -> HostStage {
        HostStage { home, dns: DnsTunnel::new(dns) }
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
        alerts.push(alert_from_tuple(t, o.flow_id, o.ts_ns, "dns", dir, dedup, f));
    }
    /// A flow ended (or hit its active timeout).
    pub fn on_flow(&mut self, _rec: &FlowRecord, _alerts: &mut Vec<AlertRecord>) {}
    /// Packet time advanced.
    pub fn on_tick(&mut self, _now_ns: u64, _alerts: &mut Vec<AlertRecord>) {}
    /// End of the capture or shutdown.
    pub fn finish(&mut self, _now_ns: u64, _alerts: &mut Vec<AlertRecord>) {}
}
