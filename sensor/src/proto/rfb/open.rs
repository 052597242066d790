//! RFB (VNC): both protocol versions, the security types offered and the one chosen.

use crate::model::meta::Version;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, C2, S1, S2};
use crate::proto::{self, Parsed, Probe};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    (proto::rfb::probe(sc) == Probe::Match || proto::rfb::probe(cs) == Probe::Match)
        .then_some(AppProto::Vnc)
}

pub fn read(o: &mut Opening) -> Outcome {
    let (cs, sc) = (o.buf[0], o.buf[1]);
    *o.tool = Some("vnc");
    let sv = match proto::rfb::parse_version(sc) {
        Parsed::Done { value, .. } => Some(value),
        _ => None,
    };
    let cv = match proto::rfb::parse_version(cs) {
        Parsed::Done { value, .. } => Some(value),
        _ => None,
    };
    let mut got = *o.got;
    let r = o.meta().rfb.get_or_insert_with(Default::default);
    if let Some((major, minor)) = sv {
        r.server_protocol_version = Some(Version { major, minor });
        got |= S1;
    }
    if let Some((major, minor)) = cv {
        r.client_protocol_version = Some(Version { major, minor });
        got |= C1;
    }
    if got & S2 == 0 && sc.len() > 12 {
        let ver = cv.or(sv).unwrap_or((3, 8));
        if let Parsed::Done { value, .. } = proto::rfb::parse_security_types(&sc[12..], ver) {
            got |= S2;
            r.security_types = Some(
                value
                    .iter()
                    .map(|t| proto::rfb::security_type_name(*t))
                    .collect(),
            );
            if ver < (3, 7) {
                if let Some(t) = value.first() {
                    r.security_type_selected = Some(proto::rfb::security_type_name(*t));
                    got |= C2;
                }
            }
        }
    }
    if got & C2 == 0 && cs.len() > 12 {
        if let Parsed::Done { value, .. } = proto::rfb::parse_security_choice(&cs[12..]) {
            got |= C2;
            r.security_type_selected = Some(proto::rfb::security_type_name(value));
            r.security_type_selected_id = Some(value);
        }
    }
    *o.got = got;
    if sv.is_some() || cv.is_some() {
        o.evidence
            .push(("rfb.version", format!("{:?}", sv.or(cv).unwrap_or((0, 0)))));
        o.evidence.dedup();
    }
    o.done_if(C1 | S1 | S2 | C2);
    Outcome::Continue
}
