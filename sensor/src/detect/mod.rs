//! Detection: application-layer identification on a flow's opening packets, attribution
//! to a product with the rules catalogue, and findings (alerts).
//!
//! DPI costs only on a flow's opening: each direction's first bytes are kept (in order,
//! capped) and the protocol parsers re-read them from the start as they grow, so split
//! segments never confuse a parser. Once a flow is identified and its metadata is
//! complete — or after `max_inspect_packets` — later packets only update counters.

pub mod dnscache;
pub mod encrypted;
pub mod icmp;
mod identify;
mod remote_access;
pub mod resolver;
pub mod ssh_shape;
mod tunnels;
pub mod wrapped;

use crate::decode::PacketInfo;
use crate::flow::{AppProto, Ends, FlowKey};
use crate::model::meta::FlowMeta;
use crate::model::net::HomeNet;
use crate::model::record::Finding;
use crate::model::sid;
use crate::rules::{Catalogue, ToolId};
use dnscache::DnsCache;
use std::sync::Arc;

/// A flow as the workers keep it: the flow table's counters with detection's state.
pub type Flow = crate::flow::Flow<FlowDetect>;
/// A worker's flow table.
pub type FlowTable = crate::flow::FlowTable<FlowDetect>;

/// Per-flow detection state. Small when idle: the buffers and metadata are boxed.
#[derive(Debug, Default)]
pub struct FlowDetect {
    /// Identification finished (identified with complete metadata, or gave up).
    pub done: bool,
    /// Packets with payload inspected so far.
    pub inspected: u16,
    /// Directions that carried payload (bit 0 to server, bit 1 to client).
    pub payload_dirs: u8,
    /// The product or service (a rules catalogue entry), when known.
    pub app: Option<ToolId>,
    /// A protocol-level product name when no catalogue entry applies (`rdp`, `vnc`, `ssh`).
    pub app_proto_tool: Option<&'static str>,
    /// An alert was raised for this flow.
    pub alerted: bool,
    /// The flow is a remote-access session (counted in the active-sessions gauge).
    pub remote_access: bool,
    pub ra_counted: bool,
    /// The identified app_proto was counted in metrics.
    pub counted: bool,
    /// Protocols with a malformed message in this flow (`proto::session::MAL_*`), and
    /// those already counted in metrics.
    pub malformed: u8,
    pub malformed_counted: u8,
    /// What the parsers learned, serialised into the flow record.
    pub meta: Option<Box<FlowMeta>>,
    /// The worker keeps packets of this flow for evidence (`[evidence]` on: its table of
    /// `flow::keep::Keep` by flow key holds them, so flows carry no pointer for it).
    pub kept: bool,
    /// Datagrams of a flow that spoke DNS that cannot be DNS (`tunnels::dns_left_format`).
    pub not_dns: u8,
    insp: Option<Box<Inspect>>,
    /// Per-protocol statistics kept past identification (one box, so flows stay small).
    extra: Option<Box<Extra>>,
}

/// Statistics a flow keeps after identification, by protocol.
#[derive(Debug)]
enum Extra {
    Icmp(icmp::IcmpStats),
    Ssh(ssh_shape::SshShape),
    Dtls(crate::proto::calls::DtlsMedia),
    TlsSsh(wrapped::tls_ssh::TlsSsh),
    HttpStream(wrapped::http_stream::HttpStream),
    DnsPoll(wrapped::dns_poll::DnsPoll),
}

impl FlowDetect {
    pub fn meta_mut(&mut self) -> &mut FlowMeta {
        self.meta.get_or_insert_with(Default::default)
    }

    /// One SSH packet with payload, for the session's shape (interactive or forwarding).
    #[inline]
    pub fn ssh_packet(&mut self, to_server: bool, size: u32, ts: u64) {
        if let Extra::Ssh(s) = self
            .extra
            .get_or_insert_with(|| Box::new(Extra::Ssh(Default::default())))
            .as_mut()
        {
            s.observe(to_server, size, ts);
        }
    }

