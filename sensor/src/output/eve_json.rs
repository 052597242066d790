//! A flow record's EVE line written by hand: the bytes `serde_json` writes for
//! [`FlowRecord`] (checked by the tests below), without its per-key escaping and many small
//! writes (`#[serde(flatten)]` makes the record a map serialized entry by entry). The
//! parsers' metadata (`FlowMeta`, rare and varied) still goes through `serde_json`, spliced in.

use crate::model::record::FlowRecord;
use std::io::Write;
use std::net::IpAddr;

/// Append `rec` as one JSON object (no newline). Its text fields must be filled
/// ([`FlowRecord::fill_text`]).
pub fn write_flow(rec: &FlowRecord, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let t = &rec.tuple;
    out.reserve(512);
    out.extend_from_slice(b"{\"timestamp\":");
    raw(out, &rec.timestamp);
    out.extend_from_slice(b",\"flow_id\":");
    uint(out, rec.flow_id);
    out.extend_from_slice(b",\"event_type\":");
    raw(out, rec.event_type);
    out.extend_from_slice(b",\"src_ip\":");
    ip(out, &t.src_ip);
    out.extend_from_slice(b",\"src_port\":");
    uint(out, t.src_port as u64);
    out.extend_from_slice(b",\"dest_ip\":");
    ip(out, &t.dest_ip);
    out.extend_from_slice(b",\"dest_port\":");
    uint(out, t.dest_port as u64);
    out.extend_from_slice(b",\"proto\":");
    raw(out, &t.proto);
    if let Some(v) = t.icmp_type {
        out.extend_from_slice(b",\"icmp_type\":");
        uint(out, v as u64);
    }
    if let Some(v) = t.icmp_code {
        out.extend_from_slice(b",\"icmp_code\":");
        uint(out, v as u64);
    }
    if let Some([v]) = t.vlan {
        out.extend_from_slice(b",\"vlan\":[");
        uint(out, v as u64);
        out.push(b']');
    }
    out.extend_from_slice(b",\"community_id\":");
    raw(out, &t.community_id);
    out.extend_from_slice(b",\"app_proto\":");
    string(out, rec.app_proto);
    if let Some(a) = &rec.app {
        out.extend_from_slice(b",\"app\":");
        string(out, a);
    }
    if !rec.encapsulation.is_empty() {
        out.extend_from_slice(b",\"encapsulation\":[");
        for (i, e) in rec.encapsulation.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            raw(out, e);
        }
        out.push(b']');
    }
    let f = &rec.flow;
    out.extend_from_slice(b",\"flow\":{\"pkts_toserver\":");
    uint(out, f.pkts_toserver);
    out.extend_from_slice(b",\"pkts_toclient\":");
    uint(out, f.pkts_toclient);
    out.extend_from_slice(b",\"bytes_toserver\":");
    uint(out, f.bytes_toserver);
    out.extend_from_slice(b",\"bytes_toclient\":");
    uint(out, f.bytes_toclient);
    out.extend_from_slice(b",\"start\":");
    raw(out, &f.start);
    out.extend_from_slice(b",\"end\":");
    raw(out, &f.end);
    out.extend_from_slice(b",\"age\":");
    uint(out, f.age);
    out.extend_from_slice(b",\"state\":");
    raw(out, f.state);
    out.extend_from_slice(b",\"reason\":");
    raw(out, f.reason);
    out.extend_from_slice(if f.alerted {
        b",\"alerted\":true}"
    } else {
        b",\"alerted\":false}"
    });
    // The metadata's own object, its braces turned into the record's: `{}` adds nothing,
    // `{"tls":…}` becomes `,"tls":…}`, which closes the record too.
    let at = out.len();
    serde_json::to_writer(&mut *out, &rec.meta)?;
    if out.len() - at == 2 {
        out.truncate(at);
        out.push(b'}');
    } else {
        out[at] = b',';
    }
    Ok(())
}

