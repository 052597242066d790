//! A worker owns one shard of the flow table: every packet of a flow reaches the same
//! worker (symmetric hash), so the table needs no lock. Packet time is its clock; live, a
//! tick carries wall time too when the link is quiet ([`Worker::tick`]).

use super::evidence::Tap;
use crate::config::HomeNet;
use crate::decode::{PacketInfo, PROTO_TCP, PROTO_UDP};
use crate::detect::{Detector, FlowDetect};
use crate::detect::{Flow, FlowTable};
use crate::flow::{first_sender_is_client, tcp, AppProto, Ends, FlowKey, TO_CLIENT, TO_SERVER};
use crate::host::obs::{MediaObs, Usage};
use crate::model::record::EvidenceRef;
use crate::output::eve::{alert_from, Finding, FlowRecord};
use crate::output::Event;
use crate::telemetry::{EndReason, WorkerStats};
use crossbeam_channel::{Sender, TrySendError};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Where a worker's events go: blocking for replay (nothing lost), lossy and counted live.
/// Events are sent in batches: one wake-up of the output thread per batch, not per event.
pub struct EventSink {
    pub tx: Sender<Vec<Event>>,
    pub lossless: bool,
    buf: Vec<Event>,
}

const EVENT_BATCH: usize = 128;

/// Bytes (both directions) an open flow moves before the host stage is told of it.
pub const PROGRESS_BYTES: u64 = 1 << 20;
/// Packets a call-media flow carries before it counts as a call leg.
pub const MEDIA_PACKETS: u64 = 100;

impl EventSink {
    pub fn new(tx: Sender<Vec<Event>>, lossless: bool) -> EventSink {
        EventSink {
            tx,
            lossless,
            buf: Vec::with_capacity(EVENT_BATCH),
        }
    }

    fn push(&mut self, stats: &WorkerStats, ev: Event) {
        self.buf.push(ev);
        if self.buf.len() >= EVENT_BATCH {
            self.flush(stats);
        }
    }

    pub fn flush(&mut self, stats: &WorkerStats) {
        if self.buf.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(EVENT_BATCH));
        let n = batch.len() as u64;
        if self.lossless {
            let _ = self.tx.send(batch);
        } else if let Err(TrySendError::Full(_)) = self.tx.try_send(batch) {
            stats.event_drops.add(n);
        }
    }
}

impl Clone for EventSink {
    fn clone(&self) -> EventSink {
        EventSink::new(self.tx.clone(), self.lossless)
    }
}

pub struct Worker {
    pub idx: usize,
    table: FlowTable,
    stats: Arc<WorkerStats>,
    sink: EventSink,
    detector: Detector,
    home: Arc<HomeNet>,
    now: u64,
    findings: Vec<Finding>,
    id_state: ahash::RandomState,
    /// Packet evidence (`[evidence]` on).
    evidence: Option<Tap>,
}

impl Worker {
    pub fn new(
        idx: usize,
        table: FlowTable,
        stats: Arc<WorkerStats>,
        sink: EventSink,
        detector: Detector,
        home: Arc<HomeNet>,
    ) -> Worker {
        Worker {
            idx,
            table,
            stats,
            sink,
            detector,
            home,
            now: 0,
            findings: Vec::new(),
            id_state: ahash::RandomState::with_seeds(11, 12, 13, 14),
            evidence: None,
        }
    }

    /// Keep packets for evidence (`[evidence]` on).
    pub fn with_evidence(mut self, tap: Tap) -> Worker {
        self.evidence = Some(tap);
        self
    }

    /// The link type (`LINKTYPE_`) of the packets handed in next (the evidence files').
    #[inline]
    pub fn set_link(&mut self, link: u16) {
        if let Some(t) = &mut self.evidence {
            t.link = link;
        }
    }

    pub fn detector_mut(&mut self) -> &mut Detector {
        &mut self.detector
    }

