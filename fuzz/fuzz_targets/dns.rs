#![no_main]
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::dns;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = dns::parse(data) {
        for q in &m.questions {
            let _ = dns::qtype_name(q.qtype);
            let _ = dns::max_label_len(&q.name);
            for l in q.name.split('.') {
                let _ = dns::label_entropy(l);
            }
        }
    }
    let _ = dns::parse_tcp(data);
});
