//! Kerberos v5 (RFC 4120 §5): who asks the KDC for what, and whether it refused.
//!
//! AS-REQ / TGS-REQ give the client principal (AS only: a TGS-REQ carries it encrypted),
//! realm, service principal and offered encryption types; AS-REP / TGS-REP the client's
//! realm and name; KRB-ERROR the error code. Over UDP one message fills a datagram; over TCP
//! each message has a 4-byte big-endian record mark (RFC 4120 §7.2.2).
//!
//! Own DER reader (`proto::ber`) rather than the `kerberos-parser` crate: we read six fields
//! of five message types, and the crate would bring nom, der-parser, asn1-rs and their
//! derive macros into the sensor for that.

use super::ber::{self, Tlv, APPLICATION};
use super::Parsed;
use serde::Serialize;

/// KDC_ERR_C_PRINCIPAL_UNKNOWN (RFC 4120 §7.5.9).
pub const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = 6;
/// KDC_ERR_PREAUTH_FAILED.
pub const KDC_ERR_PREAUTH_FAILED: i32 = 24;
/// KRB_AP_ERR_BAD_INTEGRITY: the password did not decrypt the ticket (failed login too).
pub const KRB_AP_ERR_BAD_INTEGRITY: i32 = 31;
/// Largest TCP record we accept (a ticket with a big PAC stays well below).
pub const MAX_RECORD: usize = 1 << 20;
/// Most encryption types we keep from a request.
const ETYPE_CAP: usize = 32;

/// One Kerberos message, field names after Suricata's `krb5` EVE record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Krb5 {
    /// "KRB_AS_REQ", "KRB_AS_REP", "KRB_TGS_REQ", "KRB_TGS_REP" or "KRB_ERROR".
    pub msg_type: &'static str,
    /// Client principal, components joined by '/'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    /// The realm (the client's realm in a reply or error when the server one is absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Service principal, components joined by '/'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sname: Option<String>,
    /// Encryption types the client offers (requests only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub etypes: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    /// A KRB-ERROR that means a login failed (pre-authentication failed, unknown client,
    /// bad integrity).
    pub failed: bool,
}

/// One message filling a UDP datagram.
pub fn parse_udp(buf: &[u8]) -> Parsed<Krb5> {
    match parse_message(buf) {
        Parsed::NeedMore { .. } => Parsed::Malformed("Kerberos datagram truncated"),
        Parsed::Done { value, consumed } if consumed == buf.len() => {
            Parsed::Done { value, consumed }
        }
        Parsed::Done { .. } => Parsed::Malformed("Kerberos datagram has trailing bytes"),
        m => m,
    }
}

/// One record-marked message at the start of a TCP stream buffer; `consumed` includes
/// the 4-byte record mark.
pub fn parse_tcp(buf: &[u8]) -> Parsed<Krb5> {
    if buf.len() < 4 {
        return Parsed::NeedMore {
            needed: 4 - buf.len(),
        };
    }
    let mark = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if mark & 0x8000_0000 != 0 {
        return Parsed::Malformed("Kerberos TCP record mark has the reserved bit set");
    }
    let len = mark as usize;
    if len > MAX_RECORD {
        return Parsed::Malformed("Kerberos TCP record too long");
    }
    if len == 0 {
        return Parsed::Malformed("Kerberos TCP record empty");
    }
    // Reject a stream that is not Kerberos before waiting for a long record.
    if let Some(&id) = buf.get(4) {
        if message_name(id).is_none() {
            return Parsed::Malformed("not a Kerberos message");
        }
    }
    if buf.len() < 4 + len {
        return Parsed::NeedMore {
            needed: 4 + len - buf.len(),
        };
    }
    match parse_message(&buf[4..4 + len]) {
        Parsed::Done { value, consumed } if consumed == len => Parsed::Done {
            value,
            consumed: 4 + len,
        },
        Parsed::Done { .. } => Parsed::Malformed("Kerberos message shorter than its record"),
        Parsed::NeedMore { .. } => Parsed::Malformed("Kerberos message longer than its record"),
        Parsed::Malformed(m) => Parsed::Malformed(m),
    }
}

