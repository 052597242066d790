//! A per-host volume baseline that learns from the host's own history: an exponentially
//! weighted mean and mean absolute deviation of bytes per interval, a warm-up before it is
//! trusted, a floor under the threshold, and clipping so that one spike is not learned as
//! normal. Sixteen bytes per host and per measure, so a million hosts stay cheap.

use serde::{Deserialize, Serialize};

/// The knobs of one measured volume (egress, collection), from the config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeConfig {
    /// The threshold never goes below this many bytes per interval.
    pub floor_bytes: u64,
    /// A host still warming up alerts above this many bytes per interval.
    pub new_host_bytes: u64,
    /// Deviations above the host's mean that count as departing from its history.
    pub deviations: f64,
    /// Times the peers' level (95th percentile of active hosts, smoothed) a host must also
    /// exceed: departing from its own history is not enough when everyone moves as much.
    pub peer_factor: f64,
}

impl VolumeConfig {
    pub fn egress() -> VolumeConfig {
        VolumeConfig {
            floor_bytes: 200 << 20,
            new_host_bytes: 1 << 30,
            deviations: 6.0,
            peer_factor: 3.0,
        }
    }
    pub fn collection() -> VolumeConfig {
        VolumeConfig {
            floor_bytes: 500 << 20,
            new_host_bytes: 2 << 30,
            deviations: 6.0,
            peer_factor: 3.0,
        }
    }
    /// `name` is the section (`host.egress`); ranges from [`crate::model::ranges::RANGES`].
    pub fn validate(&self, name: &str) -> Result<(), String> {
        use crate::model::ranges::check;
        check(&format!("{name}.floor_bytes"), self.floor_bytes)?;
        check(&format!("{name}.new_host_bytes"), self.new_host_bytes)?;
        check(&format!("{name}.deviations"), self.deviations)?;
        check(&format!("{name}.peer_factor"), self.peer_factor)?;
        Ok(())
    }
}

impl Default for VolumeConfig {
    fn default() -> Self {
        VolumeConfig::egress()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Smoothed bytes per interval.
    pub mean: f32,
    /// Smoothed absolute deviation from the mean.
    pub dev: f32,
    /// Intervals learned.
    pub n: u32,
}

/// What a threshold check found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub threshold: f64,
    /// The host is still warming up: the absolute threshold for new hosts applied.
    pub new_host: bool,
}

impl Baseline {
    /// The threshold for this interval, given how many intervals make the warm-up.
    pub fn threshold(&self, c: &VolumeConfig, warmup: u32, peer_level: f64) -> Verdict {
        if self.n < warmup {
            return Verdict {
                threshold: c.new_host_bytes as f64,
                new_host: true,
            };
        }
        let own = (self.mean as f64 + c.deviations * self.dev as f64).max(c.floor_bytes as f64);
        Verdict {
            threshold: own.max(c.peer_factor * peer_level),
            new_host: false,
        }
    }

    /// Learn one closed interval. `span` is the smoothing span in intervals (weight 2/(span+1)).
    /// Once warmed up, a value above the threshold is learned as the threshold only.
    pub fn learn(&mut self, x: u64, span: u32, c: &VolumeConfig, warmup: u32) {
        let x = x as f64;
        let a = 2.0 / (span.max(1) as f64 + 1.0);
        // The first intervals weigh more, so the warm-up reaches the host's level quickly.
        let a = a.max(1.0 / (self.n as f64 + 1.0));
        let (m, d) = (self.mean as f64, self.dev as f64);
        let x = if self.n >= warmup {
            x.min((m + c.deviations * d).max(c.floor_bytes as f64))
        } else {
            x
        };
        let m2 = m + a * (x - m);
        let d2 = d + a * ((x - m).abs() - d);
        // f32 keeps a host at 16 bytes; clamp so a value past its range is never infinity
        self.mean = m2.clamp(0.0, f32::MAX as f64) as f32;
        self.dev = d2.clamp(0.0, f32::MAX as f64) as f32;
        self.n = self.n.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> VolumeConfig {
        VolumeConfig {
            floor_bytes: 1000,
            new_host_bytes: 50_000,
            deviations: 6.0,
            peer_factor: 3.0,
        }
    }

    #[test]
    fn warm_up_uses_the_new_host_threshold() {
        let b = Baseline::default();
        let v = b.threshold(&cfg(), 4, 0.0);
        assert!(v.new_host);
        assert_eq!(v.threshold, 50_000.0);
    }

    #[test]
    fn learns_the_level_and_keeps_the_floor() {
        let c = cfg();
        let mut b = Baseline::default();
        for i in 0..50 {
            b.learn(if i % 2 == 0 { 9_000 } else { 11_000 }, 24, &c, 4);
        }
        assert!((b.mean - 10_000.0).abs() < 500.0, "{b:?}");
        let v = b.threshold(&c, 4, 0.0);
        assert!(!v.new_host);
        assert!(v.threshold > 13_000.0 && v.threshold < 20_000.0, "{v:?}");
        // a quiet host's threshold is the floor
        let mut q = Baseline::default();
        for _ in 0..10 {
            q.learn(10, 24, &c, 4);
        }
        assert_eq!(q.threshold(&c, 4, 0.0).threshold, 1000.0);
    }

    #[test]
    fn one_spike_is_not_learned_as_normal() {
        let c = cfg();
        let mut b = Baseline::default();
        for _ in 0..30 {
            b.learn(10_000, 24, &c, 4);
        }
        let before = b.threshold(&c, 4, 0.0).threshold;
        b.learn(10_000_000, 24, &c, 4);
        let after = b.threshold(&c, 4, 0.0).threshold;
        assert!(after < before * 1.5, "{before} -> {after}");
    }

    #[test]
    fn peers_raise_the_threshold() {
        let c = cfg();
        let mut b = Baseline::default();
        for _ in 0..30 {
            b.learn(10_000, 24, &c, 4);
        }
        assert_eq!(b.threshold(&c, 4, 100_000.0).threshold, 300_000.0);
    }
}
