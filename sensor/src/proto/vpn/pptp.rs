//! PPTP control-connection messages over TCP.

use crate::bytes::{be16, be32};

/// A PPTP control-connection message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PptpCtrl {
    /// Control message type: 1 Start-Control-Connection-Request, 2 -Reply, … 15.
    pub msg_type: u16,
}

/// Probe TCP (port 1723) for a PPTP control message (RFC 2637 §2): Length (2), PPTP
/// Message Type (2, 1 = control), Magic Cookie 0x1A2B3C4D (4), Control Message Type (2),
/// Reserved0 (2, zero). Each control message type has a fixed length (RFC 2637 §2.1–2.15),
/// which the Length field must equal; the whole message must be present.
pub fn probe_pptp(buf: &[u8]) -> Option<PptpCtrl> {
    let len = be16(buf, 0)?;
    if be16(buf, 2)? != 1 || be32(buf, 4)? != 0x1a2b_3c4d || be16(buf, 10)? != 0 {
        return None;
    }
    let msg_type = be16(buf, 8)?;
    let expected: u16 = match msg_type {
        1 | 2 => 156, // Start-Control-Connection-Request / -Reply
        3 | 4 => 16,  // Stop-Control-Connection-Request / -Reply
        5 => 16,      // Echo-Request
        6 => 20,      // Echo-Reply
        7 => 168,     // Outgoing-Call-Request
        8 => 32,      // Outgoing-Call-Reply
        9 => 220,     // Incoming-Call-Request
        10 => 24,     // Incoming-Call-Reply
        11 => 28,     // Incoming-Call-Connected
        12 => 16,     // Call-Clear-Request
        13 => 148,    // Call-Disconnect-Notify
        14 => 32,     // WAN-Error-Notify
        15 => 24,     // Set-Link-Info
        _ => return None,
    };
    if len != expected || buf.len() < usize::from(len) {
        return None;
    }
    Some(PptpCtrl { msg_type })
}
