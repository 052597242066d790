//! Protocol identification by the bytes of a flow's opening, and the metadata each
//! protocol's handshake shows in clear.

use super::Flow;
use super::{set_proto, Detector, Inspect};
use crate::flow::{AppProto, FlowKey};
use crate::model::meta::{
    Hassh, HttpMeta, ProxyMeta, RdpMeta, SshSide, StunMeta, TlsMeta, Version,
};
use crate::proto::{self, Direction, Parsed, Probe};

// Parts of an opening already parsed (bits of `Inspect::got`).
const C1: u32 = 1; // client's first message (ClientHello, X.224 CR, banner, request …)
const S1: u32 = 2; // server's first message
const C2: u32 = 4; // client's second (SSH KEXINIT, RFB security choice)
const S2: u32 = 8; // server's second (SSH KEXINIT, RFB security types)
const INNER: u32 = 16; // the protocol inside a proxy tunnel was probed
const PPHDR: u32 = 32; // a PROXY protocol header was looked for at the client stream's start

fn done_if(flow: &mut Flow, insp: &Inspect, want: u32) {
    if insp.got & want == want {
        flow.detect.done = true;
    }
}

/// What the first bytes of a TCP stream are, if anything we know.
fn classify_tcp(cs: &[u8], sc: &[u8], key: &FlowKey) -> Option<AppProto> {
    use AppProto as A;
    if proto::tls::probe(cs) == Probe::Match
        || (cs.is_empty() && proto::tls::probe(sc) == Probe::Match)
    {
        return Some(A::Tls);
    }
    if proto::rdp::probe(cs) == Probe::Match
        || (cs.is_empty() && proto::rdp::probe(sc) == Probe::Match)
    {
        return Some(A::Rdp);
    }
    if proto::ssh::probe(cs) == Probe::Match || proto::ssh::probe(sc) == Probe::Match {
        return Some(A::Ssh);
    }
    if proto::rfb::probe(sc) == Probe::Match || proto::rfb::probe(cs) == Probe::Match {
        return Some(A::Vnc);
    }
    if let Parsed::Done { value, .. } = proto::proxy::parse_http_connect(cs) {
        let _ = value;
        return Some(A::HttpConnect);
    }
    if proto::http::probe(cs) == Probe::Match
        || (cs.is_empty() && proto::http::probe(sc) == Probe::Match)
    {
        return Some(A::Http);
    }
    if matches!(proto::proxy::parse_socks5_greeting(cs), Parsed::Done { .. })
        && sc.first() == Some(&5)
    {
        return Some(A::Socks);
    }
    if let Parsed::Done { .. } = proto::proxy::parse_socks4(cs) {
        return Some(A::Socks);
    }
    if let Some(r) = proto::rmm::probe_tcp(Direction::ToServer, cs)
        .or_else(|| proto::rmm::probe_tcp(Direction::ToClient, sc))
    {
        return Some(rmm_proto(r));
    }
    if let Some(v) = proto::vdi::probe_tcp(cs).or_else(|| proto::vdi::probe_tcp(sc)) {
        return Some(match v {
            proto::vdi::Vdi::Citrix(proto::vdi::Citrix::Cgp) => A::CitrixCgp,
            proto::vdi::Vdi::Citrix(_) => A::CitrixIca,
        });
    }
    if proto::vpn::probe_openvpn_tcp(cs).is_some() || proto::vpn::probe_openvpn_tcp(sc).is_some() {
        return Some(A::OpenVpn);
    }
    if proto::vpn::probe_pptp(cs).is_some() {
        return Some(A::Pptp);
    }
    if (key.lo_port == 53 || key.hi_port == 53)
        && matches!(proto::dns::parse_tcp(cs), Parsed::Done { .. })
    {
        return Some(A::Dns);
    }
    None
}

