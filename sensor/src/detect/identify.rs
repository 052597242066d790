//! Protocol identification on a flow's opening: the probes and readers of the protocol
//! registry (`proto::registry`) run on the bytes the engine keeps, through an
//! [`Opening`] built from the flow; DNS (whose answers feed the engine's name cache), the
//! PROXY protocol header, and the weaker attribution by DNS name and payload patterns
//! stay here.

use super::{set_proto, Detector, Flow, Inspect};
use crate::flow::{AppProto, Ends, FlowKey};
use crate::model::meta::ProxyMeta;
use crate::proto::registry::{classify_tcp, classify_udp};
use crate::proto::session::{Opening, Outcome, C1, PPHDR, S1};
use crate::proto::{self, Parsed};

/// Ports [client, server].
fn ports(key: &FlowKey, flow: &Flow) -> [u16; 2] {
    let e = Ends::of(key, flow.client_is_lo);
    [e.cport, e.sport]
}

/// The reader's view of a flow and its inspection state.
fn opening<'a>(
    d: &'a Detector,
    key: &FlowKey,
    flow: &'a mut Flow,
    insp: &'a mut Inspect,
) -> Opening<'a> {
    let ports = ports(key, flow);
    Opening {
        buf: [&insp.buf[0], &insp.buf[1]],
        gap: insp.gap,
        ports,
        got: &mut insp.got,
        tunnel_off: &mut insp.tunnel_off,
        meta: &mut flow.detect.meta,
        evidence: &mut insp.evidence,
        rules: &d.shared.rules,
        app: &mut flow.detect.app,
        app_proto: &mut flow.app_proto,
        tool: &mut flow.detect.app_proto_tool,
        done: &mut flow.detect.done,
        wg: &mut insp.wg,
        quic: &mut insp.quic,
        malformed: &mut flow.detect.malformed,
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
        match classify_tcp(cs, sc, ports(key, flow)) {
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
    server_speaks_otherwise(key, flow, insp);
    let before = flow.app_proto;
    match flow.app_proto.reader() {
        Some(read) => {
            if read(&mut opening(d, key, flow, insp)) == Outcome::SwapRoles {
                swap_roles(flow, insp);
            }
        }
        None => flow.detect.done = true,
    }
    // A reader that renamed the flow (an HTTP upgrade to WebSocket, a server that answers
    // in another protocol) hands the same bytes to the new protocol's reader.
    if flow.app_proto != before && !flow.detect.done {
        if let Some(read) = flow.app_proto.reader() {
            if read(&mut opening(d, key, flow, insp)) == Outcome::SwapRoles {
                swap_roles(flow, insp);
            }
        }
    }
}

/// A flow named `http` from the client's request whose server answers in a protocol that
/// announces itself (an SSH banner, an RFB version, a mail or FTP greeting): the server's
/// side names it — a scanner or a confused client knocked at an SSH server with HTTP.
fn server_speaks_otherwise(key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    if flow.app_proto != AppProto::Http || insp.buf[1].is_empty() {
        return;
    }
    if let Some(p) = classify_tcp(&[], &insp.buf[1], ports(key, flow)) {
        if p != AppProto::Http {
            insp.evidence.push((
                "server.speaks",
                format!("{} to an HTTP request", p.as_str()),
            ));
            insp.got = 0;
            flow.app_proto = p;
        }
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

/// The flow's client and server were guessed the wrong way round: swap them.
pub(super) fn swap_roles(flow: &mut Flow, insp: &mut Inspect) {
    swap_flow_roles(flow);
    insp.buf.swap(0, 1);
    insp.next_seq.swap(0, 1);
    insp.gap.swap(0, 1);
    insp.got = 0;
}

/// The flow's half of [`swap_roles`] (with or without the inspection state).
pub(super) fn swap_flow_roles(flow: &mut Flow) {
    flow.client_is_lo = !flow.client_is_lo;
    flow.pkts.swap(0, 1);
    flow.bytes.swap(0, 1);
    flow.tcp_flags.swap(0, 1);
    flow.detect.ssh_reset();
    if let Some(s) = flow.detect.meta.as_deref_mut().and_then(|m| m.ssh.as_mut()) {
        std::mem::swap(&mut s.client, &mut s.server);
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
    let on = |p: u16| key.lo_port == p || key.hi_port == p;
    if on(53) || on(5355) {
        if let Ok(msg) = proto::dns::parse(payload) {
            set_proto(flow, AppProto::Dns);
            dns(d, flow, &msg, ts);
            // a DNS flow is one exchange: done once the answer is in
            if msg.is_response {
                flow.detect.done = true;
            }
            return;
        }
    }
    // A QUIC flow's later datagrams carry the rest of its Initial packets.
    if flow.app_proto == AppProto::Quic {
        proto::quic::open::more(&mut opening(d, key, flow, insp), payload, dir);
        flow.detect.done = insp.got & (C1 | S1) == C1 | S1;
        return;
    }
    let p = classify_udp(&mut opening(d, key, flow, insp), payload, dir);
    if let Some(p) = p {
        set_proto(flow, p);
        // A Kerberos request's reply (or error) comes on the same flow, and a DHCP
        // client's later messages (request after discover) may name more: read them too.
        flow.detect.done = match p {
            AppProto::Krb5 => dir != 0,
            AppProto::Dhcp | AppProto::Mdns | AppProto::Netbios | AppProto::Ssdp => false,
            // The ClientHello may span several Initial packets; the ServerHello follows.
            AppProto::Quic => insp.got & (C1 | S1) == C1 | S1,
            _ => true,
        };
    } else if let Some(ch) = proto::calls::probe_turn_channel(payload) {
        // TURN ChannelData (RFC 8656 §12.4), relayed media caught after its STUN set-up: a
        // 4-byte header alone is weak, so two datagrams must name the same channel.
        if insp.turn_channel == Some(ch) {
            insp.evidence.push(("turn.channel", format!("0x{ch:04x}")));
            set_proto(flow, AppProto::Stun);
            flow.detect.done = true;
        }
        insp.turn_channel = Some(ch);
    } else if flow.detect.app.is_none() && proto::calls::probe_zoom(payload) {
        // Zoom's media encapsulation (SFU header with RTP/RTCP inside, or its P2P form):
        // names the product on any port.
        insp.evidence.push(("zoom", "media encapsulation".into()));
        if let Some(t) = d.shared.rules.find("zoom") {
            flow.detect.app = Some(t);
            flow.detect.done = true;
        }
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
        let sport = Ends::of(key, flow.client_is_lo).sport;
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
