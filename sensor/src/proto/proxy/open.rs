//! SOCKS 4/4a/5 and HTTP CONNECT: the target asked of the proxy, then the protocol that
//! travels inside once the proxy has answered.

use crate::model::meta::ProxyMeta;
use crate::proto::registry::{classify_tcp, AppProto};
use crate::proto::session::{Opening, Outcome, C1, INNER};
use crate::proto::{self, Parsed};

pub fn probe_connect(cs: &[u8], _sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    matches!(proto::proxy::parse_http_connect(cs), Parsed::Done { .. })
        .then_some(AppProto::HttpConnect)
}

pub fn probe_socks(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    let v5 = matches!(proto::proxy::parse_socks5_greeting(cs), Parsed::Done { .. })
        && sc.first() == Some(&5);
    let v4 = matches!(proto::proxy::parse_socks4(cs), Parsed::Done { .. });
    (v5 || v4).then_some(AppProto::Socks)
}

/// SOCKS and HTTP CONNECT: the requested target, then what travels inside.
pub fn read(o: &mut Opening) -> Outcome {
    let (cs, sc) = (o.buf[0], o.buf[1]);
    if *o.got & C1 == 0 {
        let (target, c_used, s_used) = if *o.app_proto == AppProto::HttpConnect {
            match proto::proxy::parse_http_connect(cs) {
                Parsed::Done { value, consumed } => {
                    let s_used = match proto::proxy::parse_connect_response(sc) {
                        Parsed::Done { consumed, .. } => Some(consumed),
                        _ => None,
                    };
                    (
                        Some(format!("{}:{}", value.host, value.port)),
                        consumed,
                        s_used,
                    )
                }
                _ => (None, 0, None),
            }
        } else {
            socks_handshake(cs, sc)
        };
        let Some(target) = target else {
            return Outcome::Continue;
        };
        let Some(s_used) = s_used else {
            // Target known, answer not yet: record and wait for the reply.
            o.meta().proxy = Some(ProxyMeta {
                target: Some(target),
                ..Default::default()
            });
            return Outcome::Continue;
        };
        *o.got |= C1;
        *o.tunnel_off = [c_used, s_used];
        o.evidence.push(("proxy.target", target.clone()));
        o.meta().proxy = Some(ProxyMeta {
            target: Some(target.clone()),
            ..Default::default()
        });
        let host = target.rsplit_once(':').map(|(h, _)| h).unwrap_or(&target);
        if let Some(id) = o.rules.match_domain(host) {
            o.app.get_or_insert(id);
        }
    }
    if *o.got & INNER == 0 {
        let (c0, s0) = (o.tunnel_off[0], o.tunnel_off[1]);
        let (ci, si) = (cs.get(c0..).unwrap_or(&[]), sc.get(s0..).unwrap_or(&[]));
        if ci.is_empty() && si.is_empty() {
            return Outcome::Continue;
        }
        if let Some(inner) = classify_tcp(ci, si, o.ports) {
            *o.got |= INNER;
            if let Some(p) = &mut o.meta().proxy {
                p.inner_app_proto = Some(inner.as_str());
            }
            match inner {
                AppProto::Rdp => *o.tool = Some("rdp"),
                AppProto::Vnc => *o.tool = Some("vnc"),
                AppProto::Ssh => *o.tool = Some("ssh"),
                _ => {}
            }
            *o.done = true;
        } else if ci.len() >= 256 || si.len() >= 256 {
            *o.got |= INNER;
            *o.done = true;
        }
    }
    Outcome::Continue
}

/// SOCKS4/4a/5 handshake: (target, client bytes used, server bytes used when answered).
fn socks_handshake(cs: &[u8], sc: &[u8]) -> (Option<String>, usize, Option<usize>) {
    use proto::proxy::*;
    if cs.first() == Some(&4) {
        if let Parsed::Done { value, consumed } = parse_socks4(cs) {
            // SOCKS4 reply: 8 bytes, VN 0, CD 90 granted
            let s = if sc.len() >= 8 && sc[0] == 0 {
                Some(8)
            } else {
                None
            };
            return (Some(format!("{}:{}", value.host, value.port)), consumed, s);
        }
        return (None, 0, None);
    }
    let Parsed::Done { consumed: g, .. } = parse_socks5_greeting(cs) else {
        return (None, 0, None);
    };
    // server: method selection (2 bytes), [auth exchange], then the reply
    let Some(&method) = sc.get(1) else {
        return (None, 0, None);
    };
    let mut c = g;
    let mut s = 2;
    if method == 2 {
        // username/password (RFC 1929): VER ULEN UNAME PLEN PASSWD, reply 2 bytes
        let Some(&ul) = cs.get(c + 1) else {
            return (None, 0, None);
        };
        let Some(&pl) = cs.get(c + 2 + ul as usize) else {
            return (None, 0, None);
        };
        c += 3 + ul as usize + pl as usize;
        s += 2;
    }
    match parse_socks5_request(cs.get(c..).unwrap_or(&[])) {
        Parsed::Done { value, consumed } => {
            let target = format!("{}:{}", value.host, value.port);
            match parse_socks5_reply(sc.get(s..).unwrap_or(&[])) {
                Parsed::Done { consumed: r, .. } => (Some(target), c + consumed, Some(s + r)),
                _ => (Some(target), c + consumed, None),
            }
        }
        _ => (None, 0, None),
    }
}
