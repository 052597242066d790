//! Concurrent audio/video calls per internal host. A call is the set of media legs
//! (RTP, RTCP, DTLS-SRTP, STUN/TURN, or a calls service of `rules/` over UDP) between the
//! host and one remote address: audio, video and screen-share legs of one meeting go to
//! the same media server or peer, while separate meetings reach separate ones. A call
//! lasts while any of its legs is open; a host carrying more calls than the configured
//! number at once raises a `calls` alert (once, until it drops back).

use super::hosts::Call;
use super::*;
use crate::model::net::to_ip;
use crate::model::sid::{self, AnomalyKind};

/// The internal end of a media flow and the remote one.
fn sides(home: &HomeNet, e: &Ends) -> Option<(HostKey, [u8; 16])> {
    if home.contains(e.v6, &e.client) {
        Some((key(e.v6, &e.client), e.server))
    } else if home.contains(e.v6, &e.server) {
        Some((key(e.v6, &e.server), e.client))
    } else {
        None
    }
}

impl HostStage {
    pub(super) fn call_leg(&mut self, m: &MediaObs, alerts: &mut Vec<AlertRecord>) {
        let Some((k, remote)) = sides(&self.home, &m.ends) else {
            return;
        };
        let max = self.cfg.calls.max_concurrent;
        let h = self.hosts.entry(k, m.ts_ns);
        let x = h.extra();
        match x.calls.iter_mut().find(|c| c.remote == remote) {
            Some(c) => {
                if !c.legs.contains(&m.flow_id) {
                    c.legs.push(m.flow_id);
                }
                return;
            }
            None => {
                x.calls.push(Call {
                    v6: k.v6,
                    remote,
                    legs: vec![m.flow_id],
                    since_ns: m.ts_ns,
                    app: m.app.clone(),
                    app_proto: m.app_proto,
                });
                self.stats.calls_active.inc();
            }
        }
        if x.calls.len() <= max || x.calls_alerted {
            return;
        }
        x.calls_alerted = true;
        let mut md = BTreeMap::new();
        md1(&mut md, "concurrent_calls", x.calls.len());
        md1(&mut md, "max_concurrent", max);
        md.insert(
            "calls".into(),
            x.calls
                .iter()
                .map(|c| {
                    format!(
                        "{} {}{} legs={} since={}",
                        to_ip(c.v6, &c.remote),
                        c.app_proto,
                        c.app
                            .as_deref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default(),
                        c.legs.len(),
                        crate::model::record::timestamp(c.since_ns)
                    )
                })
                .collect(),
        );
        let n = x.calls.len();
        let f = Finding {
            signature_id: sid::CALLS,
            signature: format!(
                "SPANWATCH calls: {} carries {n} audio/video calls at once",
                k.ip()
            ),
            category: "calls",
            severity: 3,
            app: m.app.clone(),
            metadata: md,
        };
        self.raise(
            AnomalyKind::Calls,
            &m.ends,
            m.flow_id,
            m.ts_ns,
            m.app_proto,
            k.ip().to_string(),
            f,
            alerts,
        );
    }

    /// A flow ended: if it was a call leg, the call may be over.
    pub(super) fn call_leg_ended(&mut self, u: &FlowUse, _alerts: &mut Vec<AlertRecord>) {
        if u.ends.proto != 17 {
            return;
        }
        let Some((k, remote)) = sides(&self.home, u.ends) else {
            return;
        };
        let max = self.cfg.calls.max_concurrent;
        let Some(x) = self.hosts.get_mut(&k).and_then(|h| h.extra.as_mut()) else {
            return;
        };
        let Some(i) = x.calls.iter().position(|c| c.remote == remote) else {
            return;
        };
        let c = &mut x.calls[i];
        c.legs.retain(|l| *l != u.flow_id);
        if c.legs.is_empty() {
            x.calls.swap_remove(i);
            let g = &self.stats.calls_active;
            g.set(g.get().saturating_sub(1));
            if x.calls.len() <= max {
                x.calls_alerted = false;
            }
        }
    }
}
