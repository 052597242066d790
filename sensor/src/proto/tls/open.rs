//! TLS: ClientHello (SNI, ALPN, JA4) and the server's flight (version, certificate).

use crate::model::meta::{Ja3, TlsMeta};
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, S1};
use crate::proto::{self, Parsed};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    crate::proto::session::either(proto::tls::probe, cs, sc).then_some(AppProto::Tls)
}

pub fn read(o: &mut Opening) -> Outcome {
    let (cs, sc) = (o.buf[0], o.buf[1]);
    if *o.got & C1 == 0 {
        match proto::tls::parse_client_hello(cs) {
            Parsed::Done { value: ch, .. } => {
                *o.got |= C1;
                let ja3 = proto::tls::md5_hex(&ch.ja3);
                o.meta().tls = Some(TlsMeta {
                    sni: ch.sni.clone(),
                    alpn: (!ch.alpn.is_empty()).then(|| ch.alpn.clone()),
                    ja3: Some(Ja3 {
                        hash: ja3.clone(),
                        string: ch.ja3.clone(),
                    }),
                    ja4: Some(ch.ja4.clone()),
                    ..Default::default()
                });
                if let Some(sni) = &ch.sni {
                    o.attribute(o.rules.match_domain(sni), "tls.sni", sni);
                    if proto::vpn::probe_tor_sni(sni, !ch.alpn.is_empty(), &ch.groups) {
                        *o.app_proto = AppProto::Tor;
                        o.evidence.push(("tls.sni", format!("{sni} (tor client)")));
                    }
                }
                for a in &ch.alpn {
                    o.attribute(o.rules.match_alpn(a.as_bytes()), "tls.alpn", a);
                }
                o.attribute(o.rules.match_ja3(&ja3), "tls.ja3", &ja3);
                o.attribute(o.rules.match_ja4(&ch.ja4), "tls.ja4", &ch.ja4);
            }
            Parsed::Malformed(_) => *o.got |= C1,
            Parsed::NeedMore { .. } => {
                if o.gap[0] {
                    *o.got |= C1;
                }
            }
        }
    }
    if *o.got & S1 == 0 {
        match proto::tls::parse_server_flight(sc) {
            Parsed::Done { value: sh, .. } => {
                *o.got |= S1;
                let t = o.meta().tls.get_or_insert_with(Default::default);
                t.version = Some(version_name(sh.version));
                t.ja3s = Some(Ja3 {
                    hash: proto::tls::md5_hex(&sh.ja3s),
                    string: sh.ja3s.clone(),
                });
                t.ja4s = Some(sh.ja4s.clone());
                if let Some(a) = &sh.alpn {
                    t.alpn_selected = Some(a.clone());
                }
                if let Some(s) = &sh.cert_subject {
                    t.subject = Some(s.clone());
                }
                if let Some(s) = &sh.cert_issuer {
                    t.issuerdn = Some(s.clone());
                }
                for c in [&sh.cert_subject, &sh.cert_issuer].into_iter().flatten() {
                    if let Some(id) = o.rules.match_cert(c) {
                        o.attribute(Some(id), "tls.cert", c);
                        break;
                    }
                }
                // A ClientHello with no name: the server answered with its default
                // certificate, and the names it lists are what this address serves (a
                // fronted service behind a CDN's shared certificate among them). Not when
                // the ClientHello was not seen: the client may have asked for another name.
                let unnamed = o
                    .meta()
                    .tls
                    .as_ref()
                    .is_some_and(|t| t.ja3.is_some() && t.sni.is_none());
                if unnamed {
                    for n in &sh.cert_dns {
                        let name = n.strip_prefix("*.").unwrap_or(n);
                        if let Some(id) = o.rules.match_domain(name) {
                            o.attribute(Some(id), "tls.cert_dns", n);
                            break;
                        }
                    }
                }
                if let Some(a) = &sh.alpn {
                    o.attribute(o.rules.match_alpn(a.as_bytes()), "tls.alpn", a);
                }
                if let (Some(s), Some(i)) = (&sh.cert_subject, &sh.cert_issuer) {
                    if proto::vpn::probe_tor_cert(s, i) {
                        *o.app_proto = AppProto::Tor;
                        o.evidence
                            .push(("tls.cert", "tor relay link certificate".into()));
                    }
                }
            }
            Parsed::Malformed(_) => *o.got |= S1,
            Parsed::NeedMore { .. } => {
                if o.gap[1] {
                    *o.got |= S1;
                }
            }
        }
    }
    if *o.got & C1 != 0 {
        proto::vdi::open::name_blast_tls(o);
    }
    o.done_if(C1 | S1);
    Outcome::Continue
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        other => format!("0x{other:04x}"),
    }
}
