//! tinc's clear-text ID request, the first line of its meta protocol.

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
