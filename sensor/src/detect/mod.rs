//! Detection: app-layer identification on a flow's first packets, then findings (alerts).
//! DPI costs only on a flow's opening: once a flow is identified, or has given up after
//! `max_inspect_packets`, later packets only update counters.

use crate::decode::PacketInfo;
use crate::flow::{AppProto, Flow, FlowKey};
use crate::output::eve::Finding;
use crate::config::HomeNet;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Per-flow detection state. Small when idle: the buffers and metadata are boxed.
#[derive(Debug, Default)]
pub struct FlowDetect {
    /// Identification finished (identified, or gave up).
    pub done: bool,
    /// Packets with payload inspected so far.
    pub inspected: u16,
    /// The product or service (a rules catalogue id), when known.
    pub app: Option<u16>,
    /// An alert was raised for this flow.
    pub alerted: bool,
    /// The flow is a remote-access session (counted in the active-sessions gauge).
    pub remote_access: bool,
    pub ra_counted: bool,
    /// The identified app_proto was counted in metrics.
    pub counted: bool,
    /// What the parsers learned, serialised into the flow record.
    pub meta: Option<Box<Map<String, Value>>>,
}

impl FlowDetect {
    pub fn meta_mut(&mut self) -> &mut Map<String, Value> {
        self.meta.get_or_insert_with(Default::default)
    }
}

#[derive(Debug, Clone)]
pub struct DetectConfig {
    pub max_inspect_packets: u16,
    pub max_inspect_bytes: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig { max_inspect_packets: 24, max_inspect_bytes: 16 * 1024 }
    }
}

/// Detection context shared by every worker: the rules catalogue (read-only).
#[derive(Default)]
pub struct Shared {}

impl Shared {
    /// Load the rules catalogue from `dir`, or the one built into the binary.
    pub fn load(_dir: Option<&std::path::Path>) -> Result<Shared, String> {
        Ok(Shared {})
    }
    pub fn rules_loaded(&self) -> usize {
        0
    }
}

/// A worker's detection engine.
pub struct Detector {
    cfg: DetectConfig,
    #[allow(dead_code)]
    shared: Arc<Shared>,
    #[allow(dead_code)]
    home: Arc<HomeNet>,
}

impl Detector {
    pub fn new(cfg: DetectConfig, shared: Arc<Shared>, home: Arc<HomeNet>) -> Detector {
        Detector { cfg, shared, home }
    }

    /// The product name for the flow record (`app`), from the rules catalogue.
    pub fn app_name(&self, _f: &Flow) -> Option<String> {
        None
    }

    /// Look at a packet's payload while the flow is not yet identified.
    pub fn on_payload(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        to_server: bool,
        _info: &PacketInfo,
        payload: &[u8],
        _ts: u64,
        _findings: &mut Vec<Finding>,
    ) {
        let d = &mut flow.detect;
        d.inspected += 1;
        let proto = match payload {
            [0x16, 0x03, 0..=4, ..] => AppProto::Tls,
            [b'S', b'S', b'H', b'-', ..] => AppProto::Ssh,
            [b'G', b'E', b'T', b' ', ..] | [b'P', b'O', b'S', b'T', b' ', ..] | [b'H', b'T', b'T', b'P', b'/', ..] => {
                AppProto::Http
            }
            _ if key.proto == 17 && (key.lo_port == 53 || key.hi_port == 53) => AppProto::Dns,
            _ => AppProto::Unknown,
        };
        let _ = to_server;
        if proto != AppProto::Unknown {
            flow.app_proto = proto;
            d.done = true;
        } else if d.inspected >= self.cfg.max_inspect_packets {
            d.done = true;
        }
    }
}
