//! Call media and its signalling helpers: STUN/TURN, RTP, RTCP, DTLS, and Zoom's media
//! encapsulation.
//!
//! WhatsApp, Teams, Meet and the like are named by the caller from the STUN `SOFTWARE`
//! attribute ([`Stun::software`], e.g. a value starting `Microsoft`), from TLS names and
//! from the rules catalogue; this module only says what the bytes are.
//!
//! A single RTP packet is weak evidence (two version bits and a payload type): callers
//! should ask for several packets with the same SSRC and advancing sequence numbers.
//!
//! One file per protocol; callers use the items re-exported here
//! (`proto::calls::probe_stun`).

mod dtls;
mod rtp;
mod stun;
mod zoom;

pub use dtls::{dtls_use_srtp, dtls_use_srtp_read, probe_dtls, Dtls, DtlsMedia, DTLS_BAD_VER};
pub use rtp::{probe_rtcp, probe_rtp, Rtcp, Rtp};
pub use stun::{probe_stun, probe_turn_channel, Stun, StunClass};
pub use zoom::probe_zoom;

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;
