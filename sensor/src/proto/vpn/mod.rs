//! VPN and tunnel openings: OpenVPN, WireGuard, IKE / IPsec NAT-T, L2TP, PPTP, SSTP, and
//! Tor relay link certificates.
//!
//! All probes are pure and allocation-free; each asks for fixed values *and* lengths that
//! agree with the header before it says yes.
//!
//! SoftEther is covered only by its small UDP address message; its main sessions are
//! HTTPS and the TLS/HTTP layers have to name them.

use crate::decode::wire::{be16, be32};

// ====================================================================== OpenVPN

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

// ====================================================================== WireGuard

/// A WireGuard message type, by its exact wire size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WgMsg {
    Initiation,
    Response,
    CookieReply,
    Transport,
}

/// WireGuard (whitepaper "WireGuard: Next Generation Kernel Network Tunnel" §5.4): byte 0
/// is the type (1 initiation, 2 response, 3 cookie reply, 4 transport data), bytes 1..4
/// are reserved zeros; initiation is exactly 148 bytes, response 92, cookie reply 64;
/// transport data is a 16-byte header plus a 16-byte AEAD tag over plaintext padded to a
/// multiple of 16 (§5.4.6), so at least 32 bytes and a multiple of 16.
pub fn probe_wireguard(buf: &[u8]) -> Option<WgMsg> {
    if buf.get(1..4)? != [0, 0, 0] {
        return None;
    }
    let msg = match (*buf.first()?, buf.len()) {
        (1, 148) => WgMsg::Initiation,
        (2, 92) => WgMsg::Response,
        (3, 64) => WgMsg::CookieReply,
        (4, n) if n >= 32 && n % 16 == 0 => WgMsg::Transport,
        _ => return None,
    };
    Some(msg)
}

/// A WireGuard transport-data header: type 4, three reserved zero bytes, the receiver's
/// 32-bit index, and a 64-bit little-endian counter (whitepaper §5.4.6). Returns
/// (receiver index, counter) when the size rules of [`probe_wireguard`] hold too.
pub fn wireguard_transport(buf: &[u8]) -> Option<(u32, u64)> {
    if probe_wireguard(buf)? != WgMsg::Transport {
        return None;
    }
    let receiver = u32::from_le_bytes(buf.get(4..8)?.try_into().ok()?);
    let counter = u64::from_le_bytes(buf.get(8..16)?.try_into().ok()?);
    Some((receiver, counter))
}

/// Transport datagrams of one direction that must agree before a session caught in its
/// middle (no handshake in the capture, port other than 51820) is called WireGuard.
pub const WG_RUN: u8 = 3;
/// Largest counter step still taken as the same session (loss and reordering on the way).
const WG_MAX_STEP: u64 = 64;

/// WireGuard recognised from its data packets alone: within one direction the receiver
/// index stays the same and the counter (a nonce that must never repeat, §5.4.6) grows by
/// small steps. A random datagram passes the header test with a chance of about 2^-28
/// (type byte, three zero bytes, size a multiple of 16); [`WG_RUN`] in a row with one index
/// and rising counters does not happen by chance.
#[derive(Debug, Default, Clone, Copy)]
pub struct WgTrack {
    last: [Option<(u32, u64)>; 2],
    run: [u8; 2],
}

impl WgTrack {
    /// Feed one datagram of direction `dir` (0 to server, 1 to client); true once the
    /// direction has shown [`WG_RUN`] agreeing transport headers in a row.
    pub fn add(&mut self, dir: usize, buf: &[u8]) -> bool {
        let d = dir.min(1);
        let Some((rx, ctr)) = wireguard_transport(buf) else {
            self.last[d] = None;
            self.run[d] = 0;
            return false;
        };
        let follows =
            matches!(self.last[d], Some((r, c)) if r == rx && ctr > c && ctr - c <= WG_MAX_STEP);
        self.run[d] = if follows {
            self.run[d].saturating_add(1)
        } else {
            1
        };
        self.last[d] = Some((rx, ctr));
        self.run[d] >= WG_RUN
    }
}

