//! RDP connection setup: the X.224 Connection Request / Confirm with RDP negotiation
//! (MS-RDPBCGR §2.2.1.1, §2.2.1.2), the RDP-UDP SYN / SYN+ACK (MS-RDPEUDP §2.2.2.1,
//! §2.2.2.5, §2.2.2.9, §3.1.5.1.1), and RD Gateway's HTTP transport methods (MS-TSGU §2.2.3.1).

use super::{Parsed, Probe};
use crate::bytes::{be16, be32, le16, le32};

/// TPKT header (RFC 1006 §6) + fixed X.224 CR/CC TPDU (X.224 §13.3 / §13.4).
const FIXED: usize = 4 + 7;
const TPDU_CR: u8 = 0xe0;
const TPDU_CC: u8 = 0xd0;
const TYPE_RDP_NEG_REQ: u8 = 0x01;
const TYPE_RDP_NEG_RSP: u8 = 0x02;
const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
const STR_CAP: usize = 256;

/// MS-RDPBCGR §2.2.1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRequest {
    /// IDENTIFIER of `Cookie: mstshash=IDENTIFIER\r\n` (usually a user name).
    pub cookie: Option<String>,
    /// The value of a `Cookie: msts=...\r\n` routing token (load-balancer redirection).
    pub routing_token: Option<String>,
    /// RDP_NEG_REQ.requestedProtocols (§2.2.1.1.1).
    pub requested_protocols: Option<u32>,
}

/// MS-RDPBCGR §2.2.1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfirm {
    /// RDP_NEG_RSP.selectedProtocol (§2.2.1.2.1).
    pub selected_protocol: Option<u32>,
    /// RDP_NEG_FAILURE.failureCode (§2.2.1.2.2).
    pub failure_code: Option<u32>,
}

/// What an RDP-UDP handshake datagram says (MS-RDPEUDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdpeUdp {
    pub syn: bool,
    pub synack: bool,
    /// 1, 2 or 3 from RDPUDP_SYNDATAEX_PAYLOAD.uUdpVer; 1 when absent.
    pub version: u8,
}

/// TPKT v3 carrying an X.224 Connection Request or Confirm? Pure, allocation-free.
pub fn probe(buf: &[u8]) -> Probe {
    type Check = (usize, fn(u8) -> bool);
    let checks: [Check; 3] = [
        (0, |b| b == 3),
        (1, |b| b == 0),
        (5, |b| b == TPDU_CR || b == TPDU_CC),
    ];
    for (i, ok) in checks {
        match buf.get(i) {
            Some(&b) if !ok(b) => return Probe::NoMatch,
            None => return Probe::NeedMore,
            _ => {}
        }
    }
    let (Some(len), Some(&li)) = (be16(buf, 2), buf.get(4)) else {
        return Probe::NeedMore;
    };
    // X.224 length indicator counts the TPDU header after itself.
    if usize::from(len) < FIXED || usize::from(li) + 5 != usize::from(len) {
        return Probe::NoMatch;
    }
    // The variable part of an RDP connection request or confirm (MS-RDPBCGR 2.2.1.1 and
    // 2.2.1.2) is a routing token or cookie ("Cookie: …") and/or RDP_NEG_REQ (type 1),
    // RDP_NEG_RSP (2) or RDP_NEG_FAILURE (3). ISO 8073 COTP on port 102 (S7comm, MMS)
    // shares the TPKT/X.224 framing but carries parameters coded 0xC0–0xC2 here.
    if usize::from(len) > FIXED {
        match buf.get(FIXED) {
            Some(b'C' | 1 | 2 | 3) => {}
            Some(_) => return Probe::NoMatch,
            None => return Probe::NeedMore,
        }
    }
    Probe::Match
}

/// The TPDU after the TPKT header, or what is missing.
fn tpdu(buf: &[u8], code: u8) -> Result<(&[u8], usize), Parsed<()>> {
    let Some(len) = be16(buf, 2) else {
        if buf.first().is_some_and(|&v| v != 3) {
            return Err(Parsed::Malformed("not TPKT version 3"));
        }
        return Err(Parsed::NeedMore {
            needed: 4 - buf.len(),
        });
    };
    if buf.first() != Some(&3) {
        return Err(Parsed::Malformed("not TPKT version 3"));
    }
    let len = usize::from(len);
    if len < FIXED {
        return Err(Parsed::Malformed("TPKT length too short for X.224"));
    }
    if buf.get(5).is_some_and(|&c| c & 0xf0 != code) {
        return Err(Parsed::Malformed("unexpected X.224 TPDU code"));
    }
    let Some(pdu) = buf.get(4..len) else {
        return Err(Parsed::NeedMore {
            needed: len - buf.len(),
        });
    };
    let li = usize::from(*pdu.first().unwrap_or(&0));
    if li + 1 != pdu.len() {
        return Err(Parsed::Malformed(
            "X.224 length indicator disagrees with TPKT",
        ));
    }
    Ok((pdu.get(7..).unwrap_or(&[]), len))
}

