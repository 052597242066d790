//! Packet and capture builders for tests, the demo capture and benchmarks: Ethernet, VLAN,
//! IPv4/IPv6, TCP sessions with a real handshake and sequence numbers, UDP, and a pcap
//! writer. Everything is deterministic: the same calls give the same bytes.

pub mod demo;

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

// ---- application-layer message builders (real wire formats, for fixtures) ----

fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}
fn u24be(v: usize) -> [u8; 3] {
    let b = (v as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

/// A TLS 1.2/1.3 ClientHello record (RFC 8446 §4.1.2) with optional SNI and ALPN.
pub fn tls_client_hello(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut l = vec![0u8];
        l.extend_from_slice(&u16be(name.len()));
        l.extend_from_slice(name.as_bytes());
        let mut sn = u16be(l.len()).to_vec();
        sn.extend_from_slice(&l);
        exts.extend_from_slice(&[0, 0]);
        exts.extend_from_slice(&u16be(sn.len()));
        exts.extend_from_slice(&sn);
    }
    // supported_groups, signature_algorithms, supported_versions
    exts.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    exts.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04]);
    if !alpn.is_empty() {
        let mut l = Vec::new();
        for p in alpn {
            l.push(p.len() as u8);
            l.extend_from_slice(p.as_bytes());
        }
        exts.extend_from_slice(&[0x00, 0x10]);
        exts.extend_from_slice(&u16be(l.len() + 2));
        exts.extend_from_slice(&u16be(l.len()));
        exts.extend_from_slice(&l);
    }
    exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    let mut body = vec![0x03, 0x03];
    body.extend((0..32).map(|i| (i * 7 + 3) as u8)); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]); // ciphers
    body.extend_from_slice(&[0x01, 0x00]); // compression
    body.extend_from_slice(&u16be(exts.len()));
    body.extend_from_slice(&exts);
    tls_handshake_record(1, &body)
}

fn tls_handshake_record(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![msg_type];
    hs.extend_from_slice(&u24be(body.len()));
    hs.extend_from_slice(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&u16be(hs.len()));
    rec.extend_from_slice(&hs);
    rec
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 128 {
        v.push(n as u8);
    } else if n < 256 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

/// An X.501 Name from (attribute, value) pairs: "CN", "O", "C".
fn der_name(parts: &[(&str, &str)]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for (k, v) in parts {
        let oid: &[u8] = match *k {
            "CN" => &[0x55, 0x04, 0x03],
            "O" => &[0x55, 0x04, 0x0a],
            "C" => &[0x55, 0x04, 0x06],
            _ => &[0x55, 0x04, 0x0b],
        };
        let atv = der(0x30, &[der(0x06, oid), der(0x0c, v.as_bytes())].concat());
        rdns.extend_from_slice(&der(0x31, &atv));
    }
    der(0x30, &rdns)
}

/// A minimal, well-formed X.509 certificate (unsigned) with the given subject and issuer.
pub fn x509_cert(subject: &[(&str, &str)], issuer: &[(&str, &str)]) -> Vec<u8> {
    let alg = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let validity = der(
        0x30,
        &[der(0x17, b"250101000000Z"), der(0x17, b"300101000000Z")].concat(),
    );
    let spki = der(
        0x30,
        &[
            der(0x30, &der(0x06, &[0x2b, 0x65, 0x70])),
            der(0x03, &[0; 33]),
        ]
        .concat(),
    );
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &[1, 2, 3, 4]),
            alg.clone(),
            der_name(issuer),
            validity,
            der_name(subject),
            spki,
        ]
        .concat(),
    );
    der(0x30, &[tbs, alg, der(0x03, &[0; 65])].concat())
}

