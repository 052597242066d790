//! OpenVPN hard-reset packets over UDP and TCP, plain or wrapped by tls-auth, tls-crypt or
//! tls-crypt-v2.

use crate::bytes::{be16, be32};

/// How an OpenVPN control packet is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenVpnWrap {
    /// No `--tls-auth` / `--tls-crypt`: the reliability header follows the session id.
    Plain,
    /// `--tls-auth`: an HMAC of `hmac_len` bytes, then packet id and time, in clear.
    TlsAuth { hmac_len: u8 },
    /// `--tls-crypt`: packet id and time, a 32-byte tag, then ciphertext.
    TlsCrypt,
    /// `--tls-crypt-v2` (opcode 10): as tls-crypt, with the wrapped client key appended.
    TlsCryptV2,
}

/// An OpenVPN hard-reset packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenVpn {
    /// 7 = P_CONTROL_HARD_RESET_CLIENT_V2, 8 = P_CONTROL_HARD_RESET_SERVER_V2,
    /// 10 = P_CONTROL_HARD_RESET_CLIENT_V3.
    pub opcode: u8,
    pub key_id: u8,
    /// The sender's 8-byte session id, big-endian.
    pub session_id: u64,
    pub wrap: OpenVpnWrap,
}

// Opcodes: OpenVPN src/openvpn/ssl_pkt.h (P_CONTROL_HARD_RESET_CLIENT_V2 7,
// P_CONTROL_HARD_RESET_SERVER_V2 8, P_CONTROL_HARD_RESET_CLIENT_V3 10); the opcode is
// the top 5 bits of byte 0 and the key id the low 3 bits.
const OVPN_HARD_RESET_CLIENT_V2: u8 = 7;
const OVPN_HARD_RESET_SERVER_V2: u8 = 8;
const OVPN_HARD_RESET_CLIENT_V3: u8 = 10;
/// HMAC sizes tls-auth can carry (MD5 16, SHA1 20, SHA224 28, SHA256 32, SHA384 48,
/// SHA512 64: the `--auth` digests).
const OVPN_HMAC_LENS: [u8; 6] = [16, 20, 28, 32, 48, 64];
/// tls-crypt: 32-byte HMAC-SHA256 tag (OpenVPN doc/tls-crypt-v2.txt and `--tls-crypt`).
const OVPN_TLS_CRYPT_TAG: usize = 32;
/// Packet ids start at 1 and a hard reset is among the first packets; a retransmitting
/// client still stays far below this.
const OVPN_MAX_EARLY_PID: u32 = 0x100;
/// `net_time` is a Unix time: anything before 2001-09-09 is not a real clock.
const OVPN_MIN_TIME: u32 = 1_000_000_000;

/// Probe one UDP datagram for an OpenVPN hard reset.
pub fn probe_openvpn_udp(buf: &[u8]) -> Option<OpenVpn> {
    openvpn_packet(buf)
}

/// Probe a TCP direction's opening: a 2-byte big-endian packet length, then the packet
/// (OpenVPN's TCP framing). The whole first packet must be present.
pub fn probe_openvpn_tcp(buf: &[u8]) -> Option<OpenVpn> {
    let len = usize::from(be16(buf, 0)?);
    openvpn_packet(buf.get(2..2 + len)?)
}

fn openvpn_packet(p: &[u8]) -> Option<OpenVpn> {
    let b0 = *p.first()?;
    let (opcode, key_id) = (b0 >> 3, b0 & 0x7);
    if !matches!(
        opcode,
        OVPN_HARD_RESET_CLIENT_V2 | OVPN_HARD_RESET_SERVER_V2 | OVPN_HARD_RESET_CLIENT_V3
    ) {
        return None;
    }
    // A hard reset starts a new session at key id 0.
    if key_id != 0 {
        return None;
    }
    let sid = p.get(1..9)?;
    let session_id = u64::from_be_bytes(sid.try_into().ok()?);
    if session_id == 0 {
        return None;
    }
    let wrap = if opcode == OVPN_HARD_RESET_CLIENT_V3 {
        // V3 exists only with tls-crypt-v2.
        tls_crypt_v2(p)?
    } else if reliability_ok(opcode, p.get(9..)?) {
        OpenVpnWrap::Plain
    } else if let Some(h) = OVPN_HMAC_LENS
        .iter()
        .copied()
        .find(|&h| tls_auth(opcode, p, h))
    {
        OpenVpnWrap::TlsAuth { hmac_len: h }
    } else if tls_crypt(p, p.len())? {
        OpenVpnWrap::TlsCrypt
    } else {
        return None;
    };
    Some(OpenVpn {
        opcode,
        key_id,
        session_id,
        wrap,
    })
}