fn rmm_proto(r: proto::rmm::Rmm) -> AppProto {
    use proto::rmm::Rmm;
    match r {
        Rmm::TeamViewer => AppProto::TeamViewer,
        Rmm::Radmin => AppProto::Radmin,
        Rmm::NoMachine => AppProto::NoMachine,
        Rmm::RustDesk => AppProto::RustDesk,
    }
}

/// Identify and read a TCP flow's opening.
pub(super) fn tcp(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    insp: &mut Inspect,
    _dir: usize,
    _ts: u64,
) {
    if flow.app_proto == AppProto::Unknown
        && insp.got & PPHDR == 0
        && !insp.buf[0].is_empty()
        && !proxy_protocol_header(flow, insp)
    {
        return;
    }
    if flow.app_proto == AppProto::Unknown {
        let (cs, sc) = (&insp.buf[0][..], &insp.buf[1][..]);
        match classify_tcp(cs, sc, key) {
            Some(p) => set_proto(flow, p),
            None => {
                // tinc's meta protocol: no app_proto of its own, the catalogue names it.
                if flow.detect.app.is_none()
                    && (proto::vpn::probe_tinc_id(cs) || proto::vpn::probe_tinc_id(sc))
                {
                    if let Some(t) = d.shared.rules.find("tinc") {
                        insp.evidence
                            .push(("tinc", "meta-protocol ID request".into()));
                        flow.detect.app = Some(t);
                        flow.detect.done = true;
                        return;
                    }
                }
                // Both sides have spoken plenty and nothing matched: stop looking.
                if (cs.len() >= 512 || insp.gap[0]) && (sc.len() >= 512 || insp.gap[1]) {
                    flow.detect.done = true;
                }
                return;
            }
        }
    }
    match flow.app_proto {
        AppProto::Tls => tls(d, flow, insp),
        AppProto::Rdp => rdp(flow, insp),
        AppProto::Ssh => ssh(key, flow, insp),
        AppProto::Vnc => rfb(flow, insp),
        AppProto::Http => http(d, key, flow, insp),
        AppProto::HttpConnect | AppProto::Socks => proxy(d, key, flow, insp),
        AppProto::TeamViewer | AppProto::Radmin | AppProto::NoMachine | AppProto::RustDesk => {
            let id = match flow.app_proto {
                AppProto::TeamViewer => "teamviewer",
                AppProto::Radmin => "radmin",
                AppProto::NoMachine => "nomachine",
                _ => "rustdesk",
            };
            insp.evidence.push(("payload", id.into()));
            if let Some(t) = d.shared.rules.find(id) {
                flow.detect.app = Some(t);
            } else {
                flow.detect.app_proto_tool = Some(flow.app_proto.as_str());
            }
            flow.detect.done = true;
        }
        AppProto::CitrixIca | AppProto::CitrixCgp => {
            insp.evidence
                .push(("payload", flow.app_proto.as_str().into()));
            if let Some(t) = d.shared.rules.find("citrix-ica") {
                flow.detect.app = Some(t);
            } else {
                flow.detect.app_proto_tool = Some("citrix");
            }
            flow.detect.done = true;
        }
        _ => flow.detect.done = true,
    }
}

/// A HAProxy PROXY protocol header in front of the client's stream: a proxy or load
/// balancer relays the connection for the client it names. The header is recorded and cut
/// off, and the protocol behind it is identified as usual. False while more bytes are
/// needed to tell.
fn proxy_protocol_header(flow: &mut Flow, insp: &mut Inspect) -> bool {
    match proto::proxy::parse_proxy_protocol(&insp.buf[0]) {
        Parsed::NeedMore { .. } if !insp.gap[0] => false,
        Parsed::Done { value, consumed } => {
            insp.got |= PPHDR;
            insp.buf[0].drain(..consumed.min(insp.buf[0].len()));
            let mut p = ProxyMeta {
                protocol: Some(format!("proxy-v{}", value.version)),
                ..Default::default()
            };
            if let (Some(src), false) = (value.source, value.local) {
                p.client = Some(src.to_string());
                insp.evidence.push((
                    "proxy.header",
                    format!("PROXY v{} for {src}", value.version),
                ));
            } else {
                insp.evidence
                    .push(("proxy.header", format!("PROXY v{}", value.version)));
            }
            flow.detect.meta_mut().proxy = Some(p);
            true
        }
        _ => {
            insp.got |= PPHDR;
            true
        }
    }
}

