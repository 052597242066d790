//! SMB's opening: NetBIOS-framed SMB (`\xfeSMB` or `\xffSMB` behind a 4-byte header; on
//! 139 after a NetBIOS session request), the SESSION_SETUP request carrying NTLMSSP
//! AUTHENTICATE and the final session-setup response.

use super::{netbios_control, status_name};
use crate::model::meta::SmbMeta;
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, S1};
use crate::proto::{ntlmssp, Parsed};

const MORE_PROCESSING: u32 = 0xC000_0016;

/// The first SMB message behind NetBIOS control messages, if `buf` holds its magic.
fn smb_magic(buf: &[u8]) -> bool {
    let mut at = 0;
    for _ in 0..4 {
        let Some(h) = buf.get(at..at + 4) else {
            return false;
        };
        let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        if netbios_control(h[0]) {
            at += 4 + len;
            continue;
        }
        return h[0] == 0
            && matches!(
                buf.get(at + 4..at + 8),
                Some([0xfe | 0xff, b'S', b'M', b'B'])
            );
    }
    false
}

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    (smb_magic(cs) || (cs.is_empty() && smb_magic(sc))).then_some(AppProto::Smb)
}

/// Each NetBIOS-framed message of `buf`: `f` sees each SMB2 session setup; the answer is
/// how the walk ended (NeedMore at the end of complete messages).
fn walk(mut buf: &[u8], mut f: impl FnMut(ntlmssp::SessionSetup)) -> Parsed<()> {
    loop {
        if buf.len() >= 4 && netbios_control(buf[0]) && buf[0] != 0x85 {
            let len =
                (usize::from(buf[1]) << 16) | (usize::from(buf[2]) << 8) | usize::from(buf[3]);
            match buf.get(4 + len..) {
                Some(rest) => buf = rest,
                None => return Parsed::NeedMore { needed: 1 },
            }
            continue;
        }
        match ntlmssp::parse_smb2_session_setup(buf) {
            Parsed::Done { value, consumed } => {
                if let Some(s) = value {
                    f(s);
                }
                buf = &buf[consumed.min(buf.len())..];
            }
            Parsed::NeedMore { needed } => return Parsed::NeedMore { needed },
            Parsed::Malformed(m) => return Parsed::Malformed(m),
        }
    }
}

/// Rebuilt from the opening on each call. Done once a session setup ends (a response
/// other than MORE_PROCESSING_REQUIRED), or a side stops parsing.
pub fn read(o: &mut Opening) -> Outcome {
    let mut auth = None;
    let c = walk(o.buf[0], |s| {
        if auth.is_none() {
            auth = s.ntlmssp.filter(|n| !n.anonymous);
        }
    });
    let mut status = None;
    let s = walk(o.buf[1], |s| {
        if !s.request {
            status = Some(s.status);
        }
    });
    if matches!(c, Parsed::Malformed(_)) || matches!(s, Parsed::Malformed(_)) {
        *o.malformed |= crate::proto::session::MAL_SMB;
    }
    if auth.is_none() && ntlmssp::bad_authenticate(o.buf[0]) {
        *o.malformed |= crate::proto::session::MAL_NTLMSSP;
    }
    if matches!(c, Parsed::Malformed(_)) || o.gap[0] || auth.is_some() {
        *o.got |= C1;
    }
    let fin = status.is_some_and(|s| s != MORE_PROCESSING);
    if matches!(s, Parsed::Malformed(_)) || o.gap[1] || fin {
        *o.got |= S1;
        // the final answer closes the exchange whatever the client sent
        *o.got |= C1;
    }
    if auth.is_some() || status.is_some() {
        let account = auth.as_ref().and_then(|n| n.account());
        let meta = o.meta();
        meta.smb = Some(SmbMeta {
            command: "SMB2_COMMAND_SESSION_SETUP",
            ntlmssp: auth.map(|n| n.meta()),
            status: status.and_then(status_name),
            status_code: status.map(|s| format!("{s:#x}")),
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
    fn probe_wants_the_smb_magic_behind_netbios() {
        let smb2 = [0, 0, 0, 0x44, 0xfe, b'S', b'M', b'B'];
        assert_eq!(probe(&smb2, b"", [5000, 445]), Some(AppProto::Smb));
        // On 139 a NetBIOS session request (0x81) comes first.
        let mut nb = vec![0x81, 0, 0, 4, 1, 2, 3, 4];
        nb.extend_from_slice(&smb2);
        assert_eq!(probe(&nb, b"", [5000, 139]), Some(AppProto::Smb));
        assert_eq!(probe(b"\x00\x00\x00\x10request", b"", [5000, 445]), None);
        assert_eq!(probe(&smb2[..6], b"", [5000, 445]), None);
    }

    #[test]
    fn walk_skips_control_messages_and_waits_for_cut_frames() {
        // A keep-alive, then a frame cut short.
        let buf = [0x85, 0, 0, 0, 0, 0, 0, 0x44, 0xfe, b'S'];
        let mut n = 0;
        assert!(matches!(walk(&buf, |_| n += 1), Parsed::NeedMore { .. }));
        assert_eq!(n, 0);
        assert!(matches!(
            walk(b"GET / HTTP/1.1\r\n", |_| ()),
            Parsed::Malformed(_)
        ));
    }
}