    /// One DTLS-flow datagram, for whether it is call media (WebRTC) or not (a VPN).
    #[inline]
    pub fn dtls_packet(&mut self, payload: &[u8]) {
        if let Extra::Dtls(m) = self
            .extra
            .get_or_insert_with(|| Box::new(Extra::Dtls(Default::default())))
            .as_mut()
        {
            m.observe(payload);
        }
    }

    /// A DTLS flow showed WebRTC-style media (STUN beside it, `use_srtp`, SRTP packets).
    pub fn dtls_media(&self) -> bool {
        matches!(self.extra.as_deref(), Some(Extra::Dtls(m)) if m.is_media())
    }

    /// The SSH session's shape so far, when the flow is SSH.
    pub fn ssh_shape(&self) -> Option<&ssh_shape::SshShape> {
        match self.extra.as_deref() {
            Some(Extra::Ssh(s)) => Some(s),
            _ => None,
        }
    }

    /// Client and server were swapped: start the shape again.
    fn ssh_reset(&mut self) {
        if let Some(Extra::Ssh(s)) = self.extra.as_deref_mut() {
            *s = Default::default();
        }
    }
}

/// The other side sent first: a flow with no ports (ESP, AH, GRE …) whose client is its
/// first sender saw a packet of the other side older than its first one, and only now
/// (live capture: another worker handed it over after this one had its own packet). That
/// older sender is the client; the flow starts at its packet.
pub fn earlier_sender_is_client(flow: &mut Flow, ts: u64) {
    match flow.detect.insp.take() {
        Some(mut insp) => {
            identify::swap_roles(flow, &mut insp);
            flow.detect.insp = Some(insp);
        }
        None => identify::swap_flow_roles(flow),
    }
    flow.start_ns = ts;
    flow.period_start_ns = ts;
}

