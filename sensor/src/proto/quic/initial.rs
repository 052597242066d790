//! QUIC Initial packet protection (RFC 9001 §5): the initial secrets every observer can
//! derive from the client's Destination Connection ID, header protection removal (§5.4,
//! AES-128 in ECB over a 16-byte sample) and AEAD_AES_128_GCM payload decryption (§5.3).
//! QUIC v1 (RFC 9001 §5.2), QUIC v2 (RFC 9369 §3.3.1-§3.3.2: its own salt and
//! "quicv2 …" labels) and drafts 29-32 (the draft-29 salt). The primitives are the
//! RustCrypto crates `hkdf`, `aes` and `aes-gcm`.

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use super::varint;
use crate::bytes::be32;

/// A QUIC version whose Initial packets we can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// RFC 9000, 0x00000001.
    V1,
    /// RFC 9369, 0x6b3343cf.
    V2,
    /// draft-ietf-quic-transport-29 … -32 (0xff00001d … 0xff000020).
    Draft(u8),
}

/// RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 (also used by drafts 30-32).
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

impl Version {
    pub fn of(v: u32) -> Option<Version> {
        match v {
            0x0000_0001 => Some(Version::V1),
            0x6b33_43cf => Some(Version::V2),
            0xff00_001d..=0xff00_0020 => Some(Version::Draft((v & 0xff) as u8)),
            _ => None,
        }
    }

    pub fn wire(self) -> u32 {
        match self {
            Version::V1 => 1,
            Version::V2 => 0x6b33_43cf,
            Version::Draft(d) => 0xff00_0000 | u32::from(d),
        }
    }

    /// The EVE form (Suricata's `quic.version`: the version number in hex, "1" for v1).
    pub fn name(self) -> String {
        format!("{:x}", self.wire())
    }

    fn salt(self) -> &'static [u8; 20] {
        match self {
            Version::V1 => &SALT_V1,
            Version::V2 => &SALT_V2,
            Version::Draft(_) => &SALT_DRAFT29,
        }
    }

    /// The labels deriving the packet key, IV and header protection key (RFC 9001 §5.1,
    /// RFC 9369 §3.3.2).
    fn labels(self) -> [&'static [u8]; 3] {
        match self {
            Version::V2 => [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"],
            _ => [b"quic key", b"quic iv", b"quic hp"],
        }
    }

    /// The long-header packet type of an Initial: 0b00 in v1 (RFC 9000 §17.2), 0b01 in
    /// v2 (RFC 9369 §3.2).
    pub fn initial_type(self) -> u8 {
        match self {
            Version::V2 => 1,
            _ => 0,
        }
    }

    /// The long-header type of a Retry (no Length field: it runs to the datagram's end).
    fn retry_type(self) -> u8 {
        match self {
            Version::V2 => 0,
            _ => 3,
        }
    }
}

/// One direction's Initial keys.
#[derive(Clone)]
pub struct Keys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    // Lengths here are at most 32 bytes, far below HKDF-SHA256's 255 * 32 limit.
    let _ = prk.expand(&info, out);
}

/// The Initial keys of the client (`server` false) or the server, from the Destination
/// Connection ID of the client's first Initial (RFC 9001 §5.2).
pub fn initial_keys(version: Version, dcid: &[u8], server: bool) -> Keys {
    let (_, initial) = Hkdf::<Sha256>::extract(Some(version.salt()), dcid);
    let mut secret = [0u8; 32];
    let side: &[u8] = if server { b"server in" } else { b"client in" };
    expand_label(&initial, side, &mut secret);
    // A 32-byte secret is a valid SHA-256 PRK, so from_prk cannot fail here.
    let Ok(prk) = Hkdf::<Sha256>::from_prk(&secret) else {
        return Keys {
            key: [0; 16],
            iv: [0; 12],
            hp: [0; 16],
        };
    };
    let [lk, li, lh] = version.labels();
    let mut k = Keys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&prk, lk, &mut k.key);
    expand_label(&prk, li, &mut k.iv);
    expand_label(&prk, lh, &mut k.hp);
    k
}