fn reshape<T>(p: Parsed<()>) -> Parsed<T> {
    match p {
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
        Parsed::Done { .. } => Parsed::Malformed("internal"),
    }
}

fn lossy(b: &[u8]) -> String {
    let b = b.get(..b.len().min(STR_CAP)).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

/// Client X.224 Connection Request PDU (MS-RDPBCGR §2.2.1.1): TPKT, X.224 CR, then an
/// optional routingToken or cookie line ending in CR LF, then an optional RDP_NEG_REQ.
pub fn parse_connection_request(buf: &[u8]) -> Parsed<ConnectionRequest> {
    let (mut var, consumed) = match tpdu(buf, TPDU_CR) {
        Ok(v) => v,
        Err(p) => return reshape(p),
    };
    let mut req = ConnectionRequest {
        cookie: None,
        routing_token: None,
        requested_protocols: None,
    };
    if var.starts_with(b"Cookie: ") {
        let Some(end) = var.windows(2).position(|w| w == b"\r\n") else {
            return Parsed::Malformed("cookie without CR LF");
        };
        let line = var.get(8..end).unwrap_or(&[]);
        if let Some(id) = line.strip_prefix(b"mstshash=") {
            req.cookie = Some(lossy(id));
        } else if let Some(tok) = line.strip_prefix(b"msts=") {
            req.routing_token = Some(lossy(tok));
        } else {
            req.routing_token = Some(lossy(line));
        }
        var = var.get(end + 2..).unwrap_or(&[]);
    }
    // RDP_NEG_REQ (§2.2.1.1.1): type 0x01, flags, length 8 (LE), requestedProtocols (LE).
    if var.first() == Some(&TYPE_RDP_NEG_REQ) && le16(var, 2) == Some(8) {
        req.requested_protocols = le32(var, 4);
    }
    Parsed::Done {
        value: req,
        consumed,
    }
}

/// Server X.224 Connection Confirm PDU (MS-RDPBCGR §2.2.1.2) with an optional
/// RDP_NEG_RSP (§2.2.1.2.1) or RDP_NEG_FAILURE (§2.2.1.2.2).
pub fn parse_connection_confirm(buf: &[u8]) -> Parsed<ConnectionConfirm> {
    let (var, consumed) = match tpdu(buf, TPDU_CC) {
        Ok(v) => v,
        Err(p) => return reshape(p),
    };
    let mut cc = ConnectionConfirm {
        selected_protocol: None,
        failure_code: None,
    };
    if le16(var, 2) == Some(8) {
        match var.first() {
            Some(&TYPE_RDP_NEG_RSP) => cc.selected_protocol = le32(var, 4),
            Some(&TYPE_RDP_NEG_FAILURE) => cc.failure_code = le32(var, 4),
            _ => {}
        }
    }
    Parsed::Done {
        value: cc,
        consumed,
    }
}

/// Names of the protocol flags of requestedProtocols / selectedProtocol
/// (MS-RDPBCGR §2.2.1.1.1): 0 is standard RDP security.
pub fn protocol_names(p: u32) -> Vec<&'static str> {
    if p == 0 {
        return vec!["rdp"];
    }
    [
        (0x01, "ssl"),
        (0x02, "hybrid"),
        (0x04, "rdstls"),
        (0x08, "hybrid_ex"),
        (0x10, "rdsaad"),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|(_, n)| *n)
    .collect()
}

/// MS-RDPEUDP §3.1.5.1.1: SYN and SYN+ACK datagrams are zero-padded to this size.
const RDPUDP_SYN_SIZE: usize = 1232;
/// §2.2.2.5: uUpStreamMtu / uDownStreamMtu lie in 1132..=1232.
const MTU_MIN: u16 = 1132;
const FLAG_SYN: u16 = 0x0001;
const FLAG_ACK: u16 = 0x0004;
const FLAG_DATA: u16 = 0x0008;
const FLAG_CORRELATION_ID: u16 = 0x0800;
const FLAG_SYNEX: u16 = 0x1000;

