//! The host stage: the one place that sees every flow of an internal host, whatever
//! worker carried it. It runs on the output thread, fed by flow records, progress reports
//! of long flows, call-media notices, remote-access alerts, DNS messages and time ticks.
//!
//! Why its own stage and not per worker: workers are sharded by flow tuple, so one host's
//! flows land on every worker; sharding hosts instead would need a second hand-off per
//! packet. Flow records are few (one per flow end, plus active-timeout records), so a
//! single consumer keeps up and needs no locks. Per-host signals (egress baselines,
//! uploads to code and cloud hosts, collection from internal servers, concurrent calls,
//! fan-in to remote-access endpoints) live here. Packet time is the clock: intervals are
//! aligned on it, so a replay gives the same alerts every time.

pub mod account_signals;
pub mod account_state;
pub mod accounts;
pub mod baseline;
pub mod beacon;
pub mod calls;
pub mod config;
pub mod dns_tunnel;
pub mod fanin;
pub mod geo;
pub mod hosts;
pub mod ikvm;
pub mod novelty;
pub mod obs;
pub mod privacy;
pub mod resolver;
pub mod sslvpn;
pub mod state;
pub mod tunnels;
pub mod vdi;
pub mod volume;

use crate::flow::Ends;
use crate::model::net::HomeNet;
use crate::model::record::{alert_from_tuple, AlertRecord, Finding, FlowRecord, Tuple};
use crate::model::sid::{self, AnomalyKind};
use crate::telemetry::OutputStats;
pub use config::HostConfig;
use dns_tunnel::{DnsObs, DnsTunnel, DnsTunnelConfig};
use hosts::{HostKey, Hosts};
use obs::{FlowUse, MediaObs, Usage};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct HostStage {
    home: Arc<HomeNet>,
    dns: DnsTunnel,
    cfg: HostConfig,
    stats: Arc<OutputStats>,
    hosts: Hosts,
    interval_ns: u64,
    /// Index of the open interval (packet time / interval), once time has started.
    interval: Option<u64>,
    /// The peers' level (smoothed 95th percentile of active hosts) for egress, collection.
    peer: [f64; 2],
    next_snapshot_ns: u64,
    /// Interval counters restored from the state file, for the interval they belong to.
    restored_interval: Option<u64>,
    geo: geo::Geo,
    now: u64,
    tunnels: tunnels::Tunnels,
    accounts: accounts::Accounts,
    novelty: novelty::Novelty,
    privacy: privacy::Privacy,
    ikvms: ikvm::Ikvms,
    vdi: vdi::VdiPairs,
    sslvpn: sslvpn::SslVpnPairs,
    /// The halves of HTTP-wrapped byte streams (detect::wrapped::pair).
    wrapped: crate::detect::wrapped::pair::Pairs,
}

impl HostStage {
    pub fn new(
        home: Arc<HomeNet>,
        dns: DnsTunnelConfig,
        cfg: HostConfig,
        stats: Arc<OutputStats>,
    ) -> Result<HostStage, String> {
        let geo = geo::Geo::open(
            cfg.fan_in.geoip_country_db.as_deref(),
            cfg.fan_in.geoip_asn_db.as_deref(),
        )?;
        let mut h = HostStage {
            home,
            dns: DnsTunnel::new(dns),
            hosts: Hosts::new(cfg.max_hosts),
            interval_ns: cfg.interval_s.max(1) * 1_000_000_000,
            interval: None,
            peer: [0.0; 2],
            next_snapshot_ns: 0,
            restored_interval: None,
            geo,
            now: 0,
            tunnels: tunnels::Tunnels::default(),
            accounts: accounts::Accounts::default(),
            novelty: novelty::Novelty::default(),
            privacy: privacy::Privacy::default(),
            ikvms: ikvm::Ikvms::default(),
            vdi: vdi::VdiPairs::default(),
            sslvpn: sslvpn::SslVpnPairs::default(),
            wrapped: Default::default(),
            cfg,
            stats,
        };
        h.load_state();
        Ok(h)
    }

    /// A stage with default host settings (tests, tools).
    pub fn with_defaults(home: Arc<HomeNet>) -> HostStage {
        HostStage::new(
            home,
            DnsTunnelConfig::default(),
            HostConfig::default(),
            Arc::default(),
        )
        .expect("default host stage")
    }

    /// Beacon, long-connection and resolver-bypass settings (`[detect.beacon]`,
    /// `[detect.resolver_bypass]`).
    pub fn with_tunnels(
        mut self,
        beacon: beacon::BeaconConfig,
        resolver: resolver::ResolverBypassConfig,
    ) -> HostStage {
        self.tunnels = tunnels::Tunnels::new(beacon, resolver);
        self
    }

    /// `[privacy]`: account names pseudonymized in every flow record from now on.
    pub fn with_privacy(mut self, p: privacy::Privacy) -> HostStage {
        self.privacy = p;
        self
    }

    /// Replace the account names of a flow record by their pseudonyms (when `[privacy]
    /// pseudonymize_accounts` is on), before the record is kept, written or sent anywhere.
    pub fn pseudonymize(&self, rec: &mut FlowRecord) {
        self.privacy.apply(&mut rec.meta);
    }

    /// The same for the names in a worker's alert (the RDP cookie).
    pub fn pseudonymize_alert(&self, a: &mut AlertRecord) {
        self.privacy.apply_alert(&mut a.alert.metadata);
    }

    /// Raise what the tunnels part found.
    fn raise_all(&self, found: Vec<beacon::Raised>, alerts: &mut Vec<AlertRecord>) {
        for r in found {
            let (e, id, ts, ap) = (&r.ends, r.flow_id, r.ts_ns, r.app_proto);
            self.raise(r.kind, e, id, ts, ap, r.dedup, r.finding, alerts);
        }
    }

