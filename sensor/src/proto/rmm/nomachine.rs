//! NoMachine (NX) openings over TCP and UDP.

use crate::bytes::{be16, le16};

/// NoMachine (NX) opens with a short text banner: `NXSH-<version>` from one side and
/// `NXD-<version>` from the other, before TLS. Facts: nDPI src/lib/protocols/nomachine.c
/// (payload of 11..=14 bytes starting `NXSH-` or `NXD-`). We also require the rest to be
/// a version number (digits and dots) with an optional line end.
pub(super) fn nomachine_tcp(buf: &[u8]) -> bool {
    if !(11..=14).contains(&buf.len()) {
        return false;
    }
    let rest = if let Some(r) = buf.strip_prefix(b"NXSH-") {
        r
    } else if let Some(r) = buf.strip_prefix(b"NXD-") {
        r
    } else {
        return false;
    };
    let rest = rest
        .strip_suffix(b"\r\n")
        .or_else(|| rest.strip_suffix(b"\n"))
        .unwrap_or(rest);
    !rest.is_empty()
        && rest.first().is_some_and(u8::is_ascii_digit)
        && rest.iter().all(|&b| b.is_ascii_digit() || b == b'.')
}

/// NoMachine UDP multimedia channel. Facts (nDPI nomachine.c): at least 10 bytes,
/// little-endian u16 at 2 == 1, little-endian u16 at 4 == datagram length, u16 at 8 == 0.
pub(super) fn nomachine_udp(buf: &[u8]) -> bool {
    buf.len() > 9
        && le16(buf, 2) == Some(1)
        && le16(buf, 4).map(usize::from) == Some(buf.len())
        && be16(buf, 8) == Some(0)
}
