//! NTLMSSP (MS-NLMP §2.2.1): the AUTHENTICATE message (type 3) names the user, the domain
//! and the client's workstation in clear. It rides inside other protocols, so besides the
//! message parser this module finds it in an HTTP `Authorization: NTLM|Negotiate` header
//! (raw or SPNEGO-wrapped, RFC 4559) and in an SMB2 SESSION_SETUP (MS-SMB2 §2.2.5) behind
//! the NetBIOS session header (RFC 1002 §4.3.1 as used by direct TCP, MS-SMB2 §2.1).

use super::Parsed;
use base64::Engine;
use serde::Serialize;

pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// NTLMSSP_NEGOTIATE_UNICODE (MS-NLMP §2.2.2.5, flag A).
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// Fixed part of AUTHENTICATE up to and including NegotiateFlags.
const AUTH_FIXED: usize = 64;
/// Longest name kept, in bytes of its UTF-8 form.
pub const NAME_CAP: usize = 256;
/// Longest HTTP head or base64 token looked at.
const HTTP_CAP: usize = 64 * 1024;
/// Largest SMB2 message accepted behind the NetBIOS header (MS-SMB2 allows up to 2^24-1,
/// but a session setup is small).
const SMB_CAP: usize = 1 << 17;

/// Names from an AUTHENTICATE message; field names after Suricata's `smb.ntlmssp` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Ntlmssp {
    pub user: String,
    pub domain: String,
    /// The client's workstation name.
    pub host: String,
    /// Empty user and empty NT response: an anonymous logon (MS-NLMP §3.2.5.1.2).
    pub anonymous: bool,
}

/// The NTLMSSP message type (1 negotiate, 2 challenge, 3 authenticate) of `msg`, which
/// starts at the signature.
pub fn message_type(msg: &[u8]) -> Option<u32> {
    if msg.len() < 12 || &msg[..8] != SIGNATURE {
        return None;
    }
    Some(u32::from_le_bytes([msg[8], msg[9], msg[10], msg[11]]))
}

/// The first NTLMSSP message inside `buf` (from its signature to the end of `buf`).
pub fn find(buf: &[u8]) -> Option<&[u8]> {
    buf.windows(SIGNATURE.len())
        .position(|w| w == SIGNATURE)
        .map(|i| &buf[i..])
}

fn le16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}
fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(o)?,
        *b.get(o + 1)?,
        *b.get(o + 2)?,
        *b.get(o + 3)?,
    ]))
}

/// A (Len, MaxLen, BufferOffset) field's bytes, bounds-checked against `msg`.
fn payload(msg: &[u8], at: usize) -> Result<&[u8], &'static str> {
    let len = usize::from(le16(msg, at).ok_or("NTLMSSP field header cut")?);
    let off = le32(msg, at + 4).ok_or("NTLMSSP field header cut")? as usize;
    if len == 0 {
        return Ok(&[]);
    }
    off.checked_add(len)
        .and_then(|end| msg.get(off..end))
        .ok_or("NTLMSSP field points outside the message")
}

fn name(bytes: &[u8], unicode: bool) -> String {
    let mut out = String::new();
    if unicode {
        let units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        for ch in char::decode_utf16(units) {
            let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
            if out.len() + ch.len_utf8() > NAME_CAP {
                break;
            }
            out.push(ch);
        }
    } else {
        // OEM code page: unknown to us; ASCII kept, the rest replaced.
        for &b in bytes {
            let ch = if b.is_ascii() {
                char::from(b)
            } else {
                char::REPLACEMENT_CHARACTER
            };
            if out.len() + ch.len_utf8() > NAME_CAP {
                break;
            }
            out.push(ch);
        }
    }
    out
}

/// Parses an AUTHENTICATE message; `msg` starts at the signature and may run past the
/// message's end (payload fields are located by offset).
pub fn parse_authenticate(msg: &[u8]) -> Result<Ntlmssp, &'static str> {
    match message_type(msg) {
        Some(3) => {}
        Some(_) => return Err("NTLMSSP message is not AUTHENTICATE"),
        None => return Err("no NTLMSSP signature"),
    }
    if msg.len() < AUTH_FIXED {
        return Err("NTLMSSP AUTHENTICATE shorter than its fixed part");
    }
    let flags = le32(msg, 60).ok_or("NTLMSSP flags cut")?;
    let unicode = flags & NEGOTIATE_UNICODE != 0;
    let nt = payload(msg, 20)?;
    let domain = name(payload(msg, 28)?, unicode);
    let user = name(payload(msg, 36)?, unicode);
    let host = name(payload(msg, 44)?, unicode);
    Ok(Ntlmssp {
        anonymous: user.is_empty() && nt.is_empty(),
        user,
        domain,
        host,
    })
}

/// The AUTHENTICATE message anywhere in `buf` (e.g. inside a SPNEGO token or DCE/RPC
/// auth verifier), if there is one.
pub fn find_authenticate(buf: &[u8]) -> Option<Ntlmssp> {
    let mut rest = buf;
    while let Some(m) = find(rest) {
        if let Ok(a) = parse_authenticate(m) {
            return Some(a);
        }
        rest = &m[1..];
    }
    None
}

/// Whether `buf` holds an NTLMSSP AUTHENTICATE (signature, type 3) that does not parse
/// (cut short, or a field's offset and length beyond the message), and none that does.
pub fn bad_authenticate(buf: &[u8]) -> bool {
    let mut rest = buf;
    let mut bad = false;
    while let Some(m) = find(rest) {
        if message_type(m) == Some(3) {
            match parse_authenticate(m) {
                Ok(_) => return false,
                Err(_) => bad = true,
            }
        }
        rest = &m[1..];
    }
    bad
}

