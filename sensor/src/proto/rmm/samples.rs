pub const TLS_CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 0x11, 0x22, 0x33, 0x44, 0x55,
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
    0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x00, 0x00, 0x02, 0x13, 0x01,
    0x01, 0x00, 0x00, 0x00,
];
pub const HTTP_GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
pub const DNS_QUERY: &[u8] = &[
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'e', b'x', b'a',
    b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, 0x00, 0x01, 0x00, 0x01,
];

/// Deterministic pseudo-random bytes (xorshift), several lengths.
pub fn random_buffers() -> Vec<Vec<u8>> {
    let mut x: u32 = 0x9e37_79b9;
    let mut out = Vec::new();
    for len in [1usize, 4, 13, 20, 32, 37, 46, 64, 92, 148, 200, 512] {
        for _ in 0..16 {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push((x >> 24) as u8);
            }
            out.push(v);
        }
    }
    out
}

/// Every one-byte mutation of `msg` to a few boundary values, and every length
/// from empty to one byte longer: fodder for no-panic checks.
pub fn mutations(msg: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..msg.len() {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut m = msg.to_vec();
            m[i] = v;
            out.push(m);
        }
    }
    for i in 0..=msg.len() {
        out.push(msg[..i].to_vec());
    }
    let mut longer = msg.to_vec();
    longer.push(0xff);
    out.push(longer);
    out
}

/// The fixed negatives plus the random buffers.
pub fn negatives() -> Vec<Vec<u8>> {
    let mut v = vec![
        TLS_CLIENT_HELLO.to_vec(),
        HTTP_GET.to_vec(),
        DNS_QUERY.to_vec(),
        Vec::new(),
    ];
    v.extend(random_buffers());
    v
}
