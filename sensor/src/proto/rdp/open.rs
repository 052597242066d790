//! RDP: the X.224 Connection Request (cookie, requested protocols) and Confirm; RDPEUDP.

use crate::model::meta::RdpMeta;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, S1};
use crate::proto::{self, Parsed};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    (crate::proto::session::either(proto::rdp::probe, cs, sc)
        || proto::rdp::loose_negotiation(cs, sc))
    .then_some(AppProto::Rdp)
}

/// RDP over UDP (MS-RDPEUDP SYN / SYN+ACK datagrams).
pub fn probe_udp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    let r = proto::rdp::probe_rdpeudp(payload)?;
    *o.tool = Some("rdp");
    o.evidence.push((
        "rdpeudp",
        format!("syn={} synack={} v{}", r.syn, r.synack, r.version),
    ));
    Some(AppProto::Rdp)
}

pub fn read(o: &mut Opening) -> Outcome {
    let (cs, sc) = (o.buf[0], o.buf[1]);
    *o.tool = Some("rdp");
    if *o.got & C1 == 0 {
        match proto::rdp::parse_connection_request(cs) {
            Parsed::Done { value, .. } => {
                *o.got |= C1;
                let mut r = RdpMeta {
                    cookie: value.cookie.clone(),
                    ..Default::default()
                };
                if let Some(c) = &value.cookie {
                    o.evidence.push(("rdp.cookie", c.clone()));
                } else {
                    o.evidence.push(("rdp.x224", "connection request".into()));
                }
                if let Some(p) = value.requested_protocols {
                    r.requested_protocols = Some(proto::rdp::protocol_names(p));
                }
                let m = o.meta();
                m.rdp = Some(r);
                // The mstshash cookie (mstsc sends the user name, cut to 9 characters):
                // a hint of the account when nothing better names it.
                if let Some(c) = value.cookie.filter(|c| !c.is_empty()) {
                    m.account.get_or_insert(c);
                }
            }
            Parsed::Malformed(_) => *o.got |= C1,
            Parsed::NeedMore { .. } => {}
        }
    }
    if *o.got & S1 == 0 {
        match proto::rdp::parse_connection_confirm(sc) {
            Parsed::Done { value, .. } => {
                *o.got |= S1;
                if let Some(r) = &mut o.meta().rdp {
                    if let Some(p) = value.selected_protocol {
                        r.selected_protocol = Some(
                            proto::rdp::protocol_names(p)
                                .first()
                                .copied()
                                .unwrap_or("rdp"),
                        );
                    }
                    if let Some(f) = value.failure_code {
                        r.failure_code = Some(f);
                    }
                }
            }
            Parsed::Malformed(_) => *o.got |= S1,
            Parsed::NeedMore { .. } => {}
        }
    }
    o.done_if(C1 | S1);
    Outcome::Continue
}
