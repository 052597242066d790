//! Packet and capture builders for tests, the demo capture and benchmarks: Ethernet, VLAN,
//! IPv4/IPv6, TCP sessions with a real handshake and sequence numbers, UDP, and a pcap
//! writer. Everything is deterministic: the same calls give the same bytes.

mod apps;
pub mod demo;
mod mmdb;
mod quic;

pub use apps::*;
pub use mmdb::*;
pub use quic::*;

use std::net::IpAddr;

/// A classic pcap file (microsecond timestamps) built in memory.
pub struct PcapWriter {
    buf: Vec<u8>,
}

impl PcapWriter {
    pub fn new(linktype: u32) -> PcapWriter {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&262_144u32.to_le_bytes());
        buf.extend_from_slice(&linktype.to_le_bytes());
        PcapWriter { buf }
    }

    pub fn packet(&mut self, ts_ns: u64, data: &[u8]) {
        self.packet_wire(ts_ns, data, data.len() as u32);
    }

    pub fn packet_wire(&mut self, ts_ns: u64, data: &[u8], wire_len: u32) {
        let b = &mut self.buf;
        b.extend_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&(((ts_ns % 1_000_000_000) / 1000) as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&wire_len.to_le_bytes());
        b.extend_from_slice(data);
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, &self.buf)
    }
}

fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn vlan(id: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An IP packet (v4 or v6 by the addresses) carrying `payload` of protocol `proto`.
pub fn ip(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + payload.len();
            let mut h = vec![
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                1,
                0x40,
                0,
                64,
                proto,
                0,
                0,
            ];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = checksum(&h, 0);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend_from_slice(payload);
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            h.push(proto);
            h.push(64);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend_from_slice(payload);
            h
        }
        _ => panic!("testkit::ip: mixed address families"),
    }
}

