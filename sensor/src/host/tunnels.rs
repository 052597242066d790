//! The host stage's part for tunnels and covert channels across flows: beacons and long
//! connections ([`super::beacon`]) and resolver bypass per host ([`super::resolver`]).
//! One field and three calls in the stage; the logic lives in those modules.

use super::beacon::{BeaconConfig, Beacons, Raised};
use super::resolver::{ResolverBypassConfig, Resolvers};
use crate::model::net::HomeNet;
use crate::model::record::FlowRecord;
use crate::telemetry::OutputStats;

pub struct Tunnels {
    beacons: Beacons,
    resolvers: Resolvers,
}

impl Default for Tunnels {
    fn default() -> Self {
        Tunnels::new(BeaconConfig::default(), ResolverBypassConfig::default())
    }
}

impl Tunnels {
    pub fn new(beacon: BeaconConfig, resolver: ResolverBypassConfig) -> Tunnels {
        Tunnels {
            beacons: Beacons::new(beacon),
            resolvers: Resolvers::new(resolver),
        }
    }

    pub fn on_flow(
        &mut self,
        home: &HomeNet,
        rec: &FlowRecord,
        stats: &OutputStats,
        out: &mut Vec<Raised>,
    ) {
        if let Some(k) = self.resolvers.on_flow(rec, out) {
            stats.resolver_bypass_flows[k].inc();
        }
        self.beacons.on_flow(home, rec, out);
        self.publish(stats);
    }

    pub fn on_tick(&mut self, now: u64, stats: &OutputStats, out: &mut Vec<Raised>) {
        self.beacons.on_tick(now, out);
        self.publish(stats);
    }

    pub fn finish(&mut self, now: u64, stats: &OutputStats, out: &mut Vec<Raised>) {
        self.beacons.finish(now, out);
        self.publish(stats);
    }

    fn publish(&self, stats: &OutputStats) {
        stats
            .beacon_pairs_tracked
            .set(self.beacons.tracked() as u64);
        stats.beacon_pairs_evicted.set(self.beacons.evicted);
    }
}