/// The opening bytes of each direction and what has been learned from them.
#[derive(Debug, Default)]
struct Inspect {
    /// [to_server, to_client]
    buf: [Vec<u8>; 2],
    next_seq: [Option<u32>; 2],
    gap: [bool; 2],
    /// Evidence that named the product: (kind, value).
    evidence: Vec<(&'static str, String)>,
    /// The name the server's address was looked up as, just before the flow.
    dns_name: Option<Arc<str>>,
    /// Which parts of the protocol's opening are parsed.
    got: u32,
    /// Bytes of the client stream that belong to a proxy handshake (SOCKS, CONNECT); the
    /// proxied protocol starts after them.
    tunnel_off: [usize; 2],
    /// WireGuard data packets seen so far (UDP), for sessions caught in their middle.
    wg: crate::proto::vpn::WgTrack,
    /// QUIC Initial packets read so far (UDP).
    quic: Option<Box<crate::proto::quic::Track>>,
    /// Length of each direction's first TCP segment with payload (its start is `buf[dir]`).
    first_len: [usize; 2],
    /// The direction that carried payload first.
    first_speaker: Option<u8>,
    /// The fully-encrypted test ran (`encrypted::check`).
    fet_judged: bool,
    /// Datagrams on UDP port 53 that did not parse as DNS.
    not_dns: u8,
    /// The TURN channel of the last ChannelData-shaped datagram.
    turn_channel: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct DetectConfig {
    pub max_inspect_packets: u16,
    pub max_inspect_bytes: usize,
    /// Raise remote-access alerts for SSH: "inbound" (from outside the home networks to
    /// inside), "all", or "none".
    pub ssh_alert: String,
}

/// Detection context shared by every worker: the rules catalogue and the DNS answers.
pub struct Shared {
    pub rules: Catalogue,
    pub dns: Arc<DnsCache>,
}

/// The current detection context, swappable at run time (SIGHUP reload) without stopping
/// the workers: each worker notices a new generation at its next inspected packet.
pub struct Live {
    gen: std::sync::atomic::AtomicU64,
    cur: std::sync::Mutex<Arc<Shared>>,
}

impl Live {
    pub fn new(s: Arc<Shared>) -> Arc<Live> {
        Arc::new(Live {
            gen: std::sync::atomic::AtomicU64::new(0),
            cur: std::sync::Mutex::new(s),
        })
    }
    pub fn current(&self) -> Arc<Shared> {
        self.cur.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Put new rules in place; the DNS answers learned so far are kept.
    pub fn replace_rules(&self, rules: Catalogue) -> usize {
        let mut cur = self.cur.lock().unwrap_or_else(|e| e.into_inner());
        let n = rules.len();
        *cur = Arc::new(Shared {
            rules,
            dns: cur.dns.clone(),
        });
        self.gen.fetch_add(1, std::sync::atomic::Ordering::Release);
        n
    }
}

impl Shared {
    /// Load the rules catalogue from `dir`, or the one built into the binary. Errors name
    /// each file, line and problem.
    pub fn load(dir: Option<&std::path::Path>) -> Result<Shared, String> {
        Ok(Shared::with_rules(Catalogue::load(dir)?))
    }

    pub fn with_rules(rules: Catalogue) -> Shared {
        Shared {
            rules,
            dns: Arc::new(DnsCache::new(65_536)),
        }
    }

    pub fn rules_loaded(&self) -> usize {
        self.rules.len()
    }
}

/// A worker's detection engine.
pub struct Detector {
    cfg: DetectConfig,
    shared: Arc<Shared>,
    live: Option<Arc<Live>>,
    gen: u64,
    home: Arc<HomeNet>,
    /// DNS messages seen, for the host stage (drained by the worker).
    pub dns_obs: Vec<crate::model::record::DnsObs>,
}

/// IP protocol number of IPsec ESP (RFC 4303).
const PROTO_ESP: u8 = 50;

/// Echo payloads looked at per ICMP flow before giving up.
const ICMP_INSPECT: u32 = 2000;

impl Detector {
    pub fn new(cfg: DetectConfig, shared: Arc<Shared>, home: Arc<HomeNet>) -> Detector {
        Detector {
            cfg,
            shared,
            live: None,
            gen: 0,
            home,
            dns_obs: Vec::new(),
        }
    }

    /// Follow a reloadable context (live capture).
    pub fn with_live(mut self, live: Arc<Live>) -> Detector {
        self.shared = live.current();
        self.gen = live.gen.load(std::sync::atomic::Ordering::Acquire);
        self.live = Some(live);
        self
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Direction of the flow (client → server) relative to the home networks.
    pub(crate) fn direction(&self, key: &FlowKey, flow: &Flow) -> &'static str {
        let e = Ends::of(key, flow.client_is_lo);
        self.home.direction(key.v6, &e.client, &e.server)
    }

    /// The product name for the flow record (`app`).
    pub fn app_name(&self, f: &Flow) -> Option<String> {
        match f.detect.app {
            // (a flow named before a rules reload may hold an id the new catalogue lacks)
            Some(id) => self
                .shared
                .rules
                .tools()
                .get(id as usize)
                .map(|t| t.id.clone()),
            None => f.detect.app_proto_tool.map(String::from),
        }
    }

    /// Category of the flow's catalogue entry (`code-hosting`, `calls` …), when named.
    pub fn app_category(&self, f: &Flow) -> Option<&'static str> {
        f.detect
            .app
            .and_then(|id| self.shared.rules.tools().get(id as usize))
            .map(|t| t.category.as_str())
    }

    /// The calls service of the catalogue whose media port this is, if any (Zoom's UDP
    /// 8801-8810, Teams' 3478-3481 …): a hint only, used for long-lived UDP flows.
    pub fn calls_port(&self, proto: u8, port: u16) -> Option<String> {
        let r = &self.shared.rules;
        r.tools_on_port(proto, port)
            .iter()
            .filter_map(|id| r.tools().get(*id as usize))
            .find(|t| t.category == crate::rules::Category::Calls)
            .map(|t| t.id.clone())
    }

    /// Look at a packet's payload while the flow is not yet identified.
    #[allow(clippy::too_many_arguments)]
    pub fn on_payload(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        to_server: bool,
        info: &PacketInfo,
        payload: &[u8],
        ts: u64,
        findings: &mut Vec<Finding>,
    ) {
        if let Some(l) = &self.live {
            let g = l.gen.load(std::sync::atomic::Ordering::Relaxed);
            if g != self.gen {
                self.gen = g;
                self.shared = l.current();
            }
        }
        flow.detect.inspected = flow.detect.inspected.saturating_add(1);
        flow.detect.payload_dirs |= if to_server { 1 } else { 2 };
        if let Some(next) = info.ah_next {
            tunnels::ipsec_ah(self, key, flow, next, findings);
        }
        if key.proto == crate::decode::PROTO_ICMP || key.proto == crate::decode::PROTO_ICMPV6 {
            self.icmp(key, flow, info, payload, findings);
            return;
        }
        let mut not_dns = false;
        if key.proto == crate::decode::PROTO_UDP
            && [53, 5355]
                .iter()
                .any(|p| key.lo_port == *p || key.hi_port == *p)
        {
            not_dns = true;
            match crate::proto::dns::parse(payload) {
                Ok(msg) => {
                    self.dns_message(key, flow, to_server, &msg, payload.len(), ts);
                    return;
                }
                // A DNS flow's damaged or cut-short message (snap length) does not end
                // the inspection that feeds the tunnel statistics; datagrams that cannot
                // be DNS at all are a tool that left the format on the same flow.
                Err(_) if flow.app_proto == AppProto::Dns => {
                    if !crate::proto::dns::plausible_header(payload) {
                        tunnels::dns_left_format(self, key, flow, findings);
                    }
                    return;
                }
                // cut short before the flow had a whole message: not counted either way
                Err(_) if crate::proto::dns::plausible_header(payload) => not_dns = false,
                Err(_) => {}
            }
        }
        let mut insp = flow.detect.insp.take().unwrap_or_else(|| {
            let mut i = Box::<Inspect>::default();
            let server = &Ends::of(key, flow.client_is_lo).server;
            i.dns_name = self
                .shared
                .dns
                .lookup(&crate::model::net::to_ip(key.v6, server), ts);
            i
        });
        let dir = if to_server { 0 } else { 1 };
        if not_dns {
            insp.not_dns = insp.not_dns.saturating_add(1);
        }
        if key.proto == crate::decode::PROTO_TCP {
            if insp.next_seq[dir].is_none() && !payload.is_empty() {
                insp.first_len[dir] = payload.len().min(self.cfg.max_inspect_bytes);
                insp.first_speaker.get_or_insert(dir as u8);
            }
            append_stream(
                &mut insp,
                dir,
                info.seq,
                payload,
                self.cfg.max_inspect_bytes,
            );
            identify::tcp(self, key, flow, &mut insp, dir, ts);
        } else if key.proto == crate::decode::PROTO_UDP {
            identify::udp(self, key, flow, &mut insp, dir, payload, ts);
        } else if key.proto == PROTO_ESP {
            identify::esp(flow, &mut insp, payload);
        }
        identify::attribute(self, key, flow, &mut insp);
        insp.evidence.sort();
        insp.evidence.dedup();
        remote_access::check(self, key, flow, &insp, findings);
        tunnels::check(self, key, flow, &insp, findings);
        tunnels::port53(self, key, flow, &insp, findings);
        encrypted::check(self, key, flow, &mut insp, findings);
        // An identification that may still become an alert once both sides have spoken
        // keeps the flow under inspection (bounded by max_inspect_packets).
        if flow.detect.done
            && !flow.detect.alerted
            && findings.is_empty()
            && flow.detect.payload_dirs != 3
            && (flow.detect.app.is_some() || flow.detect.app_proto_tool.is_some())
        {
            flow.detect.done = false;
        }
        if flow.detect.inspected >= self.cfg.max_inspect_packets {
            flow.detect.done = true;
        }
        if flow.detect.done {
            self.finalize(key, flow, &mut insp);
        } else {
            flow.detect.insp = Some(insp);
        }
    }

    /// Identification is over: the resolver check and the evidence on the flow.
    fn finalize(&self, key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
        resolver::check(self, key, flow, insp);
        if !insp.evidence.is_empty() {
            let ev: Vec<String> = insp
                .evidence
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            flow.detect.meta_mut().evidence = Some(ev);
        }
    }

    /// A QUIC flow that ends while its inspection still waits for the server's Initial
    /// (a capture of the client's side only): finish it with what the client showed.
    pub fn finish(&self, key: &FlowKey, flow: &mut Flow) {
        if flow.detect.done || flow.app_proto != AppProto::Quic {
            return;
        }
        if let Some(mut insp) = flow.detect.insp.take() {
            flow.detect.done = true;
            self.finalize(key, flow, &mut insp);
        }
    }
}

impl Detector {
    fn icmp(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        info: &PacketInfo,
        payload: &[u8],
        findings: &mut Vec<Finding>,
    ) {
        let echo = matches!(info.sport, 0 | 8 | 128 | 129);
        if !echo || payload.len() < 4 {
            return;
        }
        // the identifier and sequence number are the first four payload bytes here
        let p = &payload[4..];
        let Extra::Icmp(st) = flow
            .detect
            .extra
            .get_or_insert_with(|| Box::new(Extra::Icmp(Default::default())))
            .as_mut()
        else {
            return;
        };
        st.add(p);
        if st.packets >= ICMP_INSPECT {
            flow.detect.done = true;
        }
        if flow.detect.alerted {
            return;
        }
        let Some(why) = st.verdict() else { return };
        let mut md = std::collections::BTreeMap::new();
        for (k, v) in why {
            md.insert(k, vec![v]);
        }
        let tool = md.get("marker").and_then(|m| m.first().cloned());
        flow.detect.done = true;
        let _ = key;
        findings.push(Finding {
            signature_id: sid::ICMP_TUNNEL,
            signature: match &tool {
                Some(t) => format!("SPANWATCH tunnel: ICMP tunnel ({t})"),
                None => "SPANWATCH tunnel: ICMP echo carrying data".into(),
            },
            category: "tunnel",
            severity: 2,
            app: tool,
            metadata: md,
        });
    }

    fn dns_message(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        to_server: bool,
        msg: &crate::proto::dns::Message<'_>,
        size: usize,
        ts: u64,
    ) {
        set_proto(flow, AppProto::Dns);
        identify::dns(self, flow, msg, ts);
        let Some(q) = msg.questions.first() else {
            return;
        };
        let Ends {
            client: c,
            cport: cp,
            server: s,
            sport: sp,
            ..
        } = Ends::of(key, flow.client_is_lo);
        let _ = to_server;
        if self.dns_obs.len() < 4096 {
            self.dns_obs.push(crate::model::record::DnsObs {
                ts_ns: ts,
                flow_id: flow.id,
                v6: key.v6,
                client: c,
                client_port: cp,
                server: s,
                server_port: sp,
                qname: q.name.clone(),
                qtype: q.qtype,
                is_response: msg.is_response,
                size: size as u32,
            });
        }
        // A DNS flow stays under inspection: every message feeds the tunnel statistics.
        if flow.detect.inspected >= u16::MAX - 1 {
            flow.detect.done = true;
        }
    }
}

/// Append in-order TCP payload to a direction's buffer; a gap stops that direction.
fn append_stream(insp: &mut Inspect, dir: usize, seq: u32, payload: &[u8], cap: usize) {
    if insp.gap[dir] {
        return;
    }
    let buf = &mut insp.buf[dir];
    match insp.next_seq[dir] {
        None => {
            buf.extend_from_slice(&payload[..payload.len().min(cap)]);
            insp.next_seq[dir] = Some(seq.wrapping_add(payload.len() as u32));
        }
        Some(next) => {
            let off = next.wrapping_sub(seq);
            if off == 0 {
                let room = cap.saturating_sub(buf.len());
                buf.extend_from_slice(&payload[..payload.len().min(room)]);
                insp.next_seq[dir] = Some(seq.wrapping_add(payload.len() as u32));
            } else if (off as usize) < payload.len() && off < 1 << 30 {
                // retransmission overlapping new data: take the new part
                let new = &payload[off as usize..];
                let room = cap.saturating_sub(buf.len());
                buf.extend_from_slice(&new[..new.len().min(room)]);
                insp.next_seq[dir] = Some(seq.wrapping_add(payload.len() as u32));
            } else if off >= 1 << 31 {
                // a segment from the future: data is missing
                insp.gap[dir] = true;
            }
            // else: a pure retransmission of bytes already held
        }
    }
}

pub(crate) fn set_proto(flow: &mut Flow, p: AppProto) {
    if flow.app_proto == AppProto::Unknown {
        flow.app_proto = p;
    }
}
