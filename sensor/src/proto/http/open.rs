//! HTTP/1: the request head (Host, User-Agent, method, target; forward-proxy requests, RD
//! Gateway methods), the response head (status, Server) and the account an `Authorization`
//! header names: the user of `Basic` (never its password) or the NTLMSSP AUTHENTICATE of
//! `NTLM` / `Negotiate`, which comes in a later request of the same connection.

use crate::model::meta::{HttpMeta, ProxyMeta};
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, C2, S1};
use crate::proto::{self, Parsed};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    crate::proto::session::either(proto::http::probe, cs, sc).then_some(AppProto::Http)
}

pub fn read(o: &mut Opening) -> Outcome {
    let (cs, sc) = (o.buf[0], o.buf[1]);
    if *o.got & C1 == 0 {
        match proto::http::parse_request_head(cs) {
            Parsed::Done { value: req, .. } => {
                *o.got |= C1;
                let h = HttpMeta {
                    hostname: req.host.clone(),
                    http_user_agent: req.user_agent.clone(),
                    http_method: Some(req.method.clone()),
                    url: Some(req.uri.clone()),
                    ..Default::default()
                };
                if let Some(host) = &req.host {
                    let bare = host
                        .rsplit_once(':')
                        .map(|(h, p)| {
                            if p.chars().all(|c| c.is_ascii_digit()) {
                                h
                            } else {
                                host.as_str()
                            }
                        })
                        .unwrap_or(host);
                    o.attribute(o.rules.match_domain(bare), "http.host", host);
                }
                if let Some(ua) = &req.user_agent {
                    o.attribute(o.rules.match_user_agent(ua), "http.user_agent", ua);
                }
                // An absolute-form target means a forward proxy (RFC 9112 §3.2.2) — except on
                // port 80, where some clients send it straight to their origin servers
                // (WeChat's "MicroMessenger Client" does), which must accept it; there the
                // request counts only with proxy credentials.
                let sport = o.ports[1];
                let absolute = proto::proxy::is_absolute_form_proxy_request(cs)
                    .filter(|_| sport != 80 || req.proxy_authorization || proxy_connection(cs));
                if let Some((_, authority)) = absolute {
                    o.evidence.push(("proxy.target", authority.to_string()));
                    o.meta().proxy = Some(ProxyMeta {
                        target: Some(authority.to_string()),
                        protocol: Some("http-forward".into()),
                        ..Default::default()
                    });
                }
                if proto::rdp::is_rdg_http_method(&req.method) {
                    *o.app_proto = AppProto::Rdp;
                    *o.tool = Some("rdp");
                    o.evidence.push(("http.method", req.method.clone()));
                }
                if proto::rmm::teamviewer_http_uri(&req.uri) && o.name("teamviewer") {
                    o.evidence.push(("http.url", req.uri.clone()));
                }
                proto::vdi::open::name_blast_http(o, cs);
                o.meta().http = Some(h);
            }
            Parsed::Malformed(_) => *o.got |= C1,
            Parsed::NeedMore { .. } => {}
        }
    }
    if *o.got & S1 == 0 {
        match proto::http::parse_response_head(sc) {
            Parsed::Done { value: resp, .. } => {
                *o.got |= S1;
                if resp.status == 101 && websocket_upgrade(o) {
                    return Outcome::Continue;
                }
                let h = o.meta().http.get_or_insert_with(Default::default);
                h.status = Some(resp.status);
                if let Some(s) = &resp.server {
                    h.server = Some(s.clone());
                    o.attribute(o.rules.match_http_server(s), "http.server", s);
                }
                via_proxy(o);
            }
            Parsed::Malformed(_) => *o.got |= S1,
            Parsed::NeedMore { .. } => {}
        }
    }
    if *o.got & S1 != 0 {
        body_names(o, sc);
    }
    if *o.got & C2 == 0 && *o.got & C1 != 0 {
        authorization(o);
    }
    o.done_if(C1 | S1 | C2);
    Outcome::Continue
}

/// A device's web UI names itself in its page's `<title>`, a UPnP device in its description
/// document's `<friendlyName>`: looked for in the response's opening bytes.
fn body_names(o: &mut Opening, sc: &[u8]) {
    let Some(h) = o.meta.as_mut().and_then(|m| m.http.as_mut()) else {
        return;
    };
    if h.title.is_none() {
        h.title = proto::http::tag_text(sc, "title");
    }
    if h.friendly_name.is_none() {
        h.friendly_name = proto::http::tag_text(sc, "friendlyName");
    }
}

