#![no_main]
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::rfb;

fuzz_target!(|data: &[u8]| {
    let _ = rfb::probe(data);
    let _ = rfb::parse_version(data);
    for v in [(3, 3), (3, 7), (3, 8)] {
        let _ = rfb::parse_security_types(data, v);
    }
    if let Some(t) = rfb::parse_security_choice(data).done() {
        let _ = rfb::security_type_name(t);
    }
});
