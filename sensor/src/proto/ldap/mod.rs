//! LDAP binds (RFC 4511 §4.2, §4.2.2): who binds, how, and whether the server accepted.
//!
//! Each LDAPMessage is one BER SEQUENCE on the TCP stream (§5.1), so the BER length is the
//! framing. A simple bind reports only that it was simple: the password is never read.
//! Own BER reader (`proto::ber`, shared with Kerberos) rather than `ldap-parser`: two
//! operations are read, and the crate would add nom, der-parser and asn1-rs.

use super::ber::{self, APPLICATION, CONTEXT, UNIVERSAL};
use super::Parsed;
use serde::Serialize;

/// Largest LDAP message accepted (a search result may be big; a bind is small).
pub const MAX_MESSAGE: usize = 1 << 20;

/// One LDAP message; names after Suricata's `ldap` EVE record (message_id, opcode,
/// bind_request {version, name, sasl.mechanism}, bind_response {result_code}).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ldap {
    pub message_id: i64,
    /// "bind_request", "bind_response", "search_request", … ("unknown" for others).
    pub opcode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_request: Option<BindRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_response: Option<BindResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindRequest {
    pub version: i64,
    /// The bind DN (empty for an anonymous or SASL bind).
    pub name: String,
    /// "simple" or "sasl".
    pub auth: &'static str,
    /// SASL mechanism name, e.g. "GSS-SPNEGO", "GSSAPI", "EXTERNAL".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<String>,
    /// NTLMSSP AUTHENTICATE names inside a GSS-SPNEGO / NTLM credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlmssp: Option<super::ntlmssp::Ntlmssp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindResponse {
    pub result_code: i64,
    /// RFC 4511 §4.1.9 name of the result code.
    pub result: &'static str,
    /// invalidCredentials (49): a failed login.
    pub failed: bool,
}

fn opcode(tag: u32) -> &'static str {
    match tag {
        0 => "bind_request",
        1 => "bind_response",
        2 => "unbind_request",
        3 => "search_request",
        4 => "search_result_entry",
        5 => "search_result_done",
        6 => "modify_request",
        7 => "modify_response",
        8 => "add_request",
        9 => "add_response",
        10 => "del_request",
        11 => "del_response",
        12 => "mod_dn_request",
        13 => "mod_dn_response",
        14 => "compare_request",
        15 => "compare_response",
        16 => "abandon_request",
        19 => "search_result_reference",
        23 => "extended_request",
        24 => "extended_response",
        25 => "intermediate_response",
        _ => "unknown",
    }
}

/// RFC 4511 §4.1.9 result code names (the common ones).
pub fn result_name(code: i64) -> &'static str {
    match code {
        0 => "success",
        1 => "operations_error",
        2 => "protocol_error",
        7 => "auth_method_not_supported",
        8 => "stronger_auth_required",
        13 => "confidentiality_required",
        14 => "sasl_bind_in_progress",
        32 => "no_such_object",
        34 => "invalid_dn_syntax",
        48 => "inappropriate_authentication",
        49 => "invalid_credentials",
        50 => "insufficient_access_rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling_to_perform",
        _ => "other",
    }
}

/// One LDAPMessage at the start of a TCP stream buffer.
pub fn parse(buf: &[u8]) -> Parsed<Ldap> {
    match buf.first() {
        None => return Parsed::NeedMore { needed: 2 },
        Some(0x30) => {}
        Some(_) => return Parsed::Malformed("LDAP message is not a SEQUENCE"),
    }
    match ber::header(buf) {
        Ok((_, _, _, hdr, len)) if hdr + len > MAX_MESSAGE => {
            return Parsed::Malformed("LDAP message too long")
        }
        Ok(_) => {}
        Err(ber::BerError::NeedMore(n)) => return Parsed::NeedMore { needed: n },
        Err(ber::BerError::Malformed(m)) => return Parsed::Malformed(m),
    }
    let msg = match ber::read(buf) {
        Ok(t) => t,
        Err(ber::BerError::NeedMore(n)) => return Parsed::NeedMore { needed: n },
        Err(ber::BerError::Malformed(m)) => return Parsed::Malformed(m),
    };
    match fields(msg.value) {
        Ok(value) => Parsed::Done {
            value,
            consumed: msg.len,
        },
        Err(m) => Parsed::Malformed(m),
    }
}

fn fields(seq: &[u8]) -> Result<Ldap, &'static str> {
    let mut kids = ber::children(seq);
    let id = kids.next().ok_or("LDAP messageID missing")??;
    if id.class != UNIVERSAL || id.tag != 2 {
        return Err("LDAP messageID is not an INTEGER");
    }
    let message_id = ber::integer(id.value)?;
    let op = kids.next().ok_or("LDAP protocolOp missing")??;
    if op.class != APPLICATION {
        return Err("LDAP protocolOp is not an application item");
    }
    let mut out = Ldap {
        message_id,
        opcode: opcode(op.tag),
        bind_request: None,
        bind_response: None,
    };
    match op.tag {
        0 => {
            let mut it = ber::children(op.value);
            let version = it.next().ok_or("BindRequest version missing")??;
            let name = it.next().ok_or("BindRequest name missing")??;
            let auth = it.next().ok_or("BindRequest authentication missing")??;
            if auth.class != CONTEXT {
                return Err("BindRequest authentication is not a choice");
            }
            let mut req = BindRequest {
                version: ber::integer(version.value)?,
                name: ber::text(name.value),
                auth: "simple",
                sasl_mechanism: None,
                ntlmssp: None,
            };
            match auth.tag {
                0 => {}
                3 => {
                    req.auth = "sasl";
                    let mut s = ber::children(auth.value);
                    let mech = s.next().ok_or("SaslCredentials mechanism missing")??;
                    req.sasl_mechanism = Some(ber::text(mech.value));
                    if let Some(Ok(creds)) = s.next() {
                        req.ntlmssp = super::ntlmssp::find_authenticate(creds.value);
                    }
                }
                // Microsoft's sicilyNegotiate (9) / sicilyResponse (10) carry raw NTLMSSP.
                9 | 10 => {
                    req.auth = "sicily";
                    req.ntlmssp = super::ntlmssp::find_authenticate(auth.value);
                }
                _ => return Err("BindRequest authentication choice unknown"),
            }
            out.bind_request = Some(req);
        }
        1 => {
            let code = ber::children(op.value)
                .next()
                .ok_or("BindResponse resultCode missing")??;
            let code = ber::integer(code.value)?;
            out.bind_response = Some(BindResponse {
                result_code: code,
                result: result_name(code),
                failed: code == 49,
            });
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

pub mod open;
