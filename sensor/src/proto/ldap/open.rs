//! LDAP on TCP 389 and 3268 (global catalogue): the first bind of the session — its DN,
//! SASL mechanism and NTLM names, never its password — and the server's answers to it.
//! Gated on the ports: a BER SEQUENCE alone is too common a shape.

use crate::model::meta::{
    LdapBind, LdapBindRequest, LdapBindResponse, LdapMeta, LdapResult, LdapSasl,
};
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, S1};
use crate::proto::{ldap, Parsed};

pub const PORTS: [u16; 2] = [389, 3268];
/// Bind responses kept (a SASL bind takes two or three rounds).
const RESPONSES: usize = 4;
/// SASL bind in progress: another round follows.
const IN_PROGRESS: i64 = 14;

pub fn probe(cs: &[u8], _sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    if !PORTS.contains(&ports[1]) || cs.len() < 2 {
        return None;
    }
    match ldap::parse(cs) {
        Parsed::Done { .. } | Parsed::NeedMore { .. } => Some(AppProto::Ldap),
        Parsed::Malformed(_) => None,
    }
}

/// Each complete message at the start of `buf`, in order, until one does not parse.
fn messages(mut buf: &[u8], mut f: impl FnMut(ldap::Ldap)) -> Parsed<()> {
    loop {
        if buf.is_empty() {
            return Parsed::NeedMore { needed: 1 };
        }
        match ldap::parse(buf) {
            Parsed::Done { value, consumed } => {
                f(value);
                buf = &buf[consumed.min(buf.len())..];
            }
            Parsed::NeedMore { needed } => return Parsed::NeedMore { needed },
            Parsed::Malformed(m) => return Parsed::Malformed(m),
        }
    }
}

/// Rebuilt from the opening on each call: what the client bound as and what the server
/// answered. Done once a final bind response is in (or a side stops being LDAP: StartTLS).
pub fn read(o: &mut Opening) -> Outcome {
    let mut req: Option<LdapBind> = None;
    let mut ntlm = None;
    let c = messages(o.buf[0], |m| {
        let Some(b) = m.bind_request else { return };
        if ntlm.is_none() {
            ntlm = b.ntlmssp.clone();
        }
        if req.is_none() {
            req = Some(LdapBind {
                bind_request: LdapBindRequest {
                    auth: b.auth,
                    name: b.name,
                    ntlmssp: None,
                    sasl: b.sasl_mechanism.map(|mechanism| LdapSasl { mechanism }),
                    version: b.version,
                },
                message_id: m.message_id,
                operation: m.opcode,
            });
        }
    });
    let mut responses = Vec::new();
    let mut last = None;
    let s = messages(o.buf[1], |m| {
        let Some(r) = m.bind_response else { return };
        last = Some(r.result_code);
        if responses.len() < RESPONSES {
            responses.push(LdapResult {
                bind_response: LdapBindResponse {
                    result_code: r.result,
                },
                message_id: m.message_id,
                operation: m.opcode,
            });
        }
    });
    // After StartTLS a side carries TLS records, which are not LDAP but not malformed.
    let tls = |b: &[u8]| b.windows(3).any(|w| w[0] == 0x16 && w[1] == 3 && w[2] <= 4);
    if (matches!(c, Parsed::Malformed(_)) && !tls(o.buf[0]))
        || (matches!(s, Parsed::Malformed(_)) && !tls(o.buf[1]))
    {
        *o.malformed |= crate::proto::session::MAL_LDAP;
    }
    if ntlm.is_none() && crate::proto::ntlmssp::bad_authenticate(o.buf[0]) {
        *o.malformed |= crate::proto::session::MAL_NTLMSSP;
    }
    if matches!(c, Parsed::Malformed(_)) || o.gap[0] {
        *o.got |= C1;
    }
    if matches!(s, Parsed::Malformed(_)) || o.gap[1] || last.is_some_and(|c| c != IN_PROGRESS) {
        *o.got |= S1;
    }
    if let Some(mut r) = req {
        *o.got |= C1;
        let account = ntlm
            .as_ref()
            .and_then(|n| n.account())
            .or_else(|| (!r.bind_request.name.is_empty()).then(|| r.bind_request.name.clone()));
        r.bind_request.ntlmssp = ntlm.map(|n| n.meta());
        let meta = o.meta();
        meta.ldap = Some(LdapMeta {
            request: Some(r),
            responses,
        });
        if account.is_some() {
            meta.account = account;
        }
    }
    o.done_if(C1 | S1);
    Outcome::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_is_gated_on_ldap_ports() {
        // SEQUENCE { messageID 1, BindRequest … } (cut short: the probe needs the start only)
        let bind = [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07];
        assert_eq!(probe(&bind, b"", [40000, 389]), Some(AppProto::Ldap));
        assert_eq!(probe(&bind, b"", [40000, 3268]), Some(AppProto::Ldap));
        assert_eq!(probe(&bind, b"", [40000, 636]), None);
        assert_eq!(probe(b"\x16\x03\x01\x00", b"", [40000, 389]), None);
    }
}
