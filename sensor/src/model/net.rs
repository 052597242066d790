//! Addresses and sides: the home networks, a flow's ends oriented client → server, and
//! which way bytes travel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address as flows keep it: IPv4 in the first four bytes, IPv6 in all sixteen.
pub fn to_ip(v6: bool, a: &[u8; 16]) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*a))
    } else {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    }
}

/// Direction classes of `spanwatch_egress_bytes_total`.
pub const DIRECTION_CLASSES: [&str; 3] = ["inbound", "outbound", "internal"];

/// Which way the bytes travel relative to the flow's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

/// A flow's endpoints oriented client → server, raw (for consumers that compare addresses
/// rather than print them: the host stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ends {
    pub v6: bool,
    pub client: [u8; 16],
    pub server: [u8; 16],
    pub cport: u16,
    pub sport: u16,
    pub proto: u8,
}

/// A CIDR prefix length: decimal digits only (no sign, no spaces).
fn parse_prefix(c: &str, l: &str) -> Result<u32, String> {
    if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{c:?}: bad prefix length"));
    }
    l.parse().map_err(|_| format!("{c:?}: bad prefix length"))
}

/// The internal networks, for telling inbound from outbound.
#[derive(Debug, Clone, Default)]
pub struct HomeNet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl HomeNet {
    pub fn parse<S: AsRef<str>>(cidrs: &[S]) -> Result<HomeNet, String> {
        let mut h = HomeNet::default();
        for c in cidrs {
            let c = c.as_ref().trim();
            if c.is_empty() {
                continue;
            }
            // "10.0.0.0/" is a typo, not a /32: a slash needs a prefix length after it.
            let (a, l) = match c.split_once('/') {
                Some((_, "")) => return Err(format!("{c:?}: prefix length missing after '/'")),
                Some((a, l)) => (a, l),
                None => (c, ""),
            };
            let addr: IpAddr = a
                .parse()
                .map_err(|_| format!("{c:?} is not an address or CIDR"))?;
            match addr {
                IpAddr::V4(v4) => {
                    let len: u32 = if l.is_empty() {
                        32
                    } else {
                        parse_prefix(c, l)?
                    };
                    if len > 32 {
                        return Err(format!("{c:?}: prefix length over 32"));
                    }
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    h.v4.push((u32::from(v4) & mask, mask));
                }
                IpAddr::V6(v6) => {
                    let len: u32 = if l.is_empty() {
                        128
                    } else {
                        parse_prefix(c, l)?
                    };
                    if len > 128 {
                        return Err(format!("{c:?}: prefix length over 128"));
                    }
                    let mask = if len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - len)
                    };
                    h.v6.push((u128::from(v6) & mask, mask));
                }
            }
        }
        Ok(h)
    }

    pub fn contains(&self, v6: bool, a: &[u8; 16]) -> bool {
        if v6 {
            let x = u128::from_be_bytes(*a);
            self.v6.iter().any(|(n, m)| x & m == *n)
        } else {
            let x = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
            self.v4.iter().any(|(n, m)| x & m == *n)
        }
    }

    /// Direction of a client → server flow relative to the home networks.
    pub fn direction(&self, v6: bool, client: &[u8; 16], server: &[u8; 16]) -> &'static str {
        match (self.contains(v6, client), self.contains(v6, server)) {
            (true, true) => "internal",
            (false, true) => "inbound",
            (true, false) => "outbound",
            (false, false) => "external",
        }
    }
}
