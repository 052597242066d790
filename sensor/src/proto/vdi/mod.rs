//! Virtual-desktop infrastructure: Citrix ICA and CGP (session reliability), Omnissa
//! (VMware) Horizon's PCoIP and Blast Extreme.
//!
//! Included: Citrix ICA (tcp 1494) and CGP (tcp 2598), both by their fixed opening bytes;
//! PCoIP by its TLS handshake on tcp/4172 and its UDP-encapsulated ESP session data on
//! udp/4172, Blast by TLS on tcp/22443 and its WebSocket under `/r/` (`horizon.rs`).
//!
//! Not included here, and why:
//! * Blast's UDP transport (BEAT) and Amazon DCV (tcp/udp 8443, WebSocket or QUIC): no
//!   public fact on their clear-text bytes we could cite; DCV's port is every second web
//!   server's. Both are named across two flows instead (TLS then UDP/QUIC from one client
//!   to the same server port), in the host stage: `host/vdi.rs`.
//! * X2Go and NX-over-SSH run inside SSH: the SSH layer sees them (`SSH-2.0-` banner);
//!   nothing of theirs shows in clear. NoMachine's own NX protocol is in `rmm`.

/// Which Citrix channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Citrix {
    /// Independent Computing Architecture, tcp 1494.
    Ica,
    /// Common Gateway Protocol (session reliability), tcp 2598.
    Cgp,
}

/// A virtual-desktop protocol recognised from payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vdi {
    Citrix(Citrix),
}

impl Vdi {
    /// Stable lowercase id.
    pub fn id(self) -> &'static str {
        match self {
            Vdi::Citrix(_) => "citrix",
        }
    }
}

/// ICA detect string `\x7f\x7fICA\x00`, which the ICA server repeats until the client
/// answers (widely documented ICA "detect" packet; the value given in this project's
/// brief). nDPI src/lib/protocols/citrix.c facts spell the first two bytes 0x07 0x07
/// (`07 07 49 43 41 00`, whole 6-byte payload); we accept both spellings, since each is
/// six fixed bytes.
const ICA_DETECT: [u8; 6] = [0x7f, 0x7f, b'I', b'C', b'A', 0x00];
const ICA_DETECT_NDPI: [u8; 6] = [0x07, 0x07, b'I', b'C', b'A', 0x00];
/// CGP opening `\x1aCGP/01` (nDPI citrix.c facts).
const CGP_MAGIC: [u8; 7] = [0x1a, b'C', b'G', b'P', b'/', b'0', b'1'];

/// Probe the opening bytes of a TCP direction for Citrix.
///
/// The ICA detect packet is 6 bytes and may be repeated within one segment: we accept a
/// payload that is one or more whole copies of it.
pub fn probe_citrix(buf: &[u8]) -> Option<Citrix> {
    if buf.starts_with(&CGP_MAGIC) {
        return Some(Citrix::Cgp);
    }
    for magic in [ICA_DETECT, ICA_DETECT_NDPI] {
        if !buf.is_empty()
            && buf.len() % magic.len() == 0
            && buf.chunks(magic.len()).all(|c| c == magic)
        {
            return Some(Citrix::Ica);
        }
    }
    None
}

/// Probe a TCP direction for any VDI protocol this module knows.
pub fn probe_tcp(buf: &[u8]) -> Option<Vdi> {
    probe_citrix(buf).map(Vdi::Citrix)
}

pub mod horizon;

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