fn tls(d: &Detector, flow: &mut Flow, insp: &mut Inspect) {
    let (cs, sc) = (&insp.buf[0], &insp.buf[1]);
    if insp.got & C1 == 0 {
        match proto::tls::parse_client_hello(cs) {
            Parsed::Done { value: ch, .. } => {
                insp.got |= C1;
                flow.detect.meta_mut().tls = Some(TlsMeta {
                    sni: ch.sni.clone(),
                    alpn: (!ch.alpn.is_empty()).then(|| ch.alpn.clone()),
                    ja4: Some(ch.ja4.clone()),
                    ..Default::default()
                });
                if let Some(sni) = &ch.sni {
                    if let Some(id) = d.shared.rules.match_domain(sni) {
                        insp.evidence.push(("tls.sni", sni.clone()));
                        flow.detect.app.get_or_insert(id);
                    }
                }
                for a in &ch.alpn {
                    if let Some(id) = d.shared.rules.match_alpn(a.as_bytes()) {
                        insp.evidence.push(("tls.alpn", a.clone()));
                        flow.detect.app.get_or_insert(id);
                    }
                }
            }
            Parsed::Malformed(_) => insp.got |= C1,
            Parsed::NeedMore { .. } => {
                if insp.gap[0] {
                    insp.got |= C1;
                }
            }
        }
    }
    if insp.got & S1 == 0 {
        match proto::tls::parse_server_flight(sc) {
            Parsed::Done { value: sh, .. } => {
                insp.got |= S1;
                let t = flow
                    .detect
                    .meta_mut()
                    .tls
                    .get_or_insert_with(Default::default);
                t.version = Some(tls_version(sh.version));
                if let Some(a) = &sh.alpn {
                    t.alpn_selected = Some(a.clone());
                }
                if let Some(s) = &sh.cert_subject {
                    t.subject = Some(s.clone());
                }
                if let Some(s) = &sh.cert_issuer {
                    t.issuerdn = Some(s.clone());
                }
                for c in [&sh.cert_subject, &sh.cert_issuer].into_iter().flatten() {
                    if let Some(id) = d.shared.rules.match_cert(c) {
                        insp.evidence.push(("tls.cert", c.clone()));
                        flow.detect.app.get_or_insert(id);
                        break;
                    }
                }
                if let Some(a) = &sh.alpn {
                    if let Some(id) = d.shared.rules.match_alpn(a.as_bytes()) {
                        insp.evidence.push(("tls.alpn", a.clone()));
                        flow.detect.app.get_or_insert(id);
                    }
                }
                if let (Some(s), Some(i)) = (&sh.cert_subject, &sh.cert_issuer) {
                    if proto::vpn::probe_tor_cert(s, i) {
                        flow.app_proto = AppProto::Tor;
                        insp.evidence
                            .push(("tls.cert", "tor relay link certificate".into()));
                    }
                }
            }
            Parsed::Malformed(_) => insp.got |= S1,
            Parsed::NeedMore { .. } => {
                if insp.gap[1] {
                    insp.got |= S1;
                }
            }
        }
    }
    done_if(flow, insp, C1 | S1);
}

