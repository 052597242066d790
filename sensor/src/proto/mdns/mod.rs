//! Multicast DNS (RFC 6762) and DNS-Based Service Discovery (RFC 6763) on UDP 5353: what a
//! device announces about itself. DNS's message format (RFC 1035 §4.1) with every section
//! read (devices put their addresses in the additional section): the host names of A/AAAA
//! records and SRV targets, the service instance names of PTR and SRV records
//! (`Living Room._airplay._tcp.local`, case kept: RFC 6763 §4.1.1 allows any UTF-8), the
//! service types (`_http._tcp`), and the names a query asks for.

use super::dns::{header, read_name_as, Header};
use super::Parsed;
use crate::bytes::be16;

/// Names kept per list.
pub const MAX_NAMES: usize = 16;
/// Records read per message (all sections together).
const MAX_RECORDS: usize = 64;
const HEADER: usize = 12;

/// What one mDNS message names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mdns {
    pub is_response: bool,
    /// Names a query asks for (lowercase, no trailing dot).
    pub queries: Vec<String>,
    /// Host names a response gives addresses for or points a service at (lowercase,
    /// `.local` removed).
    pub hostnames: Vec<String>,
    /// Service instance names, as sent.
    pub instances: Vec<String>,
    /// Service types (`_http._tcp`), lowercase, `.local` removed.
    pub services: Vec<String>,
}

/// Push `v` unless present or the list is full.
pub fn push_name(list: &mut Vec<String>, v: String) {
    if !v.is_empty() && list.len() < MAX_NAMES && !list.contains(&v) {
        list.push(v);
    }
}

fn strip_local(n: &str) -> String {
    let l = n.to_ascii_lowercase();
    match l.strip_suffix(".local") {
        Some(s) => s.to_string(),
        None => l,
    }
}

/// A service type (`_http._tcp.local`, `_printer._sub._http._tcp.local`): its last two
/// labels before the domain start with `_`.
fn service_of(name: &str) -> Option<String> {
    let l = strip_local(name);
    let parts: Vec<&str> = l.split('.').collect();
    let n = parts.len();
    (n >= 2 && parts[n - 1].starts_with('_') && parts[n - 2].starts_with('_'))
        .then(|| format!("{}.{}", parts[n - 2], parts[n - 1]))
}

/// One mDNS message filling a UDP datagram.
pub fn parse(buf: &[u8]) -> Parsed<Mdns> {
    let Some(Header {
        flags,
        qd,
        an,
        ns,
        ar,
        ..
    }) = header(buf)
    else {
        return Parsed::Malformed("shorter than a DNS header");
    };
    // RFC 6762 §18.3: opcode 0 only.
    if (flags >> 11) & 0x0f != 0 {
        return Parsed::Malformed("mDNS opcode is not a standard query");
    }
    let mut m = Mdns {
        is_response: flags & 0x8000 != 0,
        ..Mdns::default()
    };
    let mut off = HEADER;
    for _ in 0..qd {
        let Ok((name, next)) = read_name_as(buf, off, true) else {
            return Parsed::Malformed("question name runs past the message");
        };
        if buf.len() < next + 4 {
            return Parsed::Malformed("question runs past the message");
        }
        off = next + 4;
        if !m.is_response {
            push_name(&mut m.queries, name);
        }
    }
    let records = usize::from(an) + usize::from(ns) + usize::from(ar);
    for _ in 0..records.min(MAX_RECORDS) {
        let Ok((name, next)) = read_name_as(buf, off, false) else {
            return Parsed::Malformed("record name runs past the message");
        };
        let (Some(rtype), Some(rdlen)) = (be16(buf, next), be16(buf, next + 8)) else {
            return Parsed::Malformed("record runs past the message");
        };
        let rd = next + 10;
        let end = rd + usize::from(rdlen);
        if buf.len() < end {
            return Parsed::Malformed("rdata runs past the message");
        }
        match rtype {
            // A, AAAA: the owner is a host.
            1 | 28 => push_name(&mut m.hostnames, strip_local(&name)),
            // PTR: a service type's instances, or the services of a browse
            // (`_services._dns-sd._udp`), or a reverse mapping to a host name.
            12 => {
                let Ok((target, _)) = read_name_as(buf, rd, false) else {
                    return Parsed::Malformed("PTR target runs past the message");
                };
                let owner = name.to_ascii_lowercase();
                if owner.ends_with(".arpa") {
                    push_name(&mut m.hostnames, strip_local(&target));
                } else if owner.starts_with("_services._dns-sd._udp") {
                    if let Some(s) = service_of(&target) {
                        push_name(&mut m.services, s);
                    }
                } else {
                    if let Some(s) = service_of(&owner) {
                        push_name(&mut m.services, s);
                    }
                    if service_of(&target).is_some() && !target.starts_with('_') {
                        push_name(&mut m.instances, target);
                    }
                }
            }
            // SRV: the owner is an instance, the target its host.
            33 if rdlen >= 7 => {
                let Ok((target, _)) = read_name_as(buf, rd + 6, false) else {
                    return Parsed::Malformed("SRV target runs past the message");
                };
                if let Some(s) = service_of(&name) {
                    push_name(&mut m.services, s);
                    push_name(&mut m.instances, name);
                }
                push_name(&mut m.hostnames, strip_local(&target));
            }
            _ => {}
        }
        off = end;
    }
    Parsed::Done {
        value: m,
        consumed: buf.len(),
    }
}

#[cfg(test)]
pub(crate) mod tests;

pub mod open;
