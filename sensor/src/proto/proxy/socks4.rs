//! SOCKS4 and SOCKS4a requests.

use std::net::Ipv4Addr;

use super::{valid_name, SocksRequest};
use crate::bytes::be16;
use crate::proto::Parsed;

/// SOCKS4 request ("SOCKS: A protocol for TCP proxy across firewalls", Ying-Da Lee):
/// VN=4, CD (1 CONNECT, 2 BIND), DSTPORT (2), DSTIP (4), USERID, NUL. SOCKS4a ("SOCKS 4A:
/// A Simple Extension to SOCKS 4 Protocol"): DSTIP 0.0.0.x with x ≠ 0, and the host name
/// follows the user id, NUL-terminated.
pub fn parse_socks4(buf: &[u8]) -> Parsed<SocksRequest> {
    need_or!(buf, 1);
    if buf.first() != Some(&4) {
        return Parsed::Malformed("socks4: VN is not 4");
    }
    need_or!(buf, 8);
    let (Some(&cd), Some(port)) = (buf.get(1), be16(buf, 2)) else {
        return Parsed::Malformed("socks4: short");
    };
    if !matches!(cd, 1 | 2) {
        return Parsed::Malformed("socks4: CD is not 1 or 2");
    }
    if port == 0 {
        return Parsed::Malformed("socks4: port 0");
    }
    let Some(&[a, b, c, d]) = buf.get(4..8) else {
        return Parsed::Malformed("socks4: short");
    };
    let Some(rest) = buf.get(8..) else {
        return Parsed::Malformed("socks4: short");
    };
    // USERID up to NUL: printable, at most 255 bytes.
    let user_end = match rest.iter().position(|&x| x == 0) {
        Some(i) => i,
        None if rest.len() > 255 => return Parsed::Malformed("socks4: user id too long"),
        None => return Parsed::NeedMore { needed: 1 },
    };
    if user_end > 255
        || !rest
            .iter()
            .take(user_end)
            .all(|&x| (0x20..0x7f).contains(&x))
    {
        return Parsed::Malformed("socks4: bad user id");
    }
    let after_user = 8 + user_end + 1;
    let is_4a = a == 0 && b == 0 && c == 0 && d != 0;
    if !is_4a {
        if [a, b, c, d] == [0, 0, 0, 0] {
            return Parsed::Malformed("socks4: address 0.0.0.0");
        }
        return Parsed::Done {
            value: SocksRequest {
                version: 4,
                command: cd,
                host: Ipv4Addr::new(a, b, c, d).to_string(),
                port,
            },
            consumed: after_user,
        };
    }
    let name_area = buf.get(after_user..).unwrap_or(&[]);
    let name_end = match name_area.iter().position(|&x| x == 0) {
        Some(i) => i,
        None if name_area.len() > 255 => return Parsed::Malformed("socks4a: name too long"),
        None => return Parsed::NeedMore { needed: 1 },
    };
    let name = name_area.get(..name_end).unwrap_or(&[]);
    if !valid_name(name) {
        return Parsed::Malformed("socks4a: bad host name");
    }
    Parsed::Done {
        value: SocksRequest {
            version: 4,
            command: cd,
            host: String::from_utf8_lossy(name).into_owned(),
            port,
        },
        consumed: after_user + name_end + 1,
    }
}
