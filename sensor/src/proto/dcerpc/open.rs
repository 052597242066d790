//! DCE/RPC's opening: the client's first PDUs (BIND, ALTER_CONTEXT, AUTH3), whose auth
//! verifier may carry an NTLMSSP AUTHENTICATE (user, domain, workstation).

use super::{parse, probe as header, ptype_name, ALTER_CONTEXT, AUTH3, BIND};
use crate::model::meta::DcerpcMeta;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, MAL_NTLMSSP};
use crate::proto::{ntlmssp, Parsed};

/// Client PDUs read at most.
const PDUS: usize = 8;

pub fn probe(cs: &[u8], _sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    header(cs).then_some(AppProto::Dcerpc)
}

pub fn read(o: &mut Opening) -> Outcome {
    let mut buf = o.buf[0];
    let mut found = None;
    let mut bad = false;
    let mut over = o.gap[0];
    let mut n = 0;
    while n < PDUS {
        n += 1;
        match parse(buf) {
            Parsed::Done { value, consumed } => {
                if matches!(value.ptype, BIND | ALTER_CONTEXT | AUTH3) && !value.auth.is_empty() {
                    match ntlmssp::find_authenticate(value.auth) {
                        Some(a) => {
                            found = Some((value.ptype, a));
                            break;
                        }
                        None => bad |= ntlmssp::bad_authenticate(value.auth),
                    }
                }
                buf = &buf[consumed.min(buf.len())..];
            }
            Parsed::NeedMore { .. } => break,
            Parsed::Malformed(_) => {
                over = true;
                break;
            }
        }
        if buf.is_empty() {
            break;
        }
    }
    over |= n == PDUS;
    if bad {
        *o.malformed |= MAL_NTLMSSP;
    }
    if let Some((ptype, a)) = found {
        let m = o.meta();
        m.dcerpc = Some(DcerpcMeta {
            ntlmssp: Some(a.meta()),
            request: ptype_name(ptype),
        });
        if let Some(acc) = a.account().filter(|_| !a.anonymous) {
            m.account = Some(acc);
        }
        over = true;
    }
    if over {
        *o.got |= C1;
    }
    o.done_if(C1);
    Outcome::Continue
}