fn tls_version(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

fn rdp(flow: &mut Flow, insp: &mut Inspect) {
    let (cs, sc) = (&insp.buf[0], &insp.buf[1]);
    flow.detect.app_proto_tool = Some("rdp");
    if insp.got & C1 == 0 {
        match proto::rdp::parse_connection_request(cs) {
            Parsed::Done { value, .. } => {
                insp.got |= C1;
                let mut r = RdpMeta {
                    cookie: value.cookie.clone(),
                    ..Default::default()
                };
                if let Some(c) = &value.cookie {
                    insp.evidence.push(("rdp.cookie", c.clone()));
                } else {
                    insp.evidence
                        .push(("rdp.x224", "connection request".into()));
                }
                if let Some(p) = value.requested_protocols {
                    r.requested_protocols = Some(proto::rdp::protocol_names(p));
                }
                flow.detect.meta_mut().rdp = Some(r);
            }
            Parsed::Malformed(_) => insp.got |= C1,
            Parsed::NeedMore { .. } => {}
        }
    }
    if insp.got & S1 == 0 {
        match proto::rdp::parse_connection_confirm(sc) {
            Parsed::Done { value, .. } => {
                insp.got |= S1;
                if let Some(r) = &mut flow.detect.meta_mut().rdp {
                    if let Some(p) = value.selected_protocol {
                        r.selected_protocol = Some(
                            proto::rdp::protocol_names(p)
                                .first()
                                .copied()
                                .unwrap_or("rdp"),
                        );
                    }
                    if let Some(f) = value.failure_code {
                        r.failure_code = Some(f);
                    }
                }
            }
            Parsed::Malformed(_) => insp.got |= S1,
            Parsed::NeedMore { .. } => {}
        }
    }
    done_if(flow, insp, C1 | S1);
}

fn ssh(key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    flow.detect.app_proto_tool = Some("ssh");
    let mut sides = [None, None];
    for (side, buf) in sides.iter_mut().zip(insp.buf.iter()) {
        if let Parsed::Done { value, consumed } = proto::ssh::parse_banner(buf) {
            *side = Some((value, consumed));
        }
    }
    for (dir, bit, kbit) in [(0usize, C1, C2), (1, S1, S2)] {
        let Some((banner, consumed)) = &sides[dir] else {
            continue;
        };
        if insp.got & bit == 0 {
            insp.got |= bit;
            let s = flow
                .detect
                .meta_mut()
                .ssh
                .get_or_insert_with(Default::default);
            *s.side_mut(dir) = Some(SshSide {
                proto_version: banner.proto_version.clone(),
                software_version: banner.software.clone(),
                ..Default::default()
            });
        }
        if insp.got & kbit == 0 {
            if let Parsed::Done { value: kex, .. } =
                proto::ssh::parse_kexinit(insp.buf[dir].get(*consumed..).unwrap_or(&[]))
            {
                insp.got |= kbit;
                // A KEXINIT that announces server-only extensions came from the server:
                // the roles were guessed wrong (capture started late, or one direction only).
                let server_like = kex.kex_algorithms.contains("ext-info-s")
                    || kex.kex_algorithms.contains("kex-strict-s");
                let client_like = kex.kex_algorithms.contains("ext-info-c")
                    || kex.kex_algorithms.contains("kex-strict-c");
                let (h, hm) = if server_like || (dir == 1 && !client_like) {
                    kex.hassh_server()
                } else {
                    kex.hassh()
                };
                let as_server = server_like || (dir == 1 && !client_like);
                if let Some(s) = &mut flow.detect.meta_mut().ssh {
                    if let Some(x) = s.side_mut(dir) {
                        let v = Some(Hassh {
                            hash: hm,
                            string: h,
                        });
                        if as_server {
                            x.hassh_server = v;
                        } else {
                            x.hassh = v;
                        }
                    }
                }
                if (dir == 0 && server_like) || (dir == 1 && client_like) {
                    swap_roles(key, flow, insp);
                    return;
                }
            }
        }
    }
    done_if(flow, insp, C1 | S1 | C2 | S2);
}

/// The flow's client and server were guessed the wrong way round: swap them.
fn swap_roles(_key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    flow.client_is_lo = !flow.client_is_lo;
    flow.pkts.swap(0, 1);
    flow.bytes.swap(0, 1);
    flow.tcp_flags.swap(0, 1);
    flow.detect.ssh_reset();
    insp.buf.swap(0, 1);
    insp.next_seq.swap(0, 1);
    insp.gap.swap(0, 1);
    insp.got = 0;
    if let Some(s) = &mut flow.detect.meta_mut().ssh {
        std::mem::swap(&mut s.client, &mut s.server);
    }
}

fn rfb(flow: &mut Flow, insp: &mut Inspect) {
    let (cs, sc) = (&insp.buf[0], &insp.buf[1]);
    flow.detect.app_proto_tool = Some("vnc");
    let sv = match proto::rfb::parse_version(sc) {
        Parsed::Done { value, .. } => Some(value),
        _ => None,
    };
    let cv = match proto::rfb::parse_version(cs) {
        Parsed::Done { value, .. } => Some(value),
        _ => None,
    };
    let r = flow
        .detect
        .meta_mut()
        .rfb
        .get_or_insert_with(Default::default);
    if let Some((major, minor)) = sv {
        r.server_protocol_version = Some(Version { major, minor });
        insp.got |= S1;
    }
    if let Some((major, minor)) = cv {
        r.client_protocol_version = Some(Version { major, minor });
        insp.got |= C1;
    }
    if insp.got & S2 == 0 && sc.len() > 12 {
        let ver = cv.or(sv).unwrap_or((3, 8));
        if let Parsed::Done { value, .. } = proto::rfb::parse_security_types(&sc[12..], ver) {
            insp.got |= S2;
            r.security_types = Some(
                value
                    .iter()
                    .map(|t| proto::rfb::security_type_name(*t))
                    .collect(),
            );
            if ver < (3, 7) {
                if let Some(t) = value.first() {
                    r.security_type_selected = Some(proto::rfb::security_type_name(*t));
                    insp.got |= C2;
                }
            }
        }
    }
    if insp.got & C2 == 0 && cs.len() > 12 {
        if let Parsed::Done { value, .. } = proto::rfb::parse_security_choice(&cs[12..]) {
            insp.got |= C2;
            r.security_type_selected = Some(proto::rfb::security_type_name(value));
            r.security_type_selected_id = Some(value);
        }
    }
    if sv.is_some() || cv.is_some() {
        insp.evidence
            .push(("rfb.version", format!("{:?}", sv.or(cv).unwrap_or((0, 0)))));
        insp.evidence.dedup();
    }
    done_if(flow, insp, C1 | S1 | S2 | C2);
}

fn http(d: &Detector, key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    let (cs, sc) = (&insp.buf[0], &insp.buf[1]);
    if insp.got & C1 == 0 {
        match proto::http::parse_request_head(cs) {
            Parsed::Done { value: req, .. } => {
                insp.got |= C1;
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
                    if let Some(id) = d.shared.rules.match_domain(bare) {
                        insp.evidence.push(("http.host", host.clone()));
                        flow.detect.app.get_or_insert(id);
                    }
                }
                if let Some(ua) = &req.user_agent {
                    if let Some(id) = d.shared.rules.match_user_agent(ua) {
                        insp.evidence.push(("http.user_agent", ua.clone()));
                        flow.detect.app.get_or_insert(id);
                    }
                }
                // An absolute-form target means a forward proxy (RFC 9112 §3.2.2) — except on
                // port 80, where some clients send it straight to their origin servers
                // (WeChat's "MicroMessenger Client" does), which must accept it; there the
                // request counts only with proxy credentials.
                let sport = if flow.client_is_lo {
                    key.hi_port
                } else {
                    key.lo_port
                };
                let absolute = proto::proxy::is_absolute_form_proxy_request(cs)
                    .filter(|_| sport != 80 || req.proxy_authorization);
                if let Some((_, authority)) = absolute {
                    insp.evidence.push(("proxy.target", authority.to_string()));
                    flow.detect.meta_mut().proxy = Some(ProxyMeta {
                        target: Some(authority.to_string()),
                        protocol: Some("http-forward".into()),
                        ..Default::default()
                    });
                }
                if proto::rdp::is_rdg_http_method(&req.method) {
                    flow.app_proto = AppProto::Rdp;
                    flow.detect.app_proto_tool = Some("rdp");
                    insp.evidence.push(("http.method", req.method.clone()));
                }
                if proto::rmm::teamviewer_http_uri(&req.uri) {
                    if let Some(id) = d.shared.rules.find("teamviewer") {
                        insp.evidence.push(("http.url", req.uri.clone()));
                        flow.detect.app = Some(id);
                    }
                }
                flow.detect.meta_mut().http = Some(h);
            }
            Parsed::Malformed(_) => insp.got |= C1,
            Parsed::NeedMore { .. } => {}
        }
    }
    if insp.got & S1 == 0 {
        match proto::http::parse_response_head(sc) {
            Parsed::Done { value: resp, .. } => {
                insp.got |= S1;
                let h = flow
                    .detect
                    .meta_mut()
                    .http
                    .get_or_insert_with(Default::default);
                h.status = Some(resp.status);
                if let Some(s) = &resp.server {
                    h.server = Some(s.clone());
                    if let Some(id) = d.shared.rules.match_http_server(s) {
                        insp.evidence.push(("http.server", s.clone()));
                        flow.detect.app.get_or_insert(id);
                    }
                }
            }
            Parsed::Malformed(_) => insp.got |= S1,
            Parsed::NeedMore { .. } => {}
        }
    }
    done_if(flow, insp, C1 | S1);
}

