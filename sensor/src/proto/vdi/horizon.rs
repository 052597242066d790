//! Omnissa (VMware) Horizon display protocols, named by their handshakes on their own ports.
//!
//! * **PCoIP** (IANA port 4172): "TCP port 4172 is used for the session handshake" (TLS) and
//!   "UDP port 4172 is used for the session data" (Teradici/HP Anyware knowledge base, "What
//!   are the required TCP/UDP ports for PCoIP technology?"). The UDP datagrams are
//!   UDP-encapsulated ESP with a 4-octet PCoIP transport header "inserted between the UDP
//!   header and the ESP header" (HP Anyware knowledge base, "What is the PCoIP Transport
//!   Header?"; PCoIP Zero Client administrator guide, "PCoIP Packet Format"): so bytes 4..8
//!   are an ESP SPI (RFC 4303 §2.1: 1..=255 reserved, 0 never sent) and bytes 8..12 its
//!   sequence number, which starts at 1 and counts up (RFC 4303 §2.2).
//! * **Blast Extreme**: TLS on tcp/22443 to the agent, and through a gateway WebSockets under
//!   the path `/r/` (Omnissa "Network ports in Horizon"; Unified Access Gateway's Horizon
//!   proxy pattern `…|/r/(.*)|…` for "the Blast/HTTPS WebSockets protocol"). BEAT, Blast's UDP
//!   transport, runs on udp/22443 (and udp/8443 at a gateway).

use crate::bytes::be32;

/// PCoIP's IANA port (TCP handshake, UDP session data).
pub const PCOIP_PORT: u16 = 4172;
/// Blast Extreme's port on the agent (TCP and, for BEAT, UDP).
pub const BLAST_PORT: u16 = 22443;

/// Transport header, ESP SPI and sequence, and at least an 8-byte IV and a 16-byte ICV.
const PCOIP_MIN: usize = 4 + 8 + 8 + 16;
/// Sequence numbers this early in a session (a session caught later is named by its
/// handshake on tcp/4172, or not at all).
const PCOIP_EARLY_SEQ: u32 = 1 << 24;

/// A PCoIP session-data datagram: the ESP SPI after the transport header, when the layout
/// holds (an SPI outside the reserved range, an early sequence number).
pub fn probe_pcoip_udp(p: &[u8]) -> Option<u32> {
    if p.len() < PCOIP_MIN {
        return None;
    }
    let spi = be32(p, 4)?;
    let seq = be32(p, 8)?;
    (spi > 255 && (1..PCOIP_EARLY_SEQ).contains(&seq)).then_some(spi)
}

/// A Blast Extreme WebSocket opening in clear (behind a TLS-offloading proxy): a request for
/// a target under `/r/` that asks to upgrade to WebSocket.
pub fn is_blast_websocket(head: &[u8]) -> bool {
    let Some(line_end) = head.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let line = &head[..line_end];
    if !line.starts_with(b"GET /r/") {
        return false;
    }
    head.split(|&b| b == b'\n').skip(1).any(|h| {
        let h = h.strip_suffix(b"\r").unwrap_or(h);
        match h.iter().position(|&b| b == b':') {
            Some(c) => {
                h[..c].eq_ignore_ascii_case(b"upgrade")
                    && h[c + 1..].trim_ascii().eq_ignore_ascii_case(b"websocket")
            }
            None => false,
        }
    })
}
