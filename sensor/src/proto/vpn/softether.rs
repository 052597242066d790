//! SoftEther VPN's UDP address message.

/// SoftEther VPN's UDP address message: a 10..=29-byte payload `IP=<address>,PORT=<port>`
/// (nDPI src/lib/protocols/softether.c facts). We also require the address to parse as
/// an IPv4/IPv6 address and the port to be a decimal 16-bit number running to the end
/// (NUL padding tolerated).
pub fn probe_softether_udp(buf: &[u8]) -> bool {
    if !(10..30).contains(&buf.len()) {
        return false;
    }
    let Some(rest) = buf.strip_prefix(b"IP=") else {
        return false;
    };
    let Some(sep) = rest.windows(6).position(|w| w == b",PORT=") else {
        return false;
    };
    let (Some(ip), Some(port)) = (rest.get(..sep), rest.get(sep + 6..)) else {
        return false;
    };
    let port_end = port.iter().position(|&b| b == 0).unwrap_or(port.len());
    let (digits, pad) = port.split_at(port_end);
    let ip_ok = std::str::from_utf8(ip)
        .ok()
        .and_then(|t| t.parse::<std::net::IpAddr>().ok())
        .is_some();
    let port_ok = !digits.is_empty()
        && digits.len() <= 5
        && digits.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|t| t.parse::<u16>().ok())
            .is_some();
    ip_ok && port_ok && pad.iter().all(|&b| b == 0)
}
