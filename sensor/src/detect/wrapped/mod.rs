//! Byte streams wrapped in another protocol to pass where only that protocol may: an SSH
//! session inside TLS (stunnel, `openssl s_client`-style wrappers on 443; [`tls_ssh`]), a
//! byte stream carried in long-lived HTTP requests (httptunnel-style; [`http_stream`]) and a
//! DNS tunnel polling through DNS over HTTPS or TLS ([`dns_poll`]).
//!
//! Both look at a flow after its identification: the TLS or HTTP parser named the flow,
//! then this module follows record sizes, body lengths and timing for a bounded number of
//! packets (state boxed, TLS and HTTP flows only) and raises a `tunnel` alert with a
//! confidence in its metadata when the shape is the wrapped protocol's.

pub mod dns_poll;
pub mod http_stream;
pub mod pair;
pub mod tls_ssh;

use super::FlowDetect;
use crate::model::meta::{FlowMeta, WrappedMeta};
use crate::model::record::Finding;
use std::collections::BTreeMap;

/// A verdict's evidence: (name, value) pairs, in the flow record as `name=value` and in the
/// alert's metadata as keys.
type Traits = Vec<(&'static str, String)>;

/// The flow record's `wrapped` part of a verdict.
fn wrapped_meta(
    confidence: u8,
    (inner, outer): (&'static str, &'static str),
    tool: Option<&'static str>,
    traits: Traits,
) -> WrappedMeta {
    WrappedMeta {
        confidence,
        inner,
        outer,
        shape: None,
        tool,
        traits: traits
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    }
}

/// The `tunnel` alert's metadata of a verdict: its confidence and traits.
fn alert_metadata(confidence: u8, traits: Traits) -> BTreeMap<String, Vec<String>> {
    let mut md = BTreeMap::new();
    md.insert("confidence".to_string(), vec![confidence.to_string()]);
    for (k, v) in traits {
        md.insert(k.to_string(), vec![v]);
    }
    md
}

/// A wrapped protocol's `tunnel` alert (severity 2).
fn tunnel_finding(
    signature_id: u32,
    signature: String,
    app: Option<&str>,
    metadata: BTreeMap<String, Vec<String>>,
) -> Finding {
    Finding {
        signature_id,
        signature,
        category: "tunnel",
        severity: 2,
        app: app.map(String::from),
        metadata,
    }
}

impl FlowDetect {
    /// One TCP segment of a TLS flow, for an SSH session inside it. Returns the alert on the
    /// segment that completes the match.
    pub fn tls_segment(
        &mut self,
        to_server: bool,
        seg: &[u8],
        sent: usize,
        ts: u64,
    ) -> Option<Finding> {
        // Encrypted DNS to a resolver is followed for a tunnel's polling instead (no SSH
        // session goes to a public resolver).
        let dns = self
            .meta
            .as_deref()
            .and_then(|m| m.resolver_bypass.as_ref())
            .map(|r| r.kind)
            .filter(|k| matches!(*k, "doh" | "dot"));
        if let Some(kind) = dns {
            return self.dns_segment(to_server, sent, ts, kind);
        }
        match self.extra.as_deref() {
            None => {}
            Some(super::Extra::TlsSsh(w)) if !w.over || w.shape.is_some() => {}
            _ => return None,
        }
        let tls13 = self
            .meta
            .as_deref()
            .and_then(|m| m.tls.as_ref()?.version.as_deref())
            .map(|v| v == "TLSv1.3");
        let super::Extra::TlsSsh(w) = self
            .extra
            .get_or_insert_with(|| Box::new(super::Extra::TlsSsh(Default::default())))
            .as_mut()
        else {
            return None;
        };
        let v = w.segment(to_server, tls13, seg, sent, ts)?;
        let m = self.meta_mut();
        m.wrapped = Some(tls_ssh::meta(&v));
        Some(tls_ssh::finding(&v))
    }

    /// One TCP segment of encrypted DNS to a resolver, for a DNS tunnel's polling.
    fn dns_segment(
        &mut self,
        to_server: bool,
        sent: usize,
        ts: u64,
        kind: &'static str,
    ) -> Option<Finding> {
        let slot = self
            .extra
            .get_or_insert_with(|| Box::new(super::Extra::DnsPoll(Default::default())));
        if !matches!(slot.as_ref(), super::Extra::DnsPoll(_)) {
            // the flow was named a resolver after its first records (an SSH-in-TLS watch
            // that started on them is dropped)
            **slot = super::Extra::DnsPoll(Default::default());
        }
        let super::Extra::DnsPoll(w) = slot.as_mut() else {
            return None;
        };
        let v = w.segment(to_server, sent, ts, kind)?;
        self.meta_mut().wrapped = Some(dns_poll::meta(&v));
        Some(dns_poll::finding(&v))
    }

    /// One TCP segment of an HTTP flow, for a byte stream carried in its request or answer.
    pub fn http_segment(
        &mut self,
        to_server: bool,
        seg: &[u8],
        sent: usize,
        ts: u64,
    ) -> Option<Finding> {
        let super::Extra::HttpStream(w) = self
            .extra
            .get_or_insert_with(|| Box::new(super::Extra::HttpStream(Default::default())))
            .as_mut()
        else {
            return None;
        };
        if w.over {
            return None;
        }
        let v = w.segment(to_server, seg, sent, ts)?;
        self.meta_mut().wrapped = Some(http_stream::meta(&v));
        v.alert.then(|| http_stream::finding(&v))
    }

    /// Put what was found inside the flow into its record (the wrapped session's shape).
    pub fn annotate_wrapped(&self, meta: &mut FlowMeta) {
        if let (Some(super::Extra::TlsSsh(w)), Some(m)) =
            (self.extra.as_deref(), meta.wrapped.as_mut())
        {
            m.shape = w.shape.as_ref().map(|s| s.shape().as_str());
        }
    }
}

/// One TLS direction cut into records across TCP segments: only the 5-byte headers are read
/// (type, length), so a capture's snap length costs nothing but headers cut off, after which
/// the reader waits for a segment that starts with a record again.
#[derive(Debug, Default, Clone)]
pub struct Records {
    /// Bytes of the current record's body still to come.
    left: u32,
    hdr: [u8; 5],
    have: u8,
    synced: bool,
}

/// Largest TLS record body (2^14 plus the most expansion RFC 8446 and 5246 allow).
const MAX_RECORD: u16 = 16_384 + 2_048;

fn plausible(h: &[u8]) -> bool {
    h.len() >= 5
        && (20..=24).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && u16::from_be_bytes([h[3], h[4]]) <= MAX_RECORD
}

impl Records {
    /// One TCP segment: `seg` the bytes captured, `sent` its length on the wire (larger
    /// when the capture cut it). Calls `f(type, length)` for every record that starts in it.
    pub fn feed(&mut self, seg: &[u8], sent: usize, mut f: impl FnMut(u8, u16)) {
        if !self.synced {
            if !plausible(seg) {
                return;
            }
            self.synced = true;
            self.left = 0;
            self.have = 0;
        }
        let mut i = 0usize;
        while i < sent {
            if self.left > 0 {
                let take = (self.left as usize).min(sent - i);
                i += take;
                self.left -= take as u32;
                continue;
            }
            let need = 5 - self.have as usize;
            let take = need.min(sent - i);
            let Some(bytes) = seg.get(i..i + take) else {
                // the header lies past what the capture kept
                self.synced = false;
                return;
            };
            self.hdr[self.have as usize..self.have as usize + take].copy_from_slice(bytes);
            self.have += take as u8;
            i += take;
            if self.have == 5 {
                self.have = 0;
                if !plausible(&self.hdr) {
                    self.synced = false;
                    return;
                }
                let len = u16::from_be_bytes([self.hdr[3], self.hdr[4]]);
                f(self.hdr[0], len);
                self.left = len as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_across_segments_and_cut_captures() {
        let mut r = Records::default();
        let mut got = Vec::new();
        // two records in one segment, the second's header split over the next segment
        let mut seg = vec![23, 3, 3, 0, 3, 1, 2, 3, 23, 3];
        r.feed(&seg, seg.len(), |t, l| got.push((t, l)));
        seg = vec![3, 0, 2, 9, 9, 21, 3, 3, 0, 1, 7];
        r.feed(&seg, seg.len(), |t, l| got.push((t, l)));
        assert_eq!(got, vec![(23, 3), (23, 2), (21, 1)]);
        // a segment of 1400 bytes captured to 10: one record header read, the rest skipped
        got.clear();
        let mut seg = vec![23, 3, 3, 0x05, 0x73];
        seg.resize(10, 0);
        r.feed(&seg, 1400, |t, l| got.push((t, l)));
        assert_eq!(got, vec![(23, 1395)]);
        // a record header past the captured bytes: wait for a segment that starts a record
        let seg = [23, 3, 3, 0, 4, 0, 0, 0, 0];
        r.feed(&seg, 30, |t, l| got.push((t, l)));
        assert!(!r.synced);
        r.feed(&[0xde, 0xad, 0, 0, 0, 0], 6, |t, l| got.push((t, l)));
        r.feed(&[23, 3, 3, 0, 1, 0], 6, |t, l| got.push((t, l)));
        assert_eq!(got, vec![(23, 1395), (23, 4), (23, 1)]);
        // garbage never panics
        let mut r = Records::default();
        for n in 0..64u8 {
            let seg: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            r.feed(&seg, seg.len() + (n as usize % 3), |_, _| {});
        }
    }
}
