#![no_main]
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::rdp;

fuzz_target!(|data: &[u8]| {
    let _ = rdp::probe(data);
    let _ = rdp::parse_connection_request(data);
    if let Some(c) = rdp::parse_connection_confirm(data).done() {
        let _ = c.selected_protocol.map(rdp::protocol_names);
    }
    let _ = rdp::probe_rdpeudp(data);
    // Also as a padded RDP-UDP SYN, so the fuzzer reaches past the size check.
    let mut padded = data.to_vec();
    padded.resize(1232, 0);
    let _ = rdp::probe_rdpeudp(&padded);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rdp::is_rdg_http_method(s);
    }
});