fn message_name(identifier: u8) -> Option<&'static str> {
    Some(match identifier {
        0x6a => "KRB_AS_REQ",
        0x6b => "KRB_AS_REP",
        0x6c => "KRB_TGS_REQ",
        0x6d => "KRB_TGS_REP",
        0x7e => "KRB_ERROR",
        _ => return None,
    })
}

/// One DER-encoded message at the start of `buf` (no record mark).
pub fn parse_message(buf: &[u8]) -> Parsed<Krb5> {
    let Some(&id) = buf.first() else {
        return Parsed::NeedMore { needed: 1 };
    };
    let Some(name) = message_name(id) else {
        return Parsed::Malformed("not a Kerberos message");
    };
    let app = match ber::read(buf) {
        Ok(t) => t,
        Err(ber::BerError::NeedMore(n)) => return Parsed::NeedMore { needed: n },
        Err(ber::BerError::Malformed(m)) => return Parsed::Malformed(m),
    };
    match fields(app, name) {
        Ok(value) => Parsed::Done {
            value,
            consumed: app.len,
        },
        Err(m) => Parsed::Malformed(m),
    }
}

fn fields(app: Tlv<'_>, name: &'static str) -> Result<Krb5, &'static str> {
    if app.class != APPLICATION || !app.constructed {
        return Err("Kerberos message is not an application item");
    }
    let seq = ber::read_inner(app.value)?;
    if seq.tag != 16 || !seq.constructed {
        return Err("Kerberos message is not a SEQUENCE");
    }
    let mut out = Krb5 {
        msg_type: name,
        ..Krb5::default()
    };
    let msg_type_field = if app.tag == 10 || app.tag == 12 { 2 } else { 1 };
    let mt = ber::explicit(seq.value, msg_type_field)?.ok_or("Kerberos msg-type missing")?;
    if ber::integer(mt.value)? != i64::from(app.tag) {
        return Err("Kerberos msg-type differs from its application tag");
    }
    match app.tag {
        10 | 12 => {
            let body = ber::explicit(seq.value, 4)?.ok_or("KDC-REQ req-body missing")?;
            out.cname = principal(ber::explicit(body.value, 1)?)?;
            out.realm = ber::explicit(body.value, 2)?.map(|t| ber::text(t.value));
            out.sname = principal(ber::explicit(body.value, 3)?)?;
            if let Some(et) = ber::explicit(body.value, 8)? {
                for e in ber::children(et.value).take(ETYPE_CAP) {
                    let e = e?;
                    out.etypes.push(ber::integer(e.value)? as i32);
                }
            }
        }
        11 | 13 => {
            out.realm = ber::explicit(seq.value, 3)?.map(|t| ber::text(t.value));
            out.cname = principal(ber::explicit(seq.value, 4)?)?;
        }
        30 => {
            let code = ber::explicit(seq.value, 6)?.ok_or("KRB-ERROR error-code missing")?;
            let code = ber::integer(code.value)? as i32;
            out.error_code = Some(code);
            out.failed = matches!(
                code,
                KDC_ERR_C_PRINCIPAL_UNKNOWN | KDC_ERR_PREAUTH_FAILED | KRB_AP_ERR_BAD_INTEGRITY
            );
            out.realm = ber::explicit(seq.value, 9)?
                .or(ber::explicit(seq.value, 7)?)
                .map(|t| ber::text(t.value));
            out.cname = principal(ber::explicit(seq.value, 8)?)?;
            out.sname = principal(ber::explicit(seq.value, 10)?)?;
        }
        _ => return Err("not a Kerberos message"),
    }
    Ok(out)
}

/// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF
/// KerberosString }, joined by '/', cut at `ber::NAME_CAP` bytes.
fn principal(t: Option<Tlv<'_>>) -> Result<Option<String>, &'static str> {
    let Some(t) = t else { return Ok(None) };
    if t.tag != 16 || !t.constructed {
        return Err("PrincipalName is not a SEQUENCE");
    }
    let Some(names) = ber::explicit(t.value, 1)? else {
        return Ok(None);
    };
    let mut out = String::new();
    for n in ber::children(names.value) {
        let n = n?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&ber::text(n.value));
        if out.len() >= ber::NAME_CAP {
            break;
        }
    }
    ber::truncate(&mut out, ber::NAME_CAP);
    Ok(Some(out))
}

#[cfg(test)]
pub(crate) mod tests;

pub mod open;
