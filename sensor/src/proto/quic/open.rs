//! The QUIC probe of the registry, and the reader of a QUIC flow's Initial packets: the
//! ClientHello (SNI, ALPN, JA3, JA4 `q…`) names the product from the catalogue as the TLS
//! reader does, the ServerHello gives the JA3S, JA4S and the chosen ALPN.

use crate::model::meta::Ja3;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, C1, S1};
use crate::proto::{tls, Parsed};

/// A datagram that opens a QUIC connection; its Initial packets are read on the way.
pub fn probe(o: &mut Opening, b: &[u8], dir: usize) -> Option<AppProto> {
    if !super::is_initial_like(b) {
        return None;
    }
    read(o, b, dir);
    Some(AppProto::Quic)
}

/// A later datagram of a flow already identified as QUIC.
pub fn more(o: &mut Opening, b: &[u8], dir: usize) {
    read(o, b, dir);
}

fn read(o: &mut Opening, b: &[u8], dir: usize) {
    let t = o.quic.get_or_insert_with(Default::default);
    // A server datagram with no Initial we can read: its ServerHello is not coming. A
    // client whose Initial does not open (an unknown key derivation, or not QUIC after
    // all): nor is its ClientHello.
    let got = t.datagram(b, dir.min(1));
    if matches!(got, super::Datagram::Malformed(m) if m != super::track::NO_KEYS) {
        // counted once per flow in spanwatch_malformed_flows_total{protocol="quic"}
        *o.malformed |= crate::proto::session::MAL_QUIC;
    }
    match got {
        super::Datagram::Read => {}
        _ if dir != 0 => *o.got |= S1,
        super::Datagram::Malformed(_) if t.opened == 0 => *o.got |= C1,
        _ => {}
    }
    let version = t.version.map(|v| v.name());
    let ch = hello(o.got, C1, t.streams[0].contiguous(), |s| {
        tls::parse_client_hello_message(s, true)
    });
    let sh = hello(o.got, S1, t.streams[1].contiguous(), |s| {
        tls::parse_server_hello_message(s, true)
    });
    if let Some(v) = version {
        o.meta().quic.get_or_insert_with(Default::default).version = v;
    }
    if let Some(ch) = ch {
        *o.got |= C1;
        let ja3 = tls::md5_hex(&ch.ja3);
        let q = o.meta().quic.get_or_insert_with(Default::default);
        q.sni = ch.sni.clone();
        q.alpn = (!ch.alpn.is_empty()).then(|| ch.alpn.clone());
        q.ja3 = Some(Ja3 {
            hash: ja3.clone(),
            string: ch.ja3.clone(),
        });
        q.ja4 = Some(ch.ja4.clone());
        if let Some(sni) = &ch.sni {
            o.attribute(o.rules.match_domain(sni), "quic.sni", sni);
        }
        for a in &ch.alpn {
            o.attribute(o.rules.match_alpn(a.as_bytes()), "quic.alpn", a);
        }
        o.attribute(o.rules.match_ja3(&ja3), "quic.ja3", &ja3);
        o.attribute(o.rules.match_ja4(&ch.ja4), "quic.ja4", &ch.ja4);
    }
    if let Some(sh) = sh {
        *o.got |= S1;
        let q = o.meta().quic.get_or_insert_with(Default::default);
        q.alpn_selected = sh.alpn.clone();
        q.ja3s = Some(Ja3 {
            hash: tls::md5_hex(&sh.ja3s),
            string: sh.ja3s.clone(),
        });
        q.ja4s = Some(sh.ja4s.clone());
    }
    o.done_if(C1 | S1);
}

/// One side's hello from its CRYPTO stream `s`, unless that side is done (`bit` in `got`);
/// a hello that cannot parse, or still needs more than the stream can hold, marks it done.
fn hello<T>(
    got: &mut u32,
    bit: u32,
    s: &[u8],
    parse: impl FnOnce(&[u8]) -> Parsed<T>,
) -> Option<T> {
    if *got & bit != 0 {
        return None;
    }
    match parse(s) {
        Parsed::Done { value, .. } => Some(value),
        Parsed::Malformed(_) => {
            *got |= bit;
            None
        }
        Parsed::NeedMore { .. } => {
            if s.len() >= super::crypto::MAX_CRYPTO {
                *got |= bit;
            }
            None
        }
    }
}
