//! SSDP (UPnP Device Architecture 2.0 §1): HTTP-shaped messages over UDP 1900 — a device's
//! `NOTIFY * HTTP/1.1` announcement, a control point's `M-SEARCH * HTTP/1.1` and the
//! device's unicast `HTTP/1.1 200 OK` answer. A device names itself in `SERVER`
//! (`OS/version UPnP/2.0 product/version`), `USN` (`uuid:…::urn:…`), `NT`/`ST` and
//! `LOCATION` (the URL of its description document, whose `<friendlyName>` the HTTP reader
//! picks up).

use super::Parsed;

const VALUE_CAP: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ssdp {
    /// `notify`, `m-search` or `response`.
    pub kind: &'static str,
    pub server: Option<String>,
    pub usn: Option<String>,
    /// `NT` of a notify, `ST` of a search or its answer.
    pub target: Option<String>,
    pub location: Option<String>,
    /// `ssdp:alive`, `ssdp:byebye`, `ssdp:update` of a notify.
    pub nts: Option<String>,
}

fn value(v: &str) -> String {
    let mut s: String = v.trim().chars().filter(|c| !c.is_control()).collect();
    if s.len() > VALUE_CAP {
        let mut end = VALUE_CAP;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// One SSDP message filling a UDP datagram: the start line and the headers up to the
/// blank line.
pub fn parse(buf: &[u8]) -> Parsed<Ssdp> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Parsed::Malformed("no end of SSDP headers");
    };
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Parsed::Malformed("SSDP headers are not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or("");
    let kind = if start.starts_with("NOTIFY * HTTP/1.") {
        "notify"
    } else if start.starts_with("M-SEARCH * HTTP/1.") {
        "m-search"
    } else if start.starts_with("HTTP/1.1 200") || start.starts_with("HTTP/1.0 200") {
        "response"
    } else {
        return Parsed::Malformed("not an SSDP start line");
    };
    let mut m = Ssdp {
        kind,
        ..Ssdp::default()
    };
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let slot = match k.trim().to_ascii_lowercase().as_str() {
            "server" => &mut m.server,
            "usn" => &mut m.usn,
            "nt" | "st" => &mut m.target,
            "location" => &mut m.location,
            "nts" => &mut m.nts,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value(v));
        }
    }
    Parsed::Done {
        value: m,
        consumed: end + 4,
    }
}

#[cfg(test)]
pub(crate) mod tests;

pub mod open;
