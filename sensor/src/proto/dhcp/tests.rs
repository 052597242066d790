use super::*;
use crate::proto::ber::garbage;

/// DHCPREQUEST (RFC 2131 §4.3.2) from 52:54:00:12:34:56 with host name, vendor class,
/// client id, requested address and a parameter request list.
pub(crate) fn request() -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0];
    m.extend(0xdead_beefu32.to_be_bytes());
    m.extend([0u8; 20]); // secs, flags, ciaddr, yiaddr, siaddr, giaddr
    m.extend([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    m.extend([0u8; 10 + 64 + 128]);
    m.extend(COOKIE);
    m.extend([53, 1, 3]);
    m.extend([61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    m.extend([50, 4, 10, 0, 0, 42]);
    m.extend([12, 6]);
    m.extend(b"laptop");
    m.extend([60, 12]);
    m.extend(b"MSFT 5.0\0\0\0\0");
    m.extend([
        55, 14, 1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252,
    ]);
    m.extend([0, 0, 255, 0, 0]);
    m
}

#[test]
fn request_gives_device_fields() {
    let d = parse(&request()).done().unwrap();
    assert_eq!(d.kind, "request");
    assert_eq!(d.id, 0xdead_beef);
    assert_eq!(d.client_mac, "52:54:00:12:34:56");
    assert_eq!(d.dhcp_type, Some("request"));
    assert_eq!(d.hostname.as_deref(), Some("laptop"));
    assert_eq!(
        d.params.as_deref(),
        Some("1,3,6,15,31,33,43,44,46,47,119,121,249,252")
    );
    assert_eq!(d.client_id.as_deref(), Some("01:52:54:00:12:34:56"));
    assert_eq!(d.requested_ip, Some(std::net::Ipv4Addr::new(10, 0, 0, 42)));
    assert!(d.assigned_ip.is_none());
    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(j["type"], "request");
    assert_eq!(
        j["vendor_class_identifier"]
            .as_str()
            .unwrap()
            .trim_end_matches('\0'),
        "MSFT 5.0"
    );
}

#[test]
fn truncated_or_foreign_is_malformed() {
    let m = request();
    assert!(matches!(parse(&m[..239]), Parsed::Malformed(_)));
    // Cut inside an option.
    assert!(matches!(parse(&m[..m.len() - 20]), Parsed::Malformed(_)));
    let mut bad = m.clone();
    bad[236] = 0;
    assert!(matches!(parse(&bad), Parsed::Malformed(_)));
}

#[test]
fn never_panics_on_garbage() {
    garbage(&request(), 5000, |b| {
        let _ = parse(b);
        let mut padded = vec![1u8, 1, 6, 0];
        padded.resize(236, 0);
        padded.extend(COOKIE);
        padded.extend_from_slice(b);
        let _ = parse(&padded);
    });
}