    #[allow(clippy::too_many_arguments)]
    fn end_flow(
        sink: &mut EventSink,
        stats: &WorkerStats,
        detector: &Detector,
        tap: &mut Option<Tap>,
        key: &FlowKey,
        f: &mut Flow,
        reason: EndReason,
    ) {
        if let Some(t) = tap {
            if reason == EndReason::ActiveTimeout {
                t.sweep(key, f);
            } else {
                t.end(key, f);
            }
        }
        stats.flows_ended[reason as usize].inc();
        if reason != EndReason::ActiveTimeout {
            if f.app_proto == AppProto::Unknown {
                stats.flows_by_app_proto[AppProto::Unknown.index()].inc();
            }
            if f.detect.remote_access {
                stats
                    .remote_access_active
                    .set(stats.remote_access_active.get().saturating_sub(1));
            }
        }
        if reason != EndReason::ActiveTimeout {
            detector.finish(key, f);
        }
        let app = detector.app_name(f);
        let cat = detector.app_category(f);
        // A flow that ends gives its metadata up; one that goes on keeps a copy.
        let meta = match reason {
            EndReason::ActiveTimeout => f.detect.meta.as_deref().cloned(),
            _ => f.detect.meta.take().map(|m| *m),
        };
        let mut rec = Box::new(FlowRecord::new(
            key,
            f,
            reason,
            app,
            cat,
            meta.unwrap_or_default(),
        ));
        if let Some(s) = f.detect.ssh_shape() {
            s.annotate(&mut rec.meta);
        }
        f.detect.annotate_wrapped(&mut rec.meta);
        sink.push(stats, Event::Flow(rec));
    }

    /// A flow still open that moved [`PROGRESS_BYTES`] since its last report: the host
    /// stage hears of it now rather than when the flow ends (a long upload).
    fn progress(
        sink: &mut EventSink,
        stats: &WorkerStats,
        detector: &Detector,
        now: u64,
        key: &FlowKey,
        f: &mut Flow,
    ) {
        let d = [
            f.bytes[TO_SERVER] - f.reported[TO_SERVER],
            f.bytes[TO_CLIENT] - f.reported[TO_CLIENT],
        ];
        if d[0] + d[1] < PROGRESS_BYTES {
            return;
        }
        f.reported = f.bytes;
        sink.push(
            stats,
            Event::Usage(Box::new(Usage {
                ts_ns: now,
                flow_id: f.id,
                ends: Ends::of(key, f.client_is_lo),
                app_proto: f.app_proto.as_str(),
                app: detector.app_name(f),
                category: detector.app_category(f),
                delta: d,
                git_push: crate::host::obs::git_push_seen(f.detect.meta.as_deref()),
            })),
        );
    }

    /// Call media that has carried [`MEDIA_PACKETS`]: one notice to the host stage, which
    /// counts concurrent calls (short STUN checks never get this far). DTLS counts only when
    /// it looked like WebRTC media (STUN on the same 5-tuple, `use_srtp`, SRTP beside the
    /// records) or belongs to a calls service: a VPN's DTLS data channel (OpenConnect,
    /// AnyConnect) is not a call.
    fn media(&mut self, key: &FlowKey, ts: u64) {
        let Some(f) = self.table.get_mut(key) else {
            return;
        };
        let ends = Ends::of(key, f.client_is_lo);
        let mut app = self.detector.app_name(f);
        let calls_service =
            key.proto == PROTO_UDP && self.detector.app_category(f) == Some("calls");
        if f.app_proto == AppProto::Dtls && !calls_service && !f.detect.dtls_media() {
            return;
        }
        let media = matches!(
            f.app_proto,
            AppProto::Rtp | AppProto::Rtcp | AppProto::Dtls | AppProto::Stun
        ) || calls_service;
        if !media {
            // unidentified UDP on a calls service's media port (Zoom's own framing on 8801)
            if f.app_proto != AppProto::Unknown {
                return;
            }
            match self.detector.calls_port(key.proto, ends.sport) {
                Some(id) => app = Some(id),
                None => return,
            }
        }
        let ev = MediaObs {
            ts_ns: ts,
            flow_id: f.id,
            ends,
            app_proto: f.app_proto.as_str(),
            app,
        };
        self.sink.push(&self.stats, Event::Media(Box::new(ev)));
    }

    /// Advance packet time without a packet (idle live capture, or a tick from the
    /// dispatcher), expiring flows when a sweep is due.
    pub fn advance(&mut self, now: u64) {
        if now > self.now {
            self.now = now;
        }
        if self.table.sweep_due(self.now) {
            let (sink, stats, det) = (&mut self.sink, &*self.stats, &self.detector);
            let tap = &mut self.evidence;
            let now = self.now;
            self.table.expire(now, |k, f, r| match r {
                Some(r) => Self::end_flow(sink, stats, det, tap, k, f, r),
                None => {
                    if let Some(t) = tap {
                        t.sweep(k, f);
                    }
                    Self::progress(sink, stats, det, now, k, f)
                }
            });
            stats.flows_active.set(self.table.len() as u64);
            // At least once a second of packet time, whatever is pending goes out.
            sink.flush(stats);
        }
    }