pub fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub fn icmp_echo(request: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![if request { 8 } else { 0 }, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let c = checksum(&m, 0);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Writes Ethernet frames of IP packets into a pcap, advancing a clock.
pub struct Scene {
    pub pcap: PcapWriter,
    pub now_ns: u64,
    pub vlan: Option<u16>,
}

impl Scene {
    pub fn new(start_s: u64) -> Scene {
        Scene {
            pcap: PcapWriter::new(1),
            now_ns: start_s * 1_000_000_000,
            vlan: None,
        }
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.now_ns += ms * 1_000_000;
    }

    pub fn ip_packet(&mut self, src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) {
        let pkt = ip(src, dst, proto, l4);
        let et = if src.is_ipv4() { 0x0800 } else { 0x86dd };
        let frame = match self.vlan {
            Some(id) => ether(0x8100, &vlan(id, et, &pkt)),
            None => ether(et, &pkt),
        };
        self.pcap.packet(self.now_ns, &frame);
        self.advance_ms(1);
    }

    /// A packet captured short: `wire_len` on the wire (as a TSO/GRO capture shows it),
    /// only the headers and `l4` in the file. Keeps bulk-transfer fixtures small.
    pub fn ip_packet_wire(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        l4: &[u8],
        wire_len: u32,
    ) {
        let pkt = ip(src, dst, proto, l4);
        let et = if src.is_ipv4() { 0x0800 } else { 0x86dd };
        let frame = ether(et, &pkt);
        let wire = wire_len.max(frame.len() as u32);
        self.pcap.packet_wire(self.now_ns, &frame, wire);
        self.advance_ms(1);
    }

    pub fn udp(&mut self, src: (IpAddr, u16), dst: (IpAddr, u16), payload: &[u8]) {
        let l4 = udp(src.1, dst.1, payload);
        self.ip_packet(src.0, dst.0, 17, &l4);
    }

    pub fn tcp_session(&mut self, client: (IpAddr, u16), server: (IpAddr, u16)) -> TcpSession {
        TcpSession {
            client,
            server,
            cseq: 1000,
            sseq: 5000,
            open: false,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.pcap.bytes()
    }
}

/// A TCP connection with tracked sequence numbers.
pub struct TcpSession {
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub cseq: u32,
    pub sseq: u32,
    open: bool,
}

impl TcpSession {
    fn c2s(&mut self, sc: &mut Scene, flags: u8, data: &[u8]) {
        let ack = if flags & ACK != 0 { self.sseq } else { 0 };
        let l4 = tcp(self.client.1, self.server.1, self.cseq, ack, flags, data);
        sc.ip_packet(self.client.0, self.server.0, 6, &l4);
        self.cseq = self
            .cseq
            .wrapping_add(data.len() as u32 + if flags & (SYN | FIN) != 0 { 1 } else { 0 });
    }
    fn s2c(&mut self, sc: &mut Scene, flags: u8, data: &[u8]) {
        let l4 = tcp(
            self.server.1,
            self.client.1,
            self.sseq,
            self.cseq,
            flags,
            data,
        );
        sc.ip_packet(self.server.0, self.client.0, 6, &l4);
        self.sseq = self
            .sseq
            .wrapping_add(data.len() as u32 + if flags & (SYN | FIN) != 0 { 1 } else { 0 });
    }

    pub fn handshake(&mut self, sc: &mut Scene) {
        self.c2s(sc, SYN, &[]);
        self.s2c(sc, SYN | ACK, &[]);
        self.c2s(sc, ACK, &[]);
        self.open = true;
    }

    /// Client sends `data` (split into segments of at most `mss` bytes), server ACKs.
    pub fn client_sends(&mut self, sc: &mut Scene, data: &[u8]) {
        for chunk in data.chunks(1400) {
            self.c2s(sc, PSH | ACK, chunk);
        }
        self.s2c(sc, ACK, &[]);
    }

    pub fn server_sends(&mut self, sc: &mut Scene, data: &[u8]) {
        for chunk in data.chunks(1400) {
            self.s2c(sc, PSH | ACK, chunk);
        }
        self.c2s(sc, ACK, &[]);
    }

    /// Client sends about `total` bytes on the wire in segments of `seg` wire bytes, each
    /// captured with a 64-byte payload only (the server ACKs every 16 segments).
    pub fn client_bulk(&mut self, sc: &mut Scene, total: u64, seg: u32) {
        self.bulk(sc, total, seg, true);
    }

    /// The server sends about `total` wire bytes (a download), as [`Self::client_bulk`].
    pub fn server_bulk(&mut self, sc: &mut Scene, total: u64, seg: u32) {
        self.bulk(sc, total, seg, false);
    }

    fn bulk(&mut self, sc: &mut Scene, total: u64, seg: u32, up: bool) {
        let body = [0x5a_u8; 64];
        let n = total.div_ceil(seg as u64);
        for i in 0..n {
            let (src, dst) = if up {
                (self.client, self.server)
            } else {
                (self.server, self.client)
            };
            let (seq, ack) = if up {
                (self.cseq, self.sseq)
            } else {
                (self.sseq, self.cseq)
            };
            let l4 = tcp(src.1, dst.1, seq, ack, PSH | ACK, &body);
            sc.ip_packet_wire(src.0, dst.0, 6, &l4, seg);
            let adv = seg.saturating_sub(54);
            if up {
                self.cseq = self.cseq.wrapping_add(adv);
            } else {
                self.sseq = self.sseq.wrapping_add(adv);
            }
            if i % 16 == 15 {
                if up {
                    self.s2c(sc, ACK, &[]);
                } else {
                    self.c2s(sc, ACK, &[]);
                }
            }
        }
    }

    /// Client sends one segment without the ACK that usually follows.
    pub fn client_segment(&mut self, sc: &mut Scene, data: &[u8]) {
        self.c2s(sc, PSH | ACK, data);
    }

    pub fn server_segment(&mut self, sc: &mut Scene, data: &[u8]) {
        self.s2c(sc, PSH | ACK, data);
    }

    pub fn close(&mut self, sc: &mut Scene) {
        self.c2s(sc, FIN | ACK, &[]);
        self.s2c(sc, FIN | ACK, &[]);
        self.c2s(sc, ACK, &[]);
        self.open = false;
    }

    pub fn reset_by_server(&mut self, sc: &mut Scene) {
        self.s2c(sc, RST | ACK, &[]);
    }
}

pub fn v4(s: &str) -> IpAddr {
    s.parse().expect("address")
}
