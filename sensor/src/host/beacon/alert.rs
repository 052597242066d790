//! The beacon finding: its signature, severity, metadata and dedup key.

use super::score::{Score, BINS};
use super::{BeaconConfig, Pair, Raised};
use crate::flow::Ends;
use crate::model::record::Finding;
use crate::model::sid::{self, AnomalyKind};
use std::collections::BTreeMap;

/// An interval for the signature and the metadata: whole seconds from 1 s, else hundredths.
pub(super) fn fmt_interval(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.2}")
    }
}

pub(super) fn beacon_alert(
    cfg: &BeaconConfig,
    ends: &Ends,
    p: &Pair,
    sc: &Score,
    now: u64,
) -> Raised {
    let mut md = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), vec![v]);
    };
    put("score", format!("{:.3}", sc.score));
    put("ts_score", format!("{:.3}", sc.ts_score));
    put("ds_score", format!("{:.3}", sc.ds_score));
    put("hist_score", format!("{:.3}", sc.hist_score));
    put("dur_score", format!("{:.3}", sc.dur_score));
    put("connections", sc.connections.to_string());
    put("ts_skew", format!("{:.3}", sc.ts_skew));
    put("ts_median_s", format!("{:.1}", sc.ts_median_s));
    put("ts_mad_s", format!("{:.1}", sc.ts_mad_s));
    put("ts_mode_s", fmt_interval(sc.ts_mode_s));
    put("ds_skew", format!("{:.3}", sc.ds_skew));
    put("ds_median_bytes", format!("{:.0}", sc.ds_median_bytes));
    put("ds_mad_bytes", format!("{:.1}", sc.ds_mad_bytes));
    put("ds_mode_bytes", sc.ds_mode_bytes.to_string());
    put("bins_seen", format!("{}/{BINS}", sc.bins_seen));
    put("span_s", sc.span_s.to_string());
    put("window_s", cfg.window_s.to_string());
    let what = p.app.as_deref().unwrap_or(p.app_proto);
    Raised {
        kind: AnomalyKind::Beacon,
        ends: *ends,
        flow_id: p.last_flow_id,
        ts_ns: now,
        app_proto: p.app_proto,
        dedup: format!(
            "{}|{}|{}|{}",
            crate::model::net::to_ip(ends.v6, &ends.client),
            crate::model::net::to_ip(ends.v6, &ends.server),
            ends.sport,
            ends.proto
        ),
        finding: Finding {
            signature_id: sid::BEACON,
            signature: format!(
                "SPANWATCH beacon: regular connections every ~{} s ({what}), score {:.2}",
                fmt_interval(sc.ts_mode_s),
                sc.score
            ),
            category: "beacon",
            severity: if sc.score >= 0.9 { 2 } else { 3 },
            app: p.app.clone(),
            metadata: md,
        },
    }
}