/// Is this UDP payload an RDP-UDP SYN (client) or SYN+ACK (server)? RDPUDP_FEC_HEADER
/// (§2.2.2.1: snSourceAck, uReceiveWindowSize, uFlags, network byte order), then
/// RDPUDP_SYNDATA_PAYLOAD (§2.2.2.5), optional RDPUDP_CORRELATION_ID_PAYLOAD (§2.2.2.8,
/// SYN only) and RDPUDP_SYNDATAEX_PAYLOAD (§2.2.2.9) whose uUdpVer announces RDP-UDP
/// version 2 (0x0002) or 3 (0x0101). Later RDP-UDP2 datagrams (MS-RDPEUDP2) carry no
/// fixed signature and are not recognised here. Pure, allocation-free.
pub fn probe_rdpeudp(buf: &[u8]) -> Option<RdpeUdp> {
    if buf.len() != RDPUDP_SYN_SIZE {
        return None;
    }
    let src_ack = be32(buf, 0)?;
    let flags = be16(buf, 6)?;
    if flags & FLAG_SYN == 0 || flags & FLAG_DATA != 0 {
        return None;
    }
    let synack = flags & FLAG_ACK != 0;
    // A client SYN has snSourceAck = -1 (§3.1.5.1.1).
    if !synack && src_ack != 0xffff_ffff {
        return None;
    }
    let up = be16(buf, 12)?;
    let down = be16(buf, 14)?;
    if !(MTU_MIN..=RDPUDP_SYN_SIZE as u16).contains(&up)
        || !(MTU_MIN..=RDPUDP_SYN_SIZE as u16).contains(&down)
    {
        return None;
    }
    let mut off = 16usize;
    if !synack && flags & FLAG_CORRELATION_ID != 0 {
        off += 32; // uCorrelationId (16) + reserved (16)
    }
    let mut version = 1u8;
    let mut end = off;
    if flags & FLAG_SYNEX != 0 {
        version = match be16(buf, off + 2)? {
            0x0001 => 1,
            0x0002 => 2,
            0x0101 => 3,
            _ => return None,
        };
        // Version 3 adds a 32-byte cookieHash; it is not part of the padding.
        end = off + 4 + if version == 3 { 32 } else { 0 };
    }
    // The rest is zero padding.
    if buf.get(end..)?.iter().any(|&b| b != 0) {
        return None;
    }
    Some(RdpeUdp {
        syn: !synack,
        synack,
        version,
    })
}

/// RD Gateway's HTTP transport opens its two channels with these methods (MS-TSGU §2.2.3.1).
pub fn is_rdg_http_method(method: &str) -> bool {
    method == "RDG_OUT_DATA" || method == "RDG_IN_DATA"
}

#[cfg(test)]
mod tests;

/// Its probes and opening reader, registered in `proto::registry`.
pub mod open;

/// An RDP negotiation whose TPKT or X.224 lengths do not add up (scanners, hand-made
/// clients, a TPKT split oddly): a TPKT version 3 header and an X.224 Connection Request
/// whose variable part holds the `Cookie: mstshash=` routing token or ends in an
/// RDP_NEG_REQ (type 1, length 8, MS-RDPBCGR 2.2.1.1.1) — or, from the server, a Connection
/// Confirm ending in an RDP_NEG_RSP or RDP_NEG_FAILURE (types 2 and 3, length 8).
pub fn loose_negotiation(cs: &[u8], sc: &[u8]) -> bool {
    let x224 = |b: &[u8], tpdu: u8| b.len() >= 11 && b[0] == 3 && b[1] == 0 && b[5] == tpdu;
    let neg_end = |b: &[u8], types: &[u8]| {
        b.len() >= 19 && {
            let t = &b[b.len() - 8..];
            types.contains(&t[0]) && t[2] == 8 && t[3] == 0
        }
    };
    if x224(cs, TPDU_CR) && (cs.windows(17).any(|w| w == b"Cookie: mstshash=") || neg_end(cs, &[1]))
    {
        return true;
    }
    matches!(cs, [] | [3, ..]) && x224(sc, TPDU_CC) && neg_end(sc, &[2, 3])
}
