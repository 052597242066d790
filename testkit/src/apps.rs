//! Application-layer messages in their real wire formats (TLS, X.509, RDP, SSH, DNS, RTP)
//! and deterministic filler bytes, for fixtures.

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
    x509_cert_with_names(subject, issuer, &[])
}

/// As [`x509_cert`], with a subjectAltName extension listing `dns` names (RFC 5280
/// §4.2.1.6) when there are any.
pub fn x509_cert_with_names(
    subject: &[(&str, &str)],
    issuer: &[(&str, &str)],
    dns: &[&str],
) -> Vec<u8> {
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
            san_extension(dns),
        ]
        .concat(),
    );
    der(0x30, &[tbs, alg, der(0x03, &[0; 65])].concat())
}

/// `[3] { SEQUENCE { Extension { subjectAltName, OCTET STRING { GeneralNames } } } }`, or
/// nothing when `dns` is empty.
fn san_extension(dns: &[&str]) -> Vec<u8> {
    if dns.is_empty() {
        return Vec::new();
    }
    let names: Vec<u8> = dns.iter().flat_map(|n| der(0x82, n.as_bytes())).collect();
    let ext = der(
        0x30,
        &[
            der(0x06, &[0x55, 0x1d, 0x11]),
            der(0x04, &der(0x30, &names)),
        ]
        .concat(),
    );
    der(0xa3, &der(0x30, &ext))
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
