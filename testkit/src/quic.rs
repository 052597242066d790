//! QUIC Initial packets sealed as a client or server would (RFC 9001 §5: initial secrets,
//! AEAD_AES_128_GCM, header protection; QUIC v2's salt, labels and packet type from
//! RFC 9369), around TLS handshake messages in CRYPTO frames.

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

/// QUIC v1 (RFC 9000).
pub const QUIC_V1: u32 = 1;
/// QUIC v2 (RFC 9369).
pub const QUIC_V2: u32 = 0x6b33_43cf;
/// draft-29.
pub const QUIC_DRAFT29: u32 = 0xff00_001d;

fn salt(version: u32) -> [u8; 20] {
    let hex = match version {
        QUIC_V2 => "0dede3def700a6db819381be6e269dcbf9bd2ed9",
        QUIC_V1 => "38762cf7f55934b34d179ae6a4c80cadccbb7f0a",
        _ => "afbfec289993d24c9e9786f19c6111e04390a899",
    };
    let mut s = [0u8; 20];
    for (i, b) in s.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    s
}

fn expand(prk: &Hkdf<Sha256>, label: &str, n: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = (n as u16).to_be_bytes().to_vec();
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; n];
    prk.expand(&info, &mut out).unwrap();
    out
}

/// (key, iv, hp) of one side's Initial packets.
fn keys(version: u32, dcid: &[u8], server: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (_, initial) = Hkdf::<Sha256>::extract(Some(&salt(version)), dcid);
    let secret = expand(&initial, if server { "server in" } else { "client in" }, 32);
    let prk = Hkdf::<Sha256>::from_prk(&secret).unwrap();
    let p = if version == QUIC_V2 { "quicv2" } else { "quic" };
    (
        expand(&prk, &format!("{p} key"), 16),
        expand(&prk, &format!("{p} iv"), 12),
        expand(&prk, &format!("{p} hp"), 16),
    )
}

/// A CRYPTO frame (RFC 9000 §19.6) carrying `data` at stream offset `off`.
pub fn quic_crypto_frame(off: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend_from_slice(&varint(off));
    f.extend_from_slice(&varint(data.len() as u64));
    f.extend_from_slice(data);
    f
}

fn varint(v: u64) -> Vec<u8> {
    if v < 64 {
        vec![v as u8]
    } else if v < 16384 {
        ((v as u16) | 0x4000).to_be_bytes().to_vec()
    } else {
        ((v as u32) | 0x8000_0000).to_be_bytes().to_vec()
    }
}

/// One Initial packet: `frames` padded with PADDING so the packet is at least `min_len`
/// bytes, protected with the keys of `key_dcid` (the client's first Destination
/// Connection ID) for the client (`server` false) or the server. Packet number 4 bytes.
#[allow(clippy::too_many_arguments)]
pub fn quic_initial(
    version: u32,
    key_dcid: &[u8],
    dcid: &[u8],
    scid: &[u8],
    server: bool,
    pn: u32,
    frames: &[u8],
    min_len: usize,
) -> Vec<u8> {
    let ptype: u8 = if version == QUIC_V2 { 1 } else { 0 };
    let mut hdr = vec![0xc0 | (ptype << 4) | 0x03];
    hdr.extend_from_slice(&version.to_be_bytes());
    hdr.push(dcid.len() as u8);
    hdr.extend_from_slice(dcid);
    hdr.push(scid.len() as u8);
    hdr.extend_from_slice(scid);
    hdr.push(0); // no token
    let fixed = hdr.len() + 2 + 4 + 16;
    let mut payload = frames.to_vec();
    if fixed + payload.len() < min_len {
        payload.resize(min_len - fixed, 0);
    }
    let len = 4 + payload.len() + 16;
    hdr.extend_from_slice(&((len as u16) | 0x4000).to_be_bytes());
    let pn_off = hdr.len();
    hdr.extend_from_slice(&pn.to_be_bytes());
    let (key, iv, hp) = keys(version, key_dcid, server);
    let mut nonce = iv.clone();
    for (n, p) in nonce[4..].iter_mut().zip(u64::from(pn).to_be_bytes()) {
        *n ^= p;
    }
    let tag = Aes128Gcm::new(GenericArray::from_slice(&key))
        .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &hdr, &mut payload)
        .unwrap();
    let mut pkt = hdr;
    pkt.extend_from_slice(&payload);
    pkt.extend_from_slice(&tag);
    let mut mask = GenericArray::clone_from_slice(&pkt[pn_off + 4..pn_off + 20]);
    aes::Aes128::new(GenericArray::from_slice(&hp)).encrypt_block(&mut mask);
    pkt[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        pkt[pn_off + i] ^= mask[1 + i];
    }
    pkt
}

/// A QUIC ClientHello handshake message (no record layer): TLS 1.3 only, with SNI, ALPN
/// and the quic_transport_parameters extension.
pub fn quic_client_hello(sni: &str, alpn: &[&str]) -> Vec<u8> {
    let rec = super::tls_client_hello(Some(sni), alpn);
    // tls_client_hello is one record: drop its 5-byte header, then add transport params.
    let mut msg = rec[5..].to_vec();
    let tp = [0x00, 0x39, 0x00, 0x04, 0x01, 0x02, 0x40, 0x64];
    let ext_len = u16::from_be_bytes([msg[4 + 2 + 32 + 1 + 8 + 2], msg[4 + 2 + 32 + 1 + 8 + 3]]);
    let at = 4 + 2 + 32 + 1 + 8 + 2;
    msg[at..at + 2].copy_from_slice(&(ext_len + tp.len() as u16).to_be_bytes());
    msg.extend_from_slice(&tp);
    let body = (msg.len() - 4) as u32;
    msg[1..4].copy_from_slice(&body.to_be_bytes()[1..]);
    msg
}

/// A TLS 1.3 ServerHello handshake message: TLS_AES_128_GCM_SHA256, key_share (x25519)
/// and supported_versions.
pub fn quic_server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend((0..32).map(|i| (i * 13 + 1) as u8));
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    let mut exts = vec![0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
    exts.extend((0..32).map(|i| (i * 3 + 9) as u8));
    exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut msg = vec![2];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg
}
