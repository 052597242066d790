//! The host stage's state on disk: baselines, the peers' level and the open interval's
//! counters, saved as JSON every `snapshot_interval_s` of packet time and at exit (written
//! to a temporary file, then renamed), and loaded at start. A restart in the middle of an
//! interval carries its counters over when the first packet after the restart falls in
//! the same interval. Call legs and fan-in sources are not saved: they are short-lived.
//! The account view and the tools each host used are saved beside (`account_state.rs`).

use super::baseline::Baseline;
use super::hosts::Host;
use super::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::IpAddr;

const VERSION: u32 = 1;

#[derive(Serialize)]
struct Snapshot {
    version: u32,
    interval_s: u64,
    interval: u64,
    saved_ns: u64,
    peer: [f64; 2],
    /// address, egress (mean, dev, n), collection (mean, dev, n), out, in, collect,
    /// last activity, alert flags of the interval
    hosts: Vec<SavedHost>,
    /// The account view, novelty and DHCP devices (`account_state.rs`).
    #[serde(flatten)]
    extra: super::account_state::SavedExtra,
}

/// A snapshot as read: each host on its own, so one bad entry (a `null`, a number beyond
/// f32 written by hand or by an older version) costs that host, not every baseline.
#[derive(Deserialize)]
struct Loaded {
    version: u32,
    interval_s: u64,
    interval: u64,
    peer: [Option<f64>; 2],
    hosts: Vec<serde_json::Value>,
    #[serde(flatten)]
    extra: super::account_state::LoadedExtra,
}

type B = (f32, f32, u32);

#[derive(Serialize, Deserialize)]
struct SavedHost(IpAddr, B, B, u64, u64, u64, u64, u8);

/// A smoothed byte count as stored: finite and not negative, whatever happened upstream
/// (JSON has no infinity: serde_json would write `null`).
fn fin32(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, f32::MAX)
    }
}
fn fin64(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, f64::MAX)
    }
}

fn b(x: &Baseline) -> B {
    (fin32(x.mean), fin32(x.dev), x.n)
}
fn unb(x: B) -> Baseline {
    Baseline {
        mean: x.0,
        dev: x.1,
        n: x.2,
    }
}

/// A loaded baseline is usable when its numbers are finite and not negative (serde reads
/// 1e39 into an f32 as infinity).
fn usable(x: &B) -> bool {
    x.0.is_finite() && x.1.is_finite() && x.0 >= 0.0 && x.1 >= 0.0
}

/// Keep a state file that could not be used whole beside it, as `NAME.bad-<unix time>`,
/// before the next save replaces it. Returns the new name.
fn keep_aside(p: &std::path::Path) -> Option<std::path::PathBuf> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = p.as_os_str().to_owned();
    for i in 0..100 {
        let mut name = base.clone();
        name.push(if i == 0 {
            format!(".bad-{t}")
        } else {
            format!(".bad-{t}-{i}")
        });
        let bad = std::path::PathBuf::from(name);
        if bad.exists() {
            continue;
        }
        return match std::fs::rename(p, &bad) {
            Ok(()) => Some(bad),
            Err(e) => {
                tracing::error!(file = %p.display(), "cannot keep the unusable host state aside (it will be overwritten): {e}");
                None
            }
        };
    }
    None
}

impl HostStage {
    pub(super) fn load_state(&mut self) {
        let Some(p) = self.cfg.state_file.clone() else {
            return;
        };
        let text = match std::fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!(file = %p.display(), "no host state file yet; baselines start empty");
                return;
            }
            Err(e) => {
                self.stats.host_state_loads[1].inc();
                tracing::error!(file = %p.display(), "cannot read host state, baselines start empty: {e}");
                return;
            }
        };
        let s: Loaded = match serde_json::from_slice(&text) {
            Ok(s) => s,
            Err(e) => {
                self.stats.host_state_loads[1].inc();
                let kept = keep_aside(&p);
                tracing::error!(file = %p.display(), kept = ?kept, "host state file is not valid (line {}, column {}): {e}; baselines start empty", e.line(), e.column());
                return;
            }
        };
        if s.version != VERSION || s.interval_s != self.cfg.interval_s {
            self.stats.host_state_loads[1].inc();
            let kept = keep_aside(&p);
            tracing::warn!(
                file = %p.display(),
                kept = ?kept,
                "host state has version {} and interval {} s, this sensor {} and {} s; baselines start empty",
                s.version, s.interval_s, VERSION, self.cfg.interval_s
            );
            return;
        }
        let mut rejected = 0usize;
        self.peer = s.peer.map(|x| match x {
            Some(v) if v.is_finite() && v >= 0.0 => v,
            _ => {
                rejected += 1;
                0.0
            }
        });
        self.restored_interval = Some(s.interval);
        let n = s.hosts.len();
        for v in s.hosts {
            let Ok(SavedHost(ip, e, c, out, inn, col, last, flags)) =
                serde_json::from_value::<SavedHost>(v)
            else {
                rejected += 1;
                continue;
            };
            if !usable(&e) || !usable(&c) {
                rejected += 1;
                continue;
            }
            let (v6, addr) = super::hosts::raw_of(ip);
            let h = self.hosts.entry(HostKey { v6, addr }, last);
            *h = Host {
                last_ns: last,
                egress: unb(e),
                collect: unb(c),
                cur_out: out,
                cur_in: inn,
                cur_collect: col,
                flags,
                extra: None,
            };
        }
        rejected += self.load_extra(s.extra);
        self.stats.host_state_loads[0].inc();
        if rejected > 0 {
            let kept = keep_aside(&p);
            tracing::warn!(file = %p.display(), kept = ?kept, rejected, "host state loaded without {rejected} unusable entries (null, negative or beyond range); the rest of {n} hosts kept");
        } else {
            tracing::info!(file = %p.display(), hosts = n, "host state loaded");
        }
    }

    pub(super) fn save_state(&mut self) {
        let Some(p) = self.cfg.state_file.clone() else {
            return;
        };
        let snap = Snapshot {
            version: VERSION,
            interval_s: self.cfg.interval_s,
            interval: self.interval.unwrap_or(0),
            saved_ns: self.now,
            peer: self.peer.map(fin64),
            hosts: self
                .hosts
                .map
                .iter()
                .map(|(k, h)| {
                    SavedHost(
                        k.ip(),
                        b(&h.egress),
                        b(&h.collect),
                        h.cur_out,
                        h.cur_in,
                        h.cur_collect,
                        h.last_ns,
                        h.flags,
                    )
                })
                .collect(),
            extra: self.save_extra(),
        };
        let tmp = p.with_extension("tmp");
        let r = (|| -> std::io::Result<()> {
            let f = std::fs::File::create(&tmp)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
            serde_json::to_writer(&mut w, &snap)?;
            w.write_all(b"\n")?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &p)
        })();
        match r {
            Ok(()) => self.stats.host_state_saves[0].inc(),
            Err(e) => {
                self.stats.host_state_saves[1].inc();
                tracing::warn!(file = %p.display(), "cannot save host state: {e}");
            }
        }
    }
}
