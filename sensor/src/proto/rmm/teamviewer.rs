//! TeamViewer: its TCP and UDP framing, and the URIs of its HTTP fallback.

use crate::bytes::le16;

/// TeamViewer framing magic: 0x17 0x24 (protocol 2) and 0x11 0x30 (protocol 1).
/// Facts: nDPI src/lib/protocols/teamviewer.c (TCP payload starts 0x17 0x24, later
/// packets 0x11 0x30); bettercap lib/bettercap/network/protos/teamviewer.rb (a 2-byte
/// magic 0x1724 / 0x1130 followed by a one-byte command code).
const TV_MAGIC_V2: [u8; 2] = [0x17, 0x24];
const TV_MAGIC_V1: [u8; 2] = [0x11, 0x30];

/// Known TeamViewer command codes (bettercap teamviewer.rb COMMANDS table facts:
/// 10..=63 control commands, 70..=72 UDP connect/ping, 90..=113 data and auth).
fn tv_command_known(c: u8) -> bool {
    matches!(c, 10..=11 | 13..=63 | 70..=72 | 90..=113)
}

pub(super) fn teamviewer_tcp(buf: &[u8]) -> bool {
    let (Some(m), Some(&cmd)) = (buf.get(0..2), buf.get(2)) else {
        return false;
    };
    if m != TV_MAGIC_V2 && m != TV_MAGIC_V1 {
        return false;
    }
    if !tv_command_known(cmd) {
        return false;
    }
    // libprotoident lib/tcp/lpi_teamviewer.cc facts: the opening payload in each
    // direction is exactly 37 bytes and starts 17 24 0a 20 (CMD_IDENTIFY).
    if buf.len() == 37 && m == TV_MAGIC_V2 && cmd == 0x0a && buf.get(3) == Some(&0x20) {
        return true;
    }
    // Beyond that sample we require the frame to be self-consistent: the 37-byte
    // CMD_IDENTIFY carries 0x20 (= 37 - 5) at offset 3, which reads as a little-endian
    // 16-bit body length after a 5-byte header. This is our inference from those facts,
    // so a mismatch is a miss, never a guess.
    match le16(buf, 3) {
        Some(n) => usize::from(n) + 5 == buf.len(),
        None => false,
    }
}

pub(super) fn teamviewer_udp(buf: &[u8]) -> bool {
    // nDPI teamviewer.c facts: UDP payload longer than 13 bytes, byte 0 is a counter that
    // starts at 0, bytes 11..13 are 0x17 0x24. nDPI itself asks for four such packets or
    // port 5938; as a single-packet probe we add the command byte after the magic
    // (bettercap layout: magic then command code) to stay conservative.
    buf.len() > 13
        && buf.first() == Some(&0)
        && buf.get(11..13) == Some(&TV_MAGIC_V2[..])
        && buf.get(13).is_some_and(|&c| tv_command_known(c))
}

/// TeamViewer's HTTP fallback (DynGate): `GET /din.aspx?s=…&client=DynGate` and
/// `/dout.aspx?…`. Facts: the ET open rule "ET INFO TeamViewer Dyngate User-Agent" and
/// published proxy logs (`master3.teamviewer.com/din.aspx?`), where every request names
/// `client=DynGate`. Takes the request-target as sent (origin-form or absolute-form).
pub fn teamviewer_http_uri(uri: &str) -> bool {
    // Strip an absolute-form prefix `http://host` down to the path.
    let path = match uri.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("http://") => {
            let rest = uri.get(7..).unwrap_or("");
            match rest.find('/') {
                Some(i) => rest.get(i..).unwrap_or(""),
                None => return false,
            }
        }
        _ => uri,
    };
    let query = if let Some(q) = strip_prefix_ci(path, "/din.aspx?") {
        q
    } else if let Some(q) = strip_prefix_ci(path, "/dout.aspx?") {
        q
    } else {
        return false;
    };
    query
        .split('&')
        .any(|kv| kv.eq_ignore_ascii_case("client=DynGate"))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}
