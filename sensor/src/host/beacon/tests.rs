//! Tests of the scoring maths.

use super::alert::fmt_interval;
use super::score::{bowley, mad, mode, quartiles, score};
use super::{BeaconConfig, Conn, S};
use std::collections::VecDeque;

fn conns(v: &[(u32, u32)]) -> VecDeque<Conn> {
    v.iter()
        .map(|&(s, bytes)| Conn { s, ms: 0, bytes })
        .collect()
}

#[test]
fn a_perfect_beacon_scores_one() {
    let cfg = BeaconConfig::default();
    let c: Vec<(u32, u32)> = (0..120).map(|i| (1_000_000 + i * 60, 312)).collect();
    let s = score(&cfg, &conns(&c), 1e6, 1e6 + 119.0 * 60.0).unwrap();
    assert_eq!(
        (s.ts_score, s.ds_score, s.hist_score, s.dur_score, s.score),
        (1.0, 1.0, 1.0, 1.0, 1.0),
        "{s:?}"
    );
    assert_eq!((s.ts_mode_s, s.ds_mode_bytes, s.bins_seen), (60.0, 312, 24));
}

#[test]
fn jitter_lowers_the_timestamp_score_a_little() {
    let cfg = BeaconConfig::default();
    // 300 s ± up to 30 s, sizes 400 ± 20
    let c: Vec<(u32, u32)> = (0..100u32)
        .scan(5_000_000u32, |t, i| {
            *t += 270 + (i * 7919) % 61;
            Some((*t, 380 + (i * 31) % 41))
        })
        .collect();
    let (a, b) = (c[0].0 as u64, c[99].0 as u64);
    let s = score(&cfg, &conns(&c), a as f64, b as f64).unwrap();
    assert!(s.ts_score > 0.8 && s.ts_score < 1.0, "{s:?}");
    assert!(s.score >= 0.8, "{s:?}");
}

#[test]
fn beacons_under_a_second_apart_score() {
    let cfg = BeaconConfig::default();
    // every 200 ms (± 3 ms) for a minute: whole seconds would make most intervals zero
    let t0 = 1_700_000_000 * S;
    let c: VecDeque<Conn> = (0..300u64)
        .map(|i| Conn::at(t0 + i * 200_000_000 + (i * 7 % 7) * 1_000_000, 310))
        .collect();
    let s = score(&cfg, &c, (t0 / S) as f64, (t0 / S) as f64 + 60.0).unwrap();
    assert!(s.ts_score > 0.95, "{s:?}");
    assert!(s.score >= 0.9, "{s:?}");
    assert_eq!(s.ts_mode_s, 0.2);
    assert_eq!(fmt_interval(s.ts_mode_s), "0.20");
    assert_eq!(fmt_interval(53.0), "53");
}

#[test]
fn a_burst_of_parallel_connections_is_not_a_beacon() {
    let cfg = BeaconConfig::default();
    // 62 connections 20 ms apart, within 1.3 s (a VPN client opening its pool)
    let t0 = 1_700_000_000 * S;
    let c: VecDeque<Conn> = (0..62u64)
        .map(|i| Conn::at(t0 + i * 20_000_000, 4000 + (i * 37 % 600)))
        .collect();
    assert!(score(&cfg, &c, (t0 / S) as f64, (t0 / S) as f64 + 7.0).is_none());
    // spread over 7 s at 100 ms and more: a data set that short gives no histogram or
    // duration evidence
    let c: VecDeque<Conn> = (0..62u64)
        .map(|i| Conn::at(t0 + i * 110_000_000 + (i * 7 % 5) * 30_000_000, 4000))
        .collect();
    let s = score(&cfg, &c, (t0 / S) as f64, (t0 / S) as f64 + 7.0).unwrap();
    assert_eq!((s.hist_score, s.dur_score), (0.0, 0.0), "{s:?}");
    assert!(s.score < cfg.min_score, "{s:?}");
}

#[test]
fn browsing_is_not_a_beacon() {
    let cfg = BeaconConfig::default();
    // bursts of page loads at irregular times, sizes all over the place
    let starts = [
        0u32, 1, 1, 2, 40, 41, 300, 302, 303, 1500, 1501, 1530, 3300, 3301, 3302, 3600, 7000,
    ];
    let c: Vec<(u32, u32)> = starts
        .iter()
        .enumerate()
        .map(|(i, t)| (2_000_000 + t, 500 + (i as u32 * 7717) % 40_000))
        .collect();
    let s = score(&cfg, &conns(&c), 2e6, 2e6 + 7200.0).unwrap();
    assert!(s.score < 0.6, "{s:?}");
}

#[test]
fn statistics_match_their_definitions() {
    let v = [1.0, 2.0, 3.0, 4.0, 100.0];
    assert_eq!(quartiles(&v), (1.5, 3.0, 52.0));
    let (m, d, sc) = mad(&v, 1.0);
    assert_eq!((m, d), (3.0, 1.0));
    assert!((sc - 2.0 / 3.0).abs() < 1e-9);
    let (sk, _) = bowley(&v);
    assert!((sk - (1.5 + 52.0 - 6.0) / 50.5).abs() < 1e-9);
    assert_eq!(mode(&[1.0, 2.0, 2.0, 3.0, 3.0]), 2);
}
