//! WireGuard messages by type and exact size, a tracker that recognises a session caught
//! in its middle from its transport headers, and Tailscale's disco packets beside it.

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