/// The clear reliability layer of a hard reset: ack array length, the acked packet ids
/// and the remote session id when it is non-empty, the message packet id (0: the first
/// reliable message), then either nothing or early-negotiation TLVs (OpenVPN 2.6
/// `EARLY_NEG_START`), which must tile the rest exactly.
/// A client's hard reset acknowledges nothing (ack array length 0).
fn reliability_ok(opcode: u8, r: &[u8]) -> bool {
    let Some(&acks) = r.first() else {
        return false;
    };
    let acks = usize::from(acks);
    if opcode != OVPN_HARD_RESET_SERVER_V2 && acks != 0 {
        return false;
    }
    if acks > 4 {
        return false;
    }
    let mut off = 1 + 4 * acks;
    if acks > 0 {
        // Remote session id: the peer's, never zero.
        match r.get(off..off + 8) {
            Some(s) if s.iter().any(|&b| b != 0) => off += 8,
            _ => return false,
        }
    }
    if be32(r, off) != Some(0) {
        return false;
    }
    tlvs_ok(r.get(off + 4..).unwrap_or(&[]))
}

/// Zero or more (type u16, length u16, value) items ending exactly at the end, ≤ 64 bytes.
fn tlvs_ok(mut t: &[u8]) -> bool {
    if t.len() > 64 {
        return false;
    }
    while !t.is_empty() {
        let (Some(ty), Some(len)) = (be16(t, 0), be16(t, 2)) else {
            return false;
        };
        if ty == 0 {
            return false;
        }
        match t.get(4 + usize::from(len)..) {
            Some(rest) => t = rest,
            None => return false,
        }
    }
    true
}

fn early_pid_and_time(p: &[u8], off: usize) -> bool {
    matches!(be32(p, off), Some(pid) if (1..=OVPN_MAX_EARLY_PID).contains(&pid))
        && matches!(be32(p, off + 4), Some(t) if t >= OVPN_MIN_TIME)
}

/// tls-auth: opcode, session id, HMAC, packet id, net_time, then the reliability layer.
fn tls_auth(opcode: u8, p: &[u8], hmac_len: u8) -> bool {
    let off = 9 + usize::from(hmac_len);
    early_pid_and_time(p, off) && p.get(off + 8..).is_some_and(|r| reliability_ok(opcode, r))
}

/// tls-crypt: opcode, session id, packet id, net_time, 32-byte tag, then ciphertext of at
/// least the reliability layer's 5 bytes (ack length + message packet id) and at most
/// that plus 64 bytes of TLVs (plus a server's acks). `end` is where the packet stops.
fn tls_crypt(p: &[u8], end: usize) -> Option<bool> {
    let hdr = 9 + 8 + OVPN_TLS_CRYPT_TAG;
    let ct = end.checked_sub(hdr)?;
    Some(early_pid_and_time(p, 9) && (5..=5 + 4 * 4 + 8 + 64).contains(&ct))
}

/// tls-crypt-v2 client reset: a tls-crypt packet followed by the wrapped client key
/// WKc, whose last two bytes are WKc's own length (OpenVPN doc/tls-crypt-v2.txt:
/// `WKc = T || AES-256-CTR(Ke, IV, Kc || metadata) || len`, T 32 bytes, Kc 2048 bits).
fn tls_crypt_v2(p: &[u8]) -> Option<OpenVpnWrap> {
    let wkc_len = usize::from(be16(p, p.len().checked_sub(2)?)?);
    if wkc_len < 32 + 256 + 2 {
        return None;
    }
    let end = p.len().checked_sub(wkc_len)?;
    if tls_crypt(p, end)? {
        Some(OpenVpnWrap::TlsCryptV2)
    } else {
        None
    }
}
