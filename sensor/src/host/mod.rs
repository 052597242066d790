//! The host stage: the one place that sees every flow of an internal host, whatever
//! worker carried it. It runs on the output thread, fed by flow records and time ticks.
//!
//! Why its own stage and not per worker: workers are sharded by flow tuple, so one host's
//! flows land on every worker; sharding hosts instead would need a second hand-off per
//! packet. Flow records are few (one per flow end, plus active-timeout records), so a
//! single consumer keeps up and needs no locks. Per-host signals (egress baselines,
//! concurrent calls, fan-in to remote-access endpoints) live here.

use crate::output::eve::{AlertRecord, FlowRecord};

#[derive(Default)]
pub struct HostStage {}

impl HostStage {
    pub fn new() -> HostStage {
        HostStage::default()
    }
    /// A flow ended (or hit its active timeout).
    pub fn on_flow(&mut self, _rec: &FlowRecord, _alerts: &mut Vec<AlertRecord>) {}
    /// Packet time advanced.
    pub fn on_tick(&mut self, _now_ns: u64, _alerts: &mut Vec<AlertRecord>) {}
    /// End of the capture or shutdown.
    pub fn finish(&mut self, _now_ns: u64, _alerts: &mut Vec<AlertRecord>) {}
}
