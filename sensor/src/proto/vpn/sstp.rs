//! SSTP: its opening HTTP request and its control packets.

use crate::bytes::be16;

/// What an SSTP probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sstp {
    /// The `SSTP_DUPLEX_POST` HTTP request that opens the tunnel (seen in clear only
    /// where TLS is terminated or inspected).
    HttpRequest,
    /// An SSTP control packet with its message type.
    Control { msg_type: u16 },
}

/// [MS-SSTP] §2.2.2 / §3.2.4.1: the client opens with
/// `SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1`.
/// [MS-SSTP] §2.2.1–2.2.3: a packet is Version 0x10, a byte whose low bit C marks control
/// (other bits reserved zero), 4 reserved bits + a 12-bit length equal to the packet
/// size; a control packet then has Message Type 1..=9 and an attribute count.
pub fn probe_sstp(buf: &[u8]) -> Option<Sstp> {
    const REQ: &[u8] = b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1";
    if buf
        .get(..REQ.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(REQ))
    {
        return Some(Sstp::HttpRequest);
    }
    if *buf.first()? != 0x10 || *buf.get(1)? != 0x01 {
        return None;
    }
    let len_field = be16(buf, 2)?;
    if len_field & 0xf000 != 0 || usize::from(len_field) != buf.len() || buf.len() < 8 {
        return None;
    }
    let msg_type = be16(buf, 4)?;
    let attrs = be16(buf, 6)?;
    if !(1..=9).contains(&msg_type) || attrs > 8 {
        return None;
    }
    Some(Sstp::Control { msg_type })
}
