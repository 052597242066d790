//! The two halves of an HTTP-wrapped byte stream, paired from flow records on the output
//! thread (the halves are two connections, which the workers' sharding may split): an
//! upstream half (a POST/PUT body trickling far below its declared length) and a downstream
//! half (a GET answered with a large declared body that trickles) between the same client
//! and the same server address and port raise the general `tunnel` alert. Halves that
//! showed a known tool's traits were raised by the worker already.

use super::http_stream::finding_paired;
use crate::model::net::HomeNet;
use crate::model::record::{alert_from_tuple, AlertRecord, FlowRecord};
use std::collections::HashMap;

/// Halves older than this (packet time) no longer pair.
const KEEP_NS: u64 = 600 * 1_000_000_000;
/// Client–server pairs followed at once.
const MAX_PAIRS: usize = 4096;

type Key = (bool, [u8; 16], [u8; 16], u16);

#[derive(Debug, Default)]
pub struct Pairs {
    /// Halves seen (bit 0 upstream, bit 1 downstream), when last, and whether raised.
    seen: HashMap<Key, (u8, u64, bool)>,
}

impl Pairs {
    pub fn on_flow(&mut self, home: &HomeNet, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        let Some(w) = rec.meta.wrapped.as_ref() else {
            return;
        };
        if w.outer != "http" || w.tool.is_some() {
            return;
        }
        let bit = if w.traits.iter().any(|t| t == "half=upstream") {
            1
        } else {
            2
        };
        let e = &rec.ends;
        let key = (e.v6, e.client, e.server, e.sport);
        let now = rec.end_ns;
        if self.seen.len() >= MAX_PAIRS && !self.seen.contains_key(&key) {
            self.seen.retain(|_, v| now.saturating_sub(v.1) < KEEP_NS);
            if self.seen.len() >= MAX_PAIRS {
                return;
            }
        }
        let ent = self.seen.entry(key).or_insert((0, now, false));
        if now.saturating_sub(ent.1) >= KEEP_NS {
            *ent = (0, now, false);
        }
        ent.0 |= bit;
        ent.1 = now;
        if ent.0 != 3 || ent.2 {
            return;
        }
        ent.2 = true;
        let dirn = home.direction(e.v6, &e.client, &e.server);
        let t = &rec.tuple;
        let dedup = format!("{}|{}|{}|http-stream", t.src_ip, t.dest_ip, t.dest_port);
        alerts.push(alert_from_tuple(
            t.clone(),
            rec.flow_id,
            rec.end_ns,
            "http",
            dirn,
            dedup,
            finding_paired(w),
        ));
    }
}
