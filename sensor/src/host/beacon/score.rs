//! The scoring maths (RITA's four sub-scores): quartiles, Bowley skewness, the median
//! absolute deviation, modes, the histogram of connection starts and the duration score.

use super::{BeaconConfig, Conn};
use std::collections::{BTreeMap, VecDeque};

/// Histogram bins over the data set (RITA looks at 24 one-hour bins of a day).
pub(super) const BINS: usize = 24;
/// Non-empty bins before the duration score counts (RITA `duration_min_hours_seen`).
const DUR_MIN_BINS: usize = 6;
/// Consecutive non-empty bins that make the consistency part 1 (RITA
/// `duration_consistency_ideal_hours_seen`).
const DUR_IDEAL_RUN: usize = 12;
/// Non-empty bins before the bimodal fit counts (RITA `histogram_bimodal_min_hours_seen`).
const BIMODAL_MIN_BINS: usize = 11;
/// Height class width as a share of the tallest bin (RITA `histogram_mode_sensitivity`).
const MODE_SENSITIVITY: f64 = 0.05;
/// Bins forgiven as outliers in the bimodal fit (RITA `histogram_bimodal_outlier_removal`).
const BIMODAL_OUTLIERS: usize = 1;
/// Intervals shorter than this (seconds) are left out: connections opened together are one
/// burst (a client opening parallel connections), as RITA's whole seconds leave out the zero
/// intervals between them. Beacons 0.2 s apart still score.
const BURST_S: f64 = 0.1;

/// A beacon's score and its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    pub ts_score: f64,
    pub ds_score: f64,
    pub hist_score: f64,
    pub dur_score: f64,
    pub connections: usize,
    pub ts_skew: f64,
    pub ts_mad_s: f64,
    pub ts_median_s: f64,
    /// The commonest interval: whole seconds (rounded) from a median of 1 s, else
    /// hundredths of a second.
    pub ts_mode_s: f64,
    pub ds_skew: f64,
    pub ds_mad_bytes: f64,
    pub ds_median_bytes: f64,
    pub ds_mode_bytes: u64,
    pub bins_seen: usize,
    pub span_s: u64,
}

/// Q1, Q2, Q3 of sorted data: the median and the medians of the halves below and above it
/// (the median itself left out when the count is odd).
pub(super) fn quartiles(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len();
    let q2 = median(v);
    let (lo, hi) = if n % 2 == 0 {
        (&v[..n / 2], &v[n / 2..])
    } else {
        (&v[..n / 2], &v[n / 2 + 1..])
    };
    (median(lo), q2, median(hi))
}