/// ServerHello (TLS 1.2, optional ALPN) followed by a Certificate message in clear.
pub fn tls_server_hello_cert(alpn: Option<&str>, cert: Option<&[u8]>) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(p) = alpn {
        exts.extend_from_slice(&[0x00, 0x10]);
        exts.extend_from_slice(&u16be(p.len() + 3));
        exts.extend_from_slice(&u16be(p.len() + 1));
        exts.push(p.len() as u8);
        exts.extend_from_slice(p.as_bytes());
    }
    let mut body = vec![0x03, 0x03];
    body.extend((0..32).map(|i| (i * 11 + 5) as u8));
    body.push(0);
    body.extend_from_slice(&[0xc0, 0x2f, 0x00]);
    body.extend_from_slice(&u16be(exts.len()));
    body.extend_from_slice(&exts);
    let mut out = tls_handshake_record(2, &body);
    if let Some(c) = cert {
        let mut list = u24be(c.len()).to_vec();
        list.extend_from_slice(c);
        let mut cbody = u24be(list.len()).to_vec();
        cbody.extend_from_slice(&list);
        out.extend_from_slice(&tls_handshake_record(11, &cbody));
    }
    out
}

/// TLS application data of `n` bytes (opaque).
pub fn tls_app_data(n: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0x17, 0x03, 0x03];
    v.extend_from_slice(&u16be(n));
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

/// RDP X.224 Connection Request (MS-RDPBCGR 2.2.1.1) with a cookie and RDP_NEG_REQ.
pub fn rdp_connection_request(user: &str, requested: u32) -> Vec<u8> {
    let mut x = vec![0xe0, 0, 0, 0, 0, 0];
    x.extend_from_slice(format!("Cookie: mstshash={user}\r\n").as_bytes());
    x.extend_from_slice(&[0x01, 0x00, 0x08, 0x00]);
    x.extend_from_slice(&requested.to_le_bytes());
    let mut t = vec![0x03, 0x00];
    t.extend_from_slice(&u16be(4 + 1 + x.len()));
    t.push(x.len() as u8);
    t.extend_from_slice(&x);
    t
}

/// RDP X.224 Connection Confirm with RDP_NEG_RSP (MS-RDPBCGR 2.2.1.2).
pub fn rdp_connection_confirm(selected: u32) -> Vec<u8> {
    let mut x = vec![0xd0, 0, 0, 0x12, 0x34, 0];
    x.extend_from_slice(&[0x02, 0x1f, 0x08, 0x00]);
    x.extend_from_slice(&selected.to_le_bytes());
    let mut t = vec![0x03, 0x00];
    t.extend_from_slice(&u16be(4 + 1 + x.len()));
    t.push(x.len() as u8);
    t.extend_from_slice(&x);
    t
}

/// An SSH binary packet holding SSH_MSG_KEXINIT (RFC 4253 §7.1).
pub fn ssh_kexinit(kex: &str, hostkey: &str, enc: &str, mac: &str) -> Vec<u8> {
    let mut p = vec![20u8];
    p.extend((0..16).map(|i| i as u8));
    for l in [kex, hostkey, enc, enc, mac, mac, "none", "none", "", ""] {
        p.extend_from_slice(&(l.len() as u32).to_be_bytes());
        p.extend_from_slice(l.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&[0; 4]);
    let pad = 8 - ((p.len() + 5) % 8) + 4;
    let mut out = ((p.len() + pad + 1) as u32).to_be_bytes().to_vec();
    out.push(pad as u8);
    out.extend_from_slice(&p);
    out.extend(std::iter::repeat_n(0u8, pad));
    out
}

/// A DNS query (RFC 1035) for `name` of type `qtype`.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

fn dns_name(m: &mut Vec<u8>, name: &str) {
    for l in name.trim_end_matches('.').split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
}

/// A DNS response to [`dns_query`] answering with IPv4 addresses (A records).
pub fn dns_response_a(id: u16, name: &str, addrs: &[[u8; 4]]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1]);
    m.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    for a in addrs {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(a);
    }
    m
}

/// A DNS response carrying one TXT record of `txt` bytes.
pub fn dns_response_txt(id: u16, name: &str, txt: &[u8]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend_from_slice(&[0, 16, 0, 1]);
    m.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 0]);
    let t = &txt[..txt.len().min(255)];
    m.extend_from_slice(&((t.len() + 1) as u16).to_be_bytes());
    m.push(t.len() as u8);
    m.extend_from_slice(t);
    m
}

/// Deterministic pseudo-random bytes (xorshift), for payloads that should look random.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A base32-ish label of `n` characters, like DNS tunnel tools produce.
pub fn tunnel_label(n: usize, seed: u64) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    noise(n, seed)
        .iter()
        .map(|b| A[(*b as usize) % 32] as char)
        .collect()
}

