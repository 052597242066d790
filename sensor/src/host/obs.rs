//! What workers tell the host stage besides flow records: progress of long flows and the
//! start of call media. Both are rare (one per MiB moved, one per call leg).

use crate::flow::Ends;
use crate::model::meta::FlowMeta;
use crate::model::record::FlowRecord;

/// An open flow moved bytes since its last report (see `worker::PROGRESS_BYTES`).
#[derive(Debug, Clone)]
pub struct Usage {
    pub ts_ns: u64,
    pub flow_id: u64,
    pub ends: Ends,
    pub app_proto: &'static str,
    pub app: Option<String>,
    /// Catalogue category of `app`.
    pub category: Option<&'static str>,
    /// Bytes [to server, to client] since the last report.
    pub delta: [u64; 2],
    /// A plain-HTTP `git push` (`POST …/git-receive-pack`) seen on the flow.
    pub git_push: bool,
}

/// Whether a flow's parsed metadata shows a git push over plain HTTP (smart HTTP protocol:
/// `POST <repo>/git-receive-pack`, git's `http-protocol` documentation).
pub fn git_push_seen(meta: Option<&FlowMeta>) -> bool {
    meta.and_then(|m| m.http.as_ref()?.url.as_deref())
        .is_some_and(|u| u.ends_with("/git-receive-pack"))
}

/// A call-media flow (RTP, RTCP, DTLS-SRTP, STUN/TURN, or a calls service over UDP) that
/// carried enough packets to be a call leg.
#[derive(Debug, Clone)]
pub struct MediaObs {
    pub ts_ns: u64,
    pub flow_id: u64,
    pub ends: Ends,
    pub app_proto: &'static str,
    pub app: Option<String>,
}

/// One accounting step of a flow, from a progress report or a flow record.
#[derive(Debug, Clone, Copy)]
pub struct FlowUse<'a> {
    pub ts_ns: u64,
    pub flow_id: u64,
    pub ends: &'a Ends,
    pub app_proto: &'static str,
    pub app: Option<&'a str>,
    pub category: Option<&'static str>,
    /// Bytes [to server, to client] not accounted before.
    pub delta: [u64; 2],
    /// The flow ended (not an active-timeout record or a progress report).
    pub ended: bool,
    pub git_push: bool,
}

impl<'a> FlowUse<'a> {
    pub fn of_usage(u: &'a Usage) -> FlowUse<'a> {
        FlowUse {
            ts_ns: u.ts_ns,
            flow_id: u.flow_id,
            ends: &u.ends,
            app_proto: u.app_proto,
            app: u.app.as_deref(),
            category: u.category,
            delta: u.delta,
            ended: false,
            git_push: u.git_push,
        }
    }

    pub fn of_record(r: &'a FlowRecord) -> FlowUse<'a> {
        FlowUse {
            ts_ns: r.end_ns,
            flow_id: r.flow_id,
            ends: &r.ends,
            app_proto: r.app_proto,
            app: r.app.as_deref(),
            category: r.app_category,
            delta: [
                r.flow.bytes_toserver.saturating_sub(r.reported[0]),
                r.flow.bytes_toclient.saturating_sub(r.reported[1]),
            ],
            ended: r.flow.reason != "active_timeout",
            git_push: git_push_seen(Some(&r.meta)),
        }
    }
}