    /// Hosts tracked now.
    pub fn hosts_tracked(&self) -> usize {
        self.hosts.len()
    }

    fn internal(&self, v6: bool, a: &[u8; 16]) -> bool {
        self.home.contains(v6, a)
    }

    /// A host-stage alert about `ends` (client first), deduplicated on `dedup`.
    #[allow(clippy::too_many_arguments)]
    fn raise(
        &self,
        kind: AnomalyKind,
        ends: &Ends,
        flow_id: u64,
        ts: u64,
        app_proto: &'static str,
        dedup: String,
        f: Finding,
        alerts: &mut Vec<AlertRecord>,
    ) {
        self.stats.host_anomalies[kind.index()].inc();
        let t = Tuple::from_parts(
            ends.v6,
            &ends.client,
            ends.cport,
            &ends.server,
            ends.sport,
            ends.proto,
        );
        let dir = self.home.direction(ends.v6, &ends.client, &ends.server);
        alerts.push(alert_from_tuple(t, flow_id, ts, app_proto, dir, dedup, f));
    }

    /// Packet time moved: close intervals, save the state when due.
    fn advance(&mut self, ts: u64) {
        if ts <= self.now {
            return;
        }
        self.now = ts;
        let idx = ts / self.interval_ns;
        match self.interval {
            None => {
                self.interval = Some(idx);
                if self.restored_interval != Some(idx) {
                    // the saved counters belong to an interval that is over
                    self.roll(1);
                }
                self.restored_interval = None;
                self.next_snapshot_ns = ts + self.cfg.snapshot_interval_s * 1_000_000_000;
            }
            Some(cur) if idx > cur => {
                self.roll((idx - cur).min(64) as u32);
                self.interval = Some(idx);
            }
            _ => {}
        }
        if self.cfg.state_file.is_some() && ts >= self.next_snapshot_ns {
            self.next_snapshot_ns = ts + self.cfg.snapshot_interval_s * 1_000_000_000;
            self.save_state();
        }
    }

    fn publish(&self) {
        self.stats.hosts_tracked.set(self.hosts.len() as u64);
        self.stats.hosts_evicted.set(self.hosts.evicted);
        self.stats.accounts_tracked.set(self.accounts.len() as u64);
    }

    /// A DNS message seen by a worker.
    pub fn on_dns(&mut self, o: &DnsObs, alerts: &mut Vec<AlertRecord>) {
        self.advance(o.ts_ns);
        let Some(v) = self.dns.observe(o) else { return };
        self.stats.host_anomalies[AnomalyKind::DnsTunnel.index()].inc();
        let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
        md.insert("domain".into(), vec![v.domain.clone()]);
        md.insert("example_query".into(), vec![v.obs.qname.clone()]);
        for (k, val) in v.figures {
            md.insert(k, vec![val]);
        }
        let f = Finding {
            signature_id: sid::DNS_TUNNEL,
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
        self.advance(rec.end_ns);
        crate::detect::ssh_shape::alert::check(&self.home, rec, alerts);
        self.wrapped.on_flow(&self.home, rec, alerts);
        let mut found = Vec::new();
        self.tunnels
            .on_flow(&self.home, rec, &self.stats, &mut found);
        self.raise_all(found, alerts);
        self.account_seen(rec, alerts);
        self.ikvm(rec, alerts);
        self.vdi_pair(rec, alerts);
        self.sslvpn_pair(rec, alerts);
        self.novelty_seen(rec, alerts);
        let u = FlowUse::of_record(rec);
        self.account(&u, alerts);
        if u.ended {
            self.call_leg_ended(&u, alerts);
        }
        self.publish();
    }
    /// An open flow moved another MiB.
    pub fn on_usage(&mut self, u: &Usage, alerts: &mut Vec<AlertRecord>) {
        self.advance(u.ts_ns);
        self.account(&FlowUse::of_usage(u), alerts);
        self.publish();
    }
    /// A call-media flow became a call leg.
    pub fn on_media(&mut self, m: &MediaObs, alerts: &mut Vec<AlertRecord>) {
        self.advance(m.ts_ns);
        self.call_leg(m, alerts);
        self.publish();
    }
    /// An alert from a worker (before deduplication): remote-access sessions feed fan-in.
    pub fn on_alert(&mut self, a: &AlertRecord, alerts: &mut Vec<AlertRecord>) {
        self.advance(a.ts_ns);
        if a.alert.category == "remote-access" {
            self.remote_access(a, alerts);
        }
    }
    /// Packet time advanced.
    pub fn on_tick(&mut self, now_ns: u64, alerts: &mut Vec<AlertRecord>) {
        self.advance(now_ns);
        let mut found = Vec::new();
        self.tunnels.on_tick(now_ns, &self.stats, &mut found);
        self.raise_all(found, alerts);
        self.publish();
    }
    /// End of the capture or shutdown: save the state.
    pub fn finish(&mut self, now_ns: u64, alerts: &mut Vec<AlertRecord>) {
        let mut found = Vec::new();
        self.tunnels.finish(now_ns, &self.stats, &mut found);
        self.raise_all(found, alerts);
        if self.cfg.state_file.is_some() && self.interval.is_some() {
            self.save_state();
        }
        self.publish();
    }
}

/// The host key of an address when it is inside the home networks.
fn key(v6: bool, a: &[u8; 16]) -> HostKey {
    HostKey { v6, addr: *a }
}

/// Metadata value helper.
fn md1(md: &mut BTreeMap<String, Vec<String>>, k: &str, v: impl ToString) {
    md.insert(k.to_string(), vec![v.to_string()]);
}