/// A JSON string: plain printable ASCII as is, anything else through `serde_json`.
#[inline]
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // (writing to a Vec cannot fail)
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// A string the sensor made itself, which never needs escaping: timestamps, the Community
/// ID (base64), protocol names, the names of states, reasons and encapsulations.
#[inline]
fn raw(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b > 0x7e));
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

#[inline]
fn uint(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// An address as serde writes it (its `Display`, quoted).
fn ip(out: &mut Vec<u8>, a: &IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            out.push(b'"');
            for (i, o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                uint(out, *o as u64);
            }
            out.push(b'"');
        }
        IpAddr::V6(_) => {
            let _ = write!(out, "\"{a}\"");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::meta::{FlowMeta, SshMeta};
    use crate::model::net::Ends;
    use crate::model::record::{FlowStats, Tuple};

    fn rec(v6: bool, proto: u8) -> FlowRecord {
        let mut client = [0u8; 16];
        let mut server = [0u8; 16];
        if v6 {
            client = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
            server = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
        } else {
            client[..4].copy_from_slice(&[10, 0, 0, 5]);
            server[..4].copy_from_slice(&[198, 18, 255, 1]);
        }
        let ends = Ends {
            v6,
            client,
            server,
            cport: 40000,
            sport: 443,
            proto,
        };
        let t = Tuple::from_parts(v6, &client, 40000, &server, 443, proto);
        FlowRecord {
            timestamp: String::new(),
            flow_id: 4_503_599_627_370_495,
            event_type: "flow",
            tuple: Tuple {
                proto: String::new(),
                community_id: String::new(),
                ..t
            },
            app_proto: "tls",
            app: None,
            encapsulation: vec![],
            flow: FlowStats {
                pkts_toserver: 0,
                pkts_toclient: u64::MAX,
                bytes_toserver: 10,
                bytes_toclient: 1_000_000,
                start: String::new(),
                end: String::new(),
                age: 0,
                state: "new",
                reason: "timeout",
                alerted: false,
            },
            meta: FlowMeta::default(),
            end_ns: 1_700_000_000_123_456_789,
            start_ns: 1_699_999_000_000_001_000,
            flow_start_ns: 0,
            ends,
            app_category: None,
            reported: [0; 2],
        }
    }

    fn same(mut r: FlowRecord) {
        r.fill_text();
        let want = serde_json::to_vec(&r).unwrap();
        let mut got = Vec::new();
        write_flow(&r, &mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn byte_identical_to_serde() {
        same(rec(false, 6));
        same(rec(true, 17));
        let mut r = rec(false, 1);
        r.tuple.src_port = 0;
        r.tuple.dest_port = 0;
        r.tuple.icmp_type = Some(8);
        r.tuple.icmp_code = Some(0);
        r.tuple.vlan = Some([4094]);
        r.app = Some("Any\"Desk\\ \u{e9}\u{1}".into());
        r.encapsulation = vec!["vlan", "gre"];
        r.flow.alerted = true;
        r.flow.age = 17;
        same(r);
        let mut r = rec(true, 132);
        let mut m = FlowMeta {
            evidence: Some(vec!["sni=a\"b".into(), "x".into()]),
            ..Default::default()
        };
        m.ssh = Some(SshMeta::default());
        r.meta = m;
        r.app = Some(String::new());
        same(r);
        let mut r = rec(false, 250);
        r.tuple.proto = "already".into();
        r.timestamp = "kept".into();
        same(r);
    }

    #[test]
    fn fill_text_matches_the_tuple_of_the_alerts() {
        let mut r = rec(false, 6);
        r.fill_text();
        let t = Tuple::from_parts(false, &r.ends.client, 40000, &r.ends.server, 443, 6);
        assert_eq!(r.tuple.community_id, t.community_id);
        assert_eq!(r.tuple.proto, "TCP");
        assert_eq!(r.timestamp, "2023-11-14T22:13:20.123456+0000");
        assert_eq!(r.flow.end, r.timestamp);
        assert_eq!(r.flow.start, "2023-11-14T21:56:40.000001+0000");
    }
}
