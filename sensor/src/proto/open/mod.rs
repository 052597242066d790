//! The probes and opening readers of each protocol, registered in `proto::registry`.

pub mod calls;
pub mod dns;
pub mod http;
pub mod proxy;
pub mod quic;
pub mod rdp;
pub mod rfb;
pub mod rmm;
pub mod ssh;
pub mod tls;
pub mod vdi;
pub mod vpn;
pub mod xdmcp;

use super::Probe;

/// A probe that matches on either direction's opening (the client's first, or the
/// server's when the client has not spoken).
fn either(p: fn(&[u8]) -> Probe, cs: &[u8], sc: &[u8]) -> bool {
    p(cs) == Probe::Match || (cs.is_empty() && p(sc) == Probe::Match)
}
