//! The Alertmanager sink: spanwatch's alerts pushed to Alertmanager's v2 API
//! (`POST /api/v2/alerts`), kept firing while their session lasts and resolved when it ends.
//!
//! ```text
//!  output thread (sync)                      sink thread (tokio, current-thread runtime)
//!  Output::alert ─► AmHandle::alert ─push─► Sink: active alerts ─► one queue per Alertmanager
//!  Output::handle(Flow) ─► AmHandle::flow ─┘  (resend, resolve)      ─► POST, retry with backoff
//! ```
//!
//! - Nothing blocks the packet path: the output thread hands alerts and "flow ended" notices
//!   over a bounded queue ([`Inbox`](inbox::Inbox), drained by the sink at most 5 times a second); a full
//!   queue is counted (`spanwatch_alertmanager_notifications_total{result="dropped"}`), never
//!   waited on. Alerts travel as 128-bit identities of their dedup keys plus their JSON
//!   body; a flow's end names its alerts (the output thread keeps the flow → alerts map) and
//!   is folded into its alert's message when that is still queued.
//! - Identity: an Alertmanager alert is its label set. The labels are built from what the EVE
//!   dedup key holds (signature, client, server, service port, proxy target or DNS domain), so
//!   one spanwatch session is one Alertmanager alert.
//! - Lifecycle, following Alertmanager's client contract (clients re-send firing alerts
//!   periodically with `endsAt` in the future; an alert not re-sent resolves at its `endsAt`):
//!   an alert raised on a flow stays firing, re-sent every `resend_interval_s` with
//!   `endsAt = now + 4 × resend_interval_s`, until every flow it was raised on has ended; it is
//!   then resolved. It stays firing for one resend interval at least, so that Alertmanager
//!   (whose `group_wait` does not notify about a group whose alerts are all resolved)
//!   notifies about short sessions too: a session over before it was ever sent goes out
//!   once with `endsAt` one resend interval ahead; one already sent is resolved once the
//!   hold has passed, with an `endsAt` that has passed too (Alertmanager keeps the later
//!   `endsAt` of the firing alert otherwise). When the sink stops (end of a replay, SIGTERM)
//!   a held session is left to expire at its firing `endsAt`. A flow that ends because the sensor stops (reason
//!   `shutdown`) does not resolve: the session may go on, and the alert expires at its
//!   `endsAt` unless a restarted sensor sees it again.
//!   Alerts about many flows (the host stage: DNS tunnels, bulk SSH, egress) resolve
//!   `resolve_timeout_s` after they were last raised.
//! - `startsAt` is the packet time of the alert; resend and resolve timing here uses the wall
//!   clock (this is the control plane, not the packet path).
//! - Delivery: every Alertmanager in `urls` gets every alert (a cluster deduplicates). New
//!   alerts are gathered for up to 200 ms into one POST; the whole table (re-sends, resolves)
//!   is looked at once per tick, not per alert. Each Alertmanager has its own bounded queue
//!   of batches and one delivery task (one request in flight): connection errors, timeouts
//!   and 5xx are retried `max_retries` times with exponential backoff and jitter; a 4xx is a
//!   bad payload, counted as `rejected` and not retried. The back-off is a circuit breaker
//!   per Alertmanager: while one fails, every attempt waits for it (a down or black-holing
//!   Alertmanager is not tried once per alert or per batch), only a few batches wait for
//!   it, and what does not fit is dropped and counted.

mod config;
mod few;
mod handle;
mod http;
mod inbox;
mod labels;
mod sink;

/// The target of this module's log lines, the same as before it was split into files (log
/// filters and JSON log consumers select by it).
const LOG_TARGET: &str = "spanwatch::output::alertmanager";

pub use crate::output::eve::{rfc3339, wall_ns};
pub use config::{AlertmanagerConfig, Endpoint, Settings, OWN_LABELS};
pub use handle::{start, AmHandle};
pub use labels::{alertname, annotations_of, labels_of, sensor_name, severity_name};

#[cfg(test)]
mod tests;
