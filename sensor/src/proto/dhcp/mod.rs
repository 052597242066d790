//! DHCPv4 (RFC 2131 §2, options RFC 2132): what a device says about itself. The parameter
//! request list (option 55) in the order sent is the device fingerprint that fingerbank
//! and Satori publish, as comma-separated decimal codes.

use super::Parsed;
use serde::Serialize;
use std::fmt::Write;

/// BOOTP fixed header up to and including the magic cookie.
const FIXED: usize = 240;
const COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
const STR_CAP: usize = 256;

/// One DHCP message; names after Suricata's `dhcp` EVE record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Dhcp {
    /// "request" (BOOTREQUEST) or "reply".
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Transaction id.
    pub id: u32,
    /// chaddr as aa:bb:cc:dd:ee:ff (Ethernet) or hex for other hardware types.
    pub client_mac: String,
    /// yiaddr, when not 0.0.0.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_ip: Option<std::net::Ipv4Addr>,
    /// "discover", "offer", "request", "decline", "ack", "nak", "release", "inform".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp_type: Option<&'static str>,
    /// Option 12.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Option 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_class_identifier: Option<String>,
    /// Option 55 as "1,3,6,15,…".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
    /// Option 61 as colon-separated hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Option 50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_ip: Option<std::net::Ipv4Addr>,
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().take(64).enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn text(b: &[u8]) -> String {
    let b = &b[..b.len().min(STR_CAP)];
    // Some clients count a trailing NUL in the option length.
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    let mut s = String::from_utf8_lossy(b).into_owned();
    super::ber::truncate(&mut s, STR_CAP);
    s
}

fn ip(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(std::net::Ipv4Addr::from(a))
}

/// One DHCP message filling a UDP datagram (ports 67/68).
pub fn parse(buf: &[u8]) -> Parsed<Dhcp> {
    if buf.len() < FIXED {
        return Parsed::Malformed("DHCP message shorter than its fixed header");
    }
    if buf[236..240] != COOKIE {
        return Parsed::Malformed("no DHCP magic cookie");
    }
    let kind = match buf[0] {
        1 => "request",
        2 => "reply",
        _ => return Parsed::Malformed("BOOTP op is neither request nor reply"),
    };
    let hlen = usize::from(buf[2]).min(16);
    let chaddr = &buf[28..28 + hlen];
    let mut out = Dhcp {
        kind,
        id: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        client_mac: hex(chaddr),
        assigned_ip: ip(&buf[16..20]).filter(|a| !a.is_unspecified()),
        ..Dhcp::default()
    };
    let mut i = FIXED;
    while i < buf.len() {
        let code = buf[i];
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = buf.get(i + 1) else {
            return Parsed::Malformed("DHCP option length missing");
        };
        let Some(data) = buf.get(i + 2..i + 2 + usize::from(len)) else {
            return Parsed::Malformed("DHCP option runs past the message");
        };
        match code {
            53 => {
                out.dhcp_type = data.first().map(|t| match t {
                    1 => "discover",
                    2 => "offer",
                    3 => "request",
                    4 => "decline",
                    5 => "ack",
                    6 => "nak",
                    7 => "release",
                    8 => "inform",
                    _ => "unknown",
                })
            }
            12 => out.hostname = Some(text(data)),
            60 => out.vendor_class_identifier = Some(text(data)),
            55 => {
                let mut s = String::with_capacity(data.len() * 3);
                for (n, c) in data.iter().enumerate() {
                    if n > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{c}");
                }
                out.params = Some(s);
            }
            61 => out.client_id = Some(hex(data)),
            50 => out.requested_ip = ip(data),
            _ => {}
        }
        i += 2 + usize::from(len);
    }
    Parsed::Done {
        value: out,
        consumed: buf.len(),
    }
}

#[cfg(test)]
pub(crate) mod tests;

pub mod open;