/// Tailscale's peer-discovery ("disco") packets, which share the UDP socket of its
/// WireGuard tunnel: the 6-byte magic "TS💬" (0x54 0x53 0xf0 0x9f 0x92 0xac), the sender's
/// 32-byte disco public key, a 24-byte nonce, then a NaCl box (at least its 16-byte tag).
/// Fact: tailscale disco/disco.go (`Magic`, `keyLen`, `NonceLen`).
pub fn is_tailscale_disco(buf: &[u8]) -> bool {
    const MAGIC: [u8; 6] = [0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac];
    buf.len() >= 6 + 32 + 24 + 16 && buf.starts_with(&MAGIC)
}

// ====================================================================== IKE / NAT-T

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

// ====================================================================== L2TP

/// An L2TP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct L2tp {
    pub control: bool,
    /// 2 (RFC 2661) or 3 (RFC 3931).
    pub version: u8,
}

/// Probe a UDP datagram (port 1701) for L2TP.
///
/// RFC 2661 §3.1 header: `T L x x S x O P | x x x x Ver`, then Length (if L), Tunnel ID,
/// Session ID, Ns/Nr (if S), Offset (if O). Control messages (T=1) MUST set L and S and
/// clear O and P; the length equals the message size; a non-empty control message
/// starts with the Message Type AVP (§4.4.1: M bit set, length 8, vendor 0, attribute 0).
/// RFC 3931 §3.2.1 (v3 control over UDP): the same first 16 bits with Ver 3, then Length,
/// a 32-bit Control Connection ID, Ns, Nr. L2TPv3 data over UDP (§4.1.2.1): T=0,
/// reserved zero, Ver 3, 16 reserved zero bits, then a non-zero 32-bit Session ID.
/// L2TPv2 data must carry L with a matching length or start the PPP frame with FF 03.
pub fn probe_l2tp(buf: &[u8]) -> Option<L2tp> {
    let flags = be16(buf, 0)?;
    let t = flags & 0x8000 != 0;
    let l = flags & 0x4000 != 0;
    let s = flags & 0x0800 != 0;
    let o = flags & 0x0200 != 0;
    let p = flags & 0x0100 != 0;
    let version = (flags & 0x000f) as u8;
    // Reserved bits: x x (0x3000), x (0x0400), and x x x x (0x00f0).
    if flags & 0x34f0 != 0 {
        return None;
    }
    match (t, version) {
        (true, 2) | (true, 3) => {
            if !(l && s) || o || p {
                return None;
            }
            if usize::from(be16(buf, 2)?) != buf.len() {
                return None;
            }
            // v2: len 2, tunnel 2, session 2, Ns 2, Nr 2; v3: len 2, ccid 4, Ns 2, Nr 2.
            let body = 12;
            if buf.len() == body {
                return Some(L2tp {
                    control: true,
                    version,
                }); // ZLB acknowledgement
            }
            // Message Type AVP: 0x8008 (M bit + length 8), vendor 0, type 0, value.
            if be16(buf, body)? & 0xbfff != 0x8008
                || be16(buf, body + 2)? != 0
                || be16(buf, body + 4)? != 0
            {
                return None;
            }
            let msg_type = be16(buf, body + 6)?;
            if !(1..=30).contains(&msg_type) {
                return None;
            }
            Some(L2tp {
                control: true,
                version,
            })
        }
        (false, 2) => {
            if s && buf.len() < 12 {
                return None;
            }
            if l {
                if usize::from(be16(buf, 2)?) != buf.len() {
                    return None;
                }
            } else {
                // No length: require the PPP address/control bytes right after the header.
                let mut off = 2 + 4;
                if s {
                    off += 4;
                }
                if o {
                    off += 2 + usize::from(be16(buf, off)?);
                }
                if buf.get(off..off + 2)? != [0xff, 0x03] {
                    return None;
                }
            }
            Some(L2tp {
                control: false,
                version,
            })
        }
        (false, 3) => {
            if flags != 0x0003 || be16(buf, 2)? != 0 || be32(buf, 4)? == 0 || buf.len() < 12 {
                return None;
            }
            Some(L2tp {
                control: false,
                version,
            })
        }
        _ => None,
    }
}

// ====================================================================== PPTP

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

// ====================================================================== SSTP

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

// ====================================================================== SoftEther

