#![no_main]
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::http;

fuzz_target!(|data: &[u8]| {
    let _ = http::probe(data);
    let _ = http::parse_request_head(data);
    let _ = http::parse_response_head(data);
});
