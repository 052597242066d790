//! RustDesk: rendezvous datagrams and relay/direct TCP framing (protobuf messages).

/// RustDesk rendezvous messages (hbbs, udp/tcp 21116). Facts: rustdesk's
/// `libs/hbb_common/protos/rendezvous.proto` — `RendezvousMessage` is a protobuf
/// `oneof` with `RegisterPeer register_peer = 6` (`string id = 1; int32 serial = 2`)
/// and `PunchHoleRequest punch_hole_request = 8` (`string id = 1`, then small
/// varint/string fields). On UDP a datagram is one bare message.
///
/// Conservative: the datagram must be exactly one field-6 or field-8 submessage whose
/// first field is an ID of 6..=32 `[A-Za-z0-9_-]` characters, and whose remaining fields
/// parse as well-formed protobuf to the last byte.
pub(super) fn rustdesk_rendezvous(buf: &[u8]) -> bool {
    let Some(&tag) = buf.first() else {
        return false;
    };
    // Field 6 or 8, wire type 2 (length-delimited): tags 0x32 and 0x42.
    let max_field = match tag {
        0x32 => 2,  // RegisterPeer: id, serial
        0x42 => 12, // PunchHoleRequest: id and a handful of scalar/string fields
        _ => return false,
    };
    let Some((inner_len, n)) = varint(buf.get(1..).unwrap_or(&[])) else {
        return false;
    };
    let start = 1 + n;
    let Some(inner) = buf.get(start..) else {
        return false;
    };
    if inner_len != inner.len() as u64 {
        return false;
    }
    // Field 1, wire type 2: the peer id.
    if inner.first() != Some(&0x0a) {
        return false;
    }
    let Some(&id_len) = inner.get(1) else {
        return false;
    };
    let id_len = usize::from(id_len);
    if !(6..=32).contains(&id_len) {
        return false;
    }
    let Some(id) = inner.get(2..2 + id_len) else {
        return false;
    };
    if !id
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return false;
    }
    protobuf_fields_ok(inner.get(2 + id_len..).unwrap_or(&[]), max_field)
}

/// RustDesk over TCP frames each message with hbb_common's `BytesCodec`: the low two
/// bits of the first byte give the header size minus one, and the little-endian header
/// value shifted right by two is the body length (fact: hbb_common bytes_codec.rs
/// framing, as reimplemented in public RustDesk-compatible servers).
pub(super) fn rustdesk_tcp(buf: &[u8]) -> bool {
    let Some(&b0) = buf.first() else {
        return false;
    };
    let head_len = usize::from(b0 & 0x3) + 1;
    let Some(head) = buf.get(..head_len) else {
        return false;
    };
    let mut n: usize = 0;
    for (i, &b) in head.iter().enumerate() {
        n |= usize::from(b) << (8 * i);
    }
    n >>= 2;
    match buf.get(head_len..) {
        Some(body) if body.len() == n => rustdesk_rendezvous(body),
        _ => false,
    }
}

/// Decode a protobuf base-128 varint: (value, bytes used).
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Every remaining field has a number in 2..=max_field and wire type 0 (varint) or 2
/// (length-delimited, ≤ 256 bytes), and the fields end exactly at the buffer's end.
fn protobuf_fields_ok(mut b: &[u8], max_field: u64) -> bool {
    while !b.is_empty() {
        let Some((key, n)) = varint(b) else {
            return false;
        };
        b = b.get(n..).unwrap_or(&[]);
        let (field, wire) = (key >> 3, key & 7);
        if !(2..=max_field).contains(&field) {
            return false;
        }
        match wire {
            0 => match varint(b) {
                Some((_, n)) => b = b.get(n..).unwrap_or(&[]),
                None => return false,
            },
            2 => {
                let Some((len, n)) = varint(b) else {
                    return false;
                };
                if len > 256 {
                    return false;
                }
                let end = n + len as usize;
                match b.get(end..) {
                    Some(rest) => b = rest,
                    None => return false,
                }
            }
            _ => return false,
        }
    }
    true
}
