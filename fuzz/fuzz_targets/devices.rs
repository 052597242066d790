#![no_main]
//! The parsers of what devices say of themselves: mDNS/DNS-SD, the NetBIOS name and datagram
//! services (browser announcements behind them), SSDP, and the HTML tags the HTTP reader
//! takes names from. None may panic or allocate without bound.
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::{http, mdns, netbios, ssdp};

fuzz_target!(|data: &[u8]| {
    let _ = mdns::parse(data);
    let _ = netbios::parse_ns(data);
    let _ = netbios::parse_dgm(data);
    let _ = ssdp::parse(data);
    let _ = http::tag_text(data, "title");
    // Behind a datagram header and two encoded names, so the fuzzer reaches the browser
    // frame.
    let mut dgm = vec![0x11u8, 0x0a, 0, 1, 10, 0, 0, 1, 0, 138, 0, 0, 0, 0];
    for _ in 0..2 {
        dgm.push(32);
        dgm.extend_from_slice(&[b'A'; 32]);
        dgm.push(0);
    }
    dgm.extend_from_slice(b"\xffSMB\x25");
    dgm.extend_from_slice(data);
    let _ = netbios::parse_dgm(&dgm);
});
