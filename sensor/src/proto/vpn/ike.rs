//! IPsec: IKEv1/IKEv2 headers (with the NAT-T non-ESP marker), NAT keepalives, and ESP
//! in UDP or as IP protocol 50.

use crate::bytes::be32;

/// An ISAKMP / IKE message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ike {
    /// IKEv1 (ISAKMP version 1.0) rather than IKEv2.
    pub v1: bool,
    /// Exchange type: v1 2 = main mode, 4 = aggressive, 5 = informational, 32 = quick;
    /// v2 34 = IKE_SA_INIT, 35 = IKE_AUTH, 36 = CREATE_CHILD_SA, 37 = INFORMATIONAL.
    pub exchange: u8,
    /// The first payload's type.
    pub next_payload: u8,
    pub initiator_spi: u64,
}

/// ISAKMP header size (RFC 2408 §3.1, RFC 7296 §3.1): two 8-byte SPIs, next payload,
/// version, exchange type, flags, 4-byte message id, 4-byte length.
const IKE_HDR: usize = 28;

/// Probe a UDP datagram for IKE. On port 4500 the IKE message follows a 4-byte
/// non-ESP marker of zeros (RFC 3948 §2.2), which is skipped; elsewhere (500) the
/// message starts at byte 0.
pub fn probe_ike(buf: &[u8], port: u16) -> Option<Ike> {
    let m = if port == 4500 {
        if be32(buf, 0)? != 0 {
            return None;
        }
        buf.get(4..)?
    } else {
        buf
    };
    if m.len() < IKE_HDR {
        return None;
    }
    let initiator_spi = u64::from_be_bytes(m.get(0..8)?.try_into().ok()?);
    let responder_spi = u64::from_be_bytes(m.get(8..16)?.try_into().ok()?);
    let (next, version, exchange, flags) = (*m.get(16)?, *m.get(17)?, *m.get(18)?, *m.get(19)?);
    // The length field covers the whole message, header included (RFC 7296 §3.1).
    if be32(m, 24)? as usize != m.len() || initiator_spi == 0 {
        return None;
    }
    let v1 = match version {
        0x10 => true,
        0x20 => false,
        _ => return None,
    };
    if v1 {
        // RFC 2408 §3.1 / RFC 2409: exchange types 1..=5 (base, identity protection,
        // authentication only, aggressive, informational), 32 quick mode, 33 new group.
        // Flags: only E, C, A (low 3 bits). Payload types 1..=13 (RFC 2408 §3.1), 20/21
        // NAT-D / NAT-OA (RFC 3947 §3), 130/131 the draft NAT-T numbers.
        if !matches!(exchange, 1..=5 | 32 | 33)
            || flags & 0xf8 != 0
            || !matches!(next, 1..=13 | 20 | 21 | 130 | 131)
        {
            return None;
        }
    } else {
        // RFC 7296 §3.1: exchange types 34..=37 (43 IKE_SESSION_RESUME, RFC 5723);
        // flags only I (0x08), V (0x10), R (0x20); payload types 33..=48 (§3.2),
        // 53 SKF (RFC 7383).
        if !matches!(exchange, 34..=37 | 43) || flags & 0xc7 != 0 || !matches!(next, 33..=48 | 53) {
            return None;
        }
        // The initiator's IKE_SA_INIT request goes out before the responder picked an SPI
        // (RFC 7296 §3.1: responder SPI zero in the first message).
        if exchange == 34 && flags & 0x28 == 0x08 && responder_spi != 0 {
            return None;
        }
    }
    Some(Ike {
        v1,
        exchange,
        next_payload: next,
        initiator_spi,
    })
}

/// NAT-keepalive: a one-byte UDP payload 0xFF (RFC 3948 §2.3).
pub fn is_nat_t_keepalive(buf: &[u8]) -> bool {
    buf == [0xff]
}

/// ESP in UDP on port 4500 (RFC 3948 §2.1): the datagram starts with the ESP SPI, which is
/// never zero (zero is the non-ESP marker) and never 1..=255 (reserved, RFC 4303 §2.1),
/// then a sequence number that starts at 1 (RFC 4303 §3.3.3), then at least an IV, the
/// pad length / next header and an ICV. The caller checks the port.
pub fn probe_esp_in_udp(buf: &[u8]) -> bool {
    buf.len() >= 16
        && matches!(be32(buf, 0), Some(spi) if spi > 255)
        && matches!(be32(buf, 4), Some(seq) if seq != 0)
}

/// IPsec ESP as IP protocol 50 (RFC 4303 §2): the same header rules as ESP in UDP — an
/// SPI above 255 (0 and 1..=255 are reserved), a sequence number that starts at 1, and room
/// for at least an IV, padding trailer and ICV.
pub fn probe_esp(buf: &[u8]) -> Option<u32> {
    probe_esp_in_udp(buf).then(|| be32(buf, 0)).flatten()
}