/// SoftEther VPN's UDP address message: a 10..=29-byte payload `IP=<address>,PORT=<port>`
/// (nDPI src/lib/protocols/softether.c facts). We also require the address to parse as
/// an IPv4/IPv6 address and the port to be a decimal 16-bit number running to the end
/// (NUL padding tolerated).
pub fn probe_softether_udp(buf: &[u8]) -> bool {
    if !(10..30).contains(&buf.len()) {
        return false;
    }
    let Some(rest) = buf.strip_prefix(b"IP=") else {
        return false;
    };
    let Some(sep) = rest.windows(6).position(|w| w == b",PORT=") else {
        return false;
    };
    let (Some(ip), Some(port)) = (rest.get(..sep), rest.get(sep + 6..)) else {
        return false;
    };
    let port_end = port.iter().position(|&b| b == 0).unwrap_or(port.len());
    let (digits, pad) = port.split_at(port_end);
    let ip_ok = std::str::from_utf8(ip)
        .ok()
        .and_then(|t| t.parse::<std::net::IpAddr>().ok())
        .is_some();
    let port_ok = !digits.is_empty()
        && digits.len() <= 5
        && digits.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|t| t.parse::<u16>().ok())
            .is_some();
    ip_ok && port_ok && pad.iter().all(|&b| b == 0)
}

// ====================================================================== ESP

/// IPsec ESP as IP protocol 50 (RFC 4303 §2): the same header rules as ESP in UDP — an
/// SPI above 255 (0 and 1..=255 are reserved), a sequence number that starts at 1, and room
/// for at least an IV, padding trailer and ICV.
pub fn probe_esp(buf: &[u8]) -> Option<u32> {
    probe_esp_in_udp(buf).then(|| be32(buf, 0)).flatten()
}

// ====================================================================== tinc

/// tinc's meta protocol opens with the ID request in clear, one line:
/// `0 <node name> <protocol major>[.<minor>]\n` (tinc manual, "The meta-protocol": request
/// 0 is ID; node names are `[A-Za-z0-9_]`; tinc 1.0 and 1.1 speak major version 17).
/// Only the first line is read (the next requests may follow in the same segment).
pub fn probe_tinc_id(buf: &[u8]) -> bool {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        return false;
    };
    let line = &buf[..end];
    if line.len() > 128 {
        return false;
    }
    let mut f = line.split(|&b| b == b' ');
    let (Some(req), Some(name), Some(ver), None) = (f.next(), f.next(), f.next(), f.next()) else {
        return false;
    };
    let (major, minor) = match ver.iter().position(|&b| b == b'.') {
        Some(i) => (&ver[..i], Some(&ver[i + 1..])),
        None => (ver, None),
    };
    req == b"0"
        && !name.is_empty()
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && major == b"17"
        && minor.is_none_or(|m| !m.is_empty() && m.len() <= 3 && m.iter().all(u8::is_ascii_digit))
}

// ====================================================================== Tor

/// Tor relay TLS link certificates. Fact: tor src/lib/tls/tortls.c
/// (`tor_tls_context_init_certificates`): the link certificate's subject CN is
/// `crypto_random_hostname(8, 20, "www.", ".net")` and its issuer CN is
/// `crypto_random_hostname(8, 20, "www.", ".com")` (".net" in builds with
/// DISABLE_V3_LINKPROTO_SERVERSIDE and in old releases). The random part is 8..=20
/// characters of lowercase base32 (`a-z`, `2-7`), tor's base32 alphabet.
///
/// Takes the subject and issuer common names (a leading `CN=` is tolerated).
pub fn probe_tor_cert(subject: &str, issuer: &str) -> bool {
    let s = subject.strip_prefix("CN=").unwrap_or(subject);
    let i = issuer.strip_prefix("CN=").unwrap_or(issuer);
    let Some(s_label) = tor_random_label(s, ".net") else {
        return false;
    };
    let Some(i_label) = tor_random_label(i, ".com").or_else(|| tor_random_label(i, ".net")) else {
        return false;
    };
    // Two independent draws: identical labels would be a self-signed imitation.
    s_label != i_label
}

fn tor_random_label<'a>(name: &'a str, tld: &str) -> Option<&'a str> {
    let label = name.strip_prefix("www.")?.strip_suffix(tld)?;
    let ok = (8..=20).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    ok.then_some(label)
}

#[cfg(test)]
mod tests;