    /// Hand the pending events to the output thread now (before a replay tick, so the tick
    /// comes after every event of the packets before it).
    pub fn flush_events(&mut self) {
        self.sink.flush(&self.stats);
    }

    /// A live tick: time moves on (expiring flows when a sweep is due) and whatever events
    /// are pending go to the output thread now, packets or not.
    pub fn tick(&mut self, now: u64) {
        self.advance(now);
        self.flush_events();
    }

    /// One decoded packet whose flow key is not known yet (one worker: nothing sharded it).
    pub fn packet_unkeyed(&mut self, ts: u64, wire_len: u32, data: &[u8], info: &PacketInfo) {
        let (key, fwd) = FlowKey::of(info);
        self.on_packet(ts, wire_len, data, info, &key, fwd);
    }

    /// One decoded packet, with its flow key and direction (`FlowKey::of(info)`) as the
    /// dispatcher worked them out to shard it: the key is computed once per packet.
    pub fn packet(
        &mut self,
        ts: u64,
        wire_len: u32,
        data: &[u8],
        info: &PacketInfo,
        key: &FlowKey,
        fwd: bool,
    ) {
        self.on_packet(ts, wire_len, data, info, key, fwd);
    }

    /// The packet's work, inlined into both entries above: with one worker the key is then
    /// built right where it is used, which measured cheaper than handing it over built.
    #[inline(always)]
    fn on_packet(
        &mut self,
        ts: u64,
        wire_len: u32,
        data: &[u8],
        info: &PacketInfo,
        key: &FlowKey,
        fwd: bool,
    ) {
        self.stats.packets.inc();
        self.stats.bytes.add(wire_len as u64);
        self.advance(ts);
        let is_tcp = info.proto == PROTO_TCP;
        let syn_only = is_tcp && tcp::is_syn_only(info.tcp_flags);

        // A fresh SYN on the tuple of a closed connection starts a new flow; one older than
        // the flow's first packet does not (the two directions of a session read from two
        // interfaces, a TAP's halves, reach the worker a block at a time: the answers may
        // come before the SYN).
        if syn_only {
            if let Some(f) = self.table.get_mut(key) {
                if tcp::reused_by_syn(f) && ts >= f.start_ns {
                    if let Some(mut old) = self.table.remove(key) {
                        Self::end_flow(
                            &mut self.sink,
                            &self.stats,
                            &self.detector,
                            &mut self.evidence,
                            key,
                            &mut old,
                            EndReason::Reuse,
                        );
                    }
                }
            }
        }

        let (sink, stats, det) = (&mut self.sink, &*self.stats, &self.detector);
        let tap = &mut self.evidence;
        let id_state = &self.id_state;
        let make = || {
            let sender_is_client =
                first_sender_is_client(info.proto, info.tcp_flags, info.sport, info.dport);
            let mut h = id_state.build_hasher();
            key.hash(&mut h);
            ts.hash(&mut h);
            let id = h.finish() & ((1u64 << 52) - 1);
            Flow {
                encap: info.encap,
                vlan: info.vlan,
                ..Flow::new(id, ts, sender_is_client == fwd, FlowDetect::default())
            }
        };
        let (flow, new) = self.table.get_or_insert(key, ts, make, |k, f, r| {
            Self::end_flow(sink, stats, det, tap, k, f, r)
        });
        if new {
            stats.flows_created.inc();
        }
        let mut dir = if fwd == flow.client_is_lo {
            TO_SERVER
        } else {
            TO_CLIENT
        };
        if dir == TO_CLIENT
            && flow.pkts[TO_CLIENT] == 0
            && ts < flow.start_ns
            && no_ports(info.proto)
        {
            // the other side's older packet, handed over by another worker
            crate::detect::earlier_sender_is_client(flow, ts);
            dir = TO_SERVER;
        }
        flow.pkts[dir] += 1;
        flow.bytes[dir] += wire_len as u64;
        let media_due =
            flow.pkts[TO_SERVER] + flow.pkts[TO_CLIENT] == MEDIA_PACKETS && info.proto == PROTO_UDP;
        if ts > flow.last_ns {
            flow.last_ns = ts;
        }
        if is_tcp {
            tcp::update(flow, dir, info.tcp_flags, info.payload_len);
        }
        if let Some(t) = &mut self.evidence {
            t.packet(key, flow, new, (ts, wire_len, data));
        }
        if info.payload_len > 0 && !flow.detect.done {
            let payload = info.payload(data);
            self.detector.on_payload(
                key,
                flow,
                dir == TO_SERVER,
                info,
                payload,
                ts,
                &mut self.findings,
            );
            if flow.detect.done && flow.app_proto != AppProto::Unknown && !flow.detect.counted {
                flow.detect.counted = true;
                self.stats.flows_by_app_proto[flow.app_proto.index()].inc();
            }
            let bad = flow.detect.malformed & !flow.detect.malformed_counted;
            if bad != 0 {
                flow.detect.malformed_counted |= bad;
                for (i, c) in self.stats.malformed.iter().enumerate() {
                    if bad & (1 << i) != 0 {
                        c.inc();
                    }
                }
            }
            if flow.detect.remote_access && !flow.detect.ra_counted {
                flow.detect.ra_counted = true;
                self.stats.remote_access_active.inc();
            }
            for o in self.detector.dns_obs.drain(..) {
                self.sink.push(&self.stats, Event::Dns(Box::new(o)));
            }
            if !self.findings.is_empty() {
                flow.detect.alerted = true;
                for f in self.findings.drain(..) {
                    let e = Ends::of(key, flow.client_is_lo);
                    let direction = self.home.direction(key.v6, &e.client, &e.server);
                    let mut rec = alert_from(key, flow, ts, direction, f);
                    if let Some(t) = &mut self.evidence {
                        let at = (ts, wire_len, data);
                        rec.evidence = t
                            .alert(&rec.tuple.community_id, key, flow, at)
                            .map(|(pcap, packets)| EvidenceRef { pcap, packets });
                    }
                    self.sink.push(&self.stats, Event::Alert(Box::new(rec)));
                }
            }
            if flow.detect.done {
                if let Some(t) = &mut self.evidence {
                    t.classified(key, flow);
                }
            }
        }
        if info.payload_len > 0
            && is_tcp
            && matches!(flow.app_proto, AppProto::Tls | AppProto::Http)
        {
            // an SSH session inside TLS, a byte stream inside HTTP (detect::wrapped)
            let sent = info
                .payload_len
                .max(wire_len.saturating_sub(info.payload_off)) as usize;
            let (up, seg) = (dir == TO_SERVER, info.payload(data));
            let found = if flow.app_proto == AppProto::Tls {
                flow.detect.tls_segment(up, seg, sent, ts)
            } else {
                flow.detect.http_segment(up, seg, sent, ts)
            };
            if let Some(f) = found {
                flow.detect.alerted = true;
                let e = Ends::of(key, flow.client_is_lo);
                let direction = self.home.direction(key.v6, &e.client, &e.server);
                let mut rec = alert_from(key, flow, ts, direction, f);
                if let Some(t) = &mut self.evidence {
                    rec.evidence = t
                        .alert(&rec.tuple.community_id, key, flow, (ts, wire_len, data))
                        .map(|(pcap, packets)| EvidenceRef { pcap, packets });
                }
                self.sink.push(&self.stats, Event::Alert(Box::new(rec)));
            }
        }
        if info.payload_len > 0 && flow.app_proto == AppProto::Ssh {
            // the segment as sent, also when the capture cut it short
            let size = info
                .payload_len
                .max(wire_len.saturating_sub(info.payload_off));
            flow.detect.ssh_packet(dir == TO_SERVER, size, ts);
        }
        if info.payload_len > 0
            && flow.app_proto == AppProto::Dtls
            && flow.pkts[TO_SERVER] + flow.pkts[TO_CLIENT] <= MEDIA_PACKETS
        {
            flow.detect.dtls_packet(info.payload(data));
        }
        if media_due {
            self.media(key, ts);
        }
        if new {
            self.stats.flows_active.set(self.table.len() as u64);
        }
    }

    /// Write out every open flow (end of capture or shutdown).
    pub fn finish(&mut self) {
        let (sink, stats, det) = (&mut self.sink, &*self.stats, &self.detector);
        let tap = &mut self.evidence;
        self.table
            .drain(|k, f, r| Self::end_flow(sink, stats, det, tap, k, f, r));
        self.stats.flows_active.set(0);
        self.sink.flush(&self.stats);
    }
}

/// IP protocols whose flows have no ports or types to tell client from server (ESP, GRE,
/// OSPF …): their client is the first sender.
fn no_ports(proto: u8) -> bool {
    use crate::decode::{PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP};
    !matches!(
        proto,
        PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6 | PROTO_SCTP
    )
}
