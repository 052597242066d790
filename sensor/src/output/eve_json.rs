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
    let mut l = Line {
        b: [0; LINE],
        n: 0,
        out,
    };
    let out = &mut l;
    out.put(b"{\"timestamp\":");
    raw(out, &rec.timestamp);
    out.put(b",\"flow_id\":");
    uint(out, rec.flow_id);
    out.put(b",\"event_type\":");
    raw(out, rec.event_type);
    out.put(b",\"src_ip\":");
    ip(out, &t.src_ip);
    out.put(b",\"src_port\":");
    uint(out, t.src_port as u64);
    out.put(b",\"dest_ip\":");
    ip(out, &t.dest_ip);
    out.put(b",\"dest_port\":");
    uint(out, t.dest_port as u64);
    out.put(b",\"proto\":");
    raw(out, &t.proto);
    if let Some(v) = t.icmp_type {
        out.put(b",\"icmp_type\":");
        uint(out, v as u64);
    }
    if let Some(v) = t.icmp_code {
        out.put(b",\"icmp_code\":");
        uint(out, v as u64);
    }
    if let Some([v]) = t.vlan {
        out.put(b",\"vlan\":[");
        uint(out, v as u64);
        out.byte(b']');
    }
    out.put(b",\"community_id\":");
    raw(out, &t.community_id);
    out.put(b",\"app_proto\":");
    string(out, rec.app_proto);
    if let Some(a) = &rec.app {
        out.put(b",\"app\":");
        string(out, a);
    }
    if !rec.encapsulation.is_empty() {
        out.put(b",\"encapsulation\":[");
        for (i, e) in rec.encapsulation.iter().enumerate() {
            if i > 0 {
                out.byte(b',');
            }
            raw(out, e);
        }
        out.byte(b']');
    }
    let f = &rec.flow;
    out.put(b",\"flow\":{\"pkts_toserver\":");
    uint(out, f.pkts_toserver);
    out.put(b",\"pkts_toclient\":");
    uint(out, f.pkts_toclient);
    out.put(b",\"bytes_toserver\":");
    uint(out, f.bytes_toserver);
    out.put(b",\"bytes_toclient\":");
    uint(out, f.bytes_toclient);
    out.put(b",\"start\":");
    raw(out, &f.start);
    out.put(b",\"end\":");
    raw(out, &f.end);
    out.put(b",\"age\":");
    uint(out, f.age);
    out.put(b",\"state\":");
    raw(out, f.state);
    out.put(b",\"reason\":");
    raw(out, f.reason);
    out.put(if f.alerted {
        b",\"alerted\":true}"
    } else {
        b",\"alerted\":false}"
    });
    // The metadata's own object, its braces turned into the record's: `{}` adds nothing,
    // `{"tls":…}` becomes `,"tls":…}`, which closes the record too.
    out.flush();
    let out = &mut *out.out;
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

/// The fixed part of a line is gathered here and handed to the `Vec` in a few copies: a
/// write of a constant key is then a few moves, not a call (it was most of the line's cost).
const LINE: usize = 512;

struct Line<'a> {
    b: [u8; LINE],
    n: usize,
    out: &'a mut Vec<u8>,
}

impl Line<'_> {
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        let end = self.n + s.len();
        if end <= LINE {
            self.b[self.n..end].copy_from_slice(s);
            self.n = end;
        } else {
            self.flush();
            self.out.extend_from_slice(s);
        }
    }

    #[inline(always)]
    fn byte(&mut self, c: u8) {
        if self.n == LINE {
            self.flush();
        }
        self.b[self.n] = c;
        self.n += 1;
    }

    fn flush(&mut self) {
        self.out.extend_from_slice(&self.b[..self.n]);
        self.n = 0;
    }
}

/// A JSON string: plain printable ASCII as is, anything else through `serde_json`.
#[inline]
fn string(out: &mut Line<'_>, s: &str) {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.byte(b'"');
        out.put(s.as_bytes());
        out.byte(b'"');
    } else {
        out.flush();
        // (writing to a Vec cannot fail)
        let _ = serde_json::to_writer(&mut *out.out, s);
    }
}

/// A string the sensor made itself, which never needs escaping: timestamps, the Community
/// ID (base64), protocol names, the names of states, reasons and encapsulations.
#[inline]
fn raw(out: &mut Line<'_>, s: &str) {
    debug_assert!(!s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b > 0x7e));
    out.byte(b'"');
    out.put(s.as_bytes());
    out.byte(b'"');
}

#[inline]
fn uint(out: &mut Line<'_>, v: u64) {
    out.put(itoa::Buffer::new().format(v).as_bytes());
}

/// An address as serde writes it (its `Display`, quoted).
fn ip(out: &mut Line<'_>, a: &IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            out.byte(b'"');
            for (i, o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.byte(b'.');
                }
                let o = *o;
                if o >= 100 {
                    out.byte(b'0' + o / 100);
                }
                if o >= 10 {
                    out.byte(b'0' + o / 10 % 10);
                }
                out.byte(b'0' + o % 10);
            }
            out.byte(b'"');
        }
        IpAddr::V6(_) => {
            out.flush();
            let _ = write!(out.out, "\"{a}\"");
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
    fn every_octet_as_display_writes_it() {
        let mut v = Vec::new();
        for o in 0..=255u8 {
            let a = IpAddr::from([o, 255 - o, o / 3, 7]);
            v.clear();
            let mut l = Line {
                b: [0; LINE],
                n: 0,
                out: &mut v,
            };
            ip(&mut l, &a);
            l.flush();
            assert_eq!(String::from_utf8_lossy(&v), format!("\"{a}\""));
        }
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