/// An AUTHENTICATE in one `Authorization:` header value ("NTLM <b64>" or
/// "Negotiate <b64>"); `None` for another scheme, bad base64 or another message type.
pub fn from_http_authorization(value: &str) -> Option<Ntlmssp> {
    let value = value.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("NTLM") && !scheme.eq_ignore_ascii_case("Negotiate") {
        return None;
    }
    let token = token.trim();
    if token.len() > HTTP_CAP {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    find_authenticate(&raw)
}

/// An HTTP request head (up to the blank line) at the start of `buf`: `Done` with the
/// AUTHENTICATE its `Authorization` header carries, if any, once the head is complete.
pub fn from_http_request(buf: &[u8]) -> Parsed<Option<Ntlmssp>> {
    match super::cleartext::http_head(buf, HTTP_CAP) {
        Parsed::Done {
            value: head,
            consumed,
        } => {
            let found = super::cleartext::header_values(head, "authorization")
                .find_map(from_http_authorization);
            Parsed::Done {
                value: found,
                consumed,
            }
        }
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
    }
}

/// An SMB2 SESSION_SETUP seen in one NetBIOS-framed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SessionSetup {
    /// A request (client to server) rather than a response.
    pub request: bool,
    /// NT status of a response (0 success, 0xC000006D STATUS_LOGON_FAILURE, 0xC0000016
    /// STATUS_MORE_PROCESSING_REQUIRED).
    pub status: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlmssp: Option<Ntlmssp>,
}

/// STATUS_LOGON_FAILURE (MS-ERREF §2.3.1).
pub const STATUS_LOGON_FAILURE: u32 = 0xC000_006D;

/// One NetBIOS-session-framed SMB message at the start of a TCP/445 stream buffer.
/// `Done(Some(..))` for an SMB2 SESSION_SETUP, `Done(None)` for any other complete SMB
/// message (skip `consumed` bytes), `NeedMore` when the frame is cut.
pub fn parse_smb2_session_setup(buf: &[u8]) -> Parsed<Option<SessionSetup>> {
    if buf.len() < 4 {
        return Parsed::NeedMore {
            needed: 4 - buf.len(),
        };
    }
    let len = (usize::from(buf[1]) << 16) | (usize::from(buf[2]) << 8) | usize::from(buf[3]);
    // RFC 1002 §4.3.7: a session keep-alive (0x85) carries nothing.
    if buf[0] == 0x85 && len == 0 {
        return Parsed::Done {
            value: None,
            consumed: 4,
        };
    }
    if buf[0] != 0 {
        return Parsed::Malformed("not a NetBIOS session message");
    }
    if len > SMB_CAP {
        return Parsed::Malformed("SMB message too long");
    }
    if let Some(m) = buf.get(4..buf.len().min(8)) {
        let magic = [0xfe, b'S', b'M', b'B'];
        let v1 = [0xff, b'S', b'M', b'B'];
        if !magic.starts_with(m) && !v1.starts_with(m) {
            return Parsed::Malformed("not an SMB message");
        }
    }
    if buf.len() < 4 + len {
        return Parsed::NeedMore {
            needed: 4 + len - buf.len(),
        };
    }
    let smb = &buf[4..4 + len];
    let consumed = 4 + len;
    if smb.len() < 64 || smb[..4] != [0xfe, b'S', b'M', b'B'] {
        return Parsed::Done {
            value: None,
            consumed,
        };
    }
    let command = le16(smb, 12).unwrap_or(0);
    if command != 0x0001 {
        return Parsed::Done {
            value: None,
            consumed,
        };
    }
    let status = le32(smb, 8).unwrap_or(0);
    let flags = le32(smb, 16).unwrap_or(0);
    let request = flags & 0x1 == 0; // SMB2_FLAGS_SERVER_TO_REDIR
                                    // Request body: StructureSize 25, SecurityBufferOffset at +12, Length at +14;
                                    // response body: StructureSize 9, offset at +4, length at +6 (MS-SMB2 §2.2.5, §2.2.6).
    let (off_at, len_at) = if request {
        (64 + 12, 64 + 14)
    } else {
        (64 + 4, 64 + 6)
    };
    let sec = match (le16(smb, off_at), le16(smb, len_at)) {
        (Some(o), Some(l)) => {
            let (o, l) = (usize::from(o), usize::from(l));
            smb.get(o..o + l)
        }
        _ => None,
    };
    let Some(sec) = sec else {
        return Parsed::Malformed("SMB2 security buffer outside the message");
    };
    Parsed::Done {
        value: Some(SessionSetup {
            request,
            status,
            ntlmssp: if request {
                find_authenticate(sec)
            } else {
                None
            },
        }),
        consumed,
    }
}

#[cfg(test)]
pub(crate) mod tests;

impl Ntlmssp {
    /// The names as the flow record shows them.
    pub fn meta(&self) -> crate::model::meta::NtlmsspMeta {
        crate::model::meta::NtlmsspMeta {
            domain: self.domain.clone(),
            host: self.host.clone(),
            user: self.user.clone(),
        }
    }

    /// `domain\user` (or `user` without a domain); none for an anonymous logon.
    pub fn account(&self) -> Option<String> {
        if self.user.is_empty() {
            None
        } else if self.domain.is_empty() {
            Some(self.user.clone())
        } else {
            Some(format!("{}\\{}", self.domain, self.user))
        }
    }
}
