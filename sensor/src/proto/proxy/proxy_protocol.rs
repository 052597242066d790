//! The HAProxy PROXY protocol header, version 1 (text) and 2 (binary).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::bytes::be16;
use crate::proto::Parsed;

/// Transport named by a PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyTransport {
    Tcp,
    Udp,
    Unknown,
}

/// A HAProxy PROXY protocol header (haproxy doc/proxy-protocol.txt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    /// 1 (text) or 2 (binary).
    pub version: u8,
    /// v2 LOCAL command (health checks): the addresses are not the client's.
    pub local: bool,
    pub transport: ProxyTransport,
    pub source: Option<SocketAddr>,
    pub destination: Option<SocketAddr>,
}

/// v2 signature (proxy-protocol.txt §2.2).
pub(super) const PP2_SIG: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];

/// Parse a PROXY protocol v1 or v2 header at the start of a TCP stream.
///
/// v1 (§2.1): `PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n`, at most 107 bytes.
/// v2 (§2.2): the 12-byte signature, version/command (0x20 LOCAL, 0x21 PROXY), family and
/// transport (0x11 TCP4, 0x12 UDP4, 0x21 TCP6, 0x22 UDP6, 0x31/0x32 UNIX, 0x00 UNSPEC),
/// a 16-bit length, then addresses (12 bytes IPv4, 36 IPv6, 216 UNIX) and TLVs.
pub fn parse_proxy_protocol(buf: &[u8]) -> Parsed<ProxyHeader> {
    need_or!(buf, 1);
    if buf.first() == Some(&b'P') {
        parse_pp1(buf)
    } else if buf.first() == Some(&0x0d) {
        parse_pp2(buf)
    } else {
        Parsed::Malformed("proxy protocol: no signature")
    }
}

fn parse_pp1(buf: &[u8]) -> Parsed<ProxyHeader> {
    const P: &[u8] = b"PROXY ";
    let n = buf.len().min(P.len());
    if buf.get(..n) != P.get(..n) {
        return Parsed::Malformed("proxy v1: no PROXY");
    }
    let end = match buf.iter().take(107).position(|&b| b == b'\n') {
        Some(i) => i,
        None if buf.len() >= 107 => return Parsed::Malformed("proxy v1: line too long"),
        None => return Parsed::NeedMore { needed: 1 },
    };
    let Some(line) = buf
        .get(..end)
        .and_then(|l| l.strip_suffix(b"\r"))
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return Parsed::Malformed("proxy v1: bad line");
    };
    let mut f = line.split(' ').skip(1);
    let proto = f.next().unwrap_or("");
    if proto == "UNKNOWN" {
        return Parsed::Done {
            value: ProxyHeader {
                version: 1,
                local: false,
                transport: ProxyTransport::Unknown,
                source: None,
                destination: None,
            },
            consumed: end + 1,
        };
    }
    let v6 = match proto {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Parsed::Malformed("proxy v1: unknown protocol"),
    };
    let (Some(s), Some(d), Some(sp), Some(dp), None) =
        (f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        return Parsed::Malformed("proxy v1: wrong field count");
    };
    let ip = |t: &str| -> Option<IpAddr> {
        if v6 {
            t.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            t.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        }
    };
    let port = |t: &str| -> Option<u16> {
        if t.is_empty() || (t.len() > 1 && t.starts_with('0')) {
            return None;
        }
        t.parse().ok()
    };
    let (Some(si), Some(di), Some(spn), Some(dpn)) = (ip(s), ip(d), port(sp), port(dp)) else {
        return Parsed::Malformed("proxy v1: bad address or port");
    };
    Parsed::Done {
        value: ProxyHeader {
            version: 1,
            local: false,
            transport: ProxyTransport::Tcp,
            source: Some(SocketAddr::new(si, spn)),
            destination: Some(SocketAddr::new(di, dpn)),
        },
        consumed: end + 1,
    }
}

fn parse_pp2(buf: &[u8]) -> Parsed<ProxyHeader> {
    let n = buf.len().min(PP2_SIG.len());
    if buf.get(..n) != PP2_SIG.get(..n) {
        return Parsed::Malformed("proxy v2: bad signature");
    }
    need_or!(buf, 16);
    let (Some(&vc), Some(&fam), Some(len)) = (buf.get(12), buf.get(13), be16(buf, 14)) else {
        return Parsed::Malformed("proxy v2: short");
    };
    let local = match vc {
        0x20 => true,
        0x21 => false,
        _ => return Parsed::Malformed("proxy v2: bad version/command"),
    };
    let transport = match fam & 0x0f {
        0 => ProxyTransport::Unknown,
        1 => ProxyTransport::Tcp,
        2 => ProxyTransport::Udp,
        _ => return Parsed::Malformed("proxy v2: bad transport"),
    };
    let addr_len = match fam >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Parsed::Malformed("proxy v2: bad family"),
    };
    let len = usize::from(len);
    if len < addr_len {
        return Parsed::Malformed("proxy v2: length shorter than addresses");
    }
    need_or!(buf, 16 + len);
    let a = buf.get(16..16 + addr_len).unwrap_or(&[]);
    let (source, destination) = match fam >> 4 {
        1 => {
            let ip4 = |o: usize| -> Option<IpAddr> {
                let s: [u8; 4] = a.get(o..o + 4)?.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(s)))
            };
            (
                ip4(0).zip(be16(a, 8)).map(|(i, p)| SocketAddr::new(i, p)),
                ip4(4).zip(be16(a, 10)).map(|(i, p)| SocketAddr::new(i, p)),
            )
        }
        2 => {
            let ip6 = |o: usize| -> Option<IpAddr> {
                let s: [u8; 16] = a.get(o..o + 16)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(s)))
            };
            (
                ip6(0).zip(be16(a, 32)).map(|(i, p)| SocketAddr::new(i, p)),
                ip6(16).zip(be16(a, 34)).map(|(i, p)| SocketAddr::new(i, p)),
            )
        }
        _ => (None, None),
    };
    Parsed::Done {
        value: ProxyHeader {
            version: 2,
            local,
            transport,
            source,
            destination,
        },
        consumed: 16 + len,
    }
}