/// SOCKS and HTTP CONNECT: the requested target, then what travels inside.
fn proxy(d: &Detector, key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    let (cs, sc) = (&insp.buf[0], &insp.buf[1]);
    if insp.got & C1 == 0 {
        let (target, c_used, s_used) = if flow.app_proto == AppProto::HttpConnect {
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
        let Some(target) = target else { return };
        let Some(s_used) = s_used else {
            // Target known, answer not yet: record and wait for the reply.
            flow.detect.meta_mut().proxy = Some(ProxyMeta {
                target: Some(target),
                ..Default::default()
            });
            return;
        };
        insp.got |= C1;
        insp.tunnel_off = [c_used, s_used];
        insp.evidence.push(("proxy.target", target.clone()));
        flow.detect.meta_mut().proxy = Some(ProxyMeta {
            target: Some(target.clone()),
            ..Default::default()
        });
        let host = target.rsplit_once(':').map(|(h, _)| h).unwrap_or(&target);
        if let Some(id) = d.shared.rules.match_domain(host) {
            flow.detect.app.get_or_insert(id);
        }
    }
    if insp.got & INNER == 0 {
        let (c0, s0) = (insp.tunnel_off[0], insp.tunnel_off[1]);
        let (ci, si) = (cs.get(c0..).unwrap_or(&[]), sc.get(s0..).unwrap_or(&[]));
        if ci.is_empty() && si.is_empty() {
            return;
        }
        if let Some(inner) = classify_tcp(ci, si, key) {
            insp.got |= INNER;
            if let Some(p) = &mut flow.detect.meta_mut().proxy {
                p.inner_app_proto = Some(inner.as_str());
            }
            match inner {
                AppProto::Rdp => flow.detect.app_proto_tool = Some("rdp"),
                AppProto::Vnc => flow.detect.app_proto_tool = Some("vnc"),
                AppProto::Ssh => flow.detect.app_proto_tool = Some("ssh"),
                _ => {}
            }
            flow.detect.done = true;
        } else if ci.len() >= 256 || si.len() >= 256 {
            insp.got |= INNER;
            flow.detect.done = true;
        }
    }
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

/// Identify a UDP flow from one datagram.
pub(super) fn udp(
    d: &Detector,
    key: &FlowKey,
    flow: &mut Flow,
    insp: &mut Inspect,
    dir: usize,
    payload: &[u8],
    ts: u64,
) {
    use AppProto as A;
    let ports = [key.lo_port, key.hi_port];
    let on = |p: u16| ports.contains(&p);
    if on(53) || on(5353) || on(5355) {
        if let Ok(msg) = proto::dns::parse(payload) {
            set_proto(flow, A::Dns);
            dns(d, flow, &msg, ts);
            // a DNS flow is one exchange: done once the answer is in
            if msg.is_response {
                flow.detect.done = true;
            }
            return;
        }
    }
    let p = if let Some(r) = proto::rdp::probe_rdpeudp(payload) {
        flow.detect.app_proto_tool = Some("rdp");
        insp.evidence.push((
            "rdpeudp",
            format!("syn={} synack={} v{}", r.syn, r.synack, r.version),
        ));
        Some(A::Rdp)
    } else if proto::vpn::probe_wireguard(payload)
        .is_some_and(|m| m != proto::vpn::WgMsg::Transport || on(51820))
    {
        Some(A::WireGuard)
    } else if proto::vpn::is_tailscale_disco(payload) {
        // tailscaled sends its discovery packets on its WireGuard socket.
        insp.evidence
            .push(("tailscale.disco", "TS disco magic".into()));
        if let Some(t) = d.shared.rules.find("tailscale") {
            flow.detect.app = Some(t);
        }
        Some(A::WireGuard)
    } else if insp.wg.add(dir, payload) {
        insp.evidence.push((
            "wireguard",
            format!(
                "{} transport packets with one receiver index and rising counters",
                proto::vpn::WG_RUN
            ),
        ));
        Some(A::WireGuard)
    } else if proto::vpn::probe_openvpn_udp(payload).is_some() {
        Some(A::OpenVpn)
    } else if (on(500) || on(4500))
        && proto::vpn::probe_ike(payload, if on(4500) { 4500 } else { 500 }).is_some()
    {
        Some(A::Ike)
    } else if on(4500) && proto::vpn::probe_esp_in_udp(payload) {
        Some(A::Esp)
    } else if on(1701) && proto::vpn::probe_l2tp(payload).is_some() {
        Some(A::L2tp)
    } else if let Some(s) = proto::calls::probe_stun(payload) {
        if let Some(sw) = s.software {
            flow.detect.meta_mut().stun = Some(StunMeta {
                software: sw.to_string(),
            });
        }
        Some(A::Stun)
    } else if proto::calls::probe_dtls(payload).is_some() {
        Some(A::Dtls)
    } else if let Some(r) = proto::rmm::probe_udp(
        if dir == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        },
        payload,
    ) {
        let id = r.id();
        insp.evidence.push(("payload", id.into()));
        if let Some(t) = d.shared.rules.find(id) {
            flow.detect.app = Some(t);
        }
        Some(rmm_proto(r))
    } else if proto::calls::probe_rtcp(payload).is_some() {
        Some(A::Rtcp)
    } else if proto::calls::probe_rtp(payload).is_some() && !on(53) {
        Some(A::Rtp)
    } else if on(177) && xdmcp(payload) {
        flow.detect.app_proto_tool = Some("xdmcp");
        insp.evidence.push(("xdmcp", "header".into()));
        Some(A::Xdmcp)
    } else if quic_long_header(payload) {
        Some(A::Quic)
    } else {
        None
    };
    if let Some(p) = p {
        set_proto(flow, p);
        flow.detect.done = true;
    } else if flow.detect.app.is_none() && proto::vpn::probe_softether_udp(payload) {
        // SoftEther's UDP acceleration / NAT-traversal answer names the client's public
        // address; there is no app_proto of its own, the catalogue entry names it.
        insp.evidence
            .push(("softether", "UDP address message".into()));
        if let Some(t) = d.shared.rules.find("softether") {
            flow.detect.app = Some(t);
            flow.detect.done = true;
        }
    }
}

/// IP protocol 50: IPsec ESP outside UDP.
pub(super) fn esp(flow: &mut Flow, insp: &mut Inspect, payload: &[u8]) {
    if let Some(spi) = proto::vpn::probe_esp(payload) {
        insp.evidence.push(("esp.spi", format!("0x{spi:08x}")));
        set_proto(flow, AppProto::Esp);
    }
    flow.detect.done = true;
}

/// XDMCP (X Display Manager Control Protocol, X Consortium spec §10): version 1, an opcode
/// 1–14 (BroadcastQuery … Alive), and a length equal to the rest of the datagram.
fn xdmcp(b: &[u8]) -> bool {
    use crate::decode::wire::be16;
    matches!((be16(b, 0), be16(b, 2), be16(b, 4)), (Some(1), Some(1..=14), Some(l)) if l as usize + 6 == b.len())
}

/// QUIC v1/v2 long header (RFC 9000 §17.2): header form and fixed bits set, a known version.
fn quic_long_header(b: &[u8]) -> bool {
    b.len() >= 1200
        && b[0] & 0xc0 == 0xc0
        && matches!(
            crate::decode::wire::be32(b, 1),
            Some(0x0000_0001 | 0x6b33_43cf | 0xff00_001d | 0xff00_0020)
        )
}

pub(super) fn dns(d: &Detector, flow: &mut Flow, msg: &proto::dns::Message<'_>, ts: u64) {
    use proto::dns::AnswerData;
    let q = msg.questions.first();
    if msg.is_response {
        for a in &msg.answers {
            let addr: Option<std::net::IpAddr> = match a.data {
                AnswerData::A(x) => Some(x.into()),
                AnswerData::Aaaa(x) => Some(x.into()),
                _ => None,
            };
            if let (Some(addr), Some(q)) = (addr, q) {
                // The name asked for is what the user meant (CNAME chains end elsewhere).
                d.shared.dns.insert(addr, &q.name, a.ttl, ts);
            }
        }
    }
    // A lookup of a catalogue name names the product on the DNS flow (no alert: a lookup
    // is not a session).
    if flow.detect.app.is_none() {
        if let Some(q) = q {
            if let Some(id) = d.shared.rules.match_domain(&q.name) {
                flow.detect.app = Some(id);
            }
        }
    }
    let e = flow
        .detect
        .meta_mut()
        .dns
        .get_or_insert_with(Default::default);
    if let Some(q) = q {
        e.rrname = Some(q.name.to_string());
        e.rrtype = Some(proto::dns::qtype_name(q.qtype).to_string());
    }
    if msg.is_response {
        e.rcode = Some(msg.rcode);
        e.answers = Some(msg.answers.len());
    }
}

/// Attribute the flow to a product from the weaker signals once the handshake gave none:
/// the DNS name the server was looked up as, and payload patterns on the tool's own ports.
pub(super) fn attribute(d: &Detector, key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    if flow.detect.app.is_some() {
        return;
    }
    // Payload patterns of the catalogue count only on the tool's own ports: a two-byte
    // magic alone is too weak.
    if flow.app_proto == AppProto::Unknown {
        let sport = if flow.client_is_lo {
            key.hi_port
        } else {
            key.lo_port
        };
        let on_port = d.shared.rules.tools_on_port(key.proto, sport);
        for (to_server, b) in [(true, &insp.buf[0]), (false, &insp.buf[1])] {
            if let Some(id) = d.shared.rules.match_payload(to_server, b) {
                if on_port.contains(&id) {
                    insp.evidence.push((
                        "payload",
                        format!("{} on port {sport}", d.shared.rules.tool(id).id),
                    ));
                    flow.detect.app = Some(id);
                    flow.detect.done = true;
                    return;
                }
            }
        }
    }
    // A name the client asked for on the wire (SNI, Host) beats what the address was looked
    // up as: shared CDN addresses serve many names.
    let named = flow
        .detect
        .meta
        .as_ref()
        .is_some_and(|m| m.client_named_server());
    if named {
        return;
    }
    if let Some(name) = &insp.dns_name {
        if let Some(id) = d.shared.rules.match_domain(name) {
            // DNS alone attributes only flows that carry something (not a bare SYN).
            insp.evidence.push(("dns", name.to_string()));
            flow.detect.app = Some(id);
        }
    }
}