/// An RTP packet (RFC 3550): version 2, payload type `pt`, then `n` bytes of media.
pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, n: usize) -> Vec<u8> {
    let mut v = vec![0x80, pt & 0x7f];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend(noise(n, ssrc as u64 ^ seq as u64));
    v
}

/// A value in a MaxMind DB data section (MaxMind DB File Format Specification 2.0).
#[derive(Debug, Clone)]
pub enum MmdbValue {
    Str(String),
    U16(u16),
    U32(u32),
    U64(u64),
    Array(Vec<MmdbValue>),
    Map(Vec<(String, MmdbValue)>),
}

fn mmdb_ctrl(out: &mut Vec<u8>, ty: u8, size: usize) {
    let (bits, ext): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else {
        let s = size - 285;
        (30, vec![(s >> 8) as u8, s as u8])
    };
    if ty <= 7 {
        out.push(ty << 5 | bits);
    } else {
        out.push(bits);
        out.push(ty - 7);
    }
    out.extend(ext);
}

fn mmdb_encode(out: &mut Vec<u8>, v: &MmdbValue) {
    let uint = |out: &mut Vec<u8>, ty: u8, x: u64| {
        let b = x.to_be_bytes();
        let skip = b.iter().take_while(|c| **c == 0).count();
        mmdb_ctrl(out, ty, 8 - skip);
        out.extend_from_slice(&b[skip..]);
    };
    match v {
        MmdbValue::Str(s) => {
            mmdb_ctrl(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        MmdbValue::U16(x) => uint(out, 5, *x as u64),
        MmdbValue::U32(x) => uint(out, 6, *x as u64),
        MmdbValue::U64(x) => uint(out, 9, *x),
        MmdbValue::Array(a) => {
            mmdb_ctrl(out, 11, a.len());
            for x in a {
                mmdb_encode(out, x);
            }
        }
        MmdbValue::Map(m) => {
            mmdb_ctrl(out, 7, m.len());
            for (k, x) in m {
                mmdb_encode(out, &MmdbValue::Str(k.clone()));
                mmdb_encode(out, x);
            }
        }
    }
}

/// A MaxMind-format database (IPv4 tree, 24-bit records) mapping IPv4 prefixes to values,
/// written from the published file format so tests need no third-party database.
pub fn mmdb_v4(db_type: &str, entries: &[([u8; 4], u8, MmdbValue)]) -> Vec<u8> {
    #[derive(Clone, Copy)]
    enum Rec {
        Empty,
        Node(usize),
        Data(usize),
    }
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
    let mut data = Vec::new();
    for (addr, len, v) in entries {
        let off = data.len();
        mmdb_encode(&mut data, v);
        let bits = u32::from_be_bytes(*addr);
        let mut n = 0;
        for i in 0..*len {
            let b = ((bits >> (31 - i)) & 1) as usize;
            if i + 1 == *len {
                nodes[n][b] = Rec::Data(off);
            } else {
                n = match nodes[n][b] {
                    Rec::Node(x) => x,
                    _ => {
                        nodes.push([Rec::Empty, Rec::Empty]);
                        let x = nodes.len() - 1;
                        nodes[n][b] = Rec::Node(x);
                        x
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = match *r {
                Rec::Empty => count,
                Rec::Node(x) => x,
                Rec::Data(off) => count + 16 + off,
            } as u32;
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
    let s = |x: &str| MmdbValue::Str(x.to_string());
    let meta = MmdbValue::Map(vec![
        ("binary_format_major_version".into(), MmdbValue::U16(2)),
        ("binary_format_minor_version".into(), MmdbValue::U16(0)),
        ("build_epoch".into(), MmdbValue::U64(1_700_000_000)),
        ("database_type".into(), s(db_type)),
        (
            "description".into(),
            MmdbValue::Map(vec![("en".into(), s("spanwatch test data"))]),
        ),
        ("ip_version".into(), MmdbValue::U16(4)),
        ("languages".into(), MmdbValue::Array(vec![s("en")])),
        ("node_count".into(), MmdbValue::U32(count as u32)),
        ("record_size".into(), MmdbValue::U16(24)),
    ]);
    mmdb_encode(&mut out, &meta);
    out
}