fn median(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Bowley skewness and its score; sorted input of at least 3 values.
pub(super) fn bowley(v: &[f64]) -> (f64, f64) {
    let (q1, q2, q3) = quartiles(v);
    let den = q3 - q1;
    let skew = if den >= 10.0 && q2 != q1 && q2 != q3 {
        (q1 + q3 - 2.0 * q2) / den
    } else {
        0.0
    };
    (skew, 1.0 - skew.abs())
}

/// Median absolute deviation about the median, and its score; sorted input.
pub(super) fn mad(v: &[f64], default_score: f64) -> (f64, f64, f64) {
    let m = median(v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = median(&dev);
    let score = if m >= 1.0 {
        (m - mad) / m
    } else {
        default_score
    };
    (m, mad, if score.is_nan() { 0.0 } else { score.max(0.0) })
}

/// The most frequent value in steps of `unit` (each value rounded to one; the smallest on
/// ties), in those units; sorted input.
fn mode_in(v: &[f64], unit: f64) -> u64 {
    let q = |x: f64| (x / unit).round() as u64;
    let mut best = (0usize, 0u64);
    let mut i = 0;
    while i < v.len() {
        let x = q(v[i]);
        let mut j = i;
        while j < v.len() && q(v[j]) == x {
            j += 1;
        }
        if j - i > best.0 {
            best = (j - i, x);
        }
        i = j;
    }
    best.1
}

/// The most frequent value, in whole units (sizes in bytes); sorted input.
pub(super) fn mode(v: &[f64]) -> u64 {
    mode_in(v, 1.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Score a pair's connections over the data set `[dmin, dmax]` (seconds); `None` when
/// there is too little to score (fewer than 3 non-zero intervals, or no span).
pub(super) fn score(
    cfg: &BeaconConfig,
    conns: &VecDeque<Conn>,
    dmin: f64,
    dmax: f64,
) -> Option<Score> {
    if conns.len() < 4 || dmax <= dmin {
        return None;
    }
    let mut ts: Vec<f64> = conns.iter().map(Conn::t).collect();
    ts.sort_by(f64::total_cmp);
    let mut deltas: Vec<f64> = ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d >= BURST_S)
        .collect();
    if deltas.len() < 3 {
        return None;
    }
    deltas.sort_by(f64::total_cmp);
    let (ts_skew, ts_skew_score) = bowley(&deltas);
    let (ts_median, ts_mad, ts_mad_score) = mad(&deltas, 1.0);
    let ts_score = round3((ts_skew_score + ts_mad_score) / 2.0);

    let mut sizes: Vec<f64> = conns.iter().map(|c| c.bytes as f64).collect();
    sizes.sort_by(f64::total_cmp);
    let (ds_skew, ds_skew_score) = bowley(&sizes);
    let (ds_median, ds_mad, ds_mad_score) = mad(&sizes, 0.0);
    let ds_score = round3((ds_skew_score + ds_mad_score) / 2.0);

    // histogram of connection starts over the data set
    let mut bins = [0u32; BINS];
    let step = (dmax - dmin) / BINS as f64;
    let lo = dmin;
    for &t in &ts {
        if t < lo {
            continue;
        }
        let i = (((t - lo) / step) as usize).min(BINS - 1);
        bins[i] += 1;
    }
    let seen = bins.iter().filter(|b| **b > 0).count();
    let total: u32 = bins.iter().sum();
    let cv_score = if total == 0 {
        0.0
    } else {
        let mean = total as f64 / BINS as f64;
        let var = bins.iter().map(|b| (*b as f64 - mean).powi(2)).sum::<f64>() / BINS as f64;
        let cv = var.sqrt() / mean;
        if cv > 1.0 {
            0.0
        } else {
            round3(1.0 - cv)
        }
    };
    let bimodal = if seen >= BIMODAL_MIN_BINS {
        let tallest = *bins.iter().max().unwrap_or(&0) as f64;
        let width = (tallest * MODE_SENSITIVITY).ceil().max(1.0);
        let mut classes: BTreeMap<u64, u32> = BTreeMap::new();
        for b in bins.iter().filter(|b| **b > 0) {
            *classes
                .entry(((*b as f64 / width).floor() * width) as u64)
                .or_default() += 1;
        }
        let mut counts: Vec<u32> = classes.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = counts.first().copied().unwrap_or(0) + counts.get(1).copied().unwrap_or(0);
        let denom = (seen.saturating_sub(BIMODAL_OUTLIERS)).max(1) as f64;
        round3(top as f64 / denom).min(1.0)
    } else {
        0.0
    };
    // a data set too short to tell regular from busy: no histogram or duration evidence
    let long_enough = dmax - dmin >= cfg.min_span_s as f64;
    let hist_score = if long_enough {
        cv_score.max(bimodal)
    } else {
        0.0
    };

    let dur_score = if long_enough && seen >= DUR_MIN_BINS {
        let first = ts.first().copied().unwrap_or(0.0);
        let last = ts.last().copied().unwrap_or(0.0);
        let coverage = ((last - first).max(0.0) / (dmax - dmin) * 1000.0).ceil() / 1000.0;
        let mut run = 0;
        let mut longest = 0;
        for i in 0..2 * BINS {
            if bins[i % BINS] > 0 {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
        let longest = longest.min(BINS);
        let consistency = ((longest as f64 / DUR_IDEAL_RUN as f64) * 1000.0).ceil() / 1000.0;
        coverage.min(1.0).max(consistency.min(1.0))
    } else {
        0.0
    };

    let s = ts_score * cfg.ts_weight
        + ds_score * cfg.ds_weight
        + dur_score * cfg.dur_weight
        + hist_score * cfg.hist_weight;
    Some(Score {
        score: round3(s),
        ts_score,
        ds_score,
        hist_score,
        dur_score,
        connections: conns.len(),
        ts_skew,
        ts_mad_s: ts_mad,
        ts_median_s: ts_median,
        ts_mode_s: if ts_median >= 1.0 {
            mode_in(&deltas, 1.0) as f64
        } else {
            mode_in(&deltas, 0.01) as f64 / 100.0
        },
        ds_skew,
        ds_mad_bytes: ds_mad,
        ds_median_bytes: ds_median,
        ds_mode_bytes: mode(&sizes),
        bins_seen: seen,
        span_s: (ts.last().copied().unwrap_or(0.0) - ts.first().copied().unwrap_or(0.0)) as u64,
    })
}
