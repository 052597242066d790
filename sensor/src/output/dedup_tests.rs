//! Alert deduplication: one alert per identity within the suppression window, and a table
//! that sweeps expired identities without rescanning on every alert.

use super::eve::{alert_from_tuple, AlertRecord, Finding, Tuple};
use super::*;

fn alert(i: u64, ts: u64) -> AlertRecord {
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&(0xC612_0000u32 + (i as u32 & 0xffff)).to_be_bytes());
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[10, 0, 0, 5]);
    let port = 1024 + (i >> 16) as u16;
    let t = Tuple::from_parts(false, &src, 40000, &dst, port, 6);
    let dedup = format!("{}|{}|{}|", t.src_ip, t.dest_ip, t.dest_port);
    alert_from_tuple(
        t,
        i,
        ts,
        "unknown",
        "outbound",
        dedup,
        Finding {
            signature_id: 9_900_001,
            signature: "test".into(),
            category: "tunnel",
            severity: 3,
            app: None,
            metadata: Default::default(),
        },
    )
}

fn output(suppress_s: u64) -> Output {
    let home = Arc::new(crate::config::Config::default().home_net());
    let tel = Telemetry::new(1, "replay");
    Output::new(
        None,
        tel.clone(),
        suppress_s,
        60,
        HostStage::with_defaults(home),
    )
}

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

#[test]
fn one_alert_per_identity_within_the_window() {
    let mut o = output(10);
    o.alert(alert(1, T0));
    o.alert(alert(1, T0 + 9 * S)); // suppressed
    o.alert(alert(2, T0 + 9 * S));
    o.alert(alert(1, T0 + 10 * S)); // window over: again, and a new window starts
    o.alert(alert(1, T0 + 19 * S)); // suppressed
    assert_eq!(o.summary.alerts_total, 3);
    assert_eq!(o.tel.output.alerts_suppressed.get(), 2);
}

#[test]
fn many_live_identities_stay_deduplicated_and_expired_ones_are_swept() {
    let n = 3 * DEDUP_PRUNE_MIN as u64;
    let mut o = output(3600);
    // All live: a sweep frees nothing, and the next one waits for the table to double.
    for i in 0..n {
        o.alert(alert(i, T0 + i));
    }
    assert_eq!(o.summary.alerts_total, n);
    assert_eq!(o.dedup.len() as u64, n);
    assert!(o.dedup_prune_at >= 2 * DEDUP_PRUNE_MIN);
    // Every identity is still suppressed.
    for i in (0..n).step_by(997) {
        o.alert(alert(i, T0 + n + i));
    }
    assert_eq!(o.summary.alerts_total, n);
    // An hour later, new identities push the table past the mark: the old ones go.
    let later = T0 + 3601 * S;
    let mut j = n;
    while o.dedup.len() as u64 >= n {
        o.alert(alert(j, later + j));
        j += 1;
        assert!(j < 3 * n, "expired identities were never swept");
    }
    // Only the identities of the last hour are left.
    assert_eq!(o.dedup.len() as u64, j - n);
    // A swept identity alerts again.
    let before = o.summary.alerts_total;
    o.alert(alert(0, later + 3 * n));
    assert_eq!(o.summary.alerts_total, before + 1);
}