/// The request carries `Proxy-Connection`, a header only clients configured with a forward
/// proxy send (curl, browsers; never standardised, RFC 9110 §7.6.1 warns about it).
fn proxy_connection(cs: &[u8]) -> bool {
    match proto::cleartext::http_head(cs, proto::cleartext::HEAD_CAP) {
        Parsed::Done { value, .. } => proto::cleartext::header_values(value, "proxy-connection")
            .next()
            .is_some(),
        _ => false,
    }
}

/// An absolute-form request on port 80 (not counted by itself, see above) answered with a
/// `Via` header (RFC 9110 §7.6.3: added by every proxy the message passed): the server is
/// a forward proxy.
fn via_proxy(o: &mut Opening) {
    if o.ports[1] != 80 || o.meta.as_ref().is_some_and(|m| m.proxy.is_some()) {
        return;
    }
    let Some((_, authority)) = proto::proxy::is_absolute_form_proxy_request(o.buf[0]) else {
        return;
    };
    let via = match proto::cleartext::http_head(o.buf[1], proto::cleartext::HEAD_CAP) {
        Parsed::Done { value, .. } => proto::cleartext::header_values(value, "via")
            .next()
            .map(str::to_string),
        _ => None,
    };
    let Some(via) = via else { return };
    let authority = authority.to_string();
    o.evidence.push(("proxy.target", authority.clone()));
    o.evidence.push(("http.via", via));
    o.meta().proxy = Some(ProxyMeta {
        target: Some(authority),
        protocol: Some("http-forward".into()),
        ..Default::default()
    });
}

/// The server agreed to a WebSocket upgrade (RFC 6455 §4.2.2): the flow becomes
/// `websocket`, and what its frames carry is read after both heads.
fn websocket_upgrade(o: &mut Opening) -> bool {
    use crate::proto::websocket::upgrade_response;
    let Parsed::Done {
        value: (s_used, deflate),
        ..
    } = upgrade_response(o.buf[1])
    else {
        return false;
    };
    let Parsed::Done {
        consumed: c_used, ..
    } = proto::cleartext::http_head(o.buf[0], proto::cleartext::HEAD_CAP)
    else {
        return false;
    };
    *o.app_proto = AppProto::WebSocket;
    *o.tunnel_off = [c_used, s_used];
    let h = o.meta().http.get_or_insert_with(Default::default);
    h.status = Some(101);
    o.meta().proxy = Some(ProxyMeta {
        protocol: Some(
            if deflate {
                "websocket-deflate"
            } else {
                "websocket"
            }
            .into(),
        ),
        ..Default::default()
    });
    true
}

/// Request heads read for an NTLM handshake's AUTHENTICATE (negotiate, then authenticate).
const HEADS: usize = 4;

/// The account of the client's `Authorization` headers. C2 once known, or once there is
/// nothing to wait for: the first request carries no NTLM/Negotiate handshake.
fn authorization(o: &mut Opening) {
    use crate::proto::{cleartext, ntlmssp};
    let mut rest = o.buf[0];
    let mut negotiating = false;
    for _ in 0..HEADS {
        let (head, consumed) = match cleartext::http_head(rest, cleartext::HEAD_CAP) {
            Parsed::Done { value, consumed } => (value, consumed),
            Parsed::NeedMore { .. } if !o.gap[0] && negotiating => return,
            _ => break,
        };
        for v in cleartext::header_values(head, "authorization") {
            if let Some(user) = cleartext::basic_user(v) {
                if !user.is_empty() {
                    o.meta().account = Some(user);
                }
                *o.got |= C2;
                return;
            }
            if let Some(n) = ntlmssp::from_http_authorization(v) {
                let account = n.account();
                let meta = o.meta();
                if let Some(h) = &mut meta.http {
                    h.ntlmssp = Some(n.meta());
                }
                if account.is_some() {
                    meta.account = account;
                }
                *o.got |= C2;
                return;
            }
            let scheme = v.split(' ').next().unwrap_or("");
            negotiating |=
                scheme.eq_ignore_ascii_case("NTLM") || scheme.eq_ignore_ascii_case("Negotiate");
        }
        if !negotiating {
            break;
        }
        let body = cleartext::header_values(head, "content-length")
            .find_map(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        match rest.get(consumed.saturating_add(body)..) {
            Some(r) => rest = r,
            None if !o.gap[0] => return,
            None => break,
        }
    }
    *o.got |= C2;
}
