//! Kerberos on TCP and UDP port 88: the request's client and service principals, the
//! KDC's reply or error. The probes are gated on port 88: a DER message alone is too
//! generic a shape to claim a flow on any port.

use crate::model::meta::Krb5Meta;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, S1};
use crate::proto::{krb5, Parsed};

pub const PORT: u16 = 88;

fn on_port(ports: [u16; 2]) -> bool {
    ports.contains(&PORT)
}

/// A record-marked Kerberos message starts the client's stream (or the server's, when the
/// client's was not seen).
pub fn probe(cs: &[u8], sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    if !on_port(ports) {
        return None;
    }
    let starts = |b: &[u8]| b.len() >= 5 && !matches!(krb5::parse_tcp(b), Parsed::Malformed(_));
    (starts(cs) || (cs.is_empty() && starts(sc))).then_some(AppProto::Krb5)
}

/// One Kerberos message filling a datagram to or from port 88; its names go into the
/// flow's metadata on the way (the request and its reply share the flow).
pub fn probe_udp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    if !on_port(o.ports) {
        return None;
    }
    let m = krb5::parse_udp(payload).done()?;
    record(o, m);
    Some(AppProto::Krb5)
}

pub fn read(o: &mut Opening) -> Outcome {
    for (dir, bit) in [(0, C1), (1, S1)] {
        if *o.got & bit != 0 {
            continue;
        }
        match krb5::parse_tcp(o.buf[dir]) {
            Parsed::Done { value, .. } => {
                *o.got |= bit;
                record(o, value);
            }
            Parsed::Malformed(_) => {
                *o.got |= bit;
                *o.malformed |= crate::proto::session::MAL_KRB5;
            }
            Parsed::NeedMore { .. } if o.gap[dir] => *o.got |= bit,
            Parsed::NeedMore { .. } => {}
        }
    }
    o.done_if(C1 | S1);
    Outcome::Continue
}

/// Merges one message into the flow's `krb5` record: a request's fields first, a reply's
/// or error's names where the request gave none; the account is `cname@realm`.
fn record(o: &mut Opening, m: krb5::Krb5) {
    let meta = o.meta();
    let k = meta.krb5.get_or_insert_with(Krb5Meta::default);
    let request = m.msg_type.ends_with("_REQ");
    if request || k.msg_type.is_empty() {
        k.msg_type = m.msg_type;
    }
    if request {
        k.encryption = m.etypes;
    }
    if k.cname.is_none() || (request && m.cname.is_some()) {
        k.cname = m.cname.or(k.cname.take());
    }
    if k.realm.is_none() || request {
        k.realm = m.realm.or(k.realm.take());
    }
    if k.sname.is_none() {
        k.sname = m.sname;
    }
    if let Some(code) = m.error_code {
        k.error_code = Some(code);
        k.failed_request = m.failed;
    }
    if let (Some(c), Some(r)) = (&k.cname, &k.realm) {
        let account = format!("{c}@{r}");
        meta.account = Some(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_is_gated_on_port_88() {
        // record mark, then an AS-REQ's application tag
        let start = [0, 0, 1, 0, 0x6a, 0x82, 0x00, 0xfc];
        assert_eq!(probe(&start, b"", [40000, 88]), Some(AppProto::Krb5));
        assert_eq!(probe(&start, b"", [40000, 8888]), None);
        assert_eq!(probe(&[0, 0, 1, 0, 0x30], b"", [40000, 88]), None);
        assert_eq!(probe(&start[..4], b"", [40000, 88]), None);
    }
}
