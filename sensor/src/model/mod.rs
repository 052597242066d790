//! The vocabulary every stage shares, at the bottom of the crate: it imports nothing of
//! spanwatch above it, so capture, flows, detection, the host stage and the outputs can all
//! use it without importing each other.
//!
//! - [`net`]: the home networks, a flow's ends oriented client → server, directions.
//! - [`meta`]: what the protocol parsers learned about a flow, typed.
//! - [`record`]: the records passed between stages and written as EVE (flow, alert, finding).
//! - [`sid`]: every signature id spanwatch raises, its category and host-anomaly kinds.

pub mod community_id;
pub mod meta;
pub mod net;
pub mod ranges;
pub mod record;
pub mod sid;