/// What a long header says (RFC 9000 §17.2), before header protection is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// Null for a version we cannot open (the packet is still skipped correctly only when
    /// the version is known).
    pub version: Version,
    /// The (protected) long packet type bits.
    pub ptype: u8,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Offset of the packet number field (Initial, 0-RTT, Handshake).
    pub pn_off: usize,
    /// End of this packet in the datagram (coalesced packets follow).
    pub end: usize,
}

impl LongHeader<'_> {
    pub fn is_initial(&self) -> bool {
        self.ptype == self.version.initial_type()
    }
}

/// Parse the long header at the start of `b`.
pub fn long_header(b: &[u8]) -> Result<LongHeader<'_>, &'static str> {
    let first = *b.first().ok_or("empty packet")?;
    if first & 0x80 == 0 {
        return Err("not a long header");
    }
    let v = be32(b, 1).ok_or("short long header")?;
    let version = Version::of(v).ok_or("QUIC version without known Initial keys")?;
    let ptype = (first >> 4) & 3;
    let dl = usize::from(*b.get(5).ok_or("short long header")?);
    if dl > 20 {
        return Err("destination connection ID longer than 20");
    }
    let dcid = b.get(6..6 + dl).ok_or("short destination connection ID")?;
    let mut at = 6 + dl;
    let sl = usize::from(*b.get(at).ok_or("short long header")?);
    if sl > 20 {
        return Err("source connection ID longer than 20");
    }
    let scid = b
        .get(at + 1..at + 1 + sl)
        .ok_or("short source connection ID")?;
    at += 1 + sl;
    if ptype == version.retry_type() {
        return Ok(LongHeader {
            version,
            ptype,
            dcid,
            scid,
            pn_off: b.len(),
            end: b.len(),
        });
    }
    if ptype == version.initial_type() {
        let (tl, n) = varint(b, at).ok_or("short token length")?;
        at += n;
        let tl = usize::try_from(tl).map_err(|_| "token too long")?;
        at = at
            .checked_add(tl)
            .filter(|&e| e <= b.len())
            .ok_or("short token")?;
    }
    let (len, n) = varint(b, at).ok_or("short packet length")?;
    at += n;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| at.checked_add(l))
        .filter(|&e| e <= b.len())
        .ok_or("packet length beyond the datagram")?;
    Ok(LongHeader {
        version,
        ptype,
        dcid,
        scid,
        pn_off: at,
        end,
    })
}

/// Remove header protection and decrypt one long-header packet `pkt` (the datagram from
/// the packet's first byte) whose header is `h`: (packet number, plaintext payload).
pub fn open(pkt: &[u8], h: &LongHeader<'_>, k: &Keys) -> Result<(u64, Vec<u8>), &'static str> {
    // The sample starts 4 bytes after the packet number's first byte (RFC 9001 §5.4.2).
    let sample = pkt
        .get(h.pn_off + 4..h.pn_off + 20)
        .filter(|_| h.pn_off + 20 <= h.end)
        .ok_or("packet too short for the header protection sample")?;
    let mut mask = GenericArray::clone_from_slice(sample);
    aes::Aes128::new(GenericArray::from_slice(&k.hp)).encrypt_block(&mut mask);
    let first = pkt[0] ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let hdr_end = h.pn_off + pn_len;
    let mut header = pkt.get(..hdr_end).ok_or("short packet number")?.to_vec();
    header[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        header[h.pn_off + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(header[h.pn_off + i]);
    }
    let body = pkt.get(hdr_end..h.end).ok_or("short packet")?;
    if body.len() < 16 {
        return Err("payload shorter than the AEAD tag");
    }
    let (ct, tag) = body.split_at(body.len() - 16);
    let mut nonce = k.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let mut plain = ct.to_vec();
    Aes128Gcm::new(GenericArray::from_slice(&k.key))
        .decrypt_in_place_detached(
            GenericArray::from_slice(&nonce),
            &header,
            &mut plain,
            GenericArray::from_slice(tag),
        )
        .map_err(|_| "Initial packet does not authenticate")?;
    Ok((pn, plain))
}
