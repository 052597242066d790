//! A MaxMind DB writer (IPv4), so the GeoIP tests need no third-party database.

/// A value in a MaxMind DB data section (MaxMind DB File Format Specification 2.0).
#[derive(Debug, Clone)]
pub enum MmdbValue {
    Str(String),
    U16(u16),
    U32(u32),
    U64(u64),
    /// A double (latitude, longitude).
    F64(f64),
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
        MmdbValue::F64(x) => {
            mmdb_ctrl(out, 3, 8);
            out.extend_from_slice(&x.to_be_bytes());
        }
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
