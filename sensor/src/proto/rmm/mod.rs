//! Remote-management and remote-support tools, recognised by their own opening bytes.
//!
//! Every probe here is pure and allocation-free and asks for several independent
//! constraints (fixed bytes *and* a length that agrees with a header field, or a
//! command byte from a known table) before it says yes: a false alarm on a remote-access
//! tool costs an analyst far more than a miss, which the flow's later packets can mend.
//!
//! Tools included, each with the public fact it rests on (cited beside the code):
//! TeamViewer (TCP/UDP framing and its HTTP fallback), Radmin, NoMachine, RustDesk.
//!
//! Left out for want of a concrete public payload fact (found none we could cite):
//! AnyDesk (nDPI lists it as "no dissector": it is named from TLS certificates and
//! hostnames, which the TLS layer sees), Splashtop, ScreenConnect / ConnectWise Control
//! (its relay channel is TLS; the check-in byte patterns of the ET rules were not
//! available to us), Ammyy Admin.

//!
//! One file per tool; this file holds the probes that try them in turn. Callers use the
//! items re-exported here (`proto::rmm::probe_tcp`).

use super::Direction;

mod nomachine;
mod radmin;
mod rustdesk;
mod teamviewer;

use nomachine::{nomachine_tcp, nomachine_udp};
use radmin::radmin_tcp;
use rustdesk::{rustdesk_rendezvous, rustdesk_tcp};
pub use teamviewer::teamviewer_http_uri;
use teamviewer::{teamviewer_tcp, teamviewer_udp};

/// A remote-management tool recognised from payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rmm {
    TeamViewer,
    Radmin,
    NoMachine,
    RustDesk,
}

impl Rmm {
    /// Stable lowercase id, used in EVE records and metric labels.
    pub fn id(self) -> &'static str {
        match self {
            Rmm::TeamViewer => "teamviewer",
            Rmm::Radmin => "radmin",
            Rmm::NoMachine => "nomachine",
            Rmm::RustDesk => "rustdesk",
        }
    }
}

/// Probe the first payload of one direction of a TCP flow.
pub fn probe_tcp(dir: Direction, buf: &[u8]) -> Option<Rmm> {
    if teamviewer_tcp(buf) {
        return Some(Rmm::TeamViewer);
    }
    if radmin_tcp(dir, buf) {
        return Some(Rmm::Radmin);
    }
    if nomachine_tcp(buf) {
        return Some(Rmm::NoMachine);
    }
    if rustdesk_tcp(buf) {
        return Some(Rmm::RustDesk);
    }
    None
}

/// Probe one UDP datagram.
pub fn probe_udp(_dir: Direction, buf: &[u8]) -> Option<Rmm> {
    if teamviewer_udp(buf) {
        return Some(Rmm::TeamViewer);
    }
    if rustdesk_rendezvous(buf) {
        return Some(Rmm::RustDesk);
    }
    if nomachine_udp(buf) {
        return Some(Rmm::NoMachine);
    }
    None
}

/// Byte strings every probe in this folder must refuse, shared by the tests.
#[cfg(test)]
pub(crate) mod samples;

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
