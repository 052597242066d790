#![no_main]
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::tls;

fuzz_target!(|data: &[u8]| {
    let _ = tls::probe(data);
    let _ = tls::parse_client_hello(data);
    let _ = tls::parse_server_flight(data);
    if let Some(v) = data.get(..2) {
        let _ = tls::is_grease(u16::from_be_bytes([v[0], v[1]]));
    }
});
