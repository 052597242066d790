//! SMB on TCP 445 and 139: the names an SMB2 SESSION_SETUP's NTLMSSP AUTHENTICATE carries
//! and the session's final status. The framing and the session-setup parser live with
//! NTLMSSP (`proto::ntlmssp::parse_smb2_session_setup`), which they serve; this folder
//! holds the probe, the reader and the NT status names.

pub mod open;

/// Name of an NT status a session setup answers with (MS-ERREF §2.3.1), for the common
/// ones.
pub fn status_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0000_0000 => "STATUS_SUCCESS",
        0xC000_0016 => "STATUS_MORE_PROCESSING_REQUIRED",
        0xC000_0022 => "STATUS_ACCESS_DENIED",
        0xC000_0064 => "STATUS_NO_SUCH_USER",
        0xC000_006A => "STATUS_WRONG_PASSWORD",
        0xC000_006D => "STATUS_LOGON_FAILURE",
        0xC000_006E => "STATUS_ACCOUNT_RESTRICTION",
        0xC000_006F => "STATUS_INVALID_LOGON_HOURS",
        0xC000_0071 => "STATUS_PASSWORD_EXPIRED",
        0xC000_0072 => "STATUS_ACCOUNT_DISABLED",
        0xC000_015B => "STATUS_LOGON_TYPE_NOT_GRANTED",
        0xC000_0193 => "STATUS_ACCOUNT_EXPIRED",
        0xC000_0224 => "STATUS_PASSWORD_MUST_CHANGE",
        0xC000_0234 => "STATUS_ACCOUNT_LOCKED_OUT",
        _ => return None,
    })
}

/// NetBIOS session message types that carry no SMB (RFC 1002 §4.3): session request,
/// positive and negative response, retarget, keep-alive.
pub fn netbios_control(t: u8) -> bool {
    matches!(t, 0x81..=0x85)
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_names() {
        assert_eq!(super::status_name(0), Some("STATUS_SUCCESS"));
        assert_eq!(
            super::status_name(0xC000_006D),
            Some("STATUS_LOGON_FAILURE")
        );
        assert_eq!(super::status_name(1), None);
    }
}
